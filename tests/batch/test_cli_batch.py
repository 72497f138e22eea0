"""``holysheep batch``: a file in, OpenAI Batch lines out, resume after SIGKILL, ``--status``."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest
from holysheep.cli import main
from holysheep.testing import RelayEmulator

from .conftest import KEY, cli, requests


@pytest.fixture
def relay_env(emulator: RelayEmulator, monkeypatch: pytest.MonkeyPatch) -> RelayEmulator:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", KEY)
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", emulator.base_url)
    return emulator


def _input(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def _output(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_file_runs_and_a_rerun_rewrites_the_same_output_for_free(
    relay_env: RelayEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _input(tmp_path / "in.jsonl", requests(6, distinct=3))
    out = tmp_path / "out.jsonl"
    argv = ["batch", str(source), "-o", str(out), "--ordered", "--concurrency", "4"]
    assert main(argv) == 0
    first = _output(out)
    assert [line["custom_id"] for line in first] == [f"r{i}" for i in range(6)]
    err = capsys.readouterr().err
    assert "6 requests: 6 succeeded, 0 failed" in err and "3 deduplicated" in err
    assert "relay ¥" in err and "direct ¥" in err
    assert main(argv) == 0
    assert _output(out) == first and len(relay_env.billed) == 3
    assert "6 already done" in capsys.readouterr().err
    assert main(["batch", "--status", "-o", str(out)]) == 0
    assert "6 of 6 requests answered (100%)" in capsys.readouterr().out
    assert (tmp_path / "out.jsonl.journal.db").exists()


def test_exit_status_is_non_zero_only_when_requests_failed(
    relay_env: RelayEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _input(tmp_path / "in.jsonl", requests(3))
    with source.open("a") as handle:
        handle.write("not json\n")
    assert main(["batch", str(source), "-o", str(tmp_path / "out.jsonl")]) == 1
    assert "1 failed (1 BadRequestError)" in capsys.readouterr().err
    unsent = _input(tmp_path / "big.jsonl", requests(5, model="gpt-4.1", max_tokens=5000))
    code = main(["batch", str(unsent), "-o", str(tmp_path / "o2.jsonl"), "--budget", "0.01"])
    err = capsys.readouterr().err
    assert code == 0 and "left unsent by the budget" in err and "raise --budget" in err


def test_plain_progress_lines_when_not_a_terminal(
    relay_env: RelayEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _input(tmp_path / "in.jsonl", requests(2))
    assert main(["batch", str(source), "-o", str(tmp_path / "out.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "2/2 done: 2 ok, 0 failed, 0 dedup" in err and "/s" in err  # the final status line
    assert "\x1b[" not in err  # no terminal control codes in a log


def test_usage_mistakes_are_one_line(
    relay_env: RelayEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _input(tmp_path / "in.jsonl", requests(1))
    assert main(["batch", str(source)]) == 1
    assert "-o OUT.jsonl" in capsys.readouterr().err
    assert main(["batch", str(source), "-o", str(source)]) == 1
    out = tmp_path / "o.jsonl"
    assert main(["batch", str(source), "-o", str(out), "--journal", "redis://x:1/0"]) == 1
    assert "--job" in capsys.readouterr().err
    assert not out.exists()  # a usage mistake leaves nothing behind
    assert main(["batch", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o")]) == 1
    assert "missing.jsonl" in capsys.readouterr().err


def _answered(journal: Path) -> set[str]:
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5) as conn:
            return {row[0] for row in conn.execute("SELECT custom_id FROM marks WHERE ok=1")}
    except sqlite3.Error:  # not created yet
        return set()


def test_sigkill_mid_job_then_resume_pays_no_finished_request_twice(
    relay_env: RelayEmulator, tmp_path: Path
) -> None:
    relay_env.latency = 0.03
    count, concurrency = 80, 4
    source = _input(tmp_path / "in.jsonl", requests(count))
    out, journal = tmp_path / "out.jsonl", tmp_path / "out.jsonl.journal.db"
    worker = cli(relay_env, str(source), "-o", str(out), "--concurrency", str(concurrency))
    deadline = time.monotonic() + 60
    while len(_answered(journal)) < 15:
        assert worker.poll() is None, worker.communicate()
        assert time.monotonic() < deadline, "the job made no progress"
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=30)
    done_before = _answered(journal)
    assert 15 <= len(done_before) < count
    assert main(["batch", str(source), "-o", str(out), "--concurrency", str(concurrency)]) == 0
    lines = _output(out)
    assert sorted(line["custom_id"] for line in lines) == sorted(f"r{i}" for i in range(count))
    assert all(line["error"] is None for line in lines)
    sent = Counter(r.json["messages"][0]["content"] for r in relay_env.requests)
    assert all(sent[f"question {cid[1:]}"] == 1 for cid in done_before)  # never paid twice
    assert len(relay_env.billed) <= count + concurrency  # at most the calls in flight again
