"""Pydantic v2 request and response models. The OpenAPI document is generated from these."""

from __future__ import annotations

from typing import Annotated, Any

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


# ---------------------------------------------------------------- app sessions and relay (seeds 000, 001)

# No NUL: PostgreSQL text cannot hold it, and no client app needs it.
Text255 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=r"^[^\x00]*$")]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=4096, pattern=r"^[^\x00]*$")]


class NewSessionIn(Lenient):
    """Seed 000's `/new_session` body; `data` is kept as sent (the seed shows a string)."""

    user_id: Text255
    data: Any = None


class SessionIdOut(BaseModel):
    session_id: str


class TokenMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    expires_at: str | None = None
    additional_data: Any = None


class RegisterTokenIn(Lenient):
    session_id: Text255
    token: LongText
    workflow_id: Text255
    function_id: Text255
    system_id: Text255
    user_id: Text255 | None = None
    token_metadata: TokenMetadata | None = None


class RegisterTokenOut(BaseModel):
    message: str
    alohomora_token_id: str
    session_id: str


class RelayErrorOut(BaseModel):
    error: str
    alohomora_error: Any = None
    alohomora_status: int | None = None
    details: str | None = None


class SessionInfo(Lenient):
    user_id: Text255
    workflow_id: Text255
    session_id: Text255 | None = None
    create_local_session: bool = False


class WorkflowStatus(Lenient):
    """Alohomora sends null counts, or `{}` when it knows nothing yet."""

    total_instances: int | None = None
    completed_instances: int | None = None
    in_progress_instances: int | None = None
    failed_instances: int | None = None


class SessionNotificationIn(Lenient):
    token_id: LongText
    session_info: SessionInfo
    workflow_status: WorkflowStatus | None = None
    notification_metadata: dict[str, Any] | None = None


class SessionNotificationOut(BaseModel):
    message: str
    token_id: str
    processed_at: str
    local_session_created: bool
    local_session_id: str | None = None


class PageQuery(Strict):
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
