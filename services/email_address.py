"""The one rule for e-mail addresses: a syntactically valid address is accepted; the confirmation mail proves
it works. Every caller uses `validated` (request schemas, account creation and e-mail changes, the CLI and the
initial admin).

email-validator's defaults judge deliverability on the public Internet: they refuse special-use names
(`alice@studio.local` of an Active Directory domain, `x@example.test`) and dotless domains (`ops@fileserver`),
which studios' private networks use. Only its syntax checks are kept here.
"""

from __future__ import annotations

import email_validator

# The library's documented switch for special-use names (README, "Test addresses"): the list is read at each
# call, and nothing else in this process wants those names refused.
email_validator.SPECIAL_USE_DOMAIN_NAMES.clear()

MAX_LENGTH = 254  # RFC 5321's path limit (users.email is String(254))


class InvalidEmail(ValueError):
    """Not an e-mail address; the message says why (from email-validator)."""


def validated(address: str) -> str:
    """The address, stripped and lowercased, if its syntax is valid; InvalidEmail otherwise."""
    if not isinstance(address, str):
        raise InvalidEmail("must be a string")
    try:
        checked = email_validator.validate_email(
            address.strip(), check_deliverability=False, globally_deliverable=False, test_environment=True,
            allow_domain_literal=True, strict=True)  # strict: RFC 5321's 64-octet local part
    except email_validator.EmailNotValidError as exc:
        raise InvalidEmail(f"not a valid e-mail address: {exc}") from None
    normalized = checked.normalized.lower()
    if len(normalized) > MAX_LENGTH:
        raise InvalidEmail(f"not a valid e-mail address: longer than {MAX_LENGTH} characters")
    return normalized
