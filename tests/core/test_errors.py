"""Error mapping from real upstream error bodies, messages that say what to do, pickling."""

from __future__ import annotations

import json
import pickle

import holysheep
import pytest
from holysheep.errors import error_from_response, suggest_models

from ..conftest import FIXTURES

SEED = ["gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-v3.2"]


def body(name: str) -> object:
    return json.loads((FIXTURES / f"{name}.response.json").read_text())


@pytest.mark.parametrize(
    ("name", "status", "expected", "code"),
    [
        ("openai-error-401-invalid-api-key", 401, holysheep.AuthenticationError, "invalid_api_key"),
        ("openai-error-404-model-not-found", 404, holysheep.ModelNotFoundError, "model_not_found"),
        (
            "openai-error-400-unsupported-parameter",
            400,
            holysheep.BadRequestError,
            "unsupported_parameter",
        ),
        (
            "openai-error-400-context-length",
            400,
            holysheep.ContextLengthError,
            "context_length_exceeded",
        ),
        ("groq-error-400-tool-use-failed", 400, holysheep.BadRequestError, "tool_use_failed"),
        ("openrouter-error-429-upstream", 429, holysheep.RateLimitError, 429),
        ("openrouter-error-402-insufficient-credits", 402, holysheep.InsufficientCreditError, 402),
    ],
)
def test_upstream_error_bodies_map_to_typed_errors(name, status, expected, code) -> None:
    error = error_from_response(status, body(name), {"x-request-id": "req_9"})
    assert type(error) is expected
    assert isinstance(error, holysheep.HolySheepError)
    assert error.status_code == status
    assert error.code == code
    assert error.request_id == "req_9"


def test_every_error_fixture_is_covered(fixture_index: list[dict]) -> None:
    errors = {c["id"] for c in fixture_index if c["status"] >= 400}
    assert errors == {
        "openai-error-401-invalid-api-key",
        "openai-error-404-model-not-found",
        "openai-error-400-unsupported-parameter",
        "openai-error-400-context-length",
        "groq-error-400-tool-use-failed",
        "openrouter-error-429-upstream",
        "openrouter-error-402-insufficient-credits",
    }


def test_messages_say_what_to_do() -> None:
    auth = error_from_response(401, body("openai-error-401-invalid-api-key"))
    assert "HOLYSHEEP_API_KEY" in str(auth)
    limited = error_from_response(429, {"error": {"message": "slow down"}}, {"retry-after": "3"})
    assert limited.retry_after == 3.0
    assert "retry after 3 s" in str(limited)
    missing = error_from_response(
        404, body("openai-error-404-model-not-found"), model="gpt4.1", known_models=SEED
    )
    assert "did you mean 'gpt-4.1'" in str(missing)
    assert missing.suggestions[0] == "gpt-4.1"
    credit = error_from_response(402, body("openrouter-error-402-insufficient-credits"))
    assert "Top up" in str(credit)


def test_quota_exhausted_429_is_a_credit_error_not_a_rate_limit() -> None:
    quota = {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}
    error = error_from_response(429, quota)
    assert isinstance(error, holysheep.InsufficientCreditError)
    assert not error.is_retryable


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (402, False),
        (403, False),
        (404, False),
        (408, True),
        (409, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
    ],
)
def test_retryability_by_status(status: int, retryable: bool) -> None:
    assert error_from_response(status, {"error": {"message": "x"}}).is_retryable is retryable


def test_errors_pickle_with_their_fields() -> None:
    error = error_from_response(
        429,
        {"error": {"message": "m", "code": "rate_limit_exceeded"}},
        {"retry-after": "2", "x-request-id": "req_p"},
    )
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is holysheep.RateLimitError
    assert (clone.retry_after, clone.request_id, clone.code) == (
        2.0,
        "req_p",
        "rate_limit_exceeded",
    )
    assert str(clone) == str(error)


def test_retry_after_http_date_and_ms() -> None:
    ms = error_from_response(429, {}, {"retry-after-ms": "1500"})
    assert ms.retry_after == 1.5
    date = error_from_response(503, {}, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert date.retry_after == 0.0  # in the past: retry now


def test_suggestions_tolerate_punctuation() -> None:
    assert suggest_models("claude_sonnet_45", SEED) == ["claude-sonnet-4.5"]
    assert suggest_models("zzz", SEED) == []
