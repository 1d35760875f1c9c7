"""Shared fixtures: a fake upstream process for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import FakeUpstream, start_fake_upstream


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeUpstream]:
    upstream = start_fake_upstream()
    yield upstream
    upstream.stop()
