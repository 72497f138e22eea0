"""The emulator's per-model faults (``fail(..., model=...)``), added for the fallback tests."""

from __future__ import annotations

import httpx
from holysheep.testing import RelayEmulator

from tests.conftest import FAKE_KEY


def post(emulator: RelayEmulator, model: str) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": f"Bearer {FAKE_KEY}"}
    url = f"{emulator.base_url}/chat/completions"
    return httpx.post(url, json=body, headers=headers).status_code


def test_a_model_fault_only_hits_that_model(emulator: RelayEmulator) -> None:
    emulator.fail(503, times=2, model="gpt-4.1")
    assert post(emulator, "deepseek-v3.2") == 200
    assert post(emulator, "gpt-4.1") == 503
    assert post(emulator, "claude-sonnet-4.5") == 200
    assert post(emulator, "gpt-4.1") == 503
    assert post(emulator, "gpt-4.1") == 200


def test_faults_without_a_model_still_hit_any_request_in_order(emulator: RelayEmulator) -> None:
    emulator.fail(429, model="gpt-4.1")
    emulator.fail(500)
    assert post(emulator, "deepseek-v3.2") == 500  # the first fault it matches
    assert post(emulator, "gpt-4.1") == 429
    assert post(emulator, "gpt-4.1") == 200
