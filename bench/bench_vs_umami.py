"""Concierge's reports next to Umami's SQL on the same 10,000,000 page visits, in the same PostgreSQL server.

Generates, set-based (generate_series), 10M page visits and 1M activity sessions over the last 90 days for
one app (plus 1M visits and 100k sessions in four noise apps), fills the rollups, and loads the same visits
into Umami's own schema (`website_event` and `session`, with the indexes of umami-software/umami's
prisma/schema.prisma) in a schema `umami` of the same database. Then it answers the same questions both
ways: Umami's relational queries (src/queries/sql: getWebsiteStats, pageviews per day in a time zone as
getPageviewStats groups them, getWeeklyTraffic) run directly, and Concierge's endpoints over HTTP through
gunicorn, for 30 and 90 days, for `all` and for one user. Prints each pair's median latency and ratio,
and last `N passed, N failed` against the targets: every report < 300 ms, each >= 10x faster than the
Umami query answering the same question. Talks to 127.0.0.1 only; drops its database at the end.

Run: make bench BENCH=vs_umami   (about 15-25 minutes on a 2-core machine, most of it loading)
"""

import json
import os
import time
from datetime import datetime, timedelta

import psycopg2

from bench.harness import BenchServer, OpenConnection, Request, request_once, timed

SCALE = float(os.environ.get("BENCH_VS_UMAMI_SCALE", "1"))  # 0.01: a quick smoke run of the same steps
APP, USERS, PAGES = "bench", 10_000, 100
VISITS, SESSIONS, DAYS = int(10_000_000 * SCALE), int(1_000_000 * SCALE), 90
NOISE_APPS, NOISE_VISITS, NOISE_SESSIONS = 4, int(1_000_000 * SCALE), int(100_000 * SCALE)
TZ = "Asia/Kathmandu"  # +05:45: the zone rollups must still answer exactly
HTTP_REPEAT, UMAMI_REPEAT = 9, 3
ONE_USER = "u42"
WEBSITE = "00000000-0000-4000-8000-000000000001"


def generate(server: BenchServer, start: datetime) -> None:
    span = DAYS * 86400
    server.python(f"from services import partitions\nfrom datetime import datetime\n"
                  f"partitions.ensure(datetime.fromisoformat('{start.isoformat()}'))")
    visits = f"""INSERT INTO page_visits (app, "user", page, seconds, visited_at)
        SELECT %s, 'u' || ((g * 7919) %% {USERS}), '/page/' || ((g * 31) %% {PAGES}), (g * 37) %% 600,
               timestamp '{start.isoformat()}' + ((g::bigint * {span}) / %s) * interval '1 second'
        FROM generate_series(1::bigint, %s::bigint) AS g"""
    sessions = f"""INSERT INTO activity_sessions (id, app, "user", status, started_at, ended_at, active_seconds,
                                              last_resumed_at, last_event_at)
        SELECT gen_random_uuid(), %s, 'u' || ((g * 7919) %% {USERS}), 'ended', s, s + d * interval '1 second', d,
               NULL, s + d * interval '1 second'
        FROM (SELECT g, timestamp '{start.isoformat()}' + ((g::bigint * {span}) / %s) * interval '1 second' AS s,
                     60 + (g * 7919) %% 3600 AS d FROM generate_series(1::bigint, %s::bigint) AS g) AS t"""
    server.sql(visits, (APP, VISITS, VISITS))
    server.sql(sessions, (APP, SESSIONS, SESSIONS))
    for n in range(NOISE_APPS):
        server.sql(visits, (f"noise{n}", NOISE_VISITS // NOISE_APPS, NOISE_VISITS // NOISE_APPS))
        server.sql(sessions, (f"noise{n}", NOISE_SESSIONS // NOISE_APPS, NOISE_SESSIONS // NOISE_APPS))
    server.python("from services import rollups\nrollups.rebuild()")


UMAMI_SCHEMA = [
    "CREATE SCHEMA umami",
    """CREATE TABLE umami.session (session_id uuid PRIMARY KEY, website_id uuid NOT NULL, browser varchar(20),
        os varchar(20), device varchar(20), screen varchar(11), language varchar(35), country char(2),
        region varchar(20), city varchar(50), distinct_id varchar(50), created_at timestamptz(6) DEFAULT now())""",
    """CREATE TABLE umami.website_event (event_id uuid PRIMARY KEY, website_id uuid NOT NULL, session_id uuid NOT NULL,
        visit_id uuid NOT NULL, created_at timestamptz(6) DEFAULT now(), url_path varchar(500) NOT NULL,
        url_query varchar(500), utm_source varchar(255), utm_medium varchar(255), utm_campaign varchar(255),
        utm_content varchar(255), utm_term varchar(255), referrer_path varchar(500), referrer_query varchar(500),
        referrer_domain varchar(500), page_title varchar(500), gclid varchar(255), fbclid varchar(255),
        msclkid varchar(255), ttclid varchar(255), li_fat_id varchar(255), twclid varchar(255),
        event_type integer NOT NULL DEFAULT 1, event_name varchar(50), tag varchar(50), hostname varchar(100))""",
]
# Umami's indexes (prisma/schema.prisma @@index), created after the load
UMAMI_INDEXES = {
    "session": ["created_at", "website_id", "website_id, created_at", "website_id, created_at, browser",
                "website_id, created_at, os", "website_id, created_at, device", "website_id, created_at, screen",
                "website_id, created_at, language", "website_id, created_at, country",
                "website_id, created_at, region", "website_id, created_at, city"],
    "website_event": ["created_at", "session_id", "visit_id", "website_id", "website_id, created_at",
                      "website_id, created_at, url_path", "website_id, created_at, url_query",
                      "website_id, created_at, referrer_domain", "website_id, created_at, page_title",
                      "website_id, created_at, event_name", "website_id, created_at, tag",
                      "website_id, session_id, created_at", "website_id, visit_id, created_at",
                      "website_id, created_at, hostname"],
}


def load_umami(server: BenchServer) -> None:
    for statement in UMAMI_SCHEMA:
        server.sql(statement)
    # a visitor's session per (user, day), a visit per (user, hour): as Umami's tracker would cut them
    server.sql(f"""INSERT INTO umami.website_event (event_id, website_id, session_id, visit_id, created_at, url_path,
                                                   event_type, hostname)
        SELECT gen_random_uuid(),
               CASE WHEN app = '{APP}' THEN '{WEBSITE}'::uuid ELSE md5(app)::uuid END,
               md5(app || "user" || date_trunc('day', visited_at))::uuid,
               md5(app || "user" || date_trunc('hour', visited_at))::uuid,
               visited_at AT TIME ZONE 'UTC', page, 1, 'example.com'
        FROM page_visits""")
    server.sql("""INSERT INTO umami.session (session_id, website_id, created_at)
        SELECT session_id, min(website_id::text)::uuid, min(created_at) FROM umami.website_event
        GROUP BY session_id""")
    for table, indexes in UMAMI_INDEXES.items():
        for columns in indexes:
            server.sql(f"CREATE INDEX ON umami.{table} ({columns})")


# Umami's relational SQL (src/queries/sql), PostgreSQL flavour, the parameters inlined
UMAMI_SQL = {
    "website stats": """
        select sum(t.c) as "pageviews", count(distinct t.session_id) as "visitors",
               count(distinct t.visit_id) as "visits", sum(case when t.c = 1 then 1 else 0 end) as "bounces",
               sum(floor(extract(epoch from (t.max_time - t.min_time)))) as "totaltime"
        from (select website_event.session_id, website_event.visit_id, count(*) as "c",
                     min(website_event.created_at) as "min_time", max(website_event.created_at) as "max_time"
              from website_event
              where website_event.website_id = %(website)s::uuid
                and website_event.created_at between %(start)s and %(end)s and event_type = 1
              group by 1, 2) as t""",
    "pageviews per day": """
        select to_char(date_trunc('day', website_event.created_at at time zone %(tz)s), 'YYYY-MM-DD HH24:MI:SS') x,
               count(*) y
        from website_event
        where website_event.website_id = %(website)s::uuid
          and website_event.created_at between %(start)s and %(end)s and event_type = 1
        group by 1 order by 1""",
    "weekly traffic": """
        select concat(extract(dow from (website_event.created_at at time zone %(tz)s)), ':',
                      to_char((website_event.created_at at time zone %(tz)s), 'HH24')) as time,
               count(distinct website_event.session_id) as value
        from website_event
        where website_event.website_id = %(website)s::uuid
          and website_event.created_at between %(start)s and %(end)s
        group by time order by 2""",
}
# Concierge's report -> the Umami query answering the same question
PAIRS = {
    "summary": "website stats", "stats": "website stats", "page-stats": "website stats",
    "time-by-page": "website stats", "daily-time-spent": "pageviews per day", "timeline": "pageviews per day",
    "heatmap": "weekly traffic",
}


def path(report: str) -> str:
    return "/api/pages/stats" if report == "page-stats" else f"/api/sessions/{report}"


def main() -> None:
    now = datetime.utcnow().replace(microsecond=0)
    start = now - timedelta(days=DAYS)
    with BenchServer(workers=2, threads=2) as server:
        server.flask("create-admin", "--username", "bench", "--email", "bench@example.com",
                     "--password", "bench-password")
        login = Request("POST", "/api/login", {"username": "bench", "password": "bench-password"})
        auth = {"Authorization": f"Bearer {json.loads(request_once(server.url, login)[1])['access_token']}"}
        began = time.perf_counter()
        generate(server, start)
        print(f"generated {VISITS:,} visits and {SESSIONS:,} sessions for '{APP}' (+{NOISE_VISITS:,} visits, "
              f"{NOISE_SESSIONS:,} sessions in {NOISE_APPS} noise apps) and the rollups in "
              f"{time.perf_counter() - began:.0f} s", flush=True)
        began = time.perf_counter()
        load_umami(server)
        raw = psycopg2.connect(server.database_url)
        raw.autocommit = True
        cur = raw.cursor()
        cur.execute("VACUUM ANALYZE")
        print(f"loaded Umami's website_event and session with its indexes, vacuumed, in "
              f"{time.perf_counter() - began:.0f} s", flush=True)
        cur.execute("SET search_path TO umami, public")

        passed = failed = 0
        print(f"\nmedians: Concierge over HTTP ({HTTP_REPEAT} runs), Umami's SQL directly ({UMAMI_REPEAT} runs); "
              f"tz={TZ}; ranges end now")
        print(f"{'range':<6} {'user':<5} {'Concierge report':<18} {'ms':>7}   {'Umami query':<18} {'ms':>8} "
              f"{'ratio':>7}  result")
        for days in (30, 90):
            low = now - timedelta(days=days)
            params = {"website": WEBSITE, "start": low, "end": now, "tz": TZ}
            umami_ms = {}
            for name, sql in UMAMI_SQL.items():
                umami_ms[name] = timed(lambda sql=sql, p=params: (cur.execute(sql, p), cur.fetchall()),
                                           UMAMI_REPEAT)
                print(f"{days:>3} d  Umami {name:<18} {umami_ms[name]:>8.0f} ms", flush=True)
            http = OpenConnection(server.url)  # a fresh keep-alive connection: Umami's queries outlast one
            for user in ("all", ONE_USER):
                for report, question in PAIRS.items():
                    body = {"app": APP, "user": user, "tz": TZ, "from": low.isoformat() + "Z",
                            "to": now.isoformat() + "Z"}
                    req = Request("POST", path(report), body, auth)
                    status, _ = http.request(req)
                    assert status == 200, (report, status)
                    ms = timed(lambda req=req, h=http: h.request(req), HTTP_REPEAT)
                    ratio = umami_ms[question] / ms
                    ok = ms < 300 and ratio >= 10
                    passed, failed = passed + ok, failed + (not ok)
                    print(f"{days:>3} d  {user:<5} {report:<18} {ms:>7.1f}   {question:<18} "
                          f"{umami_ms[question]:>8.0f} {ratio:>6.0f}x  {'ok' if ok else 'MISSED'}", flush=True)
            http.close()
        raw.close()
        server.report_server_errors()
        print(f"\n{passed} passed, {failed} failed")


if __name__ == "__main__":
    main()
