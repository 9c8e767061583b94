"""Optional write-behind buffer for page tracking (`analytics.track_buffer_ms` > 0).

Each process collects validated visits in memory and a daemon thread stores them every
`track_buffer_ms` milliseconds with one multi-row INSERT (and at exit). A request's visits are
appended together and inserted by the same statement, so a batch stays all-or-nothing; reports see
a visit at most one interval later, and a worker killed hard loses at most one interval of visits.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Any

from flask import Flask, current_app
from sqlalchemy import insert

from extensions import db
from models import PageVisit

log = logging.getLogger("concierge.track_buffer")


class TrackBuffer:
    def __init__(self) -> None:
        self.pid = -1
        self.lock = threading.Lock()
        self.rows: list[dict[str, Any]] = []
        self.app: Flask | None = None
        self.wake = threading.Event()

    def _ensure_started(self, app: Flask, interval: float) -> None:
        if self.pid == os.getpid():
            return
        # first use in this process (or after a fork): fresh lock, rows and flusher thread
        self.pid, self.lock, self.rows, self.app = os.getpid(), threading.Lock(), [], app
        threading.Thread(target=self._run, args=(interval,), name="track-buffer", daemon=True).start()
        atexit.register(self.flush)

    def add(self, rows: list[dict[str, Any]], interval_ms: int) -> None:
        app = current_app._get_current_object()
        self._ensure_started(app, interval_ms / 1000)
        with self.lock:
            self.app = app  # the app of the latest request (tests build several in one process)
            self.rows.extend(rows)

    def _run(self, interval: float) -> None:
        while not self.wake.wait(interval):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - keep flushing; the failed rows are logged and dropped
                log.exception("page visit flush failed")

    def flush(self) -> int:
        """Store everything buffered so far in one INSERT; returns the number of rows."""
        with self.lock:
            rows, self.rows = self.rows, []
        if not rows or self.app is None:
            return 0
        with self.app.app_context():
            db.session.execute(insert(PageVisit), rows)
            db.session.commit()
        return len(rows)


buffer = TrackBuffer()
