"""`flask test-email` (the Asset Lock Manager): mails the first admin at once; SUCCESS / FAILED / SKIPPED stored."""

import pytest

from commands import MAIL_TEST_STATUS_KEY
from services import configuration
from tests.conftest import free_port
from tests.mail.conftest import outbox


def test_success_mails_the_first_admin(runner, db, smtp, factory):
    factory.user("zed", is_admin=True)
    factory.user("plain")
    factory.user("later", is_admin=True)
    result = runner.invoke(args=["test-email"])
    assert result.exit_code == 0 and "test-email: SUCCESS (zed@example.com)" in result.output
    assert configuration.read(MAIL_TEST_STATUS_KEY) == "SUCCESS"
    [sent] = smtp.messages
    assert sent.to == ["zed@example.com"] and sent.subject == "Concierge test e-mail"
    assert "outgoing mail works" in sent.text and "outgoing mail works" in sent.html
    assert [(r.kind, r.status) for r in outbox()] == [("test", "sent")]


@pytest.mark.parametrize("mail_settings", [{"mail.port": free_port(), "mail.timeout_seconds": 2.0}])
def test_failure_is_stored(runner, db, smtp, admin):
    result = runner.invoke(args=["test-email"])
    assert result.exit_code == 0 and "test-email: FAILED" in result.output
    assert configuration.read(MAIL_TEST_STATUS_KEY) == "FAILED"
    [row] = outbox()
    assert row.status == "failed" and "ConnectionRefusedError" in row.last_error


def test_skipped_without_an_admin(runner, db, smtp, factory):
    factory.user("plain")
    result = runner.invoke(args=["test-email"])
    assert "test-email: SKIPPED (no admin account)" in result.output
    assert configuration.read(MAIL_TEST_STATUS_KEY) == "SKIPPED" and smtp.messages == []


@pytest.mark.parametrize("mail_settings", [{"mail.enabled": False}])
def test_skipped_when_mail_is_disabled(runner, db, smtp, admin):
    result = runner.invoke(args=["test-email"])
    assert "test-email: SKIPPED (MAIL_ENABLED is false)" in result.output
    assert configuration.read(MAIL_TEST_STATUS_KEY) == "SKIPPED" and smtp.messages == [] and outbox() == []
