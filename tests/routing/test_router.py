"""The routing table and the per-request constraints: window, tools, json_schema, budget."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from holysheep.catalog import ModelCatalog
from holysheep.errors import ConfigurationError
from holysheep.routing import DEFAULT_ROUTES, ROUTE_LABELS, TASK_LABELS, TaskRouter

from tests.routing.conftest import user

TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]


def test_default_routes_follow_the_seed() -> None:
    seed = {
        "deepseek-v3.2": ("summarization", "classification", "extraction"),
        "gemini-2.5-flash": ("conversational", "translation", "qa"),
        "gpt-4.1": ("code-generation", "reasoning"),
        "claude-sonnet-4.5": ("safety-review", "analysis", "long-context"),
    }
    for model, labels in seed.items():
        for label in labels:
            assert DEFAULT_ROUTES[label][0] == model
    assert set(DEFAULT_ROUTES) == set(ROUTE_LABELS) == {*TASK_LABELS, "long-context"}
    catalog = ModelCatalog.default()
    for models in DEFAULT_ROUTES.values():
        assert len(models) >= 3 and all(catalog.find(m) for m in models)


def test_every_default_model_is_served_by_the_emulator() -> None:
    from holysheep.testing.emulator import DEFAULT_MODELS

    assert {m for models in DEFAULT_ROUTES.values() for m in models} <= set(DEFAULT_MODELS)


@pytest.mark.parametrize(
    ("given", "label"),
    [
        ("QA", "qa"),
        ("code_generation", "code-generation"),
        ("summarize", "summarization"),
        ("Safety Review", "safety-review"),
        ("chat", "conversational"),
    ],
)
def test_task_labels_are_forgiving(router: TaskRouter, given: str, label: str) -> None:
    decision = router.route(user("x"), given)
    assert decision.task == label and decision.task_source == "caller"


def test_unknown_task_names_close_labels(router: TaskRouter) -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'translation'"):
        router.route(user("x"), "translaton")


def test_unlabelled_requests_are_classified(router: TaskRouter) -> None:
    decision = router.route(user("Translate 'good night' into French"))
    assert decision.task == "translation" and decision.task_source == "classifier"
    assert decision.model == "gemini-2.5-flash"


def test_routes_from_dict_merge_over_the_defaults() -> None:
    router = TaskRouter.from_dict({"routes": {"qa": ["deepseek-chat", "gpt-4.1"]}})
    assert router.routes["qa"] == ("deepseek-v3.2", "gpt-4.1")  # aliases resolve
    assert router.routes["analysis"] == DEFAULT_ROUTES["analysis"]
    alone = TaskRouter.from_dict({"qa": ["gpt-4.1"]}, extends=False, default_task="qa")
    assert set(alone.routes) == {"qa"}
    assert alone.route(user("write me a poem about rain")).task == "qa"  # no route: default


def test_routes_from_toml(tmp_path: Path) -> None:
    file = tmp_path / "routes.toml"
    file.write_text(
        'default_task = "qa"\nmax_wait_s = 5\n'
        '[routes]\nqa = ["gpt-4.1-mini", "gemini-2.5-flash"]\n'
        "[breaker]\ncooldown_s = 2\nconsecutive_failures = 1\n"
    )
    router = TaskRouter.from_toml(file)
    assert router.routes["qa"] == ("gpt-4.1-mini", "gemini-2.5-flash")
    assert router.default_task == "qa" and router.max_wait_s == 5
    assert router.breaker.cooldown_s == 2 and router.breaker.consecutive_failures == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"routes": {"qa": ["gpt-4.2"]}}, "did you mean 'gpt-4.1'"),
        ({"routes": {"qa": []}}, "non-empty list"),
        ({"routes": {"qa": "gpt-4.1"}}, "non-empty list"),
        ({"routes": {"qa": ["gpt-4.1"]}, "colour": "red"}, "unknown router setting"),
        ({"routes": {"qa": ["gpt-4.1"]}, "breaker": {"cooldown": 1}}, "bad \\[breaker\\]"),
        ({"routes": {"qa": ["gpt-4.1"]}, "extends": False, "default_task": "chat"}, "no route"),
    ],
)
def test_bad_configuration_fails_at_load(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        TaskRouter.from_dict(data)


def test_bad_toml_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        TaskRouter.from_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("routes = [")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        TaskRouter.from_toml(bad)


def test_a_prompt_too_big_for_a_window_skips_that_model(router: TaskRouter) -> None:
    messages = user("Summarize this: " + "lorem ipsum dolor sit amet " * 30_000)  # ~200k
    decision = router.route(messages, "summarization", max_tokens=4000)
    skipped = decision.verdict("deepseek-v3.2")
    assert skipped is not None and skipped.status == "skipped"
    assert "exceeds its 128k window" in skipped.reason
    assert decision.model == "gemini-2.5-flash"
    assert "passed over deepseek-v3.2" in decision.reason


def test_nothing_fits_so_the_long_context_route_joins(router: TaskRouter) -> None:
    router = TaskRouter.from_dict({"qa": ["deepseek-v3.2", "gpt-4o-mini"]})
    decision = router.route(user("x " * 300_000), "qa")  # ~150k tokens
    assert decision.model == "claude-sonnet-4.5"
    assert "from the long-context route" in decision.reason
    assert [v.model for v in decision.candidates][:2] == ["claude-sonnet-4.5", "gemini-2.5-pro"]


def test_long_context_route_considers_window_sizes(router: TaskRouter) -> None:
    decision = router.route(user("y " * 500_000), "long-context")  # ~250k tokens
    assert decision.model == "gemini-2.5-pro"
    assert "exceeds its 200k window" in (decision.verdict("claude-sonnet-4.5") or "").reason


def test_tools_json_schema_and_images_need_support(router: TaskRouter) -> None:
    decision = router.route(user("pull the fields out"), "extraction", json_schema=True)
    assert decision.model == "gpt-4.1-mini"
    assert decision.verdict("deepseek-v3.2").reason == "does not support json_schema"
    router = TaskRouter.from_dict({"reasoning": ["deepseek-r1", "o4-mini"]})
    decision = router.route(user("prove it"), "reasoning", tools=TOOLS)
    assert decision.model == "o4-mini"
    assert decision.verdict("deepseek-r1").reason == "does not support tools"
    image = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is in this picture?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        }
    ]
    decision = router.route(image, "summarization")
    assert decision.model == "gemini-2.5-flash"
    assert decision.verdict("deepseek-v3.2").reason == "does not support vision"


def test_tools_count_toward_the_prompt(router: TaskRouter) -> None:
    bare = router.route(user("hi"), "qa")
    with_tools = router.route(user("hi"), "qa", tools=TOOLS * 20)
    assert with_tools.prompt_tokens > bare.prompt_tokens + 100


def test_no_candidate_can_serve(router: TaskRouter) -> None:
    router = TaskRouter.from_dict({"qa": ["deepseek-v3.2", "claude-sonnet-4.5"]})
    decision = router.route(user("q"), "qa", json_schema=True)
    assert decision.model is None
    assert "no 'qa' candidate can serve this request" in decision.reason


def test_max_tokens_is_clamped_to_output_and_window(router: TaskRouter) -> None:
    decision = router.route(user("hello"), "summarization", max_tokens=100_000)
    assert decision.model == "deepseek-v3.2" and decision.max_tokens == 8192
    assert "capped at its 8,192 output" in decision.verdict("deepseek-v3.2").reason
    tight = user("w " * 250_000)  # ~125k tokens: 128k window leaves ~3k
    router = TaskRouter.from_dict(
        {"summarization": ["deepseek-v3.2"]}, extends=False, default_task="summarization"
    )
    decision = router.route(tight, "summarization", max_tokens=8000)
    assert decision.model == "deepseek-v3.2"
    assert 2000 < decision.max_tokens < 4000
    assert "max_tokens clamped to" in decision.verdict("deepseek-v3.2").reason


def test_a_clamped_fit_loses_to_a_full_fit(router: TaskRouter) -> None:
    decision = router.route(user("w " * 250_000), "summarization", max_tokens=8000)
    assert decision.model == "gemini-2.5-flash"
    assert "another candidate fits without clamping" in decision.verdict("deepseek-v3.2").reason


def test_trimming_is_opt_in(router: TaskRouter) -> None:
    chat = [{"role": "system", "content": "Be brief."}]
    for i in range(40):
        chat += [
            {"role": "user", "content": f"question {i} " + "x " * 8000},
            {"role": "assistant", "content": "ok"},
        ]
    chat.append({"role": "user", "content": "and the last question?"})
    only = TaskRouter.from_dict({"qa": ["deepseek-v3.2"]}, extends=False, default_task="qa")
    assert only.route(chat, "qa").model is None
    plan = only.plan(chat, "qa", trim=True)
    model = plan.next_model()
    assert model == "deepseek-v3.2"
    trimmed = plan.messages_for(model)
    assert trimmed[0]["role"] == "system" and trimmed[-1] == chat[-1]
    assert trimmed[1]["role"] == "user" and 2 < len(trimmed) < len(chat)
    assert "trimmed" in plan.decision.verdict("deepseek-v3.2").reason


class Ledger:
    """A ledger stand-in: ``remaining_usd`` as the ledger engineer will provide it."""

    def __init__(self, remaining: Any) -> None:
        self.remaining = remaining
        self.seen: list[Any] = []

    def remaining_usd(self, attribution: Any) -> Any:
        self.seen.append(attribution)
        if isinstance(self.remaining, Exception):
            raise self.remaining
        return self.remaining


def test_budget_skips_candidates_that_would_cross_it(clock: Any) -> None:
    ledger = Ledger(Decimal("0.01"))
    router = TaskRouter(ledger=ledger, clock=clock)
    decision = router.route(
        user("write a sort function"), "code-generation", max_tokens=2000, attribution="team-a"
    )
    # gpt-4.1 ~$0.016 and claude ~$0.030 cross $0.01; deepseek ~$0.0008 does not
    assert decision.model == "deepseek-v3.2"
    assert decision.budget_remaining_usd == Decimal("0.01")
    assert "exceeds the $0.010000 budget left" in decision.verdict("gpt-4.1").reason
    assert ledger.seen == ["team-a"]


def test_over_budget_everywhere_tries_the_cheapest_first(clock: Any) -> None:
    router = TaskRouter(ledger=Ledger("0.0000001"), clock=clock)
    decision = router.route(user("analyse this"), "analysis", max_tokens=1000)
    assert [v.model for v in decision.candidates] == [
        "gpt-4.1",
        "gemini-2.5-pro",
        "claude-sonnet-4.5",
    ]  # $0.008, $0.010, $0.015
    assert "cheapest goes first" in decision.reason


@pytest.mark.parametrize("remaining", [None, RuntimeError("ledger down"), "not a number"])
def test_budget_checks_never_raise(clock: Any, remaining: Any) -> None:
    decision = TaskRouter(ledger=Ledger(remaining), clock=clock).route(user("hi"), "qa")
    assert decision.model == "gemini-2.5-flash" and decision.budget_remaining_usd is None


def test_a_ledger_without_budgets_is_ignored(clock: Any) -> None:
    assert TaskRouter(ledger=object(), clock=clock).route(user("hi"), "qa").model


def test_decision_as_dict_is_json(router: TaskRouter) -> None:
    decision = router.route(user("Summarize: a b c"), max_tokens=100)
    data = json.loads(json.dumps(decision.as_dict()))
    assert data["model"] == "deepseek-v3.2" and data["task"] == "summarization"
    assert data["estimated_cost_usd"] == str(decision.estimated_cost_usd)
    assert {c["status"] for c in data["candidates"]} == {"chosen", "kept"}
    assert "deepseek-v3.2" in decision.explain()


def test_route_accepts_a_string_and_pydantic_messages(router: TaskRouter) -> None:
    from holysheep import ChatMessage

    assert router.route("hello there").task == "conversational"
    assert (
        router.route([ChatMessage(role="user", content="translate hola to english")]).task
        == "translation"
    )


def test_bad_max_tokens(router: TaskRouter) -> None:
    with pytest.raises(ConfigurationError, match="max_tokens"):
        router.route(user("x"), max_tokens=0)
