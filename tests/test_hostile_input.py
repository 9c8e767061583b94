"""Hostile input (issue 17): NUL bytes, deep nesting, range-edge dates, huge and non-ASCII numbers, over-long
names, non-JSON numbers and `//` paths each get a 4xx JSON error in the endpoint's contract shape, store
nothing, and never a 5xx; on SQLite and on PostgreSQL (whose text type refuses NUL).
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from extensions import db as _db
from services import app_sessions
from tests.conftest import PASSWORD, reset_rate_limits

NUL = "\u0000"
DEEP = "[" * 5000 + "]" * 5000  # 10 KB: Python's json recursed once per level and crashed
HUGE = str(2**70)  # past 64 bits
SUPERSCRIPT_TWO = "²"  # str.isdigit() says yes, int() says no
LATE = "9999-12-31T23:59:59-05:00"  # year 10000 in UTC
EARLY = "0001-01-01T00:00:00+05:00"  # year 0 in UTC
LFS_MEDIA = "application/vnd.git-lfs+json"


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app({"workspace.root": str(tmp_path / "workspace")})
    with app.app_context():
        reset_rate_limits(app)
        yield app


@pytest.fixture
def callers(factory, admin, alice) -> dict[str, dict]:
    from services import repos

    repos.get(repos.DEFAULT)  # as a deployment has it from its migration (each test starts from empty tables)
    basic = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    return {"public": {}, "alice": factory.headers(alice), "admin": factory.headers(admin),
            "basic": {"Authorization": f"Basic {basic}", "Accept": LFS_MEDIA}}


def snapshot() -> dict[str, list[str]]:
    """Every row of every table: equal before and after means the request stored nothing."""
    _db.session.rollback()
    return {table.name: sorted(repr(tuple(row)) for row in _db.session.execute(select(table)))
            for table in _db.metadata.sorted_tables}


def strict_json(resp):
    """The body as JSON, refusing NaN/Infinity the way a strict client (or JSON.parse) does."""
    def refuse(name):
        raise AssertionError(f"{name} in a response: {resp.get_data(as_text=True)[:200]}")

    assert resp.mimetype in ("application/json", LFS_MEDIA), (resp.status_code, resp.mimetype, resp.get_data()[:200])
    return json.loads(resp.get_data(as_text=True), parse_constant=refuse)


def assert_refused(resp, family: str) -> dict:
    """A 4xx whose JSON body has the contract family's error shape (errors.py)."""
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.get_data(as_text=True)[:400])
    body = strict_json(resp)
    if family == "envelope":  # the Session Server API's shape
        assert body["status"] == "error" and isinstance(body["message"], str) and "details" in body, body
    elif family == "checkin":
        assert body["success"] is False and isinstance(body["error"], str), body
    elif family == "app1":
        assert isinstance(body["error"], str) and "status" not in body and "success" not in body, body
    elif family == "lfs":
        assert resp.mimetype == LFS_MEDIA and isinstance(body["message"], str), body
    else:
        raise AssertionError(family)
    return body


@dataclass
class Case:
    id: str
    caller: str
    method: str
    url: str
    family: str = "envelope"
    json: object = None
    raw: str | None = None  # a body sent as written (for what json.dumps cannot produce)
    headers: dict = field(default_factory=dict)

    def send(self, client, callers):
        headers = {**callers[self.caller], **self.headers}
        kwargs = {}
        if self.raw is not None:
            kwargs = {"data": self.raw, "content_type": "application/json"}
        elif self.json is not None:
            kwargs = {"json": self.json}
        return client.open(self.url, method=self.method, headers=headers, **kwargs)


def check(case: Case, client, callers) -> dict:
    before = snapshot()
    body = assert_refused(case.send(client, callers), case.family)
    assert snapshot() == before, f"{case.id} stored something"
    return body


SID = str(uuid.uuid4())
VISIT = {"user": "u1", "app": "game", "page": "/menu", "timespent": 5}
START = {"user": "u1", "app": "game"}
EVENT = {"user": "u1", "app": "game", "session_id": SID}
REPORT = {"user": "u1", "app": "game"}


def nul(value: str) -> str:
    return value[:1] + NUL + value[1:]


NUL_CASES = [
    Case("login username", "public", "POST", "/api/login", json={"username": nul("alice"), "password": PASSWORD}),
    Case("login password", "public", "POST", "/api/login", json={"username": "alice", "password": nul(PASSWORD)}),
    Case("track user", "public", "POST", "/api/pages/track", json={**VISIT, "user": nul("u1")}),
    Case("track app", "public", "POST", "/api/pages/track", json={**VISIT, "app": nul("game")}),
    Case("track page", "public", "POST", "/api/pages/track", json={**VISIT, "page": nul("/menu")}),
    Case("track batch item", "public", "POST", "/api/pages/track", json=[VISIT, {**VISIT, "page": "/a" + NUL}]),
    Case("session user", "admin", "POST", "/api/sessions/start", json={**START, "user": nul("u1")}),
    Case("session app", "admin", "POST", "/api/sessions/start", json={**START, "app": nul("game")}),
    Case("session event id", "admin", "POST", "/api/sessions/pause", json={**EVENT, "session_id": nul(SID)}),
    Case("report user", "admin", "POST", "/api/sessions/stats", json={**REPORT, "user": nul("u1")}),
    Case("report app", "admin", "POST", "/api/sessions/summary", json={**REPORT, "app": nul("game")}),
    Case("public report app", "public", "POST", "/api/sessions/public-summary", json={**REPORT, "app": nul("g")}),
    Case("page stats user", "admin", "POST", "/api/pages/stats", json={**REPORT, "user": nul("u1")}),
    Case("lock branch", "alice", "POST", "/api/locks", json={"asset_path": "A.uasset", "branch": nul("main")}),
    Case("lock comment", "alice", "POST", "/api/locks",
         json={"asset_path": "A.uasset", "branch": "main", "comment": nul("wip")}),
    Case("lock path", "alice", "POST", "/api/locks", json={"asset_path": nul("A.uasset"), "branch": "main"}),
    Case("lock batch", "alice", "POST", "/api/locks/batch", json={"asset_paths": ["B", nul("C")], "branch": "main"}),
    Case("auto-release branch", "alice", "POST", "/api/locks/auto-release", json={"branch": nul("main")}),
    Case("lfs ref name", "basic", "POST", "/api/lfs/locks", "lfs",
         json={"path": "A.uasset", "ref": {"name": nul("refs/heads/main")}}),
    Case("lfs path", "basic", "POST", "/api/lfs/locks", "lfs", json={"path": nul("A.uasset")}),
    Case("lfs verify ref", "basic", "POST", "/api/lfs/locks/verify", "lfs", json={"ref": {"name": nul("main")}}),
    Case("display name", "alice", "PUT", "/api/users/me/profile", json={"display_name": nul("Alice")}),
    Case("new user display name", "admin", "POST", "/api/admin/users",
         json={"username": "carol", "email": "carol@example.com", "password": PASSWORD, "display_name": nul("C")}),
    Case("new user email", "admin", "POST", "/api/admin/users",
         json={"username": "carol", "email": nul("carol@example.com"), "password": PASSWORD}),
    Case("admin set email", "admin", "PUT", f"/api/admin/users/{uuid.uuid4()}/email", json={"email": nul("x@y.z")}),
    Case("api key name", "admin", "POST", "/api/admin/api-keys", json={"name": nul("ci"), "scopes": ["track:write"]}),
    Case("api key app", "admin", "POST", "/api/admin/api-keys",
         json={"name": "ci", "scopes": ["track:write"], "app": nul("game")}),
    Case("settings value", "alice", "PUT", "/api/users/me/settings", json={"theme": nul("dark")}),
    Case("settings key", "alice", "PUT", "/api/users/me/settings", json={nul("theme"): "dark"}),
    Case("admin config key", "admin", "PUT", "/api/admin/config", json={nul("auto_release.hours"): 48}),
    Case("own e-mail", "alice", "PUT", "/api/users/me/email", json={"password": PASSWORD, "new_email": nul("a@b.c")}),
    Case("relay session data", "alice", "POST", "/new_session", "app1", json={"user_id": "alice", "data": nul("x")}),
    Case("relay user id", "alice", "POST", "/new_session", "app1", json={"user_id": nul("alice")}),
    Case("lock owner filter", "alice", "GET", "/api/locks?owner=al%00ice"),
    Case("lock prefix filter", "alice", "GET", "/api/locks?prefix=Content%00"),
    Case("lock branch filter", "alice", "GET", "/api/locks?branch=ma%00in"),
    Case("lock releases prefix", "admin", "GET", "/api/admin/lock-releases?prefix=%00"),
    Case("lfs path filter", "basic", "GET", "/api/lfs/locks?path=A%00", "lfs"),
    Case("lfs refspec", "basic", "GET", "/api/lfs/locks?refspec=main%00", "lfs"),
    Case("feed cursor", "admin", "GET", "/api/model/active-users?limit=5&cursor=%00", "checkin"),
    Case("lock path segment", "alice", "GET", "/api/locks/A%00.uasset"),
    Case("lock release segment", "alice", "DELETE", "/api/locks/A%00.uasset"),
    Case("erasure segment", "admin", "DELETE", "/api/analytics/apps/ga%00me/users/u1"),
    Case("unlock id segment", "basic", "POST", "/api/lfs/locks/1%00/unlock", "lfs", json={}),
    Case("api key id segment", "admin", "DELETE", "/api/admin/api-keys/%00"),
    Case("user id segment", "admin", "DELETE", "/api/admin/users/%00"),
    Case("confirm token segment", "public", "GET", "/api/confirm-email/ab%00cd"),
    Case("api key header", "public", "GET", "/api/model/active-users", "checkin", headers={"X-API-Key": "ck_a\x00_b"}),
    Case("bearer key", "public", "GET", "/api/model/active-users", "checkin",
         headers={"Authorization": "Bearer ck_a\x00b_c"}),
    Case("bearer key on locks", "public", "GET", "/api/lfs/locks", "lfs",
         headers={"Authorization": "Bearer ck_\x00_c"}),
]


@pytest.mark.parametrize("case", NUL_CASES, ids=lambda c: c.id)
def test_nul_is_refused(case, client, callers):
    check(case, client, callers)


def basic_header(username: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode(),
            "Accept": LFS_MEDIA}


@pytest.mark.parametrize(("username", "secret"), [(nul("admin"), PASSWORD), ("admin", nul(PASSWORD)),
                                                  ("admin", "ck_" + NUL + "_x")], ids=["user", "password", "key"])
def test_nul_in_basic_credentials_is_a_401(username, secret, client, admin):
    before = snapshot()
    resp = client.get("/api/lfs/locks", headers=basic_header(username, secret))
    assert resp.status_code == 401 and assert_refused(resp, "lfs")
    assert snapshot() == before


DEEP_CASES = [
    Case("login", "public", "POST", "/api/login", raw=DEEP),
    Case("login field", "public", "POST", "/api/login", raw='{"username": ' + DEEP + ', "password": "x"}'),
    Case("track", "public", "POST", "/api/pages/track", raw=DEEP),
    Case("settings", "alice", "PUT", "/api/users/me/settings", raw='{"a": ' + DEEP + "}"),
    Case("admin config", "admin", "PUT", "/api/admin/config", raw='{"auto_release.hours": ' + DEEP + "}"),
    Case("profile", "alice", "PUT", "/api/users/me/profile", raw=DEEP),
    Case("session start", "admin", "POST", "/api/sessions/start", raw=DEEP),
    Case("lfs lock", "basic", "POST", "/api/lfs/locks", "lfs", raw=DEEP),
    Case("relay", "alice", "POST", "/new_session", "app1", raw='{"user_id": "alice", "data": ' + DEEP + "}"),
    # 65 levels: parses without recursing too deep, still past the limit
    Case("settings 65 levels", "alice", "PUT", "/api/users/me/settings", raw='{"a": ' + "[" * 64 + "]" * 64 + "}"),
]


@pytest.mark.parametrize("case", DEEP_CASES, ids=lambda c: c.id)
def test_deep_nesting_is_a_400(case, client, callers):
    resp_body = check(case, client, callers)
    assert "Malformed JSON" in json.dumps(resp_body)


def test_nesting_within_the_limit_is_stored(client, callers):
    document = {"a": json.loads("[" * 60 + "]" * 60)}
    resp = client.put("/api/users/me/settings", headers=callers["alice"], json=document)
    assert resp.status_code == 200 and resp.get_json()["data"] == document


DATE_CASES = [
    Case(f"{where} {label}", caller, "POST", url, json={**body, key: value})
    for label, value in (("late", LATE), ("early", EARLY), ("epoch number", 1700000000),
                         ("epoch string", "1700000000"), ("non-ASCII digits", "２０２４-01-01T00:00:00Z"))
    for where, caller, url, body, key in (
        ("track", "public", "/api/pages/track", VISIT, "time"),
        ("session start", "admin", "/api/sessions/start", START, "time"),
        ("session pause", "admin", "/api/sessions/pause", EVENT, "time"),
        ("session end", "admin", "/api/sessions/end", EVENT, "time"),
        ("report from", "admin", "/api/sessions/summary", REPORT, "from"),
        ("report to", "admin", "/api/sessions/timeline", REPORT, "to"),
        ("page stats to", "admin", "/api/pages/stats", REPORT, "to"),
    )
]


@pytest.mark.parametrize("case", DATE_CASES, ids=lambda c: c.id)
def test_dates_are_iso_8601_within_range(case, client, callers):
    body = check(case, client, callers)
    assert body["details"], body


def test_report_mixing_naive_and_offset_times(client, callers):
    resp = client.post("/api/sessions/summary", headers=callers["admin"],
                       json={**REPORT, "from": "2026-01-01T00:00:00", "to": "2026-01-02T00:00:00+01:00"})
    assert resp.status_code == 200, resp.get_json()


# str.isdigit() takes "²" (int() does not) and 2**70 overflows a 64-bit column: ids, pages and offsets are
# ASCII digits within bounds everywhere (schemas.LockIdText, PageNumber, Offset; locks.parse_lock_id).
NUMBER_CASES = [
    Case(f"lock list page {label}", "alice", "GET", f"/api/locks?page={value}") for label, value in
    (("huge", HUGE), ("superscript", SUPERSCRIPT_TWO), ("max+1", 1_000_001))
] + [
    Case("lock releases page", "admin", "GET", f"/api/admin/lock-releases?page={HUGE}"),
    Case("notifications offset", "admin", "GET", f"/api/admin/relay/notifications?offset={HUGE}"),
    Case("notifications offset superscript", "admin", "GET",
         f"/api/admin/relay/notifications?offset={SUPERSCRIPT_TWO}"),
    Case("interactions offset", "admin", "GET", f"/api/admin/relay/interactions?offset={HUGE}"),
    Case("interactions limit", "admin", "GET", f"/api/admin/relay/interactions?limit={HUGE}"),
    Case("lfs id huge", "basic", "GET", f"/api/lfs/locks?id={HUGE}", "lfs"),
    Case("lfs id superscript", "basic", "GET", f"/api/lfs/locks?id={SUPERSCRIPT_TWO}", "lfs"),
    Case("lfs cursor huge", "basic", "GET", f"/api/lfs/locks?cursor={HUGE}", "lfs"),
    Case("lfs cursor superscript", "basic", "GET", f"/api/lfs/locks?cursor={SUPERSCRIPT_TWO}", "lfs"),
    Case("lfs verify cursor huge", "basic", "POST", "/api/lfs/locks/verify", "lfs", json={"cursor": HUGE}),
    Case("lfs verify cursor superscript", "basic", "POST", "/api/lfs/locks/verify", "lfs",
         json={"cursor": SUPERSCRIPT_TWO}),
    *[Case(f"lfs unlock {label}", "basic", "POST", f"/api/lfs/locks/{value}/unlock", "lfs", json={})
      for label, value in (("huge", HUGE), ("superscript", SUPERSCRIPT_TWO))],
    Case("feed limit huge", "admin", "GET", f"/api/model/active-users?limit={HUGE}", "checkin"),
    Case("feed limit superscript", "admin", "GET", f"/api/model/active-users?limit={SUPERSCRIPT_TWO}", "checkin"),
    Case("track seconds huge", "public", "POST", "/api/pages/track", json={**VISIT, "timespent": 2**70}),
    Case("track seconds 1e400", "public", "POST", "/api/pages/track",
         raw='{"user": "u1", "app": "game", "page": "/menu", "timespent": 1e400}'),
    Case("profile preference 1e400", "alice", "PUT", "/api/users/me/profile",
         raw='{"preferences": [1e400, 0, 0, 0, 0]}'),
    Case("admin config huge", "admin", "PUT", "/api/admin/config", json={"auto_release.hours": 2**70}),
]


@pytest.mark.parametrize("case", NUMBER_CASES, ids=lambda c: c.id)
def test_huge_and_non_ascii_numbers(case, client, callers):
    check(case, client, callers)


LONG_CASES = [
    Case("lfs ref name", "basic", "POST", "/api/lfs/locks", "lfs",
         json={"path": "A.uasset", "ref": {"name": "refs/heads/" + "b" * 256}}),
    Case("lfs ref not a branch", "basic", "POST", "/api/lfs/locks", "lfs",
         json={"path": "A.uasset", "ref": {"name": "refs/tags/" + "t" * 250}}),
    Case("lock branch", "alice", "POST", "/api/locks", json={"asset_path": "A.uasset", "branch": "b" * 256}),
    Case("lock comment", "alice", "POST", "/api/locks",
         json={"asset_path": "A.uasset", "branch": "main", "comment": "c" * 1001}),
    Case("track page", "public", "POST", "/api/pages/track", json={**VISIT, "page": "/" + "p" * 512}),
    Case("track app", "public", "POST", "/api/pages/track", json={**VISIT, "app": "a" * 81}),
    Case("track user", "public", "POST", "/api/pages/track", json={**VISIT, "user": "u" * 129}),
    Case("display name", "alice", "PUT", "/api/users/me/profile", json={"display_name": "d" * 81}),
    Case("api key name", "admin", "POST", "/api/admin/api-keys", json={"name": "k" * 81, "scopes": ["relay"]}),
    Case("relay user id", "alice", "POST", "/new_session", "app1", json={"user_id": "u" * 256}),
]


@pytest.mark.parametrize("case", LONG_CASES, ids=lambda c: c.id)
def test_over_long_strings_are_refused(case, client, callers):
    check(case, client, callers)


CONTROL_CASES = [
    Case("track app C1 control", "public", "POST", "/api/pages/track", json={**VISIT, "app": "game\u0090"}),
    Case("track app newline", "public", "POST", "/api/pages/track", json={**VISIT, "app": "game\nX-Injected: 1"}),
    Case("track page escape", "public", "POST", "/api/pages/track", json={**VISIT, "page": "/menu\x1b[2J"}),
    Case("display name carriage return", "alice", "PUT", "/api/users/me/profile", json={"display_name": "A\rB"}),
    Case("lock branch newline", "alice", "POST", "/api/locks", json={"asset_path": "A.uasset", "branch": "m\nain"}),
    Case("api key app DEL", "admin", "POST", "/api/admin/api-keys",
         json={"name": "ci", "scopes": ["track:write"], "app": "game\x7f"}),
]


@pytest.mark.parametrize("case", CONTROL_CASES, ids=lambda c: c.id)
def test_control_characters_in_names_are_refused(case, client, callers):
    body = check(case, client, callers)
    assert body["details"][0]["type"] == "string_pattern_mismatch"


def test_a_tab_in_a_display_name_is_kept(client, callers):
    resp = client.put("/api/users/me/profile", headers=callers["alice"], json={"display_name": "A\tB"})
    assert resp.status_code == 200 and resp.get_json()["data"]["display_name"] == "A\tB"


@pytest.mark.parametrize(("caller", "url", "method", "raw"), [
    ("alice", "/api/users/me/settings", "PUT", '{"theme": "dark\\udc00"}'),
    ("alice", "/api/users/me/settings", "PUT", '{"\\ud800": 1}'),
    ("public", "/api/pages/track", "POST", '{"user": "\\udaa7", "app": "game", "page": "/menu", "timespent": 5}'),
    ("alice", "/new_session", "POST", '{"user_id": "alice", "data": ["\\ud83d"]}'),
], ids=["settings value", "settings key", "track user", "relay data"])
def test_unpaired_surrogates_are_refused(caller, url, method, raw, client, callers):
    # no UTF-8 encodes them: PostgreSQL's driver would fail on the way in
    body = check(Case("surrogate", caller, method, url, "app1" if url == "/new_session" else "envelope", raw=raw),
                 client, callers)
    assert "surrogate" in json.dumps(body)


def test_a_surrogate_pair_is_a_character(client, callers):
    resp = client.put("/api/users/me/settings", headers=callers["alice"], data='{"mood": "\\ud83c\\udfae"}',
                      content_type="application/json")
    assert resp.status_code == 200 and resp.get_json()["data"] == {"mood": "\U0001f3ae"}


@pytest.mark.parametrize("app_name", ['io\U0001f60dÜ "quoted" back\\slash', "plain-game"])
def test_csv_download_name_is_a_valid_header(app_name, client, callers):
    # an app name went into Content-Disposition as is: gunicorn refused the header and answered an HTML 500
    resp = client.post("/api/sessions/summary?format=csv", headers=callers["admin"],
                       json={**REPORT, "app": app_name})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    disposition = resp.headers["Content-Disposition"]
    disposition.encode("ascii")  # no character a server may refuse in a header
    assert disposition.isprintable() and disposition.startswith('attachment; filename="')
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == f"{app_name}-summary.csv"


NON_JSON_NUMBERS = ["NaN", "Infinity", "-Infinity"]


@pytest.mark.parametrize("constant", NON_JSON_NUMBERS)
@pytest.mark.parametrize(("caller", "url", "method", "template"), [
    ("alice", "/api/users/me/settings", "PUT", '{"volume": %s}'),
    ("alice", "/api/users/me/settings", "PUT", '{"nested": {"list": [1, %s]}}'),
    ("public", "/api/pages/track", "POST", '{"user": "u1", "app": "game", "page": "/menu", "timespent": %s}'),
    ("admin", "/api/admin/config", "PUT", '{"alohomora.timeout": %s}'),
    ("alice", "/api/users/me/profile", "PUT", '{"preferences": [%s, 0, 0, 0, 0]}'),
], ids=["settings", "settings nested", "track", "admin config", "profile"])
def test_nan_and_infinity_are_refused(constant, caller, url, method, template, client, callers):
    body = check(Case("nan", caller, method, url, raw=template % constant), client, callers)
    assert body["message"] == "Malformed JSON body"


def test_settings_never_emit_nan(client, callers):
    resp = client.get("/api/users/me/settings", headers=callers["alice"])
    assert strict_json(resp)["data"] == {}


def test_responses_write_non_finite_numbers_as_null(app):
    # e.g. a row stored before input was strict: JSON has no NaN, so the answer says null
    assert json.loads(app.json.dumps({"a": float("nan"), "b": [float("inf"), 1.5]})) == {"a": None, "b": [None, 1.5]}
    with app.test_request_context():
        resp = app.json.response({"x": float("-inf")})
    assert strict_json(resp) == {"x": None}


@pytest.mark.parametrize(("method", "url"), [
    ("GET", "//api/health"), ("POST", "//api/health"), ("GET", "/api//locks"), ("GET", "//api/currentuser"),
    ("POST", "/api//login"), ("GET", "/api/lfs//locks"), ("GET", "//healthz"),
])
def test_double_slash_answers_json_not_a_redirect(method, url, client, callers):
    resp = client.open(url, method=method, headers=callers["alice"])
    assert resp.status_code == 404, (resp.status_code, resp.headers.get("Location"))
    assert_refused(resp, "lfs" if url.startswith("/api/lfs") else "envelope")


def test_time_as_iso_string_is_still_taken(client, callers):
    resp = client.post("/api/pages/track", json={**VISIT, "time": "2026-01-01T10:00:00+02:00"})
    assert resp.status_code == 200 and resp.get_json()["data"]["timestamp"] == "2026-01-01T08:00:00.000Z"


# ---------------------------------------------------------------- workspace file names: bytes, not characters

@pytest.fixture
def files_url(alice) -> str:
    return f"/api/app-sessions/{app_sessions.create_session('alice').session_id}/files"


def workspace_files(app) -> list[Path]:
    root = Path(app.extensions["concierge.settings"]["workspace.root"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("name", ["é" * 128, "a" * 254 + "é", "🎮" * 64, "a" * 256],
                         ids=["256 bytes of é", "255 chars 256 bytes", "emoji", "256 ascii"])
def test_file_names_over_255_bytes_are_refused(name, app, client, callers, files_url):
    before = snapshot()
    resp = client.put(f"{files_url}/{name}", headers=callers["alice"], data=b"content")
    body = assert_refused(resp, "envelope")
    assert resp.status_code == 400 and "255 bytes" in body["message"]
    assert snapshot() == before and workspace_files(app) == []


def test_a_255_byte_name_is_stored(app, client, callers, files_url):
    name = "é" * 127 + "a"  # 127 * 2 + 1 = 255 bytes
    resp = client.put(f"{files_url}/{name}", headers=callers["alice"], data=b"content")
    assert resp.status_code == 201 and resp.get_json()["data"]["name"] == name
    assert [p.name for p in workspace_files(app)] == [name]
