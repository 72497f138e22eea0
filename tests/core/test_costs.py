"""Cost arithmetic by price bucket, CNY comparison, and monthly estimates."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from holysheep.catalog import ModelCatalog, ModelSpec
from holysheep.costs import (
    SAMPLE_WORKLOAD,
    Cost,
    UnknownModelPriceWarning,
    Workload,
    estimate_monthly,
    format_estimate_table,
    price,
)
from holysheep.errors import ModelNotFoundError
from holysheep.usage import Usage

UPSTREAM = Path(__file__).resolve().parents[1] / "fixtures" / "upstream"
D = Decimal


@pytest.fixture
def catalog() -> ModelCatalog:
    return ModelCatalog.shipped()


def test_gpt41_split_by_bucket(catalog: ModelCatalog) -> None:
    usage = Usage(
        prompt_tokens=1_000_000,
        completion_tokens=100_000,
        total_tokens=1_100_000,
        cached_tokens=200_000,
    )
    cost = price(catalog.get("gpt-4.1"), usage)
    assert cost.model == "gpt-4.1"
    assert cost.input_usd == D("1.60")  # 800,000 uncached x $2.00/M
    assert cost.cached_input_usd == D("0.10")  # 200,000 cached x $0.50/M
    assert cost.output_usd == D("0.80")  # 100,000 x $8.00/M
    assert cost.total_usd == D("2.50")
    assert cost.relay_cny == D("2.50")
    assert cost.direct_cny == D("18.25")
    assert cost.savings_cny == D("15.75")
    assert cost.savings_ratio == D("15.75") / D("18.25")
    assert round(cost.savings_ratio, 3) == D("0.863")


def test_prompt_tokens_never_priced_at_output_rate(catalog: ModelCatalog) -> None:
    cost = price(catalog.get("claude-sonnet-4.5"), Usage(1_000_000, 0, 1_000_000, 0, 0))
    assert cost.total_usd == D("3.00")  # not 15.00
    assert cost.output_usd == 0


def test_reasoning_is_inside_completion_not_added_twice(catalog: ModelCatalog) -> None:
    usage = Usage(
        prompt_tokens=1000, completion_tokens=5000, total_tokens=6000, reasoning_tokens=4000
    )
    cost = price(catalog.get("o4-mini"), usage)
    assert cost.output_usd == D(5000) * D("4.40") / D(1_000_000) == D("0.022")


def test_deepseek_fixture_cost(catalog: ModelCatalog) -> None:
    raw = json.loads((UPSTREAM / "deepseek-chat-json-mode.response.json").read_text())["usage"]
    usage = Usage.from_wire(raw)
    assert usage is not None
    cost = price(catalog.get("deepseek-v3.2"), usage)
    assert cost.input_usd == D("0.000049")  # 175 x 0.28 / 1M
    assert cost.cached_input_usd == D("0.00000896")  # 320 x 0.028 / 1M
    assert cost.output_usd == D("0.00006048")  # 144 x 0.42 / 1M
    assert cost.total_usd == D("0.00011844")


def test_xai_fixture_bills_reasoning_as_output(catalog: ModelCatalog) -> None:
    raw = json.loads((UPSTREAM / "xai-chat-reasoning-tool-call.response.json").read_text())
    usage = Usage.from_wire(raw["usage"])
    assert usage is not None
    cost = price(catalog.get("grok-4"), usage)
    assert cost.output_usd == D(26 + 189) * D(15) / D(1_000_000)
    assert cost.cached_input_usd == D(244) * D("0.75") / D(1_000_000)
    assert cost.input_usd == D(291 - 244) * D(3) / D(1_000_000)


def test_custom_exchange_rates(catalog: ModelCatalog) -> None:
    usage = Usage(1_000_000, 0, 1_000_000, 0, 0)
    cost = price(
        catalog.get("gpt-4.1"), usage, market_cny_per_usd=D("7.1"), relay_cny_per_usd=D("1.05")
    )
    assert cost.relay_cny == D("2.10") and cost.direct_cny == D("14.2")
    via_catalog = catalog.cost(
        "gpt-4.1", usage, market_cny_per_usd=D("7.1"), relay_cny_per_usd=D("1.05")
    )
    assert via_catalog == cost


def test_unpriced_spec_cannot_be_priced() -> None:
    with pytest.raises(ValueError, match="no prices"):
        price(ModelSpec("mystery"), Usage(1, 1, 2, 0, 0))


def test_addition_same_and_mixed_models(catalog: ModelCatalog) -> None:
    usage = Usage(1_000_000, 100_000, 1_100_000, 200_000, 0)
    a = price(catalog.get("gpt-4.1"), usage)
    b = price(catalog.get("deepseek-v3.2"), usage)
    assert (a + a).model == "gpt-4.1" and (a + a).total_usd == D("5.00")
    mixed = a + b
    assert mixed.model == "*"
    assert mixed.total_usd == a.total_usd + b.total_usd
    assert mixed.relay_cny == a.relay_cny + b.relay_cny
    assert mixed.direct_cny == a.direct_cny + b.direct_cny
    assert sum([a, b]) == mixed
    assert Cost.zero() + a == a == a + Cost.zero()
    assert Cost.zero() + a + b == mixed
    assert sum([a]) == a
    assert Cost.zero().savings_ratio == 0 and Cost.zero().model == ""
    assert a.as_dict()["total_usd"] == "2.50000000"


# ------------------------------------------------------------------ monthly estimates


def test_estimate_line_and_totals_add_up(catalog: ModelCatalog) -> None:
    workloads = [
        Workload("gpt-4.1", 1000, 1000, 100, D("0.2"), "code-generation"),
        Workload("deepseek-v3.2", 10_000, 2000, 300),
        Workload("gemini-2.5-flash", 5000, 800, 250, 0.5),
    ]
    est = estimate_monthly(workloads, catalog)
    first = est.lines[0]
    assert first.usage == Usage(1_000_000, 100_000, 1_100_000, 200_000, 0)
    assert first.cost is not None and first.cost.total_usd == D("2.50")
    costs = [line.cost for line in est.lines if line.cost is not None]
    assert len(costs) == 3 and est.unpriced == ()
    assert est.total.total_usd == sum(c.total_usd for c in costs)
    assert est.total.relay_cny == sum(c.relay_cny for c in costs)
    assert est.total.direct_cny == sum(c.direct_cny for c in costs)
    assert est.total.direct_cny == est.total.total_usd * D("7.3")
    assert est.total.model == "*"
    single = estimate_monthly(workloads[:1], catalog)
    assert single.total == first.cost


def test_estimate_unknown_model_raises(catalog: ModelCatalog) -> None:
    with pytest.raises(ModelNotFoundError, match=r"did you mean 'gpt-4\.1'"):
        estimate_monthly([Workload("gpt4.1", 1, 1, 1)], catalog)


def test_estimate_unpriced_model_warns_and_is_left_out(catalog: ModelCatalog) -> None:
    merged = catalog.merge_relay_models(["claude-opus-4-6"])
    with pytest.warns(UnknownModelPriceWarning, match="claude-opus-4-6"):
        est = estimate_monthly(
            [Workload("claude-opus-4-6", 10, 100, 10), Workload("gpt-4.1", 1000, 1000, 100)],
            merged,
        )
    assert est.lines[0].cost is None and est.unpriced == ("claude-opus-4-6",)
    assert est.lines[1].cost is not None
    assert est.total.total_usd == est.lines[1].cost.total_usd
    table = format_estimate_table(est)
    assert "n/a" in table and "not priced (left out of TOTAL): claude-opus-4-6" in table


def test_format_estimate_table(catalog: ModelCatalog) -> None:
    est = estimate_monthly([Workload("gpt-4.1", 1000, 1000, 100, D("0.2"), "code")], catalog)
    table = format_estimate_table(est)
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["model", "task", "requests"]
    assert "gpt-4.1" in lines[2] and "code" in lines[2]
    for cell in ("1,000", "1,000,000", "100,000", "2.50", "18.25", "15.75", "86.3%"):
        assert cell in lines[2]
    assert lines[-1].startswith("TOTAL") and "18.25" in lines[-1]


def test_sample_workload_uses_seed_models(catalog: ModelCatalog) -> None:
    est = estimate_monthly(SAMPLE_WORKLOAD, catalog)
    assert {line.workload.model for line in est.lines} == {
        "gpt-4.1",
        "claude-sonnet-4.5",
        "gemini-2.5-flash",
        "deepseek-v3.2",
    }
    assert est.total.relay_cny == est.total.total_usd
    assert est.total.savings_cny > 0


def test_workload_parse_and_validation() -> None:
    w = Workload.parse("gpt-4.1:10_000:1,500:400:0.3:qa")
    assert w == Workload("gpt-4.1", 10_000, 1500, 400, D("0.3"), "qa")
    assert Workload.parse("deepseek-v3.2:1:2:3").cached_fraction == 0
    for bad in ("gpt-4.1:1:2", "gpt-4.1:x:2:3", "gpt-4.1:1:2:3:abc"):
        with pytest.raises(ValueError, match="bad workload"):
            Workload.parse(bad)
    with pytest.raises(ValueError, match="cached_fraction"):
        Workload("gpt-4.1", 1, 1, 1, D("1.5"))
    with pytest.raises(ValueError, match="requests_per_month"):
        Workload("gpt-4.1", -1, 1, 1)
