"""argon2id password hashing with cost parameters from settings."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

import settings


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def hasher() -> PasswordHasher:
    return _hasher(settings.static("security.argon2.time_cost"), settings.static("security.argon2.memory_kib"))


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=8)
def _dummy_hash(time_cost: int, memory_kib: int) -> str:
    return _hasher(time_cost, memory_kib).hash("not-a-real-password")


def burn_equal_time(password: str) -> None:
    """Verify against a dummy hash so an unknown username costs as much as a wrong password."""
    verify_password(_dummy_hash(settings.static("security.argon2.time_cost"),
                                settings.static("security.argon2.memory_kib")), password)
