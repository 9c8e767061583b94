"""Check-ins ("vibe passes" of the check-in contract) and the ML model's active-users feed.

Rules:
- a user has at most one active pass: the partial unique index `uq_checkins_one_active` enforces it;
- a check-in while a pass is active extends it to now + duration and keeps its id (the session_id);
- a pass is live while `now < expires_at`, with `now` from `clock.now()` passed into SQL, so expiry
  is exact without any cleanup; an expired row still marked active is flipped by the next check-in;
- times are stored to the whole second, so what the API shows is exactly what is compared.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, insert, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError, OperationalError

import settings
from envelope import iso_z_seconds
from errors import ApiError
from extensions import db
from models import CheckIn, User
from services import clock

log = logging.getLogger("concierge.checkin")

ACTIVE, INACTIVE = "active", "inactive"
MAX_ATTEMPTS = 8


def duration() -> timedelta:
    return timedelta(minutes=settings.get("checkin.duration_minutes"))


def minutes_until(expires_at: datetime, now: datetime) -> int:
    """Whole minutes left, rounded up: at least 1 while the pass is live, 0 once it has expired."""
    return max(0, math.ceil((expires_at - now).total_seconds() / 60))


def _whole_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def _is_lock_timeout(exc: OperationalError) -> bool:
    # SQLite refuses a second writer with "database is locked" instead of waiting in some lock orders.
    return "locked" in str(exc.orig).lower()


@dataclass(frozen=True)
class Pass:
    """A vibe pass as the API shows it (plain values: no reload after commit)."""

    id: uuid.UUID
    checked_in_at: datetime
    expires_at: datetime


def check_in(user_id: uuid.UUID) -> tuple[Pass, bool]:
    """Start a pass, or extend the live one keeping its id. Returns (pass, extended)."""
    for _ in range(MAX_ATTEMPTS):
        now = clock.now()
        expires_at = _whole_second(now) + duration()
        try:
            return _extend_or_start(user_id, now, expires_at)
        except IntegrityError:
            # A concurrent check-in of this user inserted first: go round again and extend its pass.
            db.session.rollback()
            log.debug("check-in of %s lost an insert race; extending the winner's pass", user_id)
        except OperationalError as exc:
            db.session.rollback()
            if not _is_lock_timeout(exc):
                raise
            log.debug("check-in of %s met a locked database; retrying", user_id)
    raise ApiError(409, "Check-in conflicted with concurrent check-ins; try again")


# The page-load path: built once, values bound per call.
_checkins = CheckIn.__table__
_LIVE = (_checkins.c.user_id == bindparam("pass_user"), _checkins.c.status == ACTIVE,
         _checkins.c.expires_at > bindparam("now"))
_EXTEND = (update(_checkins).where(*_LIVE).values(expires_at=bindparam("new_expiry"))
           .returning(_checkins.c.id, _checkins.c.checked_in_at, _checkins.c.expires_at))
_LIVE_PASS = select(_checkins.c.id, _checkins.c.checked_in_at, _checkins.c.expires_at).where(*_LIVE)


def _extend_or_start(user_id: uuid.UUID, now: datetime, expires_at: datetime) -> tuple[Pass, bool]:
    values = {"pass_user": user_id, "now": now, "new_expiry": expires_at}
    extended = db.session.execute(_EXTEND, values).first()
    if extended is not None:
        db.session.commit()
        return Pass(*extended), True
    # An expired pass may still say active: retire it in the same transaction as the new insert.
    live = (CheckIn.user_id == user_id) & (CheckIn.status == ACTIVE)
    db.session.execute(update(CheckIn).where(live, CheckIn.expires_at <= now).values(status=INACTIVE)
                       .execution_options(synchronize_session=False))
    started = Pass(uuid.uuid4(), _whole_second(now), expires_at)
    db.session.execute(insert(CheckIn).values(id=started.id, user_id=user_id, checked_in_at=started.checked_in_at,
                                              expires_at=expires_at, status=ACTIVE, created_at=now))
    db.session.commit()
    return started, False


def active_pass(user_id: uuid.UUID, now: datetime | None = None) -> Pass | None:
    """The user's live pass, if any."""
    now = now or clock.now()
    values = {"pass_user": user_id, "now": now}
    row = db.session.execute(_LIVE_PASS, values).first()
    return Pass(*row) if row else None


def check_out(user_id: uuid.UUID) -> int:
    """End the user's pass now; returns how many passes were ended (0 is fine: checkout is idempotent)."""
    ended = db.session.execute(update(CheckIn).where(CheckIn.user_id == user_id, CheckIn.status == ACTIVE)
                               .values(status=INACTIVE).execution_options(synchronize_session=False))
    db.session.commit()
    return ended.rowcount


def expire_passes() -> int:
    """Job: mark passes past their expiry inactive (tidiness only; reads never depend on it)."""
    done = db.session.execute(update(CheckIn).where(CheckIn.status == ACTIVE, CheckIn.expires_at <= clock.now())
                              .values(status=INACTIVE).execution_options(synchronize_session=False))
    db.session.commit()
    return done.rowcount


# ---------------------------------------------------------------- the ML feed

# The whole feed on PostgreSQL: the database builds each item's JSON text and orders the items, so no Python
# runs per field; Python only joins them. Field names, order and formats match feed_item() below (tests
# check both lanes against the check-in contract). Items come back as ordered rows, not one json_agg(... ORDER BY)
# value: an aggregate's own ORDER BY makes PostgreSQL sort all 20 MB of item text in one process, spilling
# to disk, while a plain ORDER BY builds and sorts the items in parallel workers (bench_checkin, 100,000
# passes: the endpoint went from 868-916 to 364-435 ms on one machine). Row order of an ORDER BY is
# guaranteed; an aggregate over a sorted subquery is only "usually" ordered (PostgreSQL docs) and measured
# no faster.
PG_FEED_ITEMS_SQL = """
SELECT '{"user_id":"' || c.user_id::text
    || '","display_name":' || to_json(coalesce(u.display_name, u.username))::text
    || ',"checked_in_at":"' || to_char(c.checked_in_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    || '","expires_at":"' || to_char(c.expires_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    || '","preferences":' || u.preferences::text || '}'
FROM checkins c JOIN users u ON u.id = c.user_id
WHERE c.status = 'active' AND c.expires_at > :now
ORDER BY c.checked_in_at, c.id
"""
_PG_FEED_ITEMS = text(PG_FEED_ITEMS_SQL)


@dataclass(frozen=True)
class FeedPage:
    now: datetime
    rows: list  # (checkin id, user id, display name, checked_in_at, expires_at, preferences)
    next_cursor: str | None


def encode_cursor(checked_in_at: datetime, checkin_id: uuid.UUID) -> str:
    raw = f"{checked_in_at.isoformat()}|{checkin_id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        return datetime.fromisoformat(stamp), uuid.UUID(hex=ident)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "Invalid cursor") from None


def active_users(limit: int | None = None, cursor: str | None = None, now: datetime | None = None) -> FeedPage:
    """Every live pass with its user's display name and preferences: one query, oldest check-in first.

    With `limit`, one keyset page ordered by (checked_in_at, id); `next_cursor` continues after it.
    """
    now = now or clock.now()
    query = (
        select(CheckIn.id, CheckIn.user_id, func.coalesce(User.display_name, User.username), CheckIn.checked_in_at,
               CheckIn.expires_at, User.preferences)
        .join(User, User.id == CheckIn.user_id)
        .where(CheckIn.status == ACTIVE, CheckIn.expires_at > now)
        .order_by(CheckIn.checked_in_at, CheckIn.id)
    )
    if cursor:
        after = decode_cursor(cursor)
        query = query.where(tuple_(CheckIn.checked_in_at, CheckIn.id) > tuple_(*after))
    if limit is None:
        return FeedPage(now, db.session.execute(query).all(), None)
    rows = db.session.execute(query.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1][3], rows[-1][0]) if more else None
    return FeedPage(now, rows, next_cursor)


def feed_item(row) -> dict:
    _, user_id, display_name, checked_in_at, expires_at, preferences = row
    return {"user_id": str(user_id), "display_name": display_name, "checked_in_at": iso_z_seconds(checked_in_at),
            "expires_at": iso_z_seconds(expires_at), "preferences": preferences}


def feed_document(limit: int | None = None, cursor: str | None = None) -> str:
    """The check-in contract's active-users body as JSON text; `next_cursor` is added only when paging (`limit`)."""
    now = clock.now()
    head = f'{{"success":true,"count":%d,"timestamp":"{iso_z_seconds(now)}","data":%s'
    if limit is None and cursor is None and db.session.get_bind().dialect.name == "postgresql":
        # Plain strings (scalars), not a Row per item: rows at this size set off full garbage collections.
        items = db.session.execute(_PG_FEED_ITEMS, {"now": now}).scalars().all()
        return head % (len(items), "[" + ",".join(items) + "]") + "}"
    page = active_users(limit, cursor, now)
    items = json.dumps([feed_item(row) for row in page.rows], separators=(",", ":"))
    tail = f',"next_cursor":{json.dumps(page.next_cursor)}}}' if limit is not None else "}"
    return head % (len(page.rows), items) + tail
