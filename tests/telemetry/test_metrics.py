"""Metrics as the GenAI conventions define them, plus the ``holysheep.cost`` counter in USD."""

from __future__ import annotations

import pytest
from holysheep import HolySheepClient, UnknownModelPriceWarning
from holysheep.testing import RelayEmulator, Reply

from ..conftest import FAKE_KEY
from .conftest import Telemetry, chat, failing, stream


def by_token_type(points: list) -> dict[str, object]:
    return {p.attributes["gen_ai.token.type"]: p for p in points}


def test_token_usage_is_a_histogram_per_token_type(
    client: HolySheepClient, otel: Telemetry, side: str
) -> None:
    first = chat(client, side)
    second = chat(client, side, messages=[{"role": "user", "content": "A longer question " * 9}])
    metric = otel.metric("gen_ai.client.token.usage")
    assert metric.unit == "{token}"
    points = by_token_type(otel.points("gen_ai.client.token.usage"))
    assert set(points) == {"input", "output"}
    usages = [first.call_info.usage, second.call_info.usage]
    assert points["input"].count == 2
    assert points["input"].sum == sum(u.prompt_tokens for u in usages)
    assert points["output"].sum == sum(u.completion_tokens for u in usages)
    a = points["input"].attributes
    assert (a["gen_ai.operation.name"], a["gen_ai.provider.name"]) == ("chat", "holysheep")
    assert a["gen_ai.request.model"] == a["gen_ai.response.model"] == "gpt-4.1"
    assert "server.address" in a and "server.port" in a
    # the conventions' advisory buckets: 1, 4, 16, ... 67108864
    assert points["input"].explicit_bounds[:3] == (1, 4, 16)


def test_duration_is_recorded_for_answers_and_failures_with_error_type(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    chat(client, side)
    emulator.fail(400)
    failing(chat, client, side)
    metric = otel.metric("gen_ai.client.operation.duration")
    assert metric.unit == "s"
    points = {p.attributes.get("error.type"): p for p in otel.points(metric.name)}
    assert set(points) == {None, "BadRequestError"}
    assert points[None].count == points["BadRequestError"].count == 1
    assert points[None].sum > 0
    assert points[None].explicit_bounds[0] == 0.01
    # a failed call served nothing and billed nothing: no tokens, no cost
    assert sum(p.count for p in otel.points("gen_ai.client.token.usage")) == 2


def test_time_to_first_chunk_only_for_streams(
    client: HolySheepClient, otel: Telemetry, side: str
) -> None:
    chat(client, side)
    assert otel.points("gen_ai.client.operation.time_to_first_chunk") == []
    stream(client, side)
    (point,) = otel.points("gen_ai.client.operation.time_to_first_chunk")
    streamed = otel.spans()[-1]
    assert point.count == 1
    assert 0 < point.sum <= (streamed.end_time - streamed.start_time) / 1e9
    assert point.sum == streamed.attributes["gen_ai.response.time_to_first_chunk"]
    assert otel.metric("gen_ai.client.operation.time_to_first_chunk").unit == "s"


def test_cost_counter_sums_usd_by_model_task_user_and_app(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    a = chat(client, side, task="qa", user="alice", app="web")
    b = chat(client, side, task="qa", user="alice", app="web")
    emulator.script(Reply(content="summary", model="deepseek-v3.2"))
    c = chat(client, side, model="deepseek-v3.2", task="summarization", app="web")
    metric = otel.metric("holysheep.cost")
    assert metric.unit == "USD" and metric.data.is_monotonic
    points = {tuple(sorted(p.attributes.items())): p.value for p in otel.points("holysheep.cost")}
    qa = (("gen_ai.response.model", "gpt-4.1"), ("holysheep.app", "web"),
          ("holysheep.task", "qa"), ("holysheep.user", "alice"))
    summary = (("gen_ai.response.model", "deepseek-v3.2"), ("holysheep.app", "web"),
               ("holysheep.task", "summarization"))
    assert set(points) == {qa, summary}
    assert points[qa] == pytest.approx(float(a.call_info.cost.total_usd
                                             + b.call_info.cost.total_usd))
    assert points[summary] == pytest.approx(float(c.call_info.cost.total_usd))


def test_an_unpriced_model_adds_no_cost_but_still_counts_tokens(otel: Telemetry) -> None:
    with (
        RelayEmulator(models=["mystery-model-1"]) as relay,
        HolySheepClient(api_key=FAKE_KEY, base_url=relay.base_url) as client,
        pytest.warns(UnknownModelPriceWarning),
    ):
        chat(client, "sync", model="mystery-model-1")
    assert otel.points("holysheep.cost") == []
    assert sum(p.count for p in otel.points("gen_ai.client.token.usage")) == 2
    assert "holysheep.cost.usd" not in otel.span().attributes
