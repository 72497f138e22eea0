"""A fleet on Redis: two worker processes share one job; one is killed, the other finishes it."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path

import redis
from holysheep.ledger import CostLedger
from holysheep.testing import RelayEmulator

from .conftest import cli, requests


def test_two_workers_one_killed_every_custom_id_done_exactly_once(
    emulator: RelayEmulator, redis_url: str, tmp_path: Path
) -> None:
    emulator.latency = 0.03
    count, concurrency = 40, 2
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(item) + "\n" for item in requests(count)))
    common = ("--journal", redis_url, "--job", "fleet", "--lease", "1",
              "--concurrency", str(concurrency))
    ledger = {"HOLYSHEEP_LEDGER": redis_url}  # every worker records into the same ledger
    doomed = cli(emulator, str(source), "-o", str(tmp_path / "a.jsonl"), *common, **ledger)
    survivor = cli(emulator, str(source), "-o", str(tmp_path / "b.jsonl"), *common, **ledger)
    store = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 60
    while store.hlen("holysheep:batch:fleet:ok") < 8:
        assert doomed.poll() is None and survivor.poll() is None, "a worker ended early"
        assert time.monotonic() < deadline, "the fleet made no progress"
        time.sleep(0.02)
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate(timeout=30)
    _, err = survivor.communicate(timeout=90)
    assert survivor.returncode == 0, err
    lines = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert Counter(line["custom_id"] for line in lines) == Counter(f"r{i}" for i in range(count))
    assert all(line["error"] is None for line in lines)
    assert store.hlen("holysheep:batch:fleet:answers") == count
    sent = Counter(r.json["messages"][0]["content"] for r in emulator.requests)
    assert set(sent) == {f"question {i}" for i in range(count)}
    assert sum(n - 1 for n in sent.values()) <= concurrency  # only the killed one's in flight
    with CostLedger(redis_url) as costs:
        recorded = sum(row.calls for row in costs.totals(["model"]))
    assert len(emulator.billed) - concurrency <= recorded <= len(emulator.billed)
    store.close()
