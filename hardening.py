"""Hardening by default (issue 17.8): security headers on every response, /metrics for allowed addresses only,
and private files: the instance folder 0700, the SQLite database (and its journals) 0600."""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

from flask import Flask, request

from errors import ApiError

log = logging.getLogger("concierge")

# JSON, CSV and files load nothing and are framed by nobody. HTML pages (the console, /api/docs) set their own
# policy, which is kept as it is.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # no-referrer: a signed LFS link or a confirmation URL never leaks to another site through Referer
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": DEFAULT_CSP,
}


def is_static(endpoint: str | None) -> bool:
    """Flask's static routes: the app's and each blueprint's (the console's assets, the docs' vendored UI)."""
    return endpoint is not None and (endpoint == "static" or endpoint.endswith(".static"))


def security_headers(response):
    """after_request: the security headers on every response, error pages included (a page's own value wins).

    Cache-Control: no-store on everything but static assets. Simpler and safer than listing the responses
    that carry a token or a key (login, refresh, account changes, new API keys, the console's cookie, LFS
    batch answers with signed links, App1's register_token): no shared or browser cache has any business
    keeping an authenticated API answer, and a route added later is covered without anyone remembering to.
    """
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not is_static(request.endpoint):
        response.headers["Cache-Control"] = "no-store"
    return response


def _networks(entries: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The configured addresses and CIDR ranges; a typo stops the start (ValueError) instead of opening up."""
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries]


def address_allowed(remote_addr: str | None, networks: list) -> bool:
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # a dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d
    return any(address in network for network in networks)


def metrics_guard(allow_from: list[str]) -> Callable[[Callable], Callable]:
    """The /metrics view's decorator: a JSON 403 to any client outside `metrics.allow_from`.

    `request.remote_addr` is the real client: the peer itself, or behind TRUSTED_PROXIES the address the
    proxy put in X-Forwarded-For (ProxyFix), so a scrape through nginx is judged by the scraper's address.
    """
    networks = _networks(allow_from)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            if not address_allowed(request.remote_addr, networks):
                raise ApiError(403, "Forbidden: /metrics is readable only from METRICS_ALLOWED_SOURCES")
            return view(*args, **kwargs)

        return guarded

    return decorate


def private_folder(path: str | Path) -> Path:
    """Create `path` 0700, or tighten it to 0700 when it exists, is ours and is open to others."""
    folder = Path(path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(folder, 0o700)
    return folder


def private_sqlite_file(database: str | None) -> None:
    """Create the SQLite database file 0600 before SQLite opens it (SQLite would create it 0644 under the
    usual umask; its -wal/-shm/-journal files copy the database file's mode)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite reports a missing folder itself, with its own message
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # an empty file is an empty database
    except OSError:
        return  # read-only or not ours: SQLite reports what matters
    _tighten(path, 0o600)


def _tighten(path: Path, mode: int) -> None:
    """chmod to `mode` when group or others have any access and we own the path (else leave it, and say so)."""
    info = path.stat()
    if not stat.S_IMODE(info.st_mode) & 0o077:
        return
    if info.st_uid != os.geteuid():
        log.warning("%s is readable by other users (mode %o) and not ours to tighten", path,
                    stat.S_IMODE(info.st_mode))
        return
    path.chmod(mode)


def init_app(app: Flask) -> None:
    """Security headers on every response (registered first, so it runs last and sees the final answer)."""
    app.after_request(security_headers)
