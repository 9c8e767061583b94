"""Pydantic v2 request and response models. The OpenAPI document is generated from these."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from services import email_address

# ---------------------------------------------------------------- shared input types (hostile input, issue 17)
# JSON bodies are already strict (wire.py: no NaN/Infinity, no NUL, bounded nesting); these types add what a
# field means: a name is one line, a time is an ISO 8601 string that fits the calendar, a number fits 64 bits.

# One line of text: no control characters (C0 but tab, DEL, C1) in names, branches, apps, pages; not comments.
ONE_LINE = r"^[^\x00-\x08\x0a-\x1f\x7f-\x9f]*$"
ISO_8601 = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")  # [0-9], not \d: "²" and "٣" are \d too
MAX_PAGE = 1_000_000  # page numbers and offsets stay far inside 64-bit SQL arithmetic
MAX_OFFSET = 2**31 - 1


def _iso_8601_only(value: Any) -> Any:
    # pydantic alone takes 1700000000 (or "1700000000") as epoch seconds; the contracts say ISO 8601.
    if isinstance(value, datetime) or (isinstance(value, str) and ISO_8601.match(value)):
        return value
    raise ValueError("must be an ISO 8601 date-time string, e.g. 2026-03-01T12:00:00Z")


def _naive_utc(value: datetime) -> datetime:
    """Aware -> naive UTC (naive values are UTC already); an instant past year 1 or 9999 in UTC is refused."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        raise ValueError("date-time is out of range once converted to UTC (years 1 to 9999)") from None


def _email(value: str) -> str:
    return email_address.validated(value)  # InvalidEmail is a ValueError: a 422 with the reason


# ISO 8601 string -> naive UTC datetime, as every DateTime column stores it.
Instant = Annotated[datetime, BeforeValidator(_iso_8601_only), AfterValidator(_naive_utc)]
EmailAddress = Annotated[str, AfterValidator(_email),
                         WithJsonSchema({"type": "string", "format": "email", "maxLength": email_address.MAX_LENGTH})]
PageNumber = Annotated[int, Field(ge=1, le=MAX_PAGE)]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
# A lock id as the LFS API shows it (decimal); at most 18 digits, so it always fits a 64-bit column.
LockIdText = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")]

Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                            pattern=r"^[A-Za-z0-9_.@-]+$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]
AppName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80, pattern=ONE_LINE)]


class Strict(BaseModel):
    """Request bodies: unknown fields are refused so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


class Lenient(BaseModel):
    """Bodies of contract endpoints whose clients send extra fields (the Session Server API's send `app` everywhere)."""

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


# ---------------------------------------------------------------- auth (the Asset Lock Manager, the Session Server API)

class LoginIn(Lenient):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    app: AppName | None = None


class AppIn(Lenient):
    """The Session Server API's `{app}` body of the auth and health endpoints (optional everywhere)."""

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


# ---------------------------------------------------------------- admin (the Asset Lock Manager)

class CreateUserIn(Strict):
    username: Username
    email: EmailAddress
    password: Password
    is_admin: bool = False
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80,
                                                   pattern=ONE_LINE)] | None = None


class PasswordIn(Strict):
    password: Password


class EmailIn(Strict):
    email: EmailAddress


class AdminStatusIn(Strict):
    is_admin: bool


class ConfigUpdateIn(BaseModel):
    """A partial map of runtime keys to typed values; each key is validated against its setting."""

    model_config = ConfigDict(extra="allow")


class ConfigStatusOut(BaseModel):
    mail_enabled: bool


# ---------------------------------------------------------------- account self-service (the Asset Lock Manager)

class PasswordChangeIn(Lenient):
    current_password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    new_password: Password


class EmailChangeIn(Lenient):
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    new_email: EmailAddress


class AccountChangeOut(BaseModel):
    """`data` of a change request: pending (202, link mailed to `sent_to`) or applied (200, new tokens)."""

    pending: bool
    kind: str
    sent_to: str | None = None
    expires_at: str | None = None
    user: UserOut | None = None
    access_token: str | None = None
    refresh_token: str | None = None
# ---------------------------------------------------------------- locks (the Asset Lock Manager) and Git LFS locking


RawPath = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Branch = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=ONE_LINE)]
LockComment = Annotated[str, StringConstraints(max_length=1000)]


class LockIn(Lenient):
    asset_path: RawPath
    branch: Branch
    comment: LockComment | None = None


class LockBatchIn(Strict):
    asset_paths: Annotated[list[RawPath], Field(min_length=1, max_length=500)]
    branch: Branch
    comment: LockComment | None = None


class LockBatchReleaseIn(Strict):
    asset_paths: Annotated[list[RawPath], Field(min_length=1, max_length=500)]


class LockListQuery(Strict):
    repo: str | None = Field(default=None, max_length=64)
    owner: str | None = Field(default=None, max_length=64)
    branch: str | None = Field(default=None, max_length=255)
    prefix: str | None = Field(default=None, max_length=2048)
    page: PageNumber = 1
    per_page: int = Field(default=50, ge=1, le=500)


class NotifyIn(Lenient):
    message: Annotated[str, StringConstraints(max_length=2000)] | None = None


class BranchIn(Lenient):
    branch: Branch


# Why a lock was released: services.locks.REASONS, the values its audit rows hold.
ReleaseReason = Literal["owner", "admin", "branch", "auto", "repo_deleted"]


class LockReleasesQuery(Strict):
    repo: str | None = Field(default=None, max_length=64)
    reason: ReleaseReason | None = None
    prefix: str | None = Field(default=None, max_length=2048)
    page: PageNumber = 1
    per_page: int = Field(default=50, ge=1, le=500)


class LockOut(BaseModel):
    id: int
    asset_path: str
    branch: str | None
    comment: str | None
    owner: str
    owner_id: str
    created_at: str


class LfsRef(Lenient):
    name: Annotated[str, StringConstraints(max_length=1024, pattern=ONE_LINE)] | None = None

    @field_validator("name")
    @classmethod
    def _fits_a_branch(cls, value: str | None) -> str | None:
        # the lock's branch is the name less refs/heads/ (blueprints/lfs.py), a 255-character column
        if value is not None and len(value.removeprefix("refs/heads/")) > 255:
            raise ValueError("branch name longer than 255 characters")
        return value


class LfsLockIn(Lenient):
    path: RawPath
    ref: LfsRef | None = None


class LfsListQuery(Lenient):
    path: str | None = Field(default=None, max_length=2048)
    id: LockIdText | None = None
    cursor: LockIdText | None = None
    limit: int = Field(default=100, ge=1)
    refspec: str | None = Field(default=None, max_length=1024)


class LfsVerifyIn(Lenient):
    cursor: LockIdText | None = None
    limit: int = Field(default=100, ge=1)
    ref: LfsRef | None = None


class LfsUnlockIn(Lenient):
    force: bool = False
    ref: LfsRef | None = None


class LfsOwner(BaseModel):
    name: str


class LfsLock(BaseModel):
    id: str
    path: str
    locked_at: str
    owner: LfsOwner


class LfsLockOut(BaseModel):
    lock: LfsLock


class LfsLockList(BaseModel):
    locks: list[LfsLock]
    next_cursor: str | None = None


class LfsVerifyOut(BaseModel):
    ours: list[LfsLock]
    theirs: list[LfsLock]
    next_cursor: str | None = None


class LfsError(BaseModel):
    message: str
    request_id: str | None = None
    lock: LfsLock | None = None
# ---------------------------------------------------------------- check-in, profiles, API keys (the check-in contract)


Preference = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, strict=True)]
Preferences = Annotated[list[Preference], Field(min_length=5, max_length=5)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80, pattern=ONE_LINE)]
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


# ---------------------------------------------------------------- app sessions, relay (App1, the Backend Server guide)

# No NUL: PostgreSQL text cannot hold it, and no client app needs it.
Text255 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=r"^[^\x00]*$")]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=4096, pattern=r"^[^\x00]*$")]


class NewSessionIn(Lenient):
    """App1's `/new_session` body; `data` is kept as sent (App1's API shows a string)."""

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
    offset: Offset = 0
# ---------------------------------------------------------------- activity, pages, analytics (the Session Server API)


TrackedUser = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=ONE_LINE)]
PagePath = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512,
                                            pattern=r"^/[^\x00-\x08\x0a-\x1f\x7f-\x9f]*$")]
# strict: "120" (a string), true and null are not a time spent; ints and floats are
Seconds = Annotated[float, Field(ge=0, le=7 * 86400, strict=True)]


class SessionStartIn(Lenient):
    user: TrackedUser
    app: AppName
    time: Instant | None = None  # ISO 8601; naive values are UTC; default: server time
    status: Literal["active"] = "active"


class SessionEventIn(Lenient):
    user: TrackedUser
    app: AppName
    session_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    time: Instant | None = None


class ReportIn(Lenient):
    """Every report: `tz` (IANA, default UTC), optional `from`/`to` (ISO 8601), `format` json or csv."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    app: AppName
    user: TrackedUser
    tz: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = "UTC"
    from_: Instant | None = Field(default=None, alias="from")
    to: Instant | None = None
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
    time: Instant | None = None  # when the visit happened; default: server time
    session_id: uuid.UUID | None = None


class TrackIn(RootModel[list[PageVisitIn]]):
    """One visit, or a JSON array of them (all-or-nothing, at most `analytics.track_batch_max`).

    A single object is read as a batch of one, so error locations always start with the item index.
    """

    @model_validator(mode="before")
    @classmethod
    def _one_or_many(cls, data: Any) -> Any:
        return [data] if isinstance(data, dict) else data


# ---------------------------------------------------------------- repositories and the Git LFS Batch API (issue 19)

RepoName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
LfsOid = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class RepoIn(Strict):
    name: RepoName
    restricted: bool = False
    quota_bytes: Annotated[int, Field(ge=0, le=2**62)] | None = None


class RepoPatchIn(Strict):
    restricted: bool | None = None
    quota_bytes: Annotated[int, Field(ge=0, le=2**62)] | None = None
    clear_quota: bool = False


class RepoMemberIn(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
    access: Literal["read", "write"]


class LfsObjectIn(Lenient):
    oid: LfsOid
    size: Annotated[int, Field(ge=0, le=2**53)]


class LfsBatchIn(Lenient):
    operation: Literal["upload", "download"]
    transfers: Annotated[list[Annotated[str, StringConstraints(max_length=64)]], Field(max_length=16)] = ["basic"]
    ref: LfsRef | None = None
    objects: Annotated[list[LfsObjectIn], Field(max_length=1000)]
    hash_algo: Annotated[str, StringConstraints(max_length=32)] = "sha256"


class LfsAction(BaseModel):
    href: str
    header: dict[str, str] | None = None
    expires_in: int


class LfsObjectError(BaseModel):
    code: int
    message: str


class LfsBatchObject(BaseModel):
    oid: str
    size: int
    authenticated: bool | None = None
    actions: dict[str, LfsAction] | None = None
    error: LfsObjectError | None = None


class LfsBatchOut(BaseModel):
    transfer: str
    objects: list[LfsBatchObject]
    hash_algo: str = "sha256"
