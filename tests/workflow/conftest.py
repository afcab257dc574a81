"""Fixtures shared by the workflow tests."""
from __future__ import annotations

import pytest
import time_machine

from tests.support.workflow import MONDAY_9AM


@pytest.fixture()
def clock():
    """Time stands still at Monday 09:00 in New York until a test moves it."""
    with time_machine.travel(MONDAY_9AM, tick=False) as traveller:
        yield traveller
