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


def test_every_stream_is_billed_a_cut_one_for_what_it_generated(emulator: RelayEmulator) -> None:
    post(emulator, stream=True)  # no stream_options.include_usage: billed all the same
    post(emulator, stream=True, stream_options={"include_usage": True})
    emulator.script(Reply(content="one two three four five six seven eight"))
    emulator.cut_stream(after_chunks=3)  # the role chunk, "one", " two"
    with pytest.raises(httpx.RemoteProtocolError):  # the cut stream never delivers its usage
        post(emulator, stream=True, stream_options={"include_usage": True})
    emulator.error_in_stream(after_chunks=0)  # nothing generated: nothing billed
    post(emulator, stream=True)
    (_, plain), (_, with_usage), (model, cut) = emulator.billed
    assert plain == with_usage and plain["completion_tokens"] > 0
    assert model == "gpt-4.1" and cut["prompt_tokens"] == plain["prompt_tokens"]
    assert cut["completion_tokens"] == 2  # ceil(len("one two") / 4)


def test_a_stream_that_sent_its_finish_reason_is_billed_in_full(emulator: RelayEmulator) -> None:
    emulator.script(Reply(content="alpha beta"))
    emulator.error_in_stream(after_chunks=4)  # role, "alpha", " beta", finish; then an error
    post(emulator, stream=True, stream_options={"include_usage": True})
    [(_, usage)] = emulator.billed
    assert usage["completion_tokens"] == 3 and "prompt_tokens_details" in usage


def test_errors_are_not_billed_and_reset_clears(emulator: RelayEmulator) -> None:
    emulator.fail(500)
    assert post(emulator).status_code == 500
    assert emulator.billed == []
    post(emulator)
    assert len(emulator.billed) == 1
    emulator.reset()
    assert emulator.billed == []
