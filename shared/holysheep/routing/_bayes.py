# ruff: noqa: RUF001  (multilingual text: full-width punctuation is meant)
"""A small multinomial naive-Bayes model over the instruction's words, for the local classifier.

Why: hand-written cues name a task well ("translate", 总结) but miss paraphrases ("make this
shorter", "what do you make of it"). A bag of words and word pairs learned from labelled prompts
generalises to such wording; its log-probabilities are added to the cue scores. The counts ship
in ``data/task_model.json``, built by ``tests/routing/train_classifier.py`` from the labelled
prompts in ``tests/routing/classifier_eval.jsonl`` (never from its ``fresh2`` split, which is
kept unseen to measure generalisation). Loading is lazy: the first ``classify`` pays ~10 ms.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping
from importlib import resources

__all__ = ["TaskModel", "features", "load_model"]

_WORD = re.compile(r"[a-z\u00df-\u024f\u0430-\u045f][a-z0-9\u00df-\u024f\u0430-\u045f'’+#-]*")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+")
_QUOTED = re.compile(r"['\"‘“«「].{3,}['\"’”»」]")
_MODEL_FILE = "task_model.json"
INSTRUCTION_CHARS = 60
"""Characters of the first (and last) line used: the instruction, not the pasted material."""


def features(first: str, last: str, length: int) -> dict[str, float]:
    """Bag of features of an instruction (its first and last lines, lower-cased).

    Words and word pairs (Latin/Cyrillic), characters and character pairs (CJK), a question
    mark, a quoted span and the prompt's length bucket; only the first ``INSTRUCTION_CHARS``
    of the first line and the last ones of the last line count, the last line at 0.75.
    """
    out: dict[str, float] = {}
    first, last = first[:INSTRUCTION_CHARS], last[-INSTRUCTION_CHARS:]

    def add(name: str, weight: float) -> None:
        if out.get(name, 0.0) < weight:
            out[name] = weight

    for region, weight in ((first, 1.0), (last, 0.75)):
        if not region:
            continue
        words = _WORD.findall(region)
        for word in words:
            add("w:" + word, weight)
        for a, b in itertools.pairwise(words):
            add(f"b:{a} {b}", weight)
        for run in _CJK.findall(region):
            for i, char in enumerate(run):
                add("c:" + char, weight)
                if i + 1 < len(run):
                    add("d:" + run[i : i + 2], weight)
        if "?" in region or "？" in region:
            add("?", weight)
    if _QUOTED.search(first + "\n" + last):
        add("quote", 1.0)
    add("len:" + ("s" if length < 60 else "m" if length < 300 else "l"), 1.0)
    return out


class TaskModel:
    """Naive-Bayes log-likelihoods per label, from feature counts (Laplace-smoothed)."""

    def __init__(
        self,
        labels: Iterable[str],
        counts: Mapping[str, Iterable[float]],
        alpha: float = 0.3,
    ) -> None:
        """``counts`` maps a feature to its (weighted) count under each label, in order."""
        self.labels = tuple(labels)
        rows = {f: tuple(float(c) for c in row) for f, row in counts.items()}
        totals = [sum(row[i] for row in rows.values()) for i in range(len(self.labels))]
        size = len(rows)
        self._log = {
            f: tuple(
                math.log((row[i] + alpha) / (totals[i] + alpha * size))
                for i in range(len(self.labels))
            )
            for f, row in rows.items()
        }

    def log_posteriors(self, feats: Mapping[str, float]) -> dict[str, float]:
        """Normalised log P(label | features), uniform prior; unknown features are ignored."""
        sums = [0.0] * len(self.labels)
        for name, weight in feats.items():
            row = self._log.get(name)
            if row is not None:
                for i, value in enumerate(row):
                    sums[i] += weight * value
        top = max(sums)
        norm = top + math.log(sum(math.exp(s - top) for s in sums))
        return {label: s - norm for label, s in zip(self.labels, sums, strict=True)}

    @classmethod
    def fit(
        cls, examples: Iterable[tuple[Mapping[str, float], str]], labels: Iterable[str]
    ) -> dict[str, object]:
        """Counts for ``examples`` of (features, label), as stored in the model file."""
        labels = tuple(labels)
        index = {label: i for i, label in enumerate(labels)}
        counts: dict[str, list[float]] = {}
        for feats, label in examples:
            for name, weight in feats.items():
                counts.setdefault(name, [0.0] * len(labels))[index[label]] += weight
        return {
            "labels": list(labels),
            "counts": {f: [round(c, 2) for c in row] for f, row in sorted(counts.items())},
        }


@functools.cache
def load_model() -> TaskModel | None:
    """The shipped model, or None when its file is missing (the cues then decide alone)."""
    try:
        text = (
            resources.files("holysheep.routing")
            .joinpath("data", _MODEL_FILE)
            .read_text(encoding="utf-8")
        )
    except (FileNotFoundError, OSError):
        return None
    data = json.loads(text)
    return TaskModel(data["labels"], data["counts"])
