"""Pydantic v2 request and response models. The OpenAPI document is generated from these."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    RootModel,
    StringConstraints,
    field_validator,
    model_validator,
)

Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                            pattern=r"^[A-Za-z0-9_.@-]+$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]
AppName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class Strict(BaseModel):
    """Request bodies: unknown fields are refused so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


class Lenient(BaseModel):
    """Bodies of seed contracts whose clients send extra fields (seed 003 sends `app` everywhere)."""

    model_config = ConfigDict(extra="ignore")


# ---------------------------------------------------------------- envelopes (documentation)

class Envelope(BaseModel):
    status: str = "success"
    message: str = ""
    data: Any = None


class ErrorBody(BaseModel):
    status: str = "error"
    message: str
    details: Any = None
    request_id: str | None = None


# ---------------------------------------------------------------- auth (seeds 002, 003)

class LoginIn(Lenient):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    app: AppName | None = None


class AppIn(Lenient):
    """Seed 003's `{app}` body of the auth and health endpoints (optional everywhere)."""

    app: str | None = Field(default=None, max_length=80)


class LogoutIn(Lenient):
    refresh_token: str | None = Field(default=None, max_length=4096)
    everywhere: bool = False


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str | None = None
    token_type: str = "Bearer"
    expires_in: int | None = None


class UserOut(BaseModel):
    id: str
    username: str
    email: str
    is_admin: bool
    display_name: str | None
    created_at: str | None


# ---------------------------------------------------------------- admin (seed 002)

class CreateUserIn(Strict):
    username: Username
    email: EmailStr
    password: Password
    is_admin: bool = False
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)] | None = None


class PasswordIn(Strict):
    password: Password


class EmailIn(Strict):
    email: EmailStr


class AdminStatusIn(Strict):
    is_admin: bool


class ConfigUpdateIn(BaseModel):
    """A partial map of runtime keys to typed values; each key is validated against its setting."""

    model_config = ConfigDict(extra="allow")


class ConfigStatusOut(BaseModel):
    mail_enabled: bool


# ---------------------------------------------------------------- activity sessions, pages, analytics (seed 003)

TrackedUser = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
PagePath = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512, pattern=r"^/")]
# strict: "120" (a string), true and null are not a time spent; ints and floats are
Seconds = Annotated[float, Field(ge=0, le=7 * 86400, strict=True)]


class SessionStartIn(Lenient):
    user: TrackedUser
    app: AppName
    time: datetime | None = None  # ISO 8601; naive values are UTC; default: server time
    status: Literal["active"] = "active"


class SessionEventIn(Lenient):
    user: TrackedUser
    app: AppName
    session_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    time: datetime | None = None


class ReportIn(Lenient):
    """Every report: `tz` (IANA, default UTC), optional `from`/`to` (ISO 8601), `format` json or csv."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    app: AppName
    user: TrackedUser
    tz: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = "UTC"
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    format: Literal["json", "csv"] | None = None

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError("not a known IANA time zone (e.g. Europe/Berlin, Asia/Kolkata)") from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> ReportIn:
        if self.from_ is not None and self.to is not None and self.from_ >= self.to:
            raise ValueError("`from` must be before `to`")
        return self


class PageVisitIn(Lenient):
    user: TrackedUser
    app: AppName
    page: PagePath
    timespent: Seconds
    time: datetime | None = None  # when the visit happened; default: server time
    session_id: uuid.UUID | None = None


class TrackIn(RootModel[list[PageVisitIn]]):
    """One visit, or a JSON array of them (all-or-nothing, at most `analytics.track_batch_max`).

    A single object is read as a batch of one, so error locations always start with the item index.
    """

    @model_validator(mode="before")
    @classmethod
    def _one_or_many(cls, data: Any) -> Any:
        return [data] if isinstance(data, dict) else data
