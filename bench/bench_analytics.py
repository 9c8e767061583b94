"""The Session Server API's analytics on PostgreSQL: 1,000,000 page visits and 100,000 sessions for one app.

Prints each report's HTTP latency next to the very same SQL (compiled from services.analytics) run
directly over one open psycopg2 connection, and page-track requests/s (single, batch of 100) next to
GET /healthz. Targets: report < 300 ms and within 1.5x of its raw SQL; single track >= 50% of trivial.
Tracking is measured two ways: the default (rate limits in memory, visits committed before the answer)
and rate limits held in Redis as docker-compose deploys them.

Run: make bench BENCH=analytics   (or .venv/bin/python -m bench.bench_analytics)
"""

import json
import statistics
import time

import psycopg2

from bench.harness import (
    BenchServer,
    OpenConnection,
    Request,
    interleaved,
    print_table,
    redis_server_url,
    request_once,
    timed,
)

APP, USERS, PAGES = "bench", 1000, 50
SESSIONS, VISITS = 100_000, 1_000_000
CLIENTS, REPEAT, WORKERS = 16, 21, 4
# A report is sampled at least REPEAT times and for at least SAMPLE_SECONDS: a 6 ms report then gets a
# few hundred samples, so its median is not one noisy moment of a shared machine.
SAMPLE_SECONDS = 3
ROUNDS, ROUND_SECONDS = 5, 3  # per endpoint: 15 s, taking turns with the others (harness.interleaved)
REPORTS = ("heatmap", "most-active", "stats", "summary", "timeline", "daily-time-spent", "time-by-page",
           "session-timeline-detail", "page-stats")
TZ = "Europe/Berlin"

GENERATE = [
    # sessions every ~5 minutes over a year, 5-65 minutes of active time each, all ended
    f"""INSERT INTO activity_sessions (id, app, "user", status, started_at, ended_at, active_seconds,
                                      last_resumed_at, last_event_at)
        SELECT gen_random_uuid(), '{APP}', 'u' || (g % {USERS}), 'ended', s, s + d * interval '1 second', d, NULL,
               s + d * interval '1 second'
        FROM (SELECT g, timestamp '2024-01-01' + g * interval '313 seconds' AS s, 300 + (g * 7919) % 3600 AS d
              FROM generate_series(1, {SESSIONS}) AS g) AS t""",
    """INSERT INTO session_events (session_id, type, at)
        SELECT id, 'start', started_at FROM activity_sessions UNION ALL
        SELECT id, 'end', ended_at FROM activity_sessions""",
    f"""INSERT INTO page_visits (app, "user", page, seconds, visited_at)
        SELECT '{APP}', 'u' || (g % {USERS}), '/page/' || (g % {PAGES}), (g * 31) % 600,
               timestamp '2024-01-01' + g * interval '31 seconds'
        FROM generate_series(1, {VISITS}) AS g""",
    "VACUUM ANALYZE activity_sessions",
    "VACUUM ANALYZE session_events",
    "VACUUM ANALYZE page_visits",
]

DUMP_SQL = f"""
import json
from extensions import db
from services import analytics
f = analytics.ReportFilter(app="{APP}", user="all", tz="{TZ}")
out = {{}}
for name in analytics.REPORTS:
    # the SQL the endpoint runs (the report's rows; Python shapes them)
    out[name] = [str(s.compile(dialect=db.engine.dialect, compile_kwargs={{"literal_binds": True}}))
                 for s in analytics.statements(name, f)]
print(json.dumps(out))
"""


def report_path(name: str) -> str:
    return "/api/pages/stats" if name == "page-stats" else f"/api/sessions/{name}"


def main() -> None:
    with BenchServer(workers=WORKERS) as server:
        server.flask("create-admin", "--username", "bench", "--email", "bench@example.com",
                     "--password", "bench-password")
        login = Request("POST", "/api/login", {"username": "bench", "password": "bench-password"})
        auth = {"Authorization": f"Bearer {json.loads(request_once(server.url, login)[1])['access_token']}"}

        raw = psycopg2.connect(server.database_url)
        raw.autocommit = True  # VACUUM cannot run in a transaction (harness.sql opens one)
        cur = raw.cursor()
        started = time.perf_counter()
        for statement in GENERATE:
            if statement.startswith("VACUUM"):
                cur.execute(statement)
            else:
                server.sql(statement)
        print(f"generated {SESSIONS:,} sessions (+{2 * SESSIONS:,} events) and {VISITS:,} page visits "
              f"in {time.perf_counter() - started:.1f}s")

        sql = json.loads(server.python(DUMP_SQL).strip().splitlines()[-1])

        def run_raw(statements: list[str]) -> None:
            for statement in statements:
                cur.execute(statement)
                cur.fetchall()

        me = Request("GET", "/api/currentuser", headers=auth)
        for _ in range(4 * WORKERS):  # every worker opens its pool connection before timing
            request_once(server.url, me)
        # HTTP over one open keep-alive connection, as the raw SQL runs over one open database connection
        http = OpenConnection(server.url)
        fixed_ms = timed(lambda: http.request(me), REPEAT * 3)
        print(f"\nfixed cost of an authenticated request (GET /api/currentuser): {fixed_ms:.1f} ms")
        print(f"reports over the whole app (user=all, tz={TZ}), medians of interleaved samples (at least "
              f"{REPEAT} and {SAMPLE_SECONDS} s), one client, both sides over an open connection")
        print(f"{'report':<26} {'HTTP ms':>8} {'raw SQL ms':>10} {'ratio':>6}  target  samples")
        for name in REPORTS:
            req = Request("POST", report_path(name), {"app": APP, "user": "all", "tz": TZ}, auth)
            status, _ = http.request(req)
            assert status == 200, (name, status)
            for _ in range(WORKERS):  # warm both sides the same way
                http.request(req)
                run_raw(sql[name])
            # interleaved, so both sides see the same background load of a shared machine
            samples, deadline = [], time.perf_counter() + SAMPLE_SECONDS
            while len(samples) < REPEAT or time.perf_counter() < deadline:
                samples.append((timed(lambda req=req: http.request(req), 1),
                                timed(lambda name=name: run_raw(sql[name]), 1)))
            http_ms = statistics.median(h for h, _ in samples)
            raw_ms = statistics.median(r for _, r in samples)
            ok = http_ms < 300 and http_ms <= 1.5 * raw_ms
            print(f"{name:<26} {http_ms:>8.1f} {raw_ms:>10.1f} {http_ms / raw_ms:>5.2f}x  {'ok' if ok else 'MISSED':<6}"
                  f"  {len(samples):>4}")
        raw.close()
        http.close()

        track_throughput(server, "default: committed before the answer, synchronous_commit off (one setting)")
        server.stop()
        # docker-compose keeps rate limits in Redis: every public request then pays one more round trip
        server.env.update(RATELIMIT_STORAGE_URI=redis_server_url(), RATELIMIT_KEY_PREFIX=server.dbname)
        server.start()
        track_throughput(server, "RATELIMIT_STORAGE_URI=redis (as in docker-compose): committed before the answer")


def track_throughput(server: BenchServer, mode: str) -> None:
    visit = {"user": "u1", "app": APP, "page": "/page/1", "timespent": 12}
    trivial, public, single, batch = interleaved(server.url, {
        "GET /healthz (trivial)": Request("GET", "/healthz"),
        "POST /api/health (public, no DB)": Request("POST", "/api/health", {"app": APP}),
        "POST /api/pages/track": Request("POST", "/api/pages/track", visit),
        "POST /api/pages/track (batch 100)": Request("POST", "/api/pages/track", [visit] * 100),
    }, clients=CLIENTS, seconds=ROUND_SECONDS, rounds=ROUNDS)
    print(f"\npage tracking, {mode}")
    print(f"{server.topology}, {CLIENTS} clients, "
          f"{ROUNDS} interleaved rounds of {ROUND_SECONDS}s per endpoint")
    print_table([public, single, batch], trivial)
    ratio = single.rps / trivial.rps
    print(f"batch of 100: {batch.rps * 100:,.0f} page visits/s; single track at {ratio:.0%} of trivial "
          f"(target >= 50%: {'met' if ratio >= 0.5 else 'MISSED'})")


if __name__ == "__main__":
    main()
