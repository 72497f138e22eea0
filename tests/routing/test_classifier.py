# ruff: noqa: RUF001  (multilingual prompts)
"""The task classifiers: accuracy on the labelled prompts, speed, and the optional LLM one.

``classifier_eval.jsonl`` has prompts in several languages and lengths. Splits: ``dev``,
``holdout``, ``fresh``, ``fresh3`` were used to write the cues and train the learned model;
``fresh2`` was never trained on; ``train4`` is extra training data for candidate models.
``classifier_heldout.jsonl`` is never trained or tuned on: its accuracy is the honest estimate
of how the classifier does on new wording, and its floor here (the measured 91.0% less 5
points) catches regressions. ``classifier_report.py`` prints the full report and the protocol.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from holysheep import HolySheepClient
from holysheep.catalog import ModelCatalog
from holysheep.routing import (
    TASK_LABELS,
    LLMClassifier,
    LocalClassifier,
    TaskRouter,
    cheapest_model,
)
from holysheep.testing import RelayEmulator

from tests.routing.classifier_report import evaluate, format_matrix, load_eval, load_heldout
from tests.routing.train_classifier import MODEL_FILE, build, dumps

ROWS = load_eval()
HELDOUT = load_heldout()


def test_the_eval_set_is_large_and_varied() -> None:
    assert len(ROWS) >= 300
    labels = Counter(r["label"] for r in ROWS)
    assert set(labels) == set(TASK_LABELS) and min(labels.values()) >= 30
    languages = Counter(r["lang"] for r in ROWS)
    assert {"en", "zh", "es", "fr", "de", "ja"} <= set(languages)
    assert sum(1 for r in ROWS if len(r["text"]) > 1000) >= 15
    assert sum(1 for r in ROWS if len(r["text"]) < 40) >= 20
    assert len({r["text"] for r in ROWS}) == len(ROWS)


def test_accuracy_on_the_eval_set() -> None:
    classifier = LocalClassifier()
    report = evaluate(classifier, ROWS)
    print(f"\naccuracy {report.accuracy:.1%} on {report.total} prompts")
    print(format_matrix(report, TASK_LABELS))
    assert report.accuracy >= 0.90


def test_the_heldout_set_is_balanced_varied_and_separate() -> None:
    assert len(HELDOUT) == 200
    assert Counter(r["label"] for r in HELDOUT) == dict.fromkeys(TASK_LABELS, 20)
    assert sum(1 for r in HELDOUT if r["lang"] != "en") >= 0.3 * len(HELDOUT)
    assert sum(1 for r in HELDOUT if "\n\n" in r["text"]) >= 30
    assert len({r["text"] for r in HELDOUT}) == len(HELDOUT)
    assert not {r["text"] for r in HELDOUT} & {r["text"] for r in ROWS}


def test_accuracy_on_the_heldout_set() -> None:
    report = evaluate(LocalClassifier(), HELDOUT)
    print(f"\nheld-out: {report.accuracy:.1%} on {report.total} prompts")
    print(format_matrix(report, TASK_LABELS))
    assert report.accuracy >= 0.86  # measured 91.0%, less 5 points, rounded down


def test_accuracy_on_wording_never_tuned_for() -> None:
    blind = [r for r in ROWS if r["split"] == "fresh2"]
    learned = evaluate(LocalClassifier(), blind)
    cues_only = evaluate(LocalClassifier(learned=False), blind)
    print(f"\nfresh2: {learned.accuracy:.1%} (cues alone {cues_only.accuracy:.1%})")
    assert learned.accuracy >= 0.70
    assert learned.accuracy > cues_only.accuracy + 0.15


def _best_of(fn: Any, arg: Any, rounds: int = 5) -> float:
    """The fastest of ``rounds`` runs: the machine is shared, noise is not the classifier."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn(arg)
        best = min(best, time.perf_counter() - start)
    return best


def test_a_prompt_costs_about_as_much_as_reading_it() -> None:
    """Ratios against work measured in the same run; the absolute figures (under 0.5 ms a
    prompt) are in ``classifier_report.py``, where a busy machine cannot fail CI."""
    classifier = LocalClassifier()
    classifier.classify("warm up: load the model")
    ratios = []
    for row in ROWS:
        text = row["text"]
        # the baseline: one lower-casing, split and set of the same text, the least any
        # word-cue classifier must do
        baseline = _best_of(lambda t: set(t.lower().split()), text)
        ratios.append(_best_of(classifier.classify, text) / max(baseline, 1e-7))
    ratios.sort()
    assert statistics.median(ratios) < 400, statistics.median(ratios)


def test_a_huge_prompt_is_read_only_in_part() -> None:
    classifier = LocalClassifier()
    normal = "Summarize this:\n" + "The committee met again. " * 40
    huge = "Summarize this:\n" + "The committee met again. " * 20_000  # ~100k tokens
    assert classifier.classify(huge) == "summarization"
    # 500x the text may not cost 500x the time: the classifier caps what it reads
    assert _best_of(classifier.classify, huge) < 25 * _best_of(classifier.classify, normal)


def test_deterministic_and_total() -> None:
    classifier = LocalClassifier()
    for text in ("", "   ", "?", "🙂", "x" * 10, "1 2 3"):
        assert classifier.classify(text) in TASK_LABELS
    assert [classifier.classify(r["text"]) for r in ROWS[:50]] == [
        classifier.classify(r["text"]) for r in ROWS[:50]
    ]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("请把这段话翻译成法语：我们明天见。", "translation"),
        ("Fasse den folgenden Bericht in drei Sätzen zusammen: ...", "summarization"),
        ("¿Cuál es la montaña más alta de África?", "qa"),
        ("Écris une fonction Python qui calcule la moyenne d'une liste.", "code-generation"),
        ("この文章から日付を抽出してください：6月1日と7月3日", "extraction"),
        ("Is this email a phishing attempt? 'verify your account now'", "safety-review"),
    ],
)
def test_languages(text: str, label: str) -> None:
    assert LocalClassifier().classify(text) == label


def test_router_classifies_the_last_user_message() -> None:
    router = TaskRouter()
    chat = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Translate 'thank you' into German."},
        {"role": "assistant", "content": "Danke."},
        {"role": "user", "content": "Now write a Python function that reverses a string."},
    ]
    assert router.classify(chat) == "code-generation"
    assert (
        router.classify([{"role": "user", "content": [{"type": "text", "text": "hi!"}]}])
        == "conversational"
    )


def test_the_shipped_model_matches_its_training_data() -> None:
    assert MODEL_FILE.read_text(encoding="utf-8") == dumps(build(ROWS)), (
        "run python tests/routing/train_classifier.py"
    )
    assert Path(MODEL_FILE).stat().st_size < 1_000_000


def test_cheapest_model() -> None:
    catalog = ModelCatalog.default()
    assert cheapest_model(catalog) in ("gpt-4.1-nano", "gemini-2.5-flash-lite")
    assert cheapest_model(catalog, served=["gpt-4.1", "deepseek-v3.2"]) == "deepseek-v3.2"
    with pytest.raises(ValueError):
        cheapest_model(catalog, served=["nothing-priced"])


class Model:
    """A stand-in for ``complete(prompt)``: scripted answers, counts calls."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_llm_classifier_caches_and_parses() -> None:
    model = Model("Label: Safety-Review.", "qa")
    classifier = LLMClassifier(model)
    assert classifier.classify("is this ok?") == "safety-review"
    assert classifier.classify("is this ok?") == "safety-review"  # cached: no second call
    assert len(model.prompts) == 1 and "safety-review" in model.prompts[0]
    assert classifier.classify("something else") == "qa"


def test_llm_classifier_falls_back_to_local() -> None:
    model = Model(RuntimeError("relay down"), "banana", "banana")
    classifier = LLMClassifier(model)
    text = "Translate 'cat' into Spanish"
    assert classifier.classify(text) == "translation"  # error: local answer
    assert classifier.classify(text) == "translation"  # off-list: local answer, not cached
    assert len(model.prompts) == 2


def test_llm_cache_is_bounded() -> None:
    classifier = LLMClassifier(lambda prompt: "qa", cache_size=2)
    for i in range(5):
        classifier.classify(f"question {i}")
    assert len(classifier._cache) == 2


def test_llm_classifier_on_the_relay(emulator: RelayEmulator) -> None:
    from tests.conftest import FAKE_KEY

    emulator.script("summarization")
    with HolySheepClient(api_key=FAKE_KEY, base_url=emulator.base_url) as client:
        classifier = LLMClassifier.from_client(client, served=emulator.models)
        router = TaskRouter(classifier=classifier)
        assert router.classify("hello there") == "summarization"
    assert classifier.model == "gpt-4o-mini"  # the cheapest model the relay serves
    (request,) = [r for r in emulator.requests if r.path.endswith("/chat/completions")]
    assert request.json["model"] == "gpt-4o-mini" and request.json["max_tokens"] == 8
