"""The core's typed errors reach LangChain users unchanged, and streams fail after their chunks."""

from __future__ import annotations

import holysheep
import pytest
from holysheep.testing import Reply
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from .conftest import ModelFactory, invoke, partial_stream, stream


@pytest.mark.parametrize("path", ["invoke", "stream"])
def test_rate_limit_is_holysheep_rate_limit_error(make_model: ModelFactory, emulator, side, path):
    emulator.fail(429, retry_after=7)
    model = make_model(max_retries=0)
    call = invoke if path == "invoke" else stream
    with pytest.raises(holysheep.RateLimitError) as caught:
        call(model, side, "hi")
    assert type(caught.value) is holysheep.RateLimitError  # the core's class itself, unwrapped
    assert caught.value.retry_after == 7 and caught.value.status_code == 429


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (401, None, holysheep.AuthenticationError),
        (402, None, holysheep.InsufficientCreditError),
        (400, "context_length_exceeded", holysheep.ContextLengthError),
        (400, None, holysheep.BadRequestError),
        (503, None, holysheep.UpstreamError),
    ],
)
def test_status_codes_map_to_typed_errors(make_model: ModelFactory, emulator, status, code, error):
    emulator.fail(status, code=code)
    with pytest.raises(error):
        make_model(max_retries=0).invoke("hi")


def test_unknown_model_suggests_close_names(make_model: ModelFactory, side) -> None:
    with pytest.raises(holysheep.ModelNotFoundError) as caught:
        invoke(make_model(model="gpt4.1"), side, "hi")
    assert "gpt-4.1" in caught.value.suggestions


def test_errors_cross_a_chain_unchanged(make_model: ModelFactory, emulator) -> None:
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | make_model(max_retries=0)
    chain = chain | StrOutputParser()
    emulator.fail(429, retry_after=1)
    with pytest.raises(holysheep.RateLimitError):
        chain.invoke({"q": "hi"})


def test_rate_limit_is_retried_by_the_core_before_anything_reaches_the_caller(
    make_model: ModelFactory, emulator, side
) -> None:
    emulator.fail(429, times=2, retry_after=0)
    chunks = stream(make_model(max_retries=2), side, "hi")
    assert "".join(c.text for c in chunks) == "Echo: hi"
    assert chunks[-1].response_metadata["model_name"] == "gpt-4.1"


def test_stream_cut_mid_way_raises_after_the_chunks_it_yielded(model, emulator, side) -> None:
    emulator.script(Reply(content="one two three four five six seven eight"))
    emulator.cut_stream(after_chunks=4)
    got, error = partial_stream(model, side, "hi")
    assert isinstance(error, holysheep.StreamError)
    assert "".join(c.text for c in got) == "one two three"
    assert error.text == "one two three"
    assert all(c.chunk_position != "last" for c in got)


def test_error_frame_inside_a_200_stream_raises_stream_error(model, emulator, side) -> None:
    emulator.script(Reply(content="alpha beta gamma delta"))
    emulator.error_in_stream(after_chunks=3, message="provider overloaded", code="server_error")
    got, error = partial_stream(model, side, "hi")
    assert isinstance(error, holysheep.StreamError)
    assert "provider overloaded" in str(error)
    assert "".join(c.text for c in got) == "alpha beta"
