"""Shared fixtures: a clean environment per test, upstream fixtures, one emulator per session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from holysheep.testing import RelayEmulator

FIXTURES = Path(__file__).parent / "fixtures" / "upstream"
FAKE_KEY = "hs-test-key-not-a-secret"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's HOLYSHEEP_* settings (httpx's clean_environ habit)."""
    import os

    for name in list(os.environ):
        if name.startswith("HOLYSHEEP_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def fixture_index() -> list[dict]:
    """The upstream fixtures' machine-readable metadata."""
    return json.loads((FIXTURES / "index.json").read_text())


@pytest.fixture(scope="session")
def _emulator() -> Iterator[RelayEmulator]:
    with RelayEmulator() as emulator:
        yield emulator


@pytest.fixture
def emulator(_emulator: RelayEmulator) -> Iterator[RelayEmulator]:
    """The session's loopback relay, with faults, script and request log reset per test."""
    _emulator.reset()
    yield _emulator
    _emulator.reset()
