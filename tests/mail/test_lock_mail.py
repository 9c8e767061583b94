"""The lock e-mails other code calls: notify (the Asset Lock Manager) and an admin's force-release."""

import pytest

from services import mail
from tests.mail.conftest import FRONTEND, outbox, settle


def test_lock_notice_names_the_asker_and_carries_the_message(db, smtp, factory):
    holder = factory.user("hannah")
    mail.queue_lock_notice(holder, "Content/Maps/Level01.umap", "bob", "Need it for the <lighting> pass & QA")
    db.session.commit()
    settle()
    sent = smtp.to("hannah@example.com")
    assert len(sent) == 1 and sent[0].to == ["hannah@example.com"]
    assert sent[0].subject == "bob asks you to release Content/Maps/Level01.umap"
    assert "bob would like to work on Content/Maps/Level01.umap" in sent[0].text
    assert "Need it for the <lighting> pass & QA" in sent[0].text
    assert "Need it for the &lt;lighting&gt; pass &amp; QA" in sent[0].html  # HTML is escaped
    assert "<lighting>" not in sent[0].html
    assert FRONTEND in sent[0].text
    [row] = outbox("lock_notice")
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None and row.to == "hannah@example.com"


def test_lock_notice_without_message(db, smtp, factory):
    holder = factory.user("hannah")
    mail.queue_lock_notice(holder, "Content/Hero.uasset", "bob", None)
    db.session.commit()
    settle()
    [sent] = smtp.to("hannah@example.com")
    assert "Their message" not in sent.text and "bob would like to work on Content/Hero.uasset" in sent.text


def test_force_release_notice(db, smtp, factory):
    holder = factory.user("hannah")
    mail.queue_force_release_notice(holder, "Content/Hero.uasset", "admin")
    db.session.commit()
    settle()
    [sent] = smtp.messages
    assert sent.to == ["hannah@example.com"]
    assert sent.subject == "Your lock on Content/Hero.uasset was released by admin"
    assert "released by the administrator admin" in sent.text and "<b>admin</b>" in sent.html
    assert [r.status for r in outbox("force_release_notice")] == ["sent"]


def test_rolled_back_transaction_sends_nothing(db, smtp, factory):
    holder = factory.user("hannah")
    mail.queue_lock_notice(holder, "Content/Hero.uasset", "bob", "hi")
    db.session.rollback()
    settle()
    assert smtp.messages == [] and outbox() == []


@pytest.mark.parametrize("mail_settings", [{"mail.enabled": False}])
def test_master_switch_off_queues_nothing(db, smtp, factory):
    holder = factory.user("hannah")
    assert mail.mail_active() is False
    mail.queue_lock_notice(holder, "Content/Hero.uasset", "bob", "hi")
    mail.queue_force_release_notice(holder, "Content/Hero.uasset", "admin")
    db.session.commit()
    settle()
    assert smtp.messages == [] and outbox() == []


def test_mail_active_needs_master_and_effective_setting(db, client, admin_headers):
    assert mail.mail_active() is True
    assert client.put("/api/admin/config", headers=admin_headers, json={"mail.enabled": False}).status_code == 200
    assert mail.master_enabled() is True and mail.mail_active() is False


def test_subject_cannot_inject_headers(db, smtp, factory):
    holder = factory.user("hannah")
    mail.queue_lock_notice(holder, "Content/Evil.uasset\r\nBcc: victim@example.com", "bob", None)
    db.session.commit()
    settle()
    [sent] = smtp.messages
    assert sent.to == ["hannah@example.com"]
    assert sent.subject == "bob asks you to release Content/Evil.uasset Bcc: victim@example.com"


def test_lock_endpoints_mail_the_holder_end_to_end(client, smtp, factory):
    """Through the real lock API: notify mails the holder; an admin's force-release mails the former holder."""
    hannah, bob, root = factory.user("hannah"), factory.user("bob"), factory.user("root", is_admin=True)
    locked = client.post("/api/locks", headers=factory.headers(hannah), json={"asset_path": "Maps/L1.umap",
                                                                              "branch": "main"})
    assert locked.status_code == 201
    notify = client.post("/api/locks/path/Maps/L1.umap/notify", headers=factory.headers(bob),
                         json={"message": "lighting pass"})
    assert notify.status_code == 200
    settle()
    [asked] = smtp.to("hannah@example.com")
    assert asked.subject == "bob asks you to release Maps/L1.umap" and "lighting pass" in asked.text
    forced = client.delete("/api/locks/Maps/L1.umap", headers=factory.headers(root))
    assert forced.status_code == 200
    settle()
    released = [m for m in smtp.to("hannah@example.com") if "released" in m.subject]
    assert [m.subject for m in released] == ["Your lock on Maps/L1.umap was released by root"]
    assert [row.status for row in outbox()] == ["sent", "sent"]
