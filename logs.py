"""Logging: one JSON object per line on stdout, carrying the request id when there is one."""

from __future__ import annotations

import json
import logging
import os
import sys

from flask import Flask, g, has_request_context
from gunicorn.glogging import Logger as GunicornLogger

import settings


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = g.get("request_id")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(app: Flask) -> None:
    """Route the app's and our loggers to stdout, JSON unless LOG_JSON=false."""
    with app.app_context():
        as_json = settings.static("log.json")
    handler = logging.StreamHandler(sys.stdout)
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    handler.setFormatter(JsonFormatter() if as_json else plain)
    root = logging.getLogger("concierge")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    app.logger.handlers[:] = [handler]
    # Flask-Limiter's own (it logs a rate-limit storage it cannot reach, e.g. Redis down: limits fail open)
    limiter_log = logging.getLogger("flask-limiter")
    limiter_log.handlers[:] = [handler]
    limiter_log.propagate = False


class GunicornJsonLogger(GunicornLogger):
    """gunicorn's own lines as JSON too: error log via JsonFormatter, access log one object per request.

    Used by deploy/gunicorn.conf.py when LOG_JSON is on. The access line carries the request id the app
    echoed in X-Request-ID, so a proxy's log, the app's log and gunicorn's line of one request join up.
    """

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            if getattr(handler, "_gunicorn", False):
                handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        response_headers = {name.lower(): value for name, value in resp.headers}
        entry = {
            "time": self.now().strip("[]"),
            "level": "INFO",
            "logger": "gunicorn.access",
            "request_id": response_headers.get("x-request-id") or environ.get("HTTP_X_REQUEST_ID"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING") or None,
            "status": int(status) if str(status).isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
            "pid": os.getpid(),
        }
        try:
            self.access_log.info(json.dumps(entry, default=str))
        except Exception:  # noqa: BLE001 - a log line must never fail a request
            self.error("could not write the access log line")
