"""The outbox: delivery after commit, retries with backoff by the job, bounded attempts, no double sends."""

import threading
from datetime import datetime, timedelta

import pytest

import jobs
from models import MailOutbox
from services import clock, mail
from tests.conftest import PASSWORD, free_port
from tests.mail.conftest import outbox, settle


@pytest.mark.parametrize("mail_settings", [{"mail.port": free_port(), "mail.max_attempts": 3,
                                            "mail.retry_seconds": 60}])
def test_smtp_down_api_answers_and_failure_is_recorded(client, db, alice, alice_headers):
    clock.freeze(datetime(2026, 3, 1, 12, 0, 0))
    resp = client.put("/api/users/me/email", headers=alice_headers,
                      json={"password": PASSWORD, "new_email": "new@example.com"})
    assert resp.status_code == 202 and resp.get_json()["data"]["pending"] is True
    settle()
    first = outbox("confirm_email")[0]
    assert first.status == "queued" and first.attempts == 1
    assert "ConnectionRefusedError" in first.last_error
    assert first.next_attempt_at == clock.now() + timedelta(seconds=60)

    # not due yet: the job leaves it alone
    assert jobs.execute("deliver_mail")["queued"] == 0
    clock.advance(timedelta(seconds=60))
    assert jobs.execute("deliver_mail") == {"sent": 0, "queued": 2, "failed": 0, "skipped": 0}
    db.session.expire_all()
    assert {(r.status, r.attempts) for r in outbox()} == {("queued", 2)}
    assert outbox()[0].next_attempt_at == clock.now() + timedelta(seconds=120)  # doubled

    clock.advance(timedelta(seconds=120))
    assert jobs.execute("deliver_mail") == {"sent": 0, "queued": 0, "failed": 2, "skipped": 0}
    clock.advance(timedelta(days=1))
    assert jobs.execute("deliver_mail") == {"sent": 0, "queued": 0, "failed": 0, "skipped": 0}  # bounded
    db.session.expire_all()
    rows = outbox()
    assert [(r.kind, r.status, r.attempts) for r in rows] == [("confirm_email", "failed", 3),
                                                              ("email_change_notice", "failed", 3)]
    assert all(r.sent_at is None and "ConnectionRefusedError" in r.last_error for r in rows)


@pytest.mark.parametrize("mail_settings", [{"mail.timeout_seconds": 0.5}])
def test_hung_smtp_server_does_not_hold_the_request(app, client, db, silent_smtp_port, alice, alice_headers):
    app.extensions["concierge.settings"]["mail.port"] = silent_smtp_port
    resp = client.put("/api/users/me/password", headers=alice_headers,
                      json={"current_password": PASSWORD, "new_password": "a-brand-new-secret"})
    assert resp.status_code == 202 and resp.get_json()["data"]["pending"] is True
    settle()
    [row] = outbox()
    assert row.status == "queued" and row.attempts == 1 and "timed out" in row.last_error


def test_job_delivers_once_the_server_is_back(app, db, smtp, factory):
    holder = factory.user("hannah")
    live_port = app.extensions["concierge.settings"]["mail.port"]
    app.extensions["concierge.settings"]["mail.port"] = free_port()  # the server "goes down"
    clock.freeze(datetime(2026, 3, 1, 12, 0, 0))
    mail.queue_lock_notice(holder, "Content/Hero.uasset", "bob", None)
    db.session.commit()
    settle()
    assert outbox()[0].status == "queued" and smtp.messages == []
    app.extensions["concierge.settings"]["mail.port"] = live_port
    clock.advance(timedelta(minutes=1))
    assert jobs.execute("deliver_mail")["sent"] == 1
    db.session.expire_all()
    [row] = outbox()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert len(smtp.to("hannah@example.com")) == 1


def test_a_claimed_message_is_not_claimed_again(app, db, smtp, factory):
    holder = factory.user("hannah")
    clock.freeze(datetime(2026, 3, 1, 12, 0, 0))
    # due in a minute: the after-commit attempt finds nothing due, so the claims below are driven by hand
    row = MailOutbox(to=holder.email, subject="s", text="t", kind="lock_notice", status="queued", attempts=0,
                     next_attempt_at=clock.now() + timedelta(minutes=1), created_at=clock.now())
    db.session.add(row)
    db.session.commit()
    settle()
    assert smtp.messages == [] and outbox()[0].attempts == 0
    clock.advance(timedelta(minutes=1))
    assert mail.claim(row.id) is True
    assert mail.claim(row.id) is False  # leased to the first deliverer
    assert mail.deliver_one(row.id) is None and smtp.messages == []
    db.session.expire_all()
    assert (outbox()[0].status, outbox()[0].attempts) == ("sending", 1)
    clock.advance(mail._lease())  # the claimer died mid-send: once its lease is over, the job takes it back
    assert mail.deliver_due()["sent"] == 1 and len(smtp.messages) == 1


def test_concurrent_deliverers_send_a_message_once(app, db, smtp, factory):
    holder = factory.user("hannah")
    clock.freeze(datetime(2026, 3, 1, 12, 0, 0))
    mail.queue_force_release_notice(holder, "Content/Hero.uasset", "admin")
    outbox()[0].next_attempt_at = clock.now() + timedelta(minutes=1)  # not due for the after-commit attempt
    db.session.commit()
    settle()
    message_id = outbox()[0].id
    clock.advance(timedelta(minutes=1))
    barrier = threading.Barrier(4)

    def deliverer():
        with app.app_context():
            barrier.wait()
            mail.deliver_one(message_id)
            from extensions import db as _db

            _db.session.remove()

    threads = [threading.Thread(target=deliverer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    settle()
    assert len(smtp.messages) == 1
    [row] = outbox()
    assert row.status == "sent" and row.attempts == 1
