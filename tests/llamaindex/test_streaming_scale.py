"""``stream_chat`` stays linear in the number of tool-call deltas (issue #9, item 15).

Every streamed response carries all the tool calls so far; rebuilding (and re-validating) them
per chunk made a 16k-delta stream 12x slower than a 4k one. Measured as a ratio of this process's
CPU times in the same test (other processes on a busy machine do not count), never absolutely.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from holysheep.testing import RelayEmulator, Reply

from llamaindex_holysheep import HolySheep

from .conftest import HELLO, stream

DELTAS_PER_CALL = 4  # the emulator sends a head fragment, then the arguments in three pieces


def _cpu_seconds(make_llm: Callable[..., HolySheep], emulator: RelayEmulator, deltas: int) -> float:
    """CPU time of one ``stream_chat`` of ``deltas`` tool-call deltas, checked for content."""
    calls = [
        {"name": "lookup", "arguments": {"row": i, "pad": "x" * 24}}
        for i in range(deltas // DELTAS_PER_CALL)
    ]
    emulator.script(Reply(tool_calls=calls))
    llm = make_llm()
    gc.collect()
    gc.freeze()  # earlier tests' objects: a full collection would scan them, once in a long run
    try:
        started = time.process_time()
        for response in llm.stream_chat(HELLO):  # kept one at a time, as agents read a stream
            last = response
        spent = time.process_time() - started
    finally:
        gc.unfreeze()
    final = last.message.additional_kwargs["tool_calls"]
    assert len(final) == len(calls)
    assert final[-1]["function"]["arguments"] == f'{{"row":{len(calls) - 1},"pad":"{"x" * 24}"}}'
    return spent


def test_stream_chat_time_grows_linearly_with_tool_call_deltas(make_llm, emulator) -> None:
    _cpu_seconds(make_llm, emulator, 400)  # warm-up: imports, first connection
    # best of 2 for every size: a busy machine only ever adds time, to any one run
    small = min(_cpu_seconds(make_llm, emulator, 4000) for _ in range(2))
    middle = min(_cpu_seconds(make_llm, emulator, 8000) for _ in range(2))
    large = min(_cpu_seconds(make_llm, emulator, 16000) for _ in range(2))
    # Linear: about 2x and 4x. Quadratic: 4x and 16x (the bounds sit between the two).
    assert middle / small < 3.0, (small, middle)
    assert large / small < 8.0, (small, middle, large)


def test_every_streamed_response_holds_the_calls_so_far_and_keeps_them(llm, emulator) -> None:
    calls = [{"name": f"tool_{i}", "arguments": {"i": i}} for i in range(3)]
    emulator.script(Reply(tool_calls=calls))
    responses = stream(llm, "sync", HELLO)
    seen = [
        [(b.tool_name, b.tool_kwargs) for b in r.message.blocks if b.block_type == "tool_call"]
        for r in responses[:-1]
    ]
    # each call appears when its head arrives and grows piece by piece; earlier responses keep
    # the state they had (a response kept by the caller never changes under it)
    assert seen[0] == [("tool_0", "")]
    assert seen[3] == [("tool_0", '{"i":0}')]
    assert seen[4] == [("tool_0", '{"i":0}'), ("tool_1", "")]
    assert seen[-1] == [(f"tool_{i}", f'{{"i":{i}}}') for i in range(3)]
    assert len(responses[0].message.additional_kwargs["tool_calls"]) == 1
