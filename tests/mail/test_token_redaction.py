"""Tokens do not linger (issue 17): once a message is final (delivered, or failed for good) the outbox keeps no
body, so nobody reading the database can confirm somebody else's change. Real SMTP (aiosmtpd) throughout."""

from datetime import datetime, timedelta

import pytest

import jobs
from services import clock, mail
from tests.conftest import PASSWORD, free_port
from tests.mail.conftest import outbox, settle


def stored_text() -> str:
    """Everything the outbox holds that could carry a link."""
    return "\n".join(f"{row.subject}\n{row.text}\n{row.html or ''}" for row in outbox())


@pytest.mark.parametrize(("path", "body", "to", "kind"), [
    ("/api/users/me/email", {"password": PASSWORD, "new_email": "alice.new@example.com"}, "alice.new@example.com",
     "confirm-email"),
    ("/api/users/me/password", {"current_password": PASSWORD, "new_password": "a-brand-new-secret"},
     "alice@example.com", "confirm-password"),
], ids=["email", "password"])
def test_delivered_confirmation_leaves_no_token_in_the_outbox(path, body, to, kind, client, db, smtp, alice,
                                                               alice_headers):
    assert client.put(path, headers=alice_headers, json=body).status_code == 202
    settle()
    [sent] = [m for m in smtp.to(to) if f"/{kind}/" in m.text]
    token = sent.link(kind)
    rows = outbox()
    assert rows and {row.status for row in rows} == {"sent"}
    assert token not in stored_text() and f"/{kind}/" not in stored_text()
    assert all(row.text == mail.BODY_REMOVED and row.html is None and row.sent_at is not None for row in rows)
    assert {row.subject for row in rows} >= {sent.subject}  # the record of what was sent stays
    # the mailed link itself still works: only the database copy is gone
    assert client.get(f"/api/{kind}/{token}").status_code == 200


def test_queued_message_keeps_its_body_until_sent(app, client, db, smtp, alice, alice_headers):
    clock.freeze(datetime(2026, 3, 1, 12, 0, 0))
    live_port = app.extensions["concierge.settings"]["mail.port"]
    app.extensions["concierge.settings"]["mail.port"] = free_port()  # nobody listens: the first try fails
    assert client.put("/api/users/me/password", headers=alice_headers,
                      json={"current_password": PASSWORD, "new_password": "a-brand-new-secret"}).status_code == 202
    settle()
    [row] = outbox()
    assert row.status == "queued" and "/confirm-password/" in row.text  # still needed for the retry

    app.extensions["concierge.settings"]["mail.port"] = live_port
    clock.advance(timedelta(hours=1))
    assert jobs.execute("deliver_mail")["sent"] == 1
    db.session.expire_all()
    [row] = outbox()
    token = smtp.to("alice@example.com")[0].link("confirm-password")
    assert row.status == "sent" and row.text == mail.BODY_REMOVED and token not in stored_text()


@pytest.mark.parametrize("mail_settings", [{"mail.port": free_port(), "mail.max_attempts": 1}])
def test_message_failed_for_good_keeps_no_token(client, db, smtp, alice, alice_headers):
    assert client.put("/api/users/me/email", headers=alice_headers,
                      json={"password": PASSWORD, "new_email": "lost@example.com"}).status_code == 202
    settle()
    rows = outbox()
    assert {row.status for row in rows} == {"failed"} and "/confirm-email/" not in stored_text()
    assert all("ConnectionRefusedError" in row.last_error for row in rows)


def test_synchronous_test_mail_is_redacted_too(runner, db, smtp, admin):
    result = runner.invoke(args=["test-email"])
    assert "SUCCESS" in result.output
    [row] = outbox()
    assert row.status == "sent" and row.text == mail.BODY_REMOVED and len(smtp.messages) == 1
