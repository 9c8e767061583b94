"""Pydantic v2 request and response models. The OpenAPI document is generated from these."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

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


# ---------------------------------------------------------------- check-in, profiles, API keys (seed 004)

Preference = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, strict=True)]
Preferences = Annotated[list[Preference], Field(min_length=5, max_length=5)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
ApiScope = Literal["model:read", "track:write", "analytics:read", "relay"]


class CheckinData(BaseModel):
    session_id: str
    expires_at: str
    expires_in_minutes: int


class CheckinOut(BaseModel):
    success: bool = True
    message: str
    data: CheckinData


class SessionData(BaseModel):
    session_id: str
    checked_in_at: str
    expires_at: str
    minutes_remaining: int


class SessionOut(BaseModel):
    """Active: `{success, active: true, data}`; inactive: `{success, active: false, message}`."""

    success: bool = True
    active: bool
    message: str | None = None
    data: SessionData | None = None


class SuccessOut(BaseModel):
    success: bool = True
    message: str


class ActiveUser(BaseModel):
    user_id: str
    display_name: str
    checked_in_at: str
    expires_at: str
    preferences: list[float]


class ActiveUsersQuery(BaseModel):
    """No `limit`: every active user in one answer. With `limit`: one page and `next_cursor`."""

    limit: int | None = Field(default=None, ge=1)
    cursor: str | None = Field(default=None, max_length=200)


class ActiveUsersOut(BaseModel):
    success: bool = True
    count: int
    timestamp: str
    data: list[ActiveUser]
    next_cursor: str | None = Field(default=None, description="only when `limit` was given; null on the last page")


class ProfileIn(Strict):
    """Either field or both; `preferences` is exactly 5 numbers in [0, 1]."""

    display_name: DisplayName | None = None
    preferences: Preferences | None = None


class ProfileOut(BaseModel):
    user_id: str
    username: str
    display_name: str
    preferences: list[float]


class ApiKeyIn(Strict):
    name: DisplayName
    scopes: Annotated[list[ApiScope], Field(min_length=1)]
    app: AppName | None = None
    user_id: uuid.UUID | None = None


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    app: str | None
    user_id: str | None
    created_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    key: str | None = Field(default=None, description="the plaintext key, only in the create answer")
