"""Tests for tasks, the outreach cadence, action plans and root causes."""
