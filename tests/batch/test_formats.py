"""Bulk-job files: OpenAI Batch API lines in and out, the short form, bad lines by number."""

from __future__ import annotations

import json
from pathlib import Path

from holysheep import HolySheepClient
from holysheep.batch import read_requests, result_line
from holysheep.testing import RelayEmulator

from .conftest import Runner


def _write(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_an_openai_batch_file_runs_unchanged_and_round_trips(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner, tmp_path: Path
) -> None:
    lines = [
        {"custom_id": f"task-{i}", "method": "POST", "url": "/v1/chat/completions",
         "body": {"model": "gpt-4.1", "max_tokens": 50,
                  "messages": [{"role": "user", "content": f"summarize {i}"}]}}
        for i in range(3)
    ]
    lines.append({"custom_id": "short", "messages": [{"role": "user", "content": "hi"}],
                  "task": "qa"})
    source = _write(tmp_path / "in.jsonl", lines)
    results, _ = run_batch(client, source, ordered=True)
    out = [json.loads(result_line(r)) for r in results]
    assert [o["custom_id"] for o in out] == ["task-0", "task-1", "task-2", "short"]
    for o in out:
        assert o["error"] is None and o["response"]["status_code"] == 200
        assert o["response"]["body"]["object"] == "chat.completion"
        assert o["response"]["body"]["choices"][0]["message"]["content"].startswith("Echo: ")
    assert out[0]["response"]["body"]["model"] == "gpt-4.1"
    routed = out[3]["response"]["body"]["model"]  # "auto" with task qa: the qa route's model
    assert routed == "gemini-2.5-flash" and emulator.requests[-1].json["model"] != "auto"


def test_a_bad_line_is_reported_with_its_number_and_the_rest_runs(
    client: HolySheepClient, run_batch: Runner, tmp_path: Path
) -> None:
    good = {"custom_id": "a", "model": "deepseek-v3.2",
            "messages": [{"role": "user", "content": "hi"}]}
    source = _write(tmp_path / "in.jsonl", [
        good, "", "{broken json", {**good, "custom_id": "b"},
        {"custom_id": "emb", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}},
        "[1, 2]",
    ])
    results, summary = run_batch(client, source)
    by_id = {r.custom_id: r for r in results}
    assert by_id["a"].ok and by_id["b"].ok
    assert "line 3" in str(by_id["line-3"].error) and "JSON" in str(by_id["line-3"].error)
    assert "line 5" in str(by_id["emb"].error) and "/v1/chat/completions" in str(by_id["emb"].error)
    assert "line 6" in str(by_id["line-6"].error)
    assert summary.requests == 5 and summary.failed == 3  # the blank line is no request
    error_line = json.loads(result_line(by_id["emb"]))
    assert error_line["response"] is None and error_line["error"]["code"] == "invalid_batch_line"


def test_files_are_read_one_line_at_a_time(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", [
        {"custom_id": str(i), "messages": [{"role": "user", "content": "x"}]} for i in range(3)
    ])
    reader = read_requests(source, model="gpt-4.1")
    first = next(reader)  # a generator: nothing past the first line is parsed yet
    assert first.custom_id == "0" and first.body["model"] == "gpt-4.1" and first.seq == 0
    assert [r.custom_id for r in reader] == ["1", "2"]


def test_a_journal_record_keeps_a_task_name_with_a_lone_surrogate() -> None:
    """The fast (Rust) record encoder refuses lone surrogates: the record still round-trips."""
    from holysheep.batch._records import decode_ok, encode_ok
    from holysheep.calls import Attribution, CallInfo
    from holysheep.wire import ChatCompletion

    completion = ChatCompletion.model_validate({"id": "c1", "choices": []})
    info = CallInfo(id="a", requested_model="m", model="m", usage=None, cost=None,
                    attribution=Attribution(task="t\udc80é"), latency_s=0.0, attempts=1,
                    streamed=False)
    again, again_info = decode_ok(encode_ok(completion, info))
    assert again.id == "c1"
    assert again_info is not None and again_info.attribution.task == "t\udc80é"


def test_a_job_leaves_the_callers_requests_as_they_were(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner
) -> None:
    """Parsing takes the body without our own keys; the caller's dicts are never edited."""
    items = [{"custom_id": "a", "task": "qa", "metadata": {"team": "x"}, "stream": True,
              "model": "deepseek-v3.2", "messages": [{"role": "user", "content": "hi"}]}]
    before = json.loads(json.dumps(items))
    results, _ = run_batch(client, items)
    assert results[0].ok and items == before
    sent = emulator.requests[-1].json
    assert "custom_id" not in sent and "metadata" not in sent and "task" not in sent
    assert not sent.get("stream")


def test_a_file_line_becomes_its_own_body_without_our_keys(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", [
        {"custom_id": "a", "task": "qa", "app": "web", "metadata": {"n": 1}, "stream": True,
         "stream_options": {"include_usage": True}, "temperature": 0,
         "messages": [{"role": "user", "content": "x"}]},
        {"custom_id": 7, "model": "", "messages": []},
    ])
    first, second = read_requests(source, model="gpt-4.1")
    assert first.body == {"temperature": 0, "messages": [{"role": "user", "content": "x"}],
                          "model": "gpt-4.1"}
    assert (first.task, first.app, dict(first.tags)) == ("qa", "web", {"n": "1"})
    assert second.custom_id == "7" and second.body["model"] == "gpt-4.1"
    assert dict(second.tags) == {}


def test_a_record_keeps_every_usage_and_cost_field() -> None:
    """The record's fields are spelled out in ``encode_ok``; decoding finds each one again."""
    from decimal import Decimal

    from holysheep.batch._records import decode_ok, encode_ok
    from holysheep.calls import Attribution, CallInfo
    from holysheep.costs import Cost
    from holysheep.usage import Usage
    from holysheep.wire import ChatCompletion

    completion = ChatCompletion.model_validate({"id": "c1", "choices": []})
    cost = Cost("m", Decimal("0.1"), Decimal("0.02"), Decimal("0.3"), Decimal("0.42"),
                Decimal("3.066"))
    info = CallInfo(id="a", requested_model="auto", model="m", usage=Usage(10, 5, 16, 4, 2),
                    cost=cost, attribution=Attribution(task="qa"), latency_s=1.0, attempts=2,
                    streamed=False, request_id="req-1", estimated=True, created=1_767_225_600)
    _, again = decode_ok(encode_ok(completion, info))
    assert again is not None
    assert (again.usage, again.cost, again.request_id, again.estimated, again.created) == (
        info.usage, cost, "req-1", True, 1_767_225_600)
    assert (again.requested_model, again.model, again.attribution.task) == ("auto", "m", "qa")
