"""The fallback state machine (``RoutePlan``) without any I/O: fake clock, fake errors."""

from __future__ import annotations

import pickle

import pytest
from holysheep.errors import (
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ContextLengthError,
    InsufficientCreditError,
    ModelNotFoundError,
    NoModelAvailableError,
    RateLimitError,
    StreamError,
    UpstreamError,
)
from holysheep.routing import TaskRouter

from tests.routing.conftest import FakeClock, user

QA = user("What is the capital of Peru?")  # qa: gemini-2.5-flash, gpt-4.1-mini, deepseek-v3.2


def rate_limited(seconds: float) -> RateLimitError:
    return RateLimitError("slow down", status_code=429, retry_after=seconds)


def test_first_candidate_then_success(router: TaskRouter) -> None:
    plan = router.plan(QA, "qa")
    assert plan.next_model() == "gemini-2.5-flash"
    plan.succeeded("gemini-2.5-flash")
    decision = plan.decision
    assert decision.model == "gemini-2.5-flash" and decision.fallbacks == ()
    assert plan.next_model() is None and plan.wait_s() is None


def test_retryable_failures_fall_back_in_order(router: TaskRouter) -> None:
    plan = router.plan(QA, "qa")
    first = plan.next_model()
    plan.failed(first, UpstreamError("down", status_code=503))
    second = plan.next_model()
    plan.failed(second, APITimeoutError("slow"))
    third = plan.next_model()
    plan.succeeded(third)
    decision = plan.decision
    assert (first, second, third) == ("gemini-2.5-flash", "gpt-4.1-mini", "deepseek-v3.2")
    assert [f.from_model for f in decision.fallbacks] == [first, second]
    assert [f.to_model for f in decision.fallbacks] == [second, third]
    assert decision.fallbacks[0].status_code == 503
    assert decision.fallbacks[0].error_type == "UpstreamError"
    assert "after its retries" in decision.fallbacks[0].reason
    assert decision.model == third and "after 2 fallback(s)" in decision.reason
    statuses = {v.model: v.status for v in decision.candidates}
    assert statuses == {first: "failed", second: "failed", third: "chosen"}


@pytest.mark.parametrize(
    "error",
    [
        BadRequestError("bad field", status_code=400),
        AuthenticationError("bad key", status_code=401),
        BudgetExceededError("over budget"),
        KeyError("not a relay error"),
    ],
)
def test_errors_every_candidate_would_repeat_are_reraised(
    router: TaskRouter, error: BaseException
) -> None:
    plan = router.plan(QA, "qa")
    model = plan.next_model()
    with pytest.raises(type(error)) as raised:
        plan.failed(model, error)
    assert raised.value is error
    decision = plan.decision
    assert decision.model is None and "no fallback fixes" in decision.reason


@pytest.mark.parametrize(
    "error",
    [
        InsufficientCreditError("no credit", status_code=402),
        ModelNotFoundError("not served", status_code=404),
        BadRequestError("blocked", status_code=400, code="content_policy_violation"),
        StreamError("cut before anything arrived"),
    ],
)
def test_provider_side_errors_fall_back(router: TaskRouter, error: BaseException) -> None:
    plan = router.plan(QA, "qa")
    plan.failed(plan.next_model(), error)
    assert plan.next_model() == "gpt-4.1-mini"


def test_stream_errors_after_the_first_chunk_are_reraised(router: TaskRouter) -> None:
    plan = router.plan(QA, "qa")
    model = plan.next_model()
    with pytest.raises(StreamError):
        plan.failed(model, StreamError("cut", text="Lima is"))
    plan = router.plan(QA, "qa")
    model = plan.next_model()
    error = UpstreamError("cut", status_code=502)
    with pytest.raises(UpstreamError):
        plan.failed(model, error, after_first_chunk=True)
    assert router.breaker.health(model).failures == 2  # both still count against the model


def test_context_length_keeps_only_larger_windows(router: TaskRouter) -> None:
    plan = router.plan(user("Summarize this report: ..."), "summarization")
    assert plan.next_model() == "deepseek-v3.2"
    plan.failed("deepseek-v3.2", ContextLengthError("too long", status_code=400))
    assert plan.next_model() == "gemini-2.5-flash"
    fallback = plan.decision.fallbacks[0]
    assert "only larger windows remain: gemini-2.5-flash, gpt-4.1-mini" in fallback.reason
    # the context error says nothing about the model's health
    assert router.breaker.health("deepseek-v3.2").failures == 0


def test_context_length_reaches_the_long_context_route(clock: FakeClock) -> None:
    router = TaskRouter({"summarization": ["deepseek-v3.2", "qwen3-max"]}, clock=clock)
    plan = router.plan(user("Summarize: ..."), "summarization")
    plan.failed(plan.next_model(), ContextLengthError("too long", status_code=400))
    assert plan.next_model() == "qwen3-max"  # 262k > 128k
    plan.failed("qwen3-max", ContextLengthError("too long", status_code=400))
    nxt = plan.next_model()
    assert nxt == "gemini-2.5-pro"  # claude-sonnet-4.5's 200k is not larger than 262k
    verdict = plan.decision.verdict("gemini-2.5-pro")
    assert verdict is not None and verdict.status == "chosen"


def test_rate_limited_everywhere_waits_for_the_earliest(
    router: TaskRouter, clock: FakeClock
) -> None:
    plan = router.plan(QA, "qa", deadline=10)
    for seconds in (3, 1, 2):
        plan.failed(plan.next_model(), rate_limited(seconds))
    assert plan.next_model() is None
    assert plan.wait_s() == pytest.approx(1)
    clock.advance(1)
    assert plan.next_model() == "gpt-4.1-mini"  # its 1 s Retry-After ran out first
    plan.succeeded("gpt-4.1-mini")
    assert len(plan.decision.fallbacks) == 3
    assert plan.decision.fallbacks[-1].to_model == "gpt-4.1-mini"


def test_gives_up_when_recovery_is_past_the_deadline(router: TaskRouter, clock: FakeClock) -> None:
    plan = router.plan(QA, "qa", deadline=5)
    for _ in range(3):
        plan.failed(plan.next_model(), rate_limited(30))
    assert plan.next_model() is None and plan.wait_s() is None
    error = plan.no_model_error()
    assert isinstance(error, NoModelAvailableError)
    text = str(error)
    for model in ("gemini-2.5-flash", "gpt-4.1-mini", "deepseek-v3.2"):
        assert f"{model}: circuit open for 30.0 s (rate limited (429)" in text
    assert "Wait and retry" in text
    assert error.decision.model is None and len(error.decision.fallbacks) == 3
    assert pickle.loads(pickle.dumps(error)).decision == error.decision


def test_deadline_counts_time_already_spent(router: TaskRouter, clock: FakeClock) -> None:
    plan = router.plan(QA, "qa", deadline=5)
    clock.advance(4)
    for _ in range(3):
        plan.failed(plan.next_model(), rate_limited(2))
    assert plan.wait_s() is None  # 4 s spent + 2 s wait > 5 s


def test_failed_models_are_out_but_rate_limited_ones_return(
    router: TaskRouter, clock: FakeClock
) -> None:
    plan = router.plan(QA, "qa", deadline=60)
    plan.failed(plan.next_model(), UpstreamError("down", status_code=500))
    plan.failed(plan.next_model(), InsufficientCreditError("no credit", status_code=402))
    plan.failed(plan.next_model(), rate_limited(2))
    assert plan.next_model() is None
    assert plan.wait_s() == pytest.approx(2)
    clock.advance(2)
    assert plan.next_model() == "deepseek-v3.2"


def test_each_model_gets_at_most_three_turns(router: TaskRouter, clock: FakeClock) -> None:
    plan = router.plan(user("hi"), "qa", deadline=1000)
    turns = 0
    while (model := plan.next_model()) is not None or plan.wait_s() is not None:
        if model is None:
            clock.advance(plan.wait_s() or 0)
            continue
        turns += 1
        plan.failed(model, rate_limited(1))
    assert turns == 9
    assert "no turns left" in str(plan.no_model_error())


def test_open_circuits_are_skipped_and_probed(router: TaskRouter, clock: FakeClock) -> None:
    for _ in range(3):
        router.breaker.record_failure("gemini-2.5-flash", UpstreamError("x", status_code=500))
    decision = router.route(QA, "qa")
    assert decision.model == "gpt-4.1-mini"
    cooling = decision.verdict("gemini-2.5-flash")
    assert cooling is not None and cooling.status == "cooling"
    assert "3 failures in a row" in cooling.reason
    clock.advance(router.breaker.cooldown_s)
    plan = router.plan(QA, "qa")
    other = router.plan(QA, "qa")
    assert plan.next_model() == "gemini-2.5-flash"  # the one probe
    assert other.next_model() == "gpt-4.1-mini"  # meanwhile the others go elsewhere
    plan.succeeded("gemini-2.5-flash")
    assert router.route(QA, "qa").model == "gemini-2.5-flash"


def test_route_is_pure(router: TaskRouter, clock: FakeClock) -> None:
    for _ in range(3):
        router.breaker.record_failure("gemini-2.5-flash", UpstreamError("x", status_code=500))
    clock.advance(router.breaker.cooldown_s)
    for _ in range(3):
        assert router.route(QA, "qa").model == "gemini-2.5-flash"  # peeks, takes no probe
    assert router.plan(QA, "qa").next_model() == "gemini-2.5-flash"


def test_max_tokens_and_messages_per_model(router: TaskRouter) -> None:
    plan = router.plan(QA, "qa", max_tokens=50_000)
    assert plan.max_tokens_for("gemini-2.5-flash") == 50_000
    assert plan.max_tokens_for("gpt-4.1-mini") == 32_768
    assert plan.max_tokens_for("deepseek-v3.2") == 8_192
    assert plan.messages_for("deepseek-v3.2") == QA
    assert plan.max_tokens_for("not-a-candidate") == 50_000
