"""Report fixtures: the ledger tests' Redis database, and Debian's headless Chromium.

Without a ``chromium`` binary (``$CHROMIUM`` names another) the browser tests skip with one
line; under ``CI=true`` they fail instead, since ``.ci/run`` installs it.
"""

from __future__ import annotations

import os

import pytest

from ..ledger.conftest import redis_url
from .browser import find_chromium

__all__ = ["chromium", "redis_url"]

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of the Chromium binary the browser tests drive."""
    binary = find_chromium()
    if binary is None:
        if IN_CI:
            pytest.fail("CI=true but no chromium: .ci/run must apt-get install chromium")
        pytest.skip("no chromium (apt-get install chromium) to render the report in")
    return binary
