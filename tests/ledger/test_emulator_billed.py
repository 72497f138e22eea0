"""``RelayEmulator.billed``: the usage of every reply that reached the client, for ledger checks."""

from __future__ import annotations

import httpx
import pytest
from holysheep.testing import RelayEmulator, Reply

BODY = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "Hello there"}]}
AUTH = {"authorization": "Bearer hs-test"}


def post(emulator: RelayEmulator, **extra: object) -> httpx.Response:
    with httpx.Client(base_url=emulator.base_url, headers=AUTH, timeout=5) as client:
        return client.post("/chat/completions", json={**BODY, **extra})


def test_a_json_reply_is_billed_with_the_usage_it_carried(emulator: RelayEmulator) -> None:
    emulator.script(Reply(content="hi", model="gpt-4.1-2025-04-14"))
    reply = post(emulator).json()
    assert emulator.billed == [("gpt-4.1-2025-04-14", reply["usage"])]


def test_streams_are_billed_only_when_usage_reached_the_client(emulator: RelayEmulator) -> None:
    post(emulator, stream=True)  # no stream_options.include_usage: no usage sent
    post(emulator, stream=True, stream_options={"include_usage": True})
    emulator.cut_stream(after_chunks=1)
    with pytest.raises(httpx.RemoteProtocolError):  # the cut stream never delivers its usage
        post(emulator, stream=True, stream_options={"include_usage": True})
    [(model, usage)] = emulator.billed
    assert model == "gpt-4.1" and usage["completion_tokens"] > 0


def test_errors_are_not_billed_and_reset_clears(emulator: RelayEmulator) -> None:
    emulator.fail(500)
    assert post(emulator).status_code == 500
    assert emulator.billed == []
    post(emulator)
    assert len(emulator.billed) == 1
    emulator.reset()
    assert emulator.billed == []
