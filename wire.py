"""What Concierge accepts and writes on the wire: strict JSON (RFC 8259), no NUL in URLs or headers, no `//` redirects.

Python's json module is lenient where an attacker gains: it reads and writes `NaN`/`Infinity` (not JSON),
turns `1e400` into infinity, recurses once per nesting level (a 10 KB body of brackets is a RecursionError,
a 500), and hands on NUL characters that PostgreSQL's text type cannot store. Every request body is read
through `loads` (the JSON provider, so `request.get_json()` too, and `json_payload()`), which refuses all of
these as malformed; responses never carry a non-finite number.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any
from urllib.parse import quote

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider

from errors import ApiError

MAX_DEPTH = 64  # arrays/objects inside each other; no client document comes near it
# NUL and surrogates left unpaired reach a parsed string only as escapes (raw, they are invalid JSON / UTF-8);
# PostgreSQL's text cannot hold NUL, and no UTF-8 encodes a lone surrogate.
NUL_ESCAPE = "\\u0000"
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class UnacceptableJSON(ValueError):
    """Malformed or hostile JSON; `loc` is where in the document (keys and indexes), when known."""

    def __init__(self, message: str, loc: tuple = ()):
        super().__init__(message)
        self.loc = list(loc)


def _refuse_constant(name: str) -> Any:
    raise UnacceptableJSON(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UnacceptableJSON(f"number out of range: {text[:40]}")
    return value


def loads(raw: bytes | str) -> Any:
    """Parse strict JSON (UTF-8): no NaN/Infinity, finite numbers, at most MAX_DEPTH levels, no NUL in strings."""
    text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw  # UnicodeDecodeError is a ValueError
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:
        raise UnacceptableJSON(f"nested deeper than {MAX_DEPTH} levels") from None
    # Each walk only when the text could fail it (a small track body has one `{` and no escape).
    if text.count("[") + text.count("{") > MAX_DEPTH:
        _check_depth(value)
    if NUL_ESCAPE in text or SURROGATE_ESCAPE.search(text):
        _check_strings(value)
    return value


def _check_depth(value: Any) -> None:
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth >= MAX_DEPTH:
                raise UnacceptableJSON(f"nested deeper than {MAX_DEPTH} levels")
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))


def _check_strings(value: Any) -> None:
    stack: list[tuple[Any, tuple]] = [(value, ())]
    while stack:
        node, loc = stack.pop()
        if isinstance(node, str) and UNSTORABLE.search(node):
            raise UnacceptableJSON("strings must not contain NUL (\\u0000) or unpaired surrogates", loc)
        if isinstance(node, dict):
            for key, child in node.items():
                if UNSTORABLE.search(key):
                    where = (*loc, UNSTORABLE.sub("", key))
                    raise UnacceptableJSON("object keys must not contain NUL (\\u0000) or unpaired surrogates",
                                           where)
                stack.append((child, (*loc, key)))
        elif isinstance(node, list):
            stack.extend((child, (*loc, index)) for index, child in enumerate(node))


def finite_only(value: Any) -> Any:
    """`value` with every NaN/Infinity replaced by null (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_only(child) for key, child in value.items()}
    if isinstance(value, list | tuple):
        return [finite_only(child) for child in value]
    return value


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON with strict reading (`loads`) and writing (never NaN or Infinity)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs["allow_nan"] = False
        try:
            return super().dumps(obj, **kwargs)
        except ValueError:  # a non-finite float from somewhere (e.g. a row stored before this rule): null
            return super().dumps(finite_only(obj), **kwargs)


def attachment(filename: str) -> str:
    """A Content-Disposition header value for a download named after user data (an app name): an ASCII
    `filename` for old clients and RFC 6266's `filename*` in UTF-8, so no character can break the header."""
    plain = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    plain = "".join(ch for ch in plain if ch.isprintable() and ch not in '"\\') or "download"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


def refuse_nul_in_url() -> None:
    """A NUL in the path, the query string or a header is never a name, filter or key anything could hold: 400.
    (gunicorn and nginx refuse NUL in headers too; other WSGI servers pass it on, to a database that refuses it.)"""
    if "\x00" in request.path or b"%00" in request.query_string or b"\x00" in request.query_string:
        raise ApiError(400, "The URL must not contain NUL (%00)")
    if any(name.startswith("HTTP_") and isinstance(value, str) and "\x00" in value
           for name, value in request.environ.items()):
        raise ApiError(400, "Request headers must not contain NUL")


def init_app(app: Flask) -> None:
    """Strict JSON both ways; NUL refused in URLs and headers; `//` in a path is not redirected (an HTML 308) but routed
    as written, so it answers JSON like any unknown URL. Before the blueprints: rules take these defaults."""
    app.json = StrictJSONProvider(app)
    app.url_map.merge_slashes = False
    app.before_request(refuse_nul_in_url)
