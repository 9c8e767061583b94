"""Check-in fixtures: a fixed instant, a model:read key, helpers for the check-in contract's calls."""

from datetime import datetime

import pytest

T0 = datetime(2025, 11, 9, 14, 0, 0)  # the check-in contract's example: checked in 14:00, expires 15:00


@pytest.fixture
def model_key(factory):
    return factory.api_key(["model:read"])


@pytest.fixture
def model_headers(model_key):
    return {"X-API-Key": model_key}

