# ruff: noqa: RUF001  (multilingual cues: full-width and curly punctuation are meant)
"""Task classifiers: a fast local one (default) and an optional LLM one behind a flag.

Why local by default: routing happens before every call, so labelling a prompt must cost far
less than the call itself and must never need the network. Hand-written cues (words, word
prefixes, phrases in six languages, code and math shapes, length) score each label; a learned
linear model (``_linear``) reads those scores next to the instruction's words and returns a
label with a calibrated confidence. Deterministic, well under a millisecond a prompt. Cues in
the instruction (the first and the last line) count fully; in pasted material only its words
count, at a quarter, so "Summarize this: <an article about code>" stays a summary.

``LLMClassifier`` asks a model (the cheapest in the catalogue by default) and caches answers;
it falls back to the local classifier when the model fails or answers off-list.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from holysheep.routing._cues import PHRASES, PREFIXES, WORDS
from holysheep.routing._features import features
from holysheep.routing._linear import LinearModel, load_model
from holysheep.routing._routes import TASK_LABELS
from holysheep.routing._signals import PASSAGE_LINE, greek_question

__all__ = [
    "Classification",
    "Classifier",
    "LLMClassifier",
    "LocalClassifier",
    "cheapest_model",
    "classification_text",
    "cue_scores",
]

_BODY_WEIGHT = 0.25
_LAST_LINE_WEIGHT = 0.75
_CHAT_CHARS = 300
_HEAD_CHARS = 300
_BODY_CHARS = 1000
_BODY_PHRASE_CHARS = 0  # phrases are searched in the instruction only
_WORD = r"[a-z\u00df-\u024f\u0430-\u045f][a-z0-9\u00df-\u024f\u0430-\u045f'’+#;-]*"
"""Latin and Cyrillic words (lower-cased); CJK text is matched by phrase cues instead."""
_MIN_SCORE = 1.0


@runtime_checkable
class Classifier(Protocol):
    """Anything that labels a prompt with one of ``TASK_LABELS``."""

    def classify(self, text: str) -> str:
        """The task label of ``text``."""
        ...


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) for p in content if isinstance(p, Mapping) and "text" in p
        )
    return "" if content is None else str(content)


def classification_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The text to classify a chat by: the last user message, then a little of the system one."""
    user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    system = next((m for m in messages if m.get("role") in ("system", "developer")), None)
    text = _text_of(user.get("content")) if user is not None else ""
    if system is not None:
        text = f"{text}\n\n{_text_of(system.get('content'))[:_HEAD_CHARS]}".strip()
    return text


@dataclass(frozen=True)
class _Tables:
    """The cue tables compiled for scanning: built on first use, so importing costs nothing."""

    phrases: tuple[tuple[re.Pattern[str], str, float, str], ...]
    """Every phrase cue: (compiled pattern, label, weight, the pattern as written)."""
    ascii_phrases: tuple[tuple[re.Pattern[str], str, float, str], ...]
    """The same cues cut to the branches that can match ASCII text (most prompts are)."""
    words: dict[str, tuple[tuple[str, float], ...]]
    prefixes: dict[str, tuple[tuple[str, float], ...]]
    prefix_lengths: tuple[int, ...]
    word: re.Pattern[str]


def _top_level_branches(pattern: str) -> list[str]:
    """``pattern`` split at the ``|`` that are outside groups and character classes."""
    branches, depth, in_class, start, i = [], 0, False, 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            branches.append(pattern[start:i])
            start = i + 1
        i += 1
    return [*branches, pattern[start:]]


def _needs_non_ascii(branch: str) -> bool:
    """Whether ``branch`` has a non-ASCII literal that every match must contain (one at the
    top level, outside classes and optional groups; conservative: unsure means no)."""
    depth, in_class, i = 0, False, 0
    while i < len(branch):
        char = branch[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and not char.isascii() and branch[i + 1 : i + 2] not in ("?", "*", "{"):
            return True
        i += 1
    return False


@functools.cache
def _tables() -> _Tables:
    """Compile the cue tables once (about 10 ms of regex compiling, kept out of the import)."""
    phrases, ascii_phrases = [], []
    for label, table in PHRASES.items():
        for pattern, weight in table.items():
            phrases.append((re.compile(pattern, re.MULTILINE), label, float(weight), pattern))
            kept = [b for b in _top_level_branches(pattern) if not _needs_non_ascii(b)]
            if kept:
                compiled = re.compile("|".join(kept), re.MULTILINE)
                ascii_phrases.append((compiled, label, float(weight), pattern))
    words: dict[str, list[tuple[str, float]]] = {}
    for label, table in WORDS.items():
        for word, weight in table.items():
            words.setdefault(word, []).append((label, float(weight)))
    prefixes: dict[str, list[tuple[str, float]]] = {}
    for label, table in PREFIXES.items():
        for prefix, weight in table.items():
            prefixes.setdefault(prefix, []).append((label, float(weight)))
    return _Tables(
        tuple(phrases),
        tuple(ascii_phrases),
        {w: tuple(c) for w, c in words.items()},
        {p: tuple(c) for p, c in prefixes.items()},
        tuple(sorted({len(p) for p in prefixes}, reverse=True)),
        re.compile(_WORD),
    )


@functools.lru_cache(maxsize=8192)
def _word_cues(word: str) -> tuple[tuple[str, float], ...]:
    """The cues of one word: an exact entry, else the longest prefix entry (cached: prompts
    reuse words, and most words have no cue)."""
    tables = _tables()
    cues = tables.words.get(word)
    if cues is not None:
        return cues
    for length in tables.prefix_lengths:
        if length <= len(word):
            cues = tables.prefixes.get(word[:length])
            if cues is not None:
                return cues
    return ()


def _split(text: str) -> tuple[str, str, str]:
    """(first line, last line, body): where instructions sit, and the start of the text.

    Only the ends of ``text`` are looked at, so a 100k-token prompt costs what a short one does.
    """
    start = text[: _BODY_CHARS + _HEAD_CHARS].lstrip()
    end = text[-_HEAD_CHARS * 2 :].rstrip()
    first = start.split("\n", 1)[0]
    last = end.rsplit("\n", 1)[-1]
    if len(first) >= len(start) or first.strip() == last.strip():  # one line
        first, last = start[:_HEAD_CHARS], end[-_HEAD_CHARS // 2 :]
        if len(text) <= _HEAD_CHARS:
            last = ""
    elif "\n" not in end or len(last) > PASSAGE_LINE:
        last = ""  # a long last line is the pasted passage, not an instruction at the end
    return first[:_HEAD_CHARS].lower(), last[-_HEAD_CHARS:].lower(), start[:_BODY_CHARS].lower()


def _scan(text: str, weight: float, found: dict[tuple[str, str], float], phrase_chars: int) -> None:
    """Add every cue in ``text`` at ``weight``; a cue counts once, at its best weight.

    Phrases are searched in the first ``phrase_chars`` only (regexes cost per character;
    word cues are dictionary lookups and cover the rest).
    """
    window = text[:phrase_chars]
    tables = _tables()
    phrases = tables.ascii_phrases if window.isascii() else tables.phrases
    for pattern, label, cue_weight, written in phrases if window else ():
        if pattern.search(window) is not None:
            score = cue_weight * weight
            key = (label, written)
            if found.get(key, 0.0) < score:
                found[key] = score
    for raw in set(tables.word.findall(text)):
        word = raw.rstrip(";-'’")
        if "-" in word:
            for part in word.split("-"):
                _add_word(part, weight, found)
        _add_word(word, weight, found)


def _add_word(word: str, weight: float, found: dict[tuple[str, str], float]) -> None:
    """Add the cues of one word: an exact entry, else the longest prefix entry."""
    for label, cue_weight in _word_cues(word):
        score = cue_weight * weight
        if found.get((label, word), 0.0) < score:
            found[(label, word)] = score


_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def _shape(head: str, found: dict[tuple[str, str], float]) -> None:
    """Shape cues of the instruction: a word problem (three numbers and a question)."""
    if ("?" in head or "？" in head) and len(_NUMBER.findall(head)) >= 3:
        found[("reasoning", "<numbers>")] = 2.0


def cue_scores(text: str, labels: Iterable[str] = TASK_LABELS) -> dict[str, float]:
    """Every label's hand-written cue score for ``text`` (higher is likelier)."""
    text = greek_question(text)
    first, last, body = _split(text)
    found: dict[tuple[str, str], float] = {}
    _scan(first, 1.0, found, len(first))
    if last:
        _scan(last, _LAST_LINE_WEIGHT, found, len(last))
    if len(body) > len(first) + len(last):
        _scan(body, _BODY_WEIGHT, found, _BODY_PHRASE_CHARS)
    _shape(first, found)
    _shape(last, found)
    totals = dict.fromkeys(labels, 0.0)
    for (label, _), score in found.items():
        if label in totals:
            totals[label] += score
    if len(text) > _CHAT_CHARS and "conversational" in totals:  # chit-chat is short
        totals["conversational"] *= 0.5
    if len(text) > 2000:  # long pasted input: the tasks that take documents
        for label, bonus in (("summarization", 0.5), ("analysis", 0.3), ("extraction", 0.2)):
            if label in totals:
                totals[label] += bonus
    return totals


@dataclass(frozen=True)
class Classification:
    """A task label with how sure the local classifier is.

    ``confidence`` (0..1) is the calibrated probability that ``predicted`` is right: on prompt
    sources the model never saw, predictions at confidence c were right about c of the time.
    ``label`` is what routing uses: ``predicted`` when ``confident``, else what the
    low-confidence policy chose, which ``by`` names (``"classifier"``, ``"default"``,
    ``"llm"`` or ``"caller"``).
    """

    label: str
    confidence: float
    predicted: str = ""
    confident: bool = True
    by: str = "classifier"

    def __str__(self) -> str:
        return self.label


class LocalClassifier:
    """The default classifier: a learned linear model over cues and words, no network.

    Deterministic and well under a millisecond a prompt. The model (``data/task_linear.json``,
    trained by ``scripts/train_classifier.py`` on the committed corpus) takes the hand-written
    cue scores as features next to the instruction's words, so it learns how far each cue holds.

    Example:
        ```python
        LocalClassifier().classify("Traduis en anglais : « Bonjour »")   # 'translation'
        LocalClassifier().classify_with_confidence("hi!").confidence    # 0.9...
        ```
    """

    def __init__(
        self,
        default: str = "conversational",
        labels: Iterable[str] = TASK_LABELS,
        *,
        learned: bool = True,
        threshold: float | None = None,
    ):
        """Set the labels and the fallback.

        Args:
            default: the label when nothing speaks for any label (cues alone: when no cue
                fires; a question mark alone then means ``qa``).
            labels: the labels to choose from.
            learned: use the shipped model (False: the hand-written cues alone, a baseline).
            threshold: the confidence below which a prediction is not ``confident``
                (default: the one shipped with the model, chosen so that confident
                predictions on unseen prompt sources were at least 95% right).
        """
        self.labels = tuple(labels)
        if default not in self.labels:
            raise ValueError(f"default {default!r} is not one of {self.labels}")
        self.default = default
        self.learned = learned
        self._threshold = threshold

    @property
    def threshold(self) -> float:
        """The confidence below which a prediction is not ``confident``."""
        if self._threshold is not None:
            return self._threshold
        model = self._model()
        return model.threshold if model is not None else 0.0

    def _model(self) -> LinearModel | None:
        return load_model() if self.learned else None

    def scores(self, text: str) -> dict[str, float]:
        """Every label's score for ``text`` (higher is likelier): the model's probabilities,
        or the cue scores when the model is off."""
        return self._scores(text)[0]

    def _scores(self, text: str) -> tuple[dict[str, float], bool]:
        """The scores, and whether the model knew any word or cue of ``text`` (when it knew
        none, only the length and shape spoke: too little to be sure of)."""
        model = self._model()
        cues = cue_scores(text, self.labels if model is None else TASK_LABELS)
        if model is None:
            return cues, True
        feats = features(text, cues)
        probs = model.probabilities(feats)
        known = any(name[1:2] == ":" and name in model.weights for name in feats) or any(
            name.startswith("cue:") for name in feats
        )
        return {label: probs.get(label, 0.0) for label in self.labels}, known

    def classify_with_confidence(self, text: str) -> Classification:
        """The best label and its calibrated confidence (1.0 when the cues decide alone).

        A prompt none of whose words the model knows ("hmm") is never ``confident``.
        """
        totals, known = self._scores(text)
        best = max(self.labels, key=lambda label: totals[label])
        if self._model() is not None:
            total = sum(totals.values()) or 1.0
            confidence = totals[best] / total
            return Classification(best, confidence, best, known and confidence >= self.threshold)
        if totals[best] < _MIN_SCORE:
            stripped = text.strip()
            best = "qa" if stripped.endswith(("?", "？")) and "qa" in self.labels else self.default
        return Classification(best, 1.0, best, True)

    def classify(self, text: str) -> str:
        """The best label; ties go to the earlier label in ``TASK_LABELS``."""
        return self.classify_with_confidence(text).label


def cheapest_model(catalog: Any, served: Iterable[str] | None = None) -> str:
    """The catalogue model that costs least for a short labelling call (200 in, 5 out tokens).

    ``served`` limits the choice to ids the relay serves (``client.list_models()``).
    """
    allowed = None if served is None else {getattr(m, "id", m) for m in served}
    best: tuple[Any, str] | None = None
    for spec in catalog:
        if not spec.priced or (allowed is not None and not (set(spec.names) & allowed)):
            continue
        cost = spec.input_usd_per_mtok * 200 + spec.output_usd_per_mtok * 5
        if best is None or cost < best[0]:
            best = (cost, spec.id)
    if best is None:
        raise ValueError("no priced model in the catalogue to classify with")
    return best[1]


ROUTING_TASK = "routing"
"""The task label the LLM classifier's own calls are billed under."""

_PROMPT = (
    "Classify the user's request into exactly one task label.\nLabels: {labels}.\n"
    "Answer with the label only.\n\nRequest:\n{text}"
)


class LLMClassifier:
    """Labels prompts with a model; cached (LRU), falling back to the local classifier.

    Example:
        ```python
        def complete(prompt: str) -> str:
            reply = client.chat(model=cheapest_model(client.catalog), max_tokens=8,
                                messages=[{"role": "user", "content": prompt}])
            return reply.text
        router = TaskRouter(classifier=LLMClassifier(complete))
        ```
    """

    def __init__(
        self,
        complete: Callable[[str], str],
        *,
        fallback: Classifier | None = None,
        labels: Iterable[str] = TASK_LABELS,
        cache_size: int = 1024,
        max_chars: int = 2000,
    ) -> None:
        """``complete(prompt) -> str`` calls the model; errors and off-list answers fall back."""
        self.complete = complete
        self.labels = tuple(labels)
        self.fallback: Classifier = fallback or LocalClassifier(labels=self.labels)
        self.cache_size = cache_size
        self.max_chars = max_chars
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        self.calls = 0
        """Model calls made (cache hits are free)."""

    @classmethod
    def from_client(
        cls,
        client: Any,
        *,
        model: str | None = None,
        served: Iterable[Any] | None = None,
        **kwargs: Any,
    ) -> LLMClassifier:
        """An LLM classifier calling ``client.chat`` on ``model``.

        Without ``model``, the cheapest catalogue model among ``served`` (ids or
        ``client.list_models()`` entries; default: the whole catalogue). Its calls are
        attributed to the task ``routing``, so a ledger shows what classifying costs.
        """
        chosen = model or cheapest_model(client.catalog, served)

        def complete(prompt: str) -> str:
            reply = client.chat(
                model=chosen,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=8,
                temperature=0,
                task=ROUTING_TASK,
            )
            message = reply.choices[0].message if reply.choices else None
            return _text_of(getattr(message, "content", "")) if message else ""

        classifier = cls(complete, **kwargs)
        classifier.model = chosen
        return classifier

    model: str | None = None
    """The model the classifier calls, when built by ``from_client``."""

    def _parse(self, answer: str) -> str | None:
        words = re.findall(r"[a-z]+(?:-[a-z]+)?", answer.lower())
        for word in words:
            if word in self.labels:
                return word
        return None

    def classify(self, text: str) -> str:
        """The model's label for ``text`` (cached), or the fallback's when it cannot say."""
        key = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        prompt = _PROMPT.format(labels=", ".join(self.labels), text=text[: self.max_chars])
        try:
            self.calls += 1
            label = self._parse(self.complete(prompt))
        except Exception:  # the model is optional: any failure means the local answer
            label = None
        if label is None:
            return self.fallback.classify(text)
        with self._lock:
            self._cache[key] = label
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return label
