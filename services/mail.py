"""Lock e-mails: the minimal interface the locks feature needs (the e-mail issue provides the real mailer)."""

from __future__ import annotations

import settings


def mail_active() -> bool:
    """MAIL_ENABLED (the master switch) and the runtime `mail.enabled` override both allow sending."""
    return bool(settings.static("mail.enabled") and settings.get("mail.enabled"))


def queue_lock_notice(holder, asset_path: str, requested_by: str, message: str | None) -> None:
    """Tell a lock holder that someone needs the asset (placeholder until the mail system lands)."""


def queue_force_release_notice(holder, asset_path: str, released_by: str) -> None:
    """Tell a lock holder that an admin released their lock (placeholder until the mail system lands)."""
