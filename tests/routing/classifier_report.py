"""Accuracy and confusion matrix of the local classifier on ``classifier_eval.jsonl``.

Run ``python tests/routing/classifier_report.py`` (add ``--errors`` to list the misses) for the
numbers quoted in the routing note; ``test_classifier.py`` asserts the same accuracy floor.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVAL_FILE = Path(__file__).with_name("classifier_eval.jsonl")


@dataclass(frozen=True)
class Report:
    """Accuracy, confusion counts ``(gold, predicted) -> n`` and the misses of one run."""

    accuracy: float
    total: int
    confusion: Counter[tuple[str, str]]
    misses: list[tuple[dict[str, Any], str]]
    mean_ms: float
    max_ms: float


def load_eval(split: str | None = None) -> list[dict[str, Any]]:
    """The labelled prompts (``text``, ``label``, ``lang``, ``split``), optionally one split."""
    rows = [json.loads(line) for line in EVAL_FILE.read_text("utf-8").splitlines() if line]
    return [r for r in rows if split is None or r["split"] == split]


def evaluate(classifier: Any, rows: Iterable[dict[str, Any]]) -> Report:
    """Classify every row; time each call."""
    confusion: Counter[tuple[str, str]] = Counter()
    misses, times = [], []
    rows = list(rows)
    for row in rows:
        start = time.perf_counter()
        predicted = classifier.classify(row["text"])
        times.append((time.perf_counter() - start) * 1000)
        confusion[(row["label"], predicted)] += 1
        if predicted != row["label"]:
            misses.append((row, predicted))
    right = sum(n for (gold, pred), n in confusion.items() if gold == pred)
    return Report(
        accuracy=right / len(rows),
        total=len(rows),
        confusion=confusion,
        misses=misses,
        mean_ms=sum(times) / len(times),
        max_ms=max(times),
    )


def format_matrix(report: Report, labels: Iterable[str]) -> str:
    """The confusion matrix as text: rows are the gold labels, columns the predictions."""
    labels = list(labels)
    short = [label[:6] for label in labels]
    width = max(len(label) for label in labels)
    lines = [" " * width + " | " + " ".join(f"{s:>6}" for s in short) + " |  recall"]
    for gold in labels:
        counts = [report.confusion[(gold, pred)] for pred in labels]
        total = sum(counts) or 1
        cells = " ".join(f"{c:>6}" if c else f"{'.':>6}" for c in counts)
        lines.append(f"{gold:>{width}} | {cells} | {counts[labels.index(gold)] / total:6.1%}")
    return "\n".join(lines)


def route_agreement(report: Report) -> float:
    """Share of prompts whose predicted label routes to the gold label's first model."""
    from holysheep.routing import DEFAULT_ROUTES

    same = sum(
        n
        for (gold, pred), n in report.confusion.items()
        if DEFAULT_ROUTES[gold][0] == DEFAULT_ROUTES[pred][0]
    )
    return same / report.total


def main(argv: list[str]) -> int:
    from holysheep.routing import TASK_LABELS, LocalClassifier

    classifier = LocalClassifier()
    for split in ("dev", "holdout", "fresh", "fresh3", "fresh2", None):
        rows = load_eval(split)
        if not rows:
            continue
        report = evaluate(classifier, rows)
        print(
            f"{split or 'all'}: accuracy {report.accuracy:.1%} on {report.total} prompts; "
            f"{report.mean_ms:.3f} ms mean, {report.max_ms:.3f} ms max per prompt"
        )
    report = evaluate(classifier, load_eval())
    print(format_matrix(report, TASK_LABELS))
    for split in ("fresh2",):
        blind = evaluate(classifier, load_eval(split))
        print(f"\n{split} (never trained or tuned on):")
        print(format_matrix(blind, TASK_LABELS))
        print(f"same first model as the gold label's route: {route_agreement(blind):.1%}")
    if "--errors" in argv:
        only = next((a.split("=", 1)[1] for a in argv if a.startswith("--split=")), None)
        for row, predicted in report.misses:
            if only is None or row["split"] == only:
                text = row["text"].replace("\n", " ")[:110]
                print(f"  {row['label']:>15} -> {predicted:<15} [{row['split']}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
