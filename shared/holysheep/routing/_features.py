# ruff: noqa: RUF001  (multilingual text: full-width punctuation is meant)
"""The features the learned task model reads from a prompt: what the instruction says and how.

Why these: a task is named by the instruction, which sits in the first lines (often broken
across two before the pasted text) or in the last one, so those words, word pairs, first word
and word prefixes count fully. The pasted material's own words are not read: on prompt
sources held out of training they tied the model to what a source's passages were about, not
to the task. Shape (a question mark, numbers, answer options, code punctuation, length), the
form signals of ``_signals`` and the hand-written cue scores are features too, so the model
learns how far to trust each cue. Only the ends of a prompt are read: a 100k-token prompt costs
what a short one does.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Mapping
from typing import NamedTuple

from holysheep.routing._signals import PASSAGE_LINE, greek_question, signals

__all__ = ["features", "instruction_parts"]

HEAD_CHARS = 240
"""Characters of the instruction's first lines read as the instruction."""
TAIL_CHARS = 160
BODY_CHARS = 800
TAIL_WEIGHT = 0.75
_LETTER = "a-z\u00df-\u024f\u0370-\u03ff\u0400-\u04ff"
"""Latin, Greek and Cyrillic letters (lower-cased text); CJK is read by characters."""


class _Patterns(NamedTuple):
    word: re.Pattern[str]
    cjk: re.Pattern[str]
    number: re.Pattern[str]
    options: re.Pattern[str]
    code: re.Pattern[str]
    quoted: re.Pattern[str]


@functools.cache
def _patterns() -> _Patterns:
    """The regexes, compiled on first use (the wide Unicode classes take ~2 ms to compile)."""
    return _Patterns(
        word=re.compile(f"[{_LETTER}][{_LETTER}0-9'’+#]*"),
        cjk=re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+"),
        number=re.compile(r"\d+(?:[.,]\d+)?"),
        options=re.compile(r"(?:^|\s)\(?[A-Ea-e][).]\s", re.MULTILINE),
        code=re.compile(r"[{};=<>\[\]]|\b(?:def|return|import|function|const|var|print)\b"),
        quoted=re.compile(r"['\"‘“«「„].{3,}['\"’”»」“]"),
    )


def instruction_parts(text: str) -> tuple[str, str, str]:
    """(head, tail, body), lower-cased: the first lines, the last line, the start of the text.

    The head is the first non-empty lines up to a blank line or ``HEAD_CHARS``; the tail is the
    last non-empty line when it is not part of the head.
    """
    start = text[: BODY_CHARS + HEAD_CHARS].lstrip()
    lines = start.split("\n")
    head_lines: list[str] = []
    size = 0
    for line in lines:
        if not line.strip():
            if head_lines:
                break
            continue
        head_lines.append(line)
        size += len(line)
        if size >= HEAD_CHARS or len(head_lines) == 2:
            break
    head = "\n".join(head_lines)[:HEAD_CHARS]
    end = text[-TAIL_CHARS * 2 :].rstrip()
    tail = end.rsplit("\n", 1)[-1].strip()[-TAIL_CHARS:]
    stripped = text.rstrip()
    if len(text) <= len(head) + 2 or tail in head:
        tail = ""
    elif "\n" in stripped and len(stripped) - stripped.rfind("\n") > PASSAGE_LINE:
        tail = ""  # a long last line is the pasted passage, not an instruction at the end
    return head.lower(), tail.lower(), start[:BODY_CHARS].lower()


def _bucket(value: int, edges: tuple[int, ...]) -> int:
    return next((i for i, edge in enumerate(edges) if value < edge), len(edges))


def features(text: str, cues: Mapping[str, float] | None = None) -> dict[str, float]:
    """The sparse feature vector of ``text`` (name -> value); ``cues`` are label cue scores."""
    text = greek_question(text)
    head, tail, body = instruction_parts(text)
    pat = _patterns()
    out: dict[str, float] = {}

    def add(name: str, value: float) -> None:
        if out.get(name, 0.0) < value:
            out[name] = value

    for region, weight in ((head, 1.0), (tail, TAIL_WEIGHT)):
        if not region:
            continue
        words = pat.word.findall(region)
        for word in words:
            add("w:" + word, weight)
            if len(word) > 6:
                add("p:" + word[:5], weight * 0.5)
        for a, b in itertools.pairwise(words):
            add(f"b:{a} {b}", weight)
        for run in pat.cjk.findall(region):
            for i, char in enumerate(run):
                add("c:" + char, weight)
                if i + 1 < len(run):
                    add("d:" + run[i : i + 2], weight)
        if "?" in region or "？" in region:
            add("?", weight)
    first = pat.word.match(head.lstrip(" ¿¡\"'*#-([")) if head else None
    if first is not None:
        add("f:" + first.group(), 1.0)
    elif head:
        add("f:" + head.lstrip()[:1], 1.0)
    stripped = text.rstrip()
    if stripped.endswith(("?", "？")):
        add("end?", 1.0)
    if stripped.endswith(":"):
        add("end:", 1.0)
    add(f"len:{_bucket(len(text), (40, 120, 400, 1500))}", 1.0)
    add(f"lines:{_bucket(text.count(chr(10)), (1, 3, 10))}", 1.0)
    add(f"nums:{_bucket(len(pat.number.findall(head + ' ' + tail)), (1, 3))}", 1.0)
    if len(pat.options.findall(body)) >= 3 or "answer choices" in body:
        add("options", 1.0)
    if len(pat.code.findall(body)) >= 4:
        add("codeish", 1.0)
    if pat.quoted.search(head):
        add("quote", 1.0)
    out.update(signals(text, head, tail))
    for label, score in (cues or {}).items():
        if score > 0:
            out["cue:" + label] = min(score, 8.0) / 4.0
    return out
