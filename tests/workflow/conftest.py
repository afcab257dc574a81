"""Fixtures shared by the workflow tests."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import time_machine

MONDAY_9AM = datetime(2025, 3, 3, 14, 0, tzinfo=timezone.utc)


@pytest.fixture()
def clock():
    """Time stands still at Monday 09:00 in New York until a test moves it."""
    with time_machine.travel(MONDAY_9AM, tick=False) as traveller:
        yield traveller
