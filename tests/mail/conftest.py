"""A real SMTP server (aiosmtpd) on a free port, and an app configured to send through it.

`mail_settings` is a fixture so a test can change it with `@pytest.mark.parametrize("mail_settings", [...])`;
the `app` fixture is overridden here, so `client`, `factory`, `admin`, `alice`... all use the mail app.
"""

from __future__ import annotations

import email
import re
import socket
import threading
from dataclasses import dataclass
from email.message import Message

import pytest
from aiosmtpd.controller import Controller

from extensions import db as _db
from services import mail
from tests.conftest import free_port, reset_rate_limits

FRONTEND = "https://frontend.example/app"


@dataclass
class SentMail:
    sender: str
    to: list[str]
    subject: str
    text: str
    html: str

    def link(self, kind: str) -> str:
        found = re.search(rf"{re.escape(FRONTEND)}/{kind}/([A-Za-z0-9_-]+)", self.text)
        assert found, f"no {kind} link in: {self.text}"
        return found.group(1)


def _part(message: Message, subtype: str) -> str:
    for part in message.walk():
        if part.get_content_type() == f"text/{subtype}":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return ""


class Sink:
    """aiosmtpd handler collecting every accepted message."""

    def __init__(self):
        self.messages: list[SentMail] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content)
        with self._lock:
            self.messages.append(SentMail(envelope.mail_from, list(envelope.rcpt_tos), str(parsed["Subject"]),
                                          _part(parsed, "plain"), _part(parsed, "html")))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[SentMail]:
        return [m for m in self.messages if address in m.to]


@pytest.fixture
def smtp():
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    sink.port = controller.port
    yield sink
    controller.stop()


@pytest.fixture(scope="session")
def silent_smtp_port():
    """A port that accepts TCP connections (kernel backlog) but never says a word: a hung SMTP server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


@pytest.fixture
def mail_settings() -> dict:
    return {}


@pytest.fixture
def app(make_app, smtp, mail_settings):
    app = make_app({"mail.enabled": True, "mail.server": "127.0.0.1", "mail.port": smtp.port,
                    "mail.timeout_seconds": 5.0, "mail.default_sender": "concierge@example.com",
                    "frontend.base_url": FRONTEND + "/", **mail_settings})
    with app.app_context():
        reset_rate_limits(app)
        yield app
        settle()


def settle() -> None:
    """End this thread's transaction, wait for the after-commit deliveries, then read fresh rows."""
    _db.session.commit()
    mail.wait_for_background()
    _db.session.expire_all()


def outbox(kind: str | None = None):
    from models import MailOutbox

    query = _db.session.query(MailOutbox).order_by(MailOutbox.id)
    if kind:
        query = query.filter(MailOutbox.kind == kind)
    return query.all()
