# ruff: noqa: RUF001  (multilingual prompts)
"""The task classifiers: accuracy floors, calibrated confidence, speed, the LLM one.

The model is trained by ``scripts/train_classifier.py`` on ``tests/routing/corpus/`` (public
sources with their licences, see its README) and all of ``classifier_eval.jsonl``; the
leave-one-source-out numbers are in ``classifier_loso.md`` (their floors are checked here).
Three blind sets were scored once, after every choice of the fourth round was made:
``classifier_heldout.jsonl`` (measured 93.0%), ``corpus/blind.jsonl`` (95.8% on 382) and the
fresh ``classifier_blind4.jsonl`` (92.0% on 250, sources nobody here had read); their floors
here catch regressions.
``classifier_report.py`` prints the full report and the protocol.
"""

from __future__ import annotations

import importlib.util
import json
import re
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
    Classification,
    LLMClassifier,
    LocalClassifier,
    TaskRouter,
    cheapest_model,
)
from holysheep.testing import RelayEmulator

from tests.routing.classifier_report import evaluate, format_matrix, load_eval, load_heldout

ROWS = load_eval()
HELDOUT = load_heldout()
ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).with_name("corpus")
BLIND = load_eval(path=CORPUS / "blind.jsonl")
BLIND4 = load_eval(path=Path(__file__).with_name("classifier_blind4.jsonl"))
"""The fourth round's fresh blind set (ASDiv, ETHOS): sources no one had read, never trained on."""
MODEL_FILE = ROOT / "shared" / "holysheep" / "routing" / "data" / "task_linear.json"
LOSO_MEAN_FLOOR = 84.0
"""Leave-one-source-out mean over 27 sources (%): 86.1 measured for the shipped model, less two
points (issue #13's target is 85)."""
LOSO_WORST_FLOOR = 65.0
"""The worst source (%): 69.8 measured (aqua_rat), less about five; issue #13's floor is 60."""
BLIND4_FLOOR = 0.88
"""The fresh blind set, scored once after every choice of the fourth round: 92.0%, less 4 points."""


def _training_script() -> Any:
    path = ROOT / "scripts" / "train_classifier.py"
    spec = importlib.util.spec_from_file_location("train_classifier", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    assert report.accuracy >= 0.90  # 93.0% (before #13: 91.0%; rounds 2-3: 94.0%, 93.5%)


def test_accuracy_on_the_corpus_blind_set() -> None:
    assert len(BLIND) >= 300 and len({r["source"] for r in BLIND}) >= 20
    assert not {r["text"] for r in BLIND} & {r["text"] for r in ROWS}
    report = evaluate(LocalClassifier(), BLIND)
    print(f"\ncorpus blind: {report.accuracy:.1%} on {report.total} prompts")
    assert report.accuracy >= 0.90  # measured 95.8% on 382 prompts (third round: 94.3% on 334)


def test_the_fresh_blind_set_is_separate_from_everything_trained_on() -> None:
    script = _training_script()
    trained = {r["text"] for r in script.load_corpus()}
    sources = {r["source"] for r in BLIND4}
    assert len(BLIND4) >= 200 and sources == {"asdiv", "ethos"}
    assert not {r["text"] for r in BLIND4} & (trained | {r["text"] for r in BLIND + HELDOUT})
    assert not sources & {r["source"] for r in script.load_corpus()}


def test_accuracy_on_the_fresh_blind_set() -> None:
    report = evaluate(LocalClassifier(), BLIND4)
    print(f"\nfresh blind: {report.accuracy:.1%} on {report.total} prompts")
    print(format_matrix(report, TASK_LABELS))
    assert report.accuracy >= BLIND4_FLOOR


def test_confident_labels_are_right_and_confidence_is_calibrated() -> None:
    """The default threshold keeps most prompts, and 95% of those kept are right; the mean
    confidence is close to the accuracy (calibration) on prompts never trained on."""
    classifier = LocalClassifier()
    rows = HELDOUT + BLIND
    results = [classifier.classify_with_confidence(r["text"]) for r in rows]
    right = [c.label == r["label"] for c, r in zip(results, rows, strict=True)]
    kept = [ok for ok, c in zip(right, results, strict=True) if c.confident]
    assert all(0.0 <= c.confidence <= 1.0 for c in results)
    assert len(kept) >= 0.6 * len(rows) and sum(kept) >= 0.95 * len(kept)
    unsure = [ok for ok, c in zip(right, results, strict=True) if not c.confident]
    assert sum(unsure) / len(unsure) < sum(kept) / len(kept)  # confidence sorts right from wrong
    mean_confidence = sum(c.confidence for c in results) / len(results)
    assert abs(mean_confidence - sum(right) / len(right)) < 0.15


def test_rerunning_the_training_script_keeps_the_reports_narrative() -> None:
    """The narrative (rounds, what was tried, blind scores) lives in its own file, which the
    training script appends: the committed report is exactly what a rerun writes."""
    notes = Path(__file__).with_name("classifier_loso_notes.md").read_text("utf-8").rstrip()
    report = Path(__file__).with_name("classifier_loso.md").read_text("utf-8")
    assert notes and report.rstrip().endswith(notes)
    assert "NOTES_PATH" in (ROOT / "scripts" / "train_classifier.py").read_text("utf-8")


def test_the_leave_one_source_out_report_is_current() -> None:
    """The committed report states the per-source table the shipped model was judged by."""
    report = Path(__file__).with_name("classifier_loso.md").read_text("utf-8")
    model = json.loads(MODEL_FILE.read_text("utf-8"))
    sources = {p.stem for p in CORPUS.glob("*.jsonl")} - {"blind"} | {"project_eval"}
    assert all(f"| {source} |" in report for source in sources)
    assert f"threshold {model['threshold']}" in report


def test_the_leave_one_source_out_floor() -> None:
    """On prompt sources the shipped model's training never saw (each predicted by a model
    fitted without it), the committed report's mean and worst source stay above their floors,
    and its confident predictions stay 95% right: a retrain that generalizes worse fails here."""
    report = Path(__file__).with_name("classifier_loso.md").read_text("utf-8")
    mean = re.search(r"mean accuracy over sources: \*\*([\d.]+)%", report)
    worst = re.search(r"worst source: \*\*\S+ ([\d.]+)%", report)
    confident = re.search(r"confident, ([\d.]+)% of those right", report)
    assert mean and worst and confident, "the report's summary lines changed"
    assert float(mean.group(1)) >= LOSO_MEAN_FLOOR
    assert float(worst.group(1)) >= LOSO_WORST_FLOOR
    assert float(confident.group(1)) >= 95.0
    sources = len({p.stem for p in CORPUS.glob("*.jsonl")} - {"blind"})
    assert sources >= 20  # many independent sources, not paraphrases of a few


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


def test_a_passage_naming_languages_is_not_a_translation_request() -> None:
    """A long last line is the pasted text: the languages it talks about are not a target."""
    passage = (
        "The Huguenots who settled in New York spoke French at home, but within two generations "
        "most families had switched to English and Dutch; German-language churches nearby "
        "followed the same path, and by 1750 services in French had all but stopped in the "
        "colony, as the settlers married into English families and joined Anglican parishes."
    )
    classifier = LocalClassifier()
    extract = "List every date and place named in this paragraph.\n" + passage
    assert classifier.classify(extract) == "extraction"
    # before: the passage's "German-language" and "English families" made this a translation
    assert classifier.classify("Which people and places does this mention?\n" + passage) != (
        "translation"
    )
    assert classifier.classify("Translate this paragraph into German.\n" + passage) == (
        "translation"
    )


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
        ("Πότε ιδρύθηκε το Πανεπιστήμιο της Αθήνας;", "qa"),  # Greek ';' is a question mark
        ("Merhaba, nasılsın? Bugün neler yaptın?", "conversational"),
        ("Find all *.log files under /var/log older than a week, delete them", "code-generation"),
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


def test_the_shipped_model_was_trained_on_the_committed_corpus() -> None:
    script = _training_script()
    model = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert model["trained_on"]["corpus_sha256_16"] == script.fingerprint(script.load_corpus()), (
        "run python scripts/train_classifier.py"
    )
    assert MODEL_FILE.stat().st_size < 1_000_000


def test_every_corpus_row_names_its_source_and_licence() -> None:
    readme = (CORPUS / "README.md").read_text("utf-8")
    for path in CORPUS.glob("*.jsonl"):
        for row in load_eval(path=path):
            assert row["label"] in TASK_LABELS and row["text"].strip()
            assert row["licence"] and row["origin"] and f"`{row['source']}`" in readme


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


UNSURE = "hmm"  # too little to go on: the local model is not confident
SURE = "Translate 'good morning' into German."


def test_classify_with_confidence_and_the_plain_label() -> None:
    router = TaskRouter()
    result = router.classify(SURE, with_confidence=True)
    assert isinstance(result, Classification) and result.label == "translation"
    assert result.confident and result.by == "classifier" and result.confidence > 0.8
    assert router.classify(SURE) == "translation"  # the plain form stays a string
    unsure = router.classify(UNSURE, with_confidence=True)
    assert not unsure.confident and unsure.confidence < result.confidence
    assert unsure.label == unsure.predicted  # default policy: the label anyway


def test_low_confidence_goes_to_the_default_route() -> None:
    router = TaskRouter(low_confidence="default", default_task="analysis")
    result = router.classify(UNSURE, with_confidence=True)
    assert (result.label, result.by) == ("analysis", "default")
    assert router.route(UNSURE).task == "analysis"
    assert router.classify(SURE) == "translation"  # sure labels are kept
    strict = TaskRouter(low_confidence="default", confidence_threshold=1.0)
    assert strict.classify(SURE) == "conversational"  # nothing is sure at threshold 1


def test_low_confidence_asks_the_llm_only_when_unsure() -> None:
    model = Model("code-generation")
    router = TaskRouter(low_confidence="llm", llm_classifier=LLMClassifier(model))
    assert router.classify(SURE) == "translation"
    result = router.classify(UNSURE, with_confidence=True)
    assert (result.label, result.by) == ("code-generation", "llm")
    assert router.classify(UNSURE) == "code-generation"  # cached: one model call in all
    assert len(model.prompts) == 1


def test_low_confidence_settings_are_checked() -> None:
    from holysheep.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="one of"):
        TaskRouter(low_confidence="guess")
    with pytest.raises(ConfigurationError, match="llm_classifier"):
        TaskRouter(low_confidence="llm")
    with pytest.raises(ConfigurationError, match="between 0 and 1"):
        TaskRouter(confidence_threshold=1.5)
    router = TaskRouter.from_dict(
        {"routes": {}, "low_confidence": "default", "confidence_threshold": 0.9}
    )
    assert (router.low_confidence, router.confidence_threshold) == ("default", 0.9)


def test_the_llm_classifier_bills_its_calls_under_routing(emulator: RelayEmulator) -> None:
    from holysheep.ledger import CostLedger

    from tests.conftest import FAKE_KEY

    emulator.script("qa")
    ledger = CostLedger("memory")
    with HolySheepClient(api_key=FAKE_KEY, base_url=emulator.base_url, ledger=ledger) as client:
        classifier = LLMClassifier.from_client(client, served=emulator.models)
        router = TaskRouter(low_confidence="llm", llm_classifier=classifier)
        assert router.classify(UNSURE) == "qa"
    (entry,) = ledger.entries()
    assert entry.task == "routing" and entry.requested_model == "gpt-4o-mini"


def test_importing_the_router_compiles_no_cue_tables() -> None:
    """The cue regexes and feature patterns compile on the first prompt, not on import, so
    ``import holysheep.routing`` stays cheap for code that never classifies."""
    import subprocess
    import sys

    probe = (
        "import holysheep.routing as r\n"
        "from holysheep.routing import _classifier as c, _features as f\n"
        "print(c._tables.cache_info().currsize, f._patterns.cache_info().currsize)\n"
        "r.LocalClassifier().classify('Translate hello into French')\n"
        "print(c._tables.cache_info().currsize, f._patterns.cache_info().currsize)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[:2] == ["0 0", "1 1"]
