"""Accounts: creation, authentication, admin changes and the last-admin rule."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from errors import ApiError, conflict, not_found
from extensions import db
from models import DEFAULT_PREFERENCES, User
from services import email_address, passwords


def normalize_username(username: str) -> str:
    return username.strip().lower()


def checked_email(email: str) -> str:
    """The normalized address, or 422: one rule for every caller (email_address.validated)."""
    try:
        return email_address.validated(email)
    except email_address.InvalidEmail as exc:
        raise ApiError(422, "Invalid e-mail address", {"field": "email", "reason": str(exc)}) from None


def get_user(user_id: uuid.UUID | str) -> User:
    try:
        key = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
    except ValueError:
        raise not_found("User") from None
    user = db.session.get(User, key)
    if user is None:
        raise not_found("User")
    return user


def find_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == normalize_username(username)))


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username)))


def create_user(username: str, email: str, password: str, *, is_admin: bool = False,
                display_name: str | None = None) -> User:
    username, email = normalize_username(username), checked_email(email)
    taken = db.session.scalar(select(User).where((User.username == username) | (User.email == email)))
    if taken is not None:
        field = "username" if taken.username == username else "email"
        raise conflict(f"A user with this {field} already exists", {"field": field})
    user = User(username=username, email=email, password_hash=passwords.hash_password(password),
                is_admin=is_admin, display_name=display_name or username, preferences=list(DEFAULT_PREFERENCES))
    db.session.add(user)
    db.session.commit()  # a racing twin fails on the unique index -> IntegrityError -> 409
    return user


def authenticate(username: str, password: str) -> User | None:
    """The user for these credentials, or None (same cost whether the name exists or not)."""
    user = find_by_username(username)
    if user is None:
        passwords.burn_equal_time(password)
        return None
    if not passwords.verify_password(user.password_hash, password):
        return None
    if passwords.hasher().check_needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
        db.session.commit()
    return user


def revoke_tokens(user: User) -> None:
    """Invalidate every token issued to this user so far (they carry the old version)."""
    user.token_version += 1


def set_password(user: User, new_password: str) -> User:
    user.password_hash = passwords.hash_password(new_password)
    revoke_tokens(user)
    db.session.commit()
    return user


def set_email(user: User, new_email: str) -> User:
    new_email = checked_email(new_email)
    other = db.session.scalar(select(User).where(User.email == new_email, User.id != user.id))
    if other is not None:
        raise conflict("A user with this email already exists", {"field": "email"})
    user.email = new_email
    revoke_tokens(user)
    db.session.commit()
    return user


def _lock_admins() -> int:
    """Count admins, locking their rows on PostgreSQL so two demotions cannot both pass the check."""
    query = select(User.id).where(User.is_admin.is_(True))
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    return len(db.session.execute(query).all())


def set_admin(user: User, is_admin: bool) -> User:
    if user.is_admin and not is_admin and _lock_admins() <= 1:
        db.session.rollback()
        raise ApiError(409, "Cannot remove the last admin")
    if user.is_admin != is_admin:
        user.is_admin = is_admin
        revoke_tokens(user)
    db.session.commit()
    return user


def delete_user(user: User) -> None:
    if user.is_admin and _lock_admins() <= 1:
        db.session.rollback()
        raise ApiError(409, "Cannot delete the last admin")
    db.session.delete(user)
    db.session.commit()


def count_admins() -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.is_admin.is_(True))) or 0


def ensure_admin(username: str, email: str, password: str) -> tuple[User, bool]:
    """Create the admin if no user has that name; (user, created). Idempotent for entrypoints."""
    existing = find_by_username(username)
    if existing is not None:
        return existing, False
    return create_user(username, email, password, is_admin=True), True
