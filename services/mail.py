"""The mail system: an outbox written in the caller's transaction, delivered after commit and retried.

- `queue(...)` adds a `mail_outbox` row to the current session; nothing is sent before the caller
  commits, and a rollback drops the message with the rest of the transaction.
- After a commit that wrote outbox rows, a background thread (with an app context) tries them once.
- The `deliver_mail` job retries what is due, with exponential backoff, until `mail.max_attempts`.
- A deliverer claims a row with a conditional UPDATE (one winner), so no message is sent twice by two
  deliverers; a claim is a lease that expires, so a message held by a crashed process is retried.
- SMTP calls use `mail.timeout_seconds`, so a slow or dead server never holds a request.
- A message's body is kept only while it may still be sent: once delivered (or failed for good) it is
  replaced by a note, so the database never holds a usable confirmation link (`close`).
"""

from __future__ import annotations

import logging
import queue as queue_module
import smtplib
import threading
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app, has_app_context, render_template
from flask_mail import Message
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

import settings
from extensions import db
from models import MailOutbox, User
from services import clock

log = logging.getLogger("concierge.mail")

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
MAX_BACKOFF_SECONDS = 3600
BATCH_SIZE = 50
MAX_PENDING = 1000  # after-commit batches waiting for the background thread; beyond that the job delivers
BODY_REMOVED = "[body removed once the message was final: it may have carried a one-time link]"
_SESSION_KEY = "concierge.mail_outbox_ids"


# ------------------------------------------------------------------ switches

def master_enabled() -> bool:
    """MAIL_ENABLED (environment / static settings): whether the mail system sends anything at all."""
    return bool(settings.static("mail.enabled"))


def mail_active() -> bool:
    """Master switch AND the effective (DB-overridable) `mail.enabled`: confirmations are mailed."""
    return master_enabled() and bool(settings.get("mail.enabled"))


# ------------------------------------------------------------------ composing and queueing

@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(template: str, subject: str, **context) -> Rendered:
    """Render templates/mail/<template>.txt and .html with the same context."""
    subject = " ".join(subject.split())[:255]  # no CR/LF from user-supplied parts: no header injection
    context = {"subject": subject, "frontend_url": settings.static("frontend.base_url").rstrip("/"), **context}
    return Rendered(subject, render_template(f"mail/{template}.txt", **context),
                    render_template(f"mail/{template}.html", **context))


def queue(to: str, rendered: Rendered, kind: str) -> MailOutbox | None:
    """Add a message to the outbox in the current transaction (the caller commits); None when mail is off."""
    if not master_enabled():
        return None
    now = clock.now()
    row = MailOutbox(to=to, subject=rendered.subject, text=rendered.text, html=rendered.html, kind=kind,
                     status=QUEUED, attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(row)
    return row


def queue_lock_notice(holder: User, asset_path: str, requested_by: str, message: str | None) -> None:
    """Tell a lock's holder someone asks them to release it (the Asset Lock Manager's notify); the caller commits."""
    rendered = render("lock_notice", f"{requested_by} asks you to release {asset_path}", holder=holder,
                      asset_path=asset_path, requested_by=requested_by, message=(message or "").strip() or None)
    queue(holder.email, rendered, "lock_notice")


def queue_force_release_notice(holder: User, asset_path: str, released_by: str) -> None:
    """Tell a lock's former holder that an admin released it. The caller commits."""
    rendered = render("force_release_notice", f"Your lock on {asset_path} was released by {released_by}",
                      holder=holder, asset_path=asset_path, released_by=released_by)
    queue(holder.email, rendered, "force_release_notice")


# ------------------------------------------------------------------ after-commit kick

@event.listens_for(Session, "after_flush")
def _remember_new_rows(session: Session, _flush_context) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, MailOutbox) and obj.status == QUEUED]
    if ids and has_app_context():
        pending = session.info.setdefault(_SESSION_KEY, {"app": current_app._get_current_object(), "ids": []})
        pending["ids"].extend(ids)


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    pending = session.info.pop(_SESSION_KEY, None)
    if pending:
        start_background_delivery(pending["app"], pending["ids"])


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_SESSION_KEY, None)


class BackgroundDeliverer:
    """One daemon thread per process trying freshly committed messages once, in order.

    Bounded on purpose: a dead or slow SMTP server costs one thread and a queue of at most
    MAX_PENDING batches, never a thread per request; what does not fit is left to the job.
    """

    def __init__(self) -> None:
        self.queue: queue_module.Queue[tuple[Flask, list[int]]] = queue_module.Queue(maxsize=MAX_PENDING)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, app: Flask, ids: list[int]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():  # also after a fork (gunicorn)
                self._thread = threading.Thread(target=self._run, name="mail-deliverer", daemon=True)
                self._thread.start()
        try:
            self.queue.put_nowait((app, list(ids)))
        except queue_module.Full:
            log.warning("mail background queue full: %s message(s) left to the deliver_mail job", len(ids))

    def _run(self) -> None:
        while True:
            app, ids = self.queue.get()
            try:
                _deliver_batch(app, ids)
            finally:
                self.queue.task_done()

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until every submitted batch was tried (tests); False on timeout."""
        with self.queue.all_tasks_done:
            return self.queue.all_tasks_done.wait_for(lambda: self.queue.unfinished_tasks == 0, timeout)


def _deliver_batch(app: Flask, ids: list[int]) -> None:
    with app.app_context():
        try:
            for message_id in ids:
                deliver_one(message_id)
        except Exception:  # noqa: BLE001 - the job retries; a background failure must not vanish silently
            log.exception("background mail delivery failed")
        finally:
            db.session.remove()


background = BackgroundDeliverer()


def start_background_delivery(app: Flask, ids: list[int]) -> None:
    """Try these messages once, soon, off the request thread; failures stay queued for the job."""
    background.submit(app, ids)


def wait_for_background(timeout: float = 30.0) -> bool:
    """Wait for the after-commit attempts submitted so far (tests)."""
    return background.wait(timeout)


# ------------------------------------------------------------------ delivery

def backoff(attempts: int) -> timedelta:
    """Wait after the n-th failed attempt: retry_seconds, doubling, capped."""
    base = settings.static("mail.retry_seconds")
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


def _lease() -> timedelta:
    # A claim outlives one SMTP exchange (connect + send, each bounded by the timeout) with room to spare.
    return timedelta(seconds=settings.static("mail.timeout_seconds") * 4 + 30)


def claim(message_id: int) -> bool:
    """Take one due message for this deliverer; exactly one concurrent caller gets True."""
    now = clock.now()
    result = db.session.execute(
        update(MailOutbox)
        .where(MailOutbox.id == message_id, MailOutbox.status.in_((QUEUED, SENDING)),
               MailOutbox.next_attempt_at <= now)
        .values(status=SENDING, attempts=MailOutbox.attempts + 1, next_attempt_at=now + _lease())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def deliver_one(message_id: int) -> str | None:
    """Claim and send one message; records the outcome. Returns the new status, or None if not claimed."""
    if not master_enabled() or not claim(message_id):
        return None
    row = db.session.get(MailOutbox, message_id, populate_existing=True)
    try:
        send_now(row.to, Rendered(row.subject, row.text, row.html or ""))
    except Exception as exc:  # noqa: BLE001 - any SMTP/socket failure is recorded and retried
        row.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if row.attempts >= settings.static("mail.max_attempts"):
            close(row, FAILED)
            log.warning("mail %s to %s failed for good after %s attempts: %s", row.id, row.to, row.attempts,
                        row.last_error)
        else:
            row.status, row.next_attempt_at = QUEUED, clock.now() + backoff(row.attempts)
    else:
        close(row, SENT)
    db.session.commit()
    return row.status


def close(row: MailOutbox, status: str) -> None:
    """The one place a message becomes final (SENT or FAILED): its body is removed, since a confirmation link
    read from the outbox would confirm the change; to, subject, kind, status and times stay for the record."""
    row.status, row.text, row.html = status, BODY_REMOVED, None
    if status == SENT:
        row.sent_at, row.last_error = clock.now(), None


def due_ids(limit: int = BATCH_SIZE) -> list[int]:
    query = (select(MailOutbox.id)
             .where(MailOutbox.status.in_((QUEUED, SENDING)), MailOutbox.next_attempt_at <= clock.now())
             .order_by(MailOutbox.next_attempt_at, MailOutbox.id).limit(limit))
    return list(db.session.scalars(query))


def deliver_due(limit: int = BATCH_SIZE) -> dict[str, int]:
    """The `deliver_mail` job: try every due message once; returns counts per outcome."""
    counts = {SENT: 0, QUEUED: 0, FAILED: 0, "skipped": 0}
    if not master_enabled():
        return counts
    for message_id in due_ids(limit):
        outcome = deliver_one(message_id)
        counts[outcome or "skipped"] += 1
    return counts


def send_now(to: str, rendered: Rendered) -> None:
    """One synchronous SMTP exchange with the configured server, bounded by `mail.timeout_seconds`."""
    sender = settings.static("mail.default_sender")
    message = Message(rendered.subject, recipients=[to], body=rendered.text, html=rendered.html or None,
                      sender=sender)
    timeout = settings.static("mail.timeout_seconds")
    host, port = settings.static("mail.server"), settings.static("mail.port")
    smtp_class = smtplib.SMTP_SSL if settings.static("mail.use_ssl") else smtplib.SMTP
    with smtp_class(host, port, timeout=timeout) as smtp:
        if settings.static("mail.use_tls"):
            smtp.starttls()
        if settings.static("mail.username"):
            smtp.login(settings.static("mail.username"), settings.static("mail.password"))
        smtp.sendmail(message.sender, [to], message.as_bytes())


def record_sync(to: str, rendered: Rendered, kind: str) -> MailOutbox:
    """Send synchronously (no retry) and keep the outcome in the outbox, e.g. the startup test mail."""
    now = clock.now()
    row = MailOutbox(to=to, subject=rendered.subject, text=rendered.text, html=rendered.html, kind=kind,
                     status=SENDING, attempts=1, next_attempt_at=now + _lease(), created_at=now)
    try:
        send_now(to, rendered)
    except Exception as exc:  # noqa: BLE001 - reported to the caller through the row's status
        row.last_error = f"{type(exc).__name__}: {exc}"[:500]
        close(row, FAILED)
    else:
        close(row, SENT)
    db.session.add(row)
    db.session.commit()
    return row


def first_admin() -> User | None:
    return db.session.scalar(select(User).where(User.is_admin.is_(True)).order_by(User.created_at, User.username)
                             .limit(1))


def send_test_email() -> tuple[str, str | None]:
    """`flask test-email`: (SUCCESS | FAILED | SKIPPED, why) for one synchronous mail to the first admin."""
    if not master_enabled():
        return "SKIPPED", "MAIL_ENABLED is false"
    admin = first_admin()
    if admin is None:
        return "SKIPPED", "no admin account"
    rendered = render("test_email", "Concierge test e-mail", user=admin, sent_at=clock.now().replace(microsecond=0))
    row = record_sync(admin.email, rendered, "test")
    if row.status == SENT:
        return "SUCCESS", admin.email
    return "FAILED", row.last_error
