"""Group commit: concurrent requests of one process share one database statement.

A request hands its item to a Group and waits. One that finds no statement under way runs the statement
for the items of every request waiting so far (a lone request runs at once: nothing waits for company);
requests arriving meanwhile wait and form the next group. Each request gets its own item's result and
is answered only after the statement that stored it has committed, exactly as without grouping. Under
load a group costs the database one round trip where each request cost one before.

If a group's statement fails, each item is run on its own, so a request fails only for its own item.
Used on PostgreSQL by page tracking (one INSERT). Check-in extends were tried as one UPDATE over
unnest()ed arrays: no measurable gain (48-49% of trivial, as before), so they stay one statement each.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from flask import current_app

log = logging.getLogger("concierge.group_commit")
Item = TypeVar("Item")
Result = TypeVar("Result")


class _Waiting(Generic[Item, Result]):
    __slots__ = ("item", "done", "result", "error")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.done = False
        self.result: Result | None = None
        self.error: BaseException | None = None


class Group(Generic[Item, Result]):
    """`run_many(items)` -> one result per item, in order, in one all-or-nothing statement (so that after
    it fails, running each item again stores nothing twice); `run_one(item)` -> that item's result."""

    def __init__(self, run_many: Callable[[list[Item]], list[Result]], run_one: Callable[[Item], Result]):
        self.run_many, self.run_one = run_many, run_one
        self.changed = threading.Condition()
        self.waiting: list[_Waiting] = []
        self.running = False

    def run(self, item: Item) -> Result:
        mine = _Waiting(item)
        with self.changed:
            self.waiting.append(mine)
            while self.running and not mine.done:
                self.changed.wait()
            leader = not mine.done
            if leader:
                self.running = True
                group, self.waiting = self.waiting, []
        if leader:
            try:
                self._run_group(group)
            except BaseException as failure:  # e.g. the worker's timeout: no request may wait forever
                for waiting in group:
                    waiting.error = waiting.error or failure
                raise
            finally:
                with self.changed:
                    for waiting in group:
                        waiting.done = True
                    self.running = False
                    self.changed.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.result

    def _run_group(self, group: list[_Waiting]) -> None:
        if len(group) > 1:
            try:
                results = self.run_many([w.item for w in group])
            except Exception:  # noqa: BLE001 - retried item by item below, where each failure is its own
                log.warning("group of %d failed; running each on its own", len(group), exc_info=True)
            else:
                for waiting, result in zip(group, results, strict=True):
                    waiting.result = result
                return
        for waiting in group:
            try:
                waiting.result = self.run_one(waiting.item)
            except Exception as own:
                waiting.error = own


def of_app(name: str, make: Callable[[], Group]) -> Group:
    """The app's Group of that name (one per process and app: tests build several apps in one process)."""
    key = f"concierge.group.{name}"
    group = current_app.extensions.get(key)
    if group is None:
        group = current_app.extensions.setdefault(key, make())  # setdefault: two first requests keep one
    return group
