"""Rebuild ``holysheep/routing/data/task_model.json`` from the labelled prompts.

Run ``python tests/routing/train_classifier.py`` after editing ``classifier_eval.jsonl``. The
``fresh2`` split is never trained on: it was written after the classifier was built and measures
how it does on wording nobody tuned for. ``test_classifier.py`` checks the shipped file matches.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TRAIN_SPLITS = ("dev", "holdout", "fresh", "fresh3")
MODEL_FILE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "holysheep"
    / "routing"
    / "data"
    / "task_model.json"
)


def build(rows: list[dict[str, Any]]) -> dict[str, object]:
    """The model file's content for the training rows."""
    from holysheep.routing import TASK_LABELS
    from holysheep.routing._bayes import TaskModel, features
    from holysheep.routing._classifier import _split

    examples = []
    for row in rows:
        if row["split"] in TRAIN_SPLITS:
            first, last, _ = _split(row["text"])
            examples.append((features(first, last, len(row["text"])), row["label"]))
    model = TaskModel.fit(examples, TASK_LABELS)
    model["trained_on"] = f"{len(examples)} prompts, splits {', '.join(TRAIN_SPLITS)}"
    return model


def dumps(model: dict[str, object]) -> str:
    return json.dumps(model, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"


def main() -> int:
    sys.path.insert(0, str(Path(__file__).parent))
    from classifier_report import load_eval

    MODEL_FILE.write_text(dumps(build(load_eval())), encoding="utf-8")
    print(f"wrote {MODEL_FILE} ({MODEL_FILE.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
