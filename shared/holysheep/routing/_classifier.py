# ruff: noqa: RUF001  (multilingual cues: full-width and curly punctuation are meant)
"""Task classifiers: a fast local one (default) and an optional LLM one behind a flag.

Why local by default: routing happens before every call, so labelling a prompt must cost far
less than the call itself and must never need the network. ``LocalClassifier`` scores weighted
cues (words, word prefixes, phrases in six languages, code and math shapes, length) for each
label and takes the best; it is deterministic and takes well under a millisecond a prompt.
Cues in the instruction (the first and the last line) count fully; in pasted material only
its words count, at a quarter, so "Summarize this: <an article about code>" stays a summary.

``LLMClassifier`` asks a model (the cheapest in the catalogue by default) and caches answers;
it falls back to the local classifier when the model fails or answers off-list.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from holysheep.routing._bayes import features, load_model
from holysheep.routing._cues import PHRASES, PREFIXES, WORDS
from holysheep.routing._routes import TASK_LABELS

__all__ = [
    "Classifier",
    "LLMClassifier",
    "LocalClassifier",
    "cheapest_model",
    "classification_text",
]

_BODY_WEIGHT = 0.25
_LAST_LINE_WEIGHT = 0.75
_CHAT_CHARS = 300
_HEAD_CHARS = 300
_BODY_CHARS = 1000
_BODY_PHRASE_CHARS = 0  # phrases are searched in the instruction only
_WORD = re.compile(r"[a-z\u00df-\u024f\u0430-\u045f][a-z0-9\u00df-\u024f\u0430-\u045f'’+#;-]*")
"""Latin and Cyrillic words (lower-cased); CJK text is matched by phrase cues instead."""
_MIN_SCORE = 1.0
_LEARNED_WEIGHT = 0.5
"""Weight of the learned log-probabilities next to the cue scores."""
_FLOOR = -6.0
"""Learned log-probabilities are clipped here: at weight 0.5 they can outvote weak cues, never a
cue that names the task (3 or more)."""


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


def _compile_phrases() -> list[tuple[re.Pattern[str], str, float]]:
    """One compiled pattern per phrase cue (separate patterns keep re's literal fast paths)."""
    return [
        (re.compile(pattern, re.MULTILINE), label, float(weight))
        for label, phrases in PHRASES.items()
        for pattern, weight in phrases.items()
    ]


_PHRASES = _compile_phrases()
_WORD_CUES: dict[str, list[tuple[str, float]]] = {}
for _label, _words in WORDS.items():
    for _word, _weight in _words.items():
        _WORD_CUES.setdefault(_word, []).append((_label, float(_weight)))
_PREFIX_CUES: dict[str, list[tuple[str, float]]] = {}
for _label, _prefixes in PREFIXES.items():
    for _prefix, _weight in _prefixes.items():
        _PREFIX_CUES.setdefault(_prefix, []).append((_label, float(_weight)))
_PREFIX_LENGTHS = sorted({len(p) for p in _PREFIX_CUES}, reverse=True)


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
    return first[:_HEAD_CHARS].lower(), last[-_HEAD_CHARS:].lower(), start[:_BODY_CHARS].lower()


def _scan(text: str, weight: float, found: dict[tuple[str, str], float], phrase_chars: int) -> None:
    """Add every cue in ``text`` at ``weight``; a cue counts once, at its best weight.

    Phrases are searched in the first ``phrase_chars`` only (regexes cost per character;
    word cues are dictionary lookups and cover the rest).
    """
    window = text[:phrase_chars]
    for pattern, label, cue_weight in _PHRASES if window else ():
        if pattern.search(window) is not None:
            score = cue_weight * weight
            key = (label, pattern.pattern)
            if found.get(key, 0.0) < score:
                found[key] = score
    for raw in set(_WORD.findall(text)):
        word = raw.rstrip(";-'’")
        if "-" in word:
            for part in word.split("-"):
                _add_word(part, weight, found)
        _add_word(word, weight, found)


def _add_word(word: str, weight: float, found: dict[tuple[str, str], float]) -> None:
    """Add the cues of one word: an exact entry, else the longest prefix entry."""
    cues = _WORD_CUES.get(word)
    if cues is None:
        for length in _PREFIX_LENGTHS:
            if length <= len(word):
                cues = _PREFIX_CUES.get(word[:length])
                if cues is not None:
                    break
    for label, cue_weight in cues or ():
        score = cue_weight * weight
        if found.get((label, word), 0.0) < score:
            found[(label, word)] = score


_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def _shape(head: str, found: dict[tuple[str, str], float]) -> None:
    """Shape cues of the instruction: a word problem (three numbers and a question)."""
    if ("?" in head or "？" in head) and len(_NUMBER.findall(head)) >= 3:
        found[("reasoning", "<numbers>")] = 2.0


class LocalClassifier:
    """The default classifier: weighted cues, no network, deterministic, well under 1 ms.

    Example:
        ```python
        LocalClassifier().classify("Traduis en anglais : « Bonjour »")   # 'translation'
        ```
    """

    def __init__(
        self,
        default: str = "conversational",
        labels: Iterable[str] = TASK_LABELS,
        *,
        learned: bool = True,
    ):
        """Set the labels and the fallback.

        Args:
            default: the label when nothing speaks for any label (without the learned model:
                when no cue fires; a question mark alone then means ``qa``).
            labels: the labels to choose from.
            learned: add the shipped naive-Bayes model's log-probabilities to the cue scores
                (False: cues alone, as a baseline).
        """
        self.labels = tuple(labels)
        if default not in self.labels:
            raise ValueError(f"default {default!r} is not one of {self.labels}")
        self.default = default
        self.learned = learned

    def scores(self, text: str) -> dict[str, float]:
        """Every label's score for ``text`` (higher is likelier); for explanations and tests."""
        first, last, body = _split(text)
        found: dict[tuple[str, str], float] = {}
        _scan(first, 1.0, found, len(first))
        if last:
            _scan(last, _LAST_LINE_WEIGHT, found, len(last))
        if len(body) > len(first) + len(last):
            _scan(body, _BODY_WEIGHT, found, _BODY_PHRASE_CHARS)
        _shape(first, found)
        _shape(last, found)
        totals = dict.fromkeys(self.labels, 0.0)
        for (label, _), score in found.items():
            if label in totals:
                totals[label] += score
        if len(text) > _CHAT_CHARS and "conversational" in totals:  # chit-chat is short
            totals["conversational"] *= 0.5
        if len(text) > 2000:  # long pasted input: the tasks that take documents
            for label, bonus in (("summarization", 0.5), ("analysis", 0.3), ("extraction", 0.2)):
                if label in totals:
                    totals[label] += bonus
        model = load_model() if self.learned else None
        if model is not None:
            posteriors = model.log_posteriors(features(first, last, len(text)))
            for label in totals:
                totals[label] += _LEARNED_WEIGHT * max(posteriors.get(label, _FLOOR), _FLOOR)
        return totals

    def classify(self, text: str) -> str:
        """The best-scoring label; ties go to the earlier label in ``TASK_LABELS``."""
        totals = self.scores(text)
        best = max(self.labels, key=lambda label: totals[label])
        if totals[best] >= _MIN_SCORE or (self.learned and load_model() is not None):
            return best
        stripped = text.strip()
        if stripped.endswith(("?", "？")) and "qa" in self.labels:
            return "qa"
        return self.default


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
        ``client.list_models()`` entries; default: the whole catalogue).
        """
        chosen = model or cheapest_model(client.catalog, served)

        def complete(prompt: str) -> str:
            reply = client.chat(
                model=chosen,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=8,
                temperature=0,
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
