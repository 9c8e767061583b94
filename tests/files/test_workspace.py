"""The Backend Server guide's session folders: upload, list, download, delete; names, limits, atomicity, ownership."""

import hashlib
import os
import socket
from datetime import timedelta
from urllib.parse import urlparse

import pytest

from models import WorkspaceFile
from services import app_sessions, clock
from tests.files.conftest import MAX_FILE, QUOTA


def folder_entries(root, session_id):
    path = os.path.join(root, session_id)
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def test_upload_list_download_delete(client, alice_headers, files_url, root, session_id):
    content = b"hello workspace\n"
    resp = client.put(f"{files_url}/notes.txt", headers={**alice_headers, "Content-Type": "text/plain"}, data=content)
    assert resp.status_code == 201
    meta = resp.get_json()["data"]
    assert meta["name"] == "notes.txt" and meta["size"] == len(content)
    assert meta["sha256"] == hashlib.sha256(content).hexdigest() and meta["content_type"] == "text/plain"
    assert meta["created_at"].endswith("Z")
    assert folder_entries(root, session_id) == ["notes.txt"]

    listed = client.get(files_url, headers=alice_headers).get_json()["data"]
    assert [f["name"] for f in listed["files"]] == ["notes.txt"]
    assert listed["used_bytes"] == len(content) and listed["quota_bytes"] == QUOTA

    resp = client.get(f"{files_url}/notes.txt", headers=alice_headers)
    assert resp.status_code == 200 and resp.data == content and resp.mimetype == "text/plain"
    assert "attachment" in resp.headers["Content-Disposition"]

    resp = client.delete(f"{files_url}/notes.txt", headers=alice_headers)
    assert resp.status_code == 200
    assert client.get(f"{files_url}/notes.txt", headers=alice_headers).status_code == 404
    assert folder_entries(root, session_id) == [] and WorkspaceFile.query.count() == 0


def test_replace_keeps_one_row(client, alice_headers, files_url):
    client.put(f"{files_url}/a.bin", headers=alice_headers, data=b"one")
    resp = client.put(f"{files_url}/a.bin", headers=alice_headers, data=b"second")
    assert resp.status_code == 201 and resp.get_json()["data"]["size"] == 6
    assert WorkspaceFile.query.count() == 1
    assert client.get(f"{files_url}/a.bin", headers=alice_headers).data == b"second"


@pytest.mark.parametrize("name", ["..", "../escape.txt", "..%2Fescape.txt", "sub/dir.txt", ".hidden", "a%00b",
                                  "back%5Cslash", "tab%09name", "x" * 256, "%2Fetc%2Fpasswd"])
def test_names_that_could_escape_are_refused(client, alice_headers, files_url, root, name):
    resp = client.put(f"{files_url}/{name}", headers=alice_headers, data=b"evil")
    if name.startswith("%2F"):  # an absolute path leaves an empty name: no route matches
        assert resp.status_code == 404
    else:
        assert resp.status_code == 400, resp.get_json()
        # a NUL is refused for the whole URL before the name is looked at (wire.refuse_nul_in_url)
        expected = "The URL must not contain NUL" if "%00" in name else "Invalid file name"
        assert resp.get_json()["message"].startswith(expected)
    assert WorkspaceFile.query.count() == 0
    assert not os.path.exists(root) or sorted(os.listdir(root)) in ([], [files_url.split("/")[3]])
    for _dirpath, _dirs, filenames in os.walk(os.path.dirname(root)):
        assert "escape.txt" not in filenames and "dir.txt" not in filenames


def test_traversal_on_download_and_delete(client, alice_headers, files_url):
    for method in ("get", "delete"):
        resp = getattr(client, method)(f"{files_url}/..%2F..%2Fetc%2Fpasswd", headers=alice_headers)
        assert resp.status_code == 400, method


def test_symlink_in_folder_is_not_followed(client, alice_headers, files_url, root, session_id, tmp_path):
    assert client.put(f"{files_url}/link.txt", headers=alice_headers, data=b"real").status_code == 201
    outside = tmp_path / "outside.txt"
    outside.write_text("secret outside")
    target = os.path.join(root, session_id, "link.txt")
    os.unlink(target)
    os.symlink(outside, target)
    resp = client.get(f"{files_url}/link.txt", headers=alice_headers)
    assert resp.status_code == 404
    assert b"secret outside" not in resp.data
    # an upload replaces the link itself and never writes through it
    assert client.put(f"{files_url}/link.txt", headers=alice_headers, data=b"new").status_code == 201
    assert outside.read_text() == "secret outside" and not os.path.islink(target)


def test_oversize_upload_is_413_and_leaves_nothing(client, alice_headers, files_url, root, session_id):
    resp = client.put(f"{files_url}/big.bin", headers=alice_headers, data=b"x" * (MAX_FILE + 1))
    assert resp.status_code == 413
    assert WorkspaceFile.query.count() == 0
    assert folder_entries(root, session_id) == []


def test_file_limit_is_above_the_global_body_limit(make_app, tmp_path, factory):
    app = make_app({"workspace.root": str(tmp_path / "ws"), "workspace.max_file_bytes": 3 * 1024 * 1024,
                    "workspace.quota_bytes": 10 * 1024 * 1024})
    with app.app_context():
        user = factory.user("carol")
        sid = app_sessions.create_session("carol").session_id
        big = os.urandom(2 * 1024 * 1024)  # above http.max_body_bytes (1 MiB)
        resp = app.test_client().put(f"/api/app-sessions/{sid}/files/big.bin", headers=factory.headers(user),
                                     data=big)
        assert resp.status_code == 201, resp.get_json()
        assert resp.get_json()["data"]["sha256"] == hashlib.sha256(big).hexdigest()


def _raw_put(live_server, path, headers, body_parts, declared_length=None, chunked=False):
    host = urlparse(live_server.url)
    with socket.create_connection((host.hostname, host.port), timeout=5) as sock:
        head = f"PUT {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {declared_length}\r\n"
        sock.sendall(head.encode() + b"\r\n")
        for part in body_parts:
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def test_chunked_oversize_upload_is_413_and_leaves_nothing(app, live_server, alice_headers, files_url, root,
                                                           session_id):
    """No Content-Length to check up front: the streaming copy stops at the limit."""
    reply = _raw_put(live_server, f"{files_url}/stream.bin", alice_headers, [b"y" * 300] * 5, chunked=True)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    with app.app_context():
        assert WorkspaceFile.query.count() == 0
    assert folder_entries(root, session_id) == []


def test_chunked_upload_within_limits_is_stored(app, live_server, alice_headers, files_url, root, session_id):
    reply = _raw_put(live_server, f"{files_url}/ok.bin", alice_headers, [b"y" * 300] * 3, chunked=True)
    assert reply.startswith(b"HTTP/1.1 201"), reply[:200]
    assert folder_entries(root, session_id) == ["ok.bin"]


def test_quota_is_413(client, alice_headers, files_url, root, session_id):
    for name in ("a", "b"):
        assert client.put(f"{files_url}/{name}", headers=alice_headers, data=b"z" * 1000).status_code == 201
    resp = client.put(f"{files_url}/c", headers=alice_headers, data=b"z" * 600)
    assert resp.status_code == 413 and resp.get_json()["message"] == "Session workspace quota exceeded"
    assert folder_entries(root, session_id) == ["a", "b"]
    # replacing a file counts its new size, not both
    assert client.put(f"{files_url}/a", headers=alice_headers, data=b"z" * 900).status_code == 201
    assert client.put(f"{files_url}/c", headers=alice_headers, data=b"z" * 600).status_code == 201


def test_upload_cut_off_leaves_no_file_and_no_row(app, live_server, alice_headers, files_url, root, session_id):
    """A client that promises 900 bytes and hangs up after 300: nothing half-written survives."""
    reply = _raw_put(live_server, f"{files_url}/partial.bin", alice_headers, [b"p" * 300], declared_length=900)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    with app.app_context():
        assert WorkspaceFile.query.count() == 0
    assert folder_entries(root, session_id) == []


def test_another_users_files_are_403(client, factory, files_url, alice_headers):
    assert client.put(f"{files_url}/mine.txt", headers=alice_headers, data=b"alice's").status_code == 201
    bob_headers = factory.headers(factory.user("bob"))
    for method, data in (("get", None), ("delete", None), ("put", b"bob")):
        resp = getattr(client, method)(f"{files_url}/mine.txt", headers=bob_headers, data=data)
        assert resp.status_code == 403, method
        assert resp.get_json()["message"] == "Only the session's user or an admin may use its files"
    assert client.get(files_url, headers=bob_headers).status_code == 403
    assert client.get(f"{files_url}/mine.txt", headers=alice_headers).data == b"alice's"


def test_admin_may_touch_any_session(client, admin_headers, files_url, alice_headers):
    assert client.put(f"{files_url}/x.txt", headers=alice_headers, data=b"x").status_code == 201
    assert client.get(f"{files_url}/x.txt", headers=admin_headers).data == b"x"


def test_unknown_and_expired_sessions_are_404(client, alice_headers, session_id):
    resp = client.get("/api/app-sessions/00000000-0000-0000-0000-000000000000/files", headers=alice_headers)
    assert resp.status_code == 404 and resp.get_json()["message"] == "Session not found"
    clock.freeze(clock.now() + timedelta(hours=2))
    resp = client.put(f"/api/app-sessions/{session_id}/files/a.txt", headers=alice_headers, data=b"late")
    assert resp.status_code == 404


def test_files_need_a_user_token(client, files_url, factory):
    assert client.get(files_url).status_code == 401
    resp = client.get(files_url, headers={"X-API-Key": factory.api_key(["relay"])})
    assert resp.status_code == 401


def test_parallel_uploads_never_exceed_the_quota(app, live_server, alice_headers, files_url, root, session_id):
    import threading

    import requests

    statuses, barrier = [], threading.Barrier(6)

    def upload(i):
        barrier.wait()
        resp = requests.put(f"{live_server.url}{files_url}/p{i}.bin", headers=alice_headers, data=b"q" * 1000,
                            timeout=30)
        statuses.append(resp.status_code)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 201, 413, 413, 413, 413]
    with app.app_context():
        assert sum(f.size for f in WorkspaceFile.query.all()) == 2000
    assert len(folder_entries(root, session_id)) == 2
