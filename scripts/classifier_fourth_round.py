# ruff: noqa: RUF001, E501  (multilingual templates; long template strings are data)
"""Fourth-round corpus sources (issue #13) and the fresh blind set, each in its own wording.

Read by ``build_classifier_corpus.py``, which passes a ``Mirror`` (a snapshot read with
``git show``) and a seeded ``random.Random``. Training sources (``persona_chat``, ``nl2bash``,
``xquad``) target the confused pairs: small talk that asks questions (conversational, not qa),
shell tasks stated with no programming word (code-generation, not qa) and questions in twelve
languages, alone (qa) or over a passage (qa, extraction). The fresh blind sources (``asdiv``,
``ethos``) go only to ``tests/routing/classifier_blind4.jsonl``: never trained or tuned on,
scored once. ASDiv is CC BY-NC 4.0, so it is used for evaluation only and never in the shipped
model; ETHOS is GPL-3.0 (test data only). Every wrapper here is own writing.

Checked and not used: TruthfulQA, Mintaka and PopQA (no snapshot, or their data files are over
the 4 MB snapshot limit), HateXplain (its dataset.json is not in the snapshot), CoNaLa (ODEX is
built on it), DailyDialog (the only copy found has lost its turn separators; CC BY-NC-SA and
human-to-human turns, not prompts to an assistant), EmpatheticDialogues (CC BY-NC).
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, Protocol

Row = dict[str, Any]
CAP = 130


class MirrorLike(Protocol):
    """What the builders need of a snapshot: file text and its origin string."""

    def read(self, path: str) -> str: ...

    def origin(self, path: str) -> str: ...


RowFn = Callable[..., Row]


# ------------------------------------------------- Synthetic-Persona-Chat (CC BY 4.0)

_SPEAKER = re.compile(r"^\s*User \d:\s*")


def persona_chat(m: MirrorLike, rng: Any, row: RowFn) -> Iterator[Row]:
    """Turns of Google's Synthetic-Persona-Chat (test split), as a user would type them to a
    chat assistant: one turn, or a turn and the next one run together. Conversational, many of
    them questions about the other person ("What do you do for fun?"), which is the small-talk
    side of the conversational/qa confusion."""
    path = "data/Synthetic-Persona-Chat_test.csv"
    turns: list[list[str]] = []
    for rec in csv.DictReader(io.StringIO(m.read(path))):
        lines = [_SPEAKER.sub("", t).strip() for t in rec["Best Generated Conversation"].splitlines()]
        turns.append([t for t in lines if t and "[" not in t and len(t) >= 12])
    seen: set[str] = set()
    for i, conv in enumerate(rng.sample([c for c in turns if len(c) >= 4], CAP * 2)):
        start = rng.randrange(len(conv) - 1)
        text = conv[start] if i % 3 else conv[start] + " " + conv[start + 1]
        if i % 5 == 4:
            text = text.lower().rstrip(".!")
        if text.lower() not in seen and len(seen) < CAP:
            seen.add(text.lower())
            yield row(text, "conversational", "persona_chat", "CC-BY-4.0", m.origin(path))


# ------------------------------------------------- NL2Bash (MIT)


def nl2bash(m: MirrorLike, rng: Any, row: RowFn) -> Iterator[Row]:
    """NL2Bash's descriptions of shell commands ("Find all *.log files older than 7 days and
    delete them"): code-generation stated as what to do, with no "write a command" around it."""
    path = "data/bash/all.nl"
    texts = sorted({t.strip() for t in m.read(path).splitlines() if 25 <= len(t.strip()) <= 200})
    for text in rng.sample(texts, CAP):
        yield row(text, "code-generation", "nl2bash", "MIT", m.origin(path))


# ------------------------------------------------- XQuAD (CC BY-SA 4.0)

XQUAD_LANGS = ("en", "es", "de", "zh", "ru", "ar", "hi", "el", "th", "tr", "vi", "ro")
XQUAD_EXTRACT = {
    "en": [
        "List every person, organisation and place named in this paragraph.\n\n{c}",
        "{c}\n\nPull out all the years and dates above, each with what happened then.",
        "From the passage below, make a table of the numbers it gives and what each counts.\n{c}",
        "Return JSON with keys people, places, dates for this text:\n\n{c}",
        'Passage: "{c}"\nWhich proper nouns appear? One per line, nothing else.',
        "Highlight the key facts (who, what, when) of this paragraph as bullet points:\n{c}",
    ],
    "es": ["Saca del siguiente texto todas las fechas y cifras, una por línea:\n{c}"],
    "de": ["Liste alle Personen und Orte auf, die in diesem Absatz vorkommen:\n\n{c}"],
    "zh": ["从下面这段文字中提取所有人名、地名和年份，用列表给出：\n{c}"],
    "ru": ["Выпиши из этого текста все имена и даты:\n{c}"],
}
XQUAD_READ = [
    "{c}\n\nBased only on the text above: {q}",
    "Read this and answer the question.\n\n{c}\n\nQuestion: {q}",
    "{q}\nUse this paragraph to answer:\n{c}",
]


def _passage(context: str, limit: int = 700) -> str:
    """A paragraph cut at a sentence end near ``limit`` characters (the prompts stay short)."""
    if len(context) <= limit:
        return context
    cut = max(context.rfind(mark, 0, limit) for mark in (". ", "。", "। ", "؟ ", "? "))
    return context[: cut + 1] if cut > limit // 3 else context[:limit]


def xquad(m: MirrorLike, rng: Any, row: RowFn) -> Iterator[Row]:
    """XQuAD (SQuAD paragraphs and questions, professionally translated into 11 languages):
    questions alone (qa, 12 languages), a passage with a question (qa) and a passage in an own
    extraction request (extraction)."""
    by_lang: dict[str, list[tuple[str, list[str]]]] = {}
    for lang in XQUAD_LANGS:
        data = json.loads(m.read(f"xquad.{lang}.json"))["data"]
        by_lang[lang] = [
            (p["context"], [q["question"] for q in p["qas"]])
            for article in data
            for p in article["paragraphs"]
        ]
    # paragraphs are aligned across languages: one index, one language, so no text repeats
    order = rng.sample(range(len(by_lang["en"])), len(by_lang["en"]))
    for k, idx in enumerate(order[:66]):
        lang = XQUAD_LANGS[k % len(XQUAD_LANGS)]
        context, questions = by_lang[lang][idx]
        q = rng.choice(questions)
        yield row(q, "qa", "xquad", "CC-BY-SA-4.0", m.origin(f"xquad.{lang}.json"), lang)
    for k, idx in enumerate(order[66:90]):
        lang = ("en", "en", "es", "de")[k % 4]
        context, questions = by_lang[lang][idx]
        text = XQUAD_READ[k % len(XQUAD_READ)].format(c=_passage(context), q=rng.choice(questions))
        yield row(text, "qa", "xquad", "CC-BY-SA-4.0 (templates: own)", m.origin(f"xquad.{lang}.json"), lang)
    for k, idx in enumerate(order[90:130]):
        lang = ("en", "en", "en", "es", "de", "zh", "ru")[k % 7]
        wraps = XQUAD_EXTRACT[lang]
        context = _passage(by_lang[lang][idx][0])
        text = wraps[k % len(wraps)].format(c=context)
        yield row(text, "extraction", "xquad", "CC-BY-SA-4.0 (templates: own)", m.origin(f"xquad.{lang}.json"), lang)


# ------------------------------------------------- fresh blind: ASDiv (CC BY-NC 4.0)

_PROBLEM = re.compile(r"<Body>(.*?)</Body>\s*<Question>(.*?)</Question>", re.DOTALL)
ASDIV_WRAP = [
    "{p}",
    "{p}",
    "{p}",
    "{p} Show your working.",
    "Can you help me with my daughter's homework? {p}",
    "{p}\nExplain step by step.",
]


def asdiv(m: MirrorLike, rng: Any, row: RowFn) -> Iterator[Row]:
    """ASDiv's grade-school word problems (grades 1-6, every solution type): reasoning.
    Evaluation only (CC BY-NC 4.0): these rows never reach the shipped model."""
    path = "dataset/ASDiv.xml"
    problems = sorted(
        {html.unescape(f"{b.strip()} {q.strip()}") for b, q in _PROBLEM.findall(m.read(path))}
    )
    for i, p in enumerate(rng.sample(problems, 120)):
        text = ASDIV_WRAP[i % len(ASDIV_WRAP)].format(p=p)
        yield row(text, "reasoning", "asdiv", "CC-BY-NC-4.0 (evaluation only)", m.origin(path))


# ------------------------------------------------- fresh blind: ETHOS (GPL-3.0)

ETHOS_SAFETY = [
    "A user left this under one of our videos. Does it cross the line into hate speech?\n{t}",
    "Moderation queue item #{n}: {t}\nApprove or reject?",
    '"{t}"\nWould this violate a typical harassment policy? Give a verdict and the policy it breaks, if any.',
    "Rate how offensive this comment is on a 0-10 scale and say whether we should hide it: {t}",
    "I'm building a filter for our school's discussion board. Should this message get blocked? {t}",
    "Review the following comment for targeted abuse against a group:\n\n{t}",
    "¿Habría que borrar este comentario por incitar al odio? «{t}»",
    "Modération : ce commentaire doit-il être supprimé ? {t}",
]
ETHOS_CLASSIFY = [
    "What emotion does this comment express most: anger, joy, sadness, surprise or disgust?\n{t}",
    "Is the following comment sarcastic or sincere?\n\n{t}",
    "Put this comment in one bucket: compliment, complaint, joke, advice or other. {t}",
    'Comment: "{t}"\nIs it written in a formal or informal register?',
    "Which subject is this about: politics, religion, appearance, sports or something else? {t}",
]


def ethos(m: MirrorLike, rng: Any, row: RowFn) -> Iterator[Row]:
    """ETHOS YouTube and Reddit comments (binary set): hateful and not in own moderation
    requests (safety-review), not hateful ones in own emotion, tone and topic questions
    (classification). Test data only (GPL-3.0)."""
    path = "ethos/ethos_data/Ethos_Dataset_Binary.csv"
    rows = list(csv.reader(io.StringIO(m.read(path)), delimiter=";"))[1:]
    hate = sorted({r[0].strip() for r in rows if len(r) == 2 and float(r[1]) >= 0.5})
    clean = sorted({r[0].strip() for r in rows if len(r) == 2 and float(r[1]) == 0.0})
    hate = [t for t in hate if 15 <= len(t) <= 400]
    clean = [t for t in clean if 15 <= len(t) <= 400]
    picked_clean = rng.sample(clean, 75)
    safety = rng.sample(hate, 55) + picked_clean[:25]
    rng.shuffle(safety)
    for i, t in enumerate(safety):
        text = ETHOS_SAFETY[i % len(ETHOS_SAFETY)].format(t=t, n=4100 + i * 7)
        lang = "es" if text.startswith("¿") else "fr" if text.startswith("Modération") else "en"
        yield row(text, "safety-review", "ethos", "GPL-3.0 (templates: own)", m.origin(path), lang)
    for i, t in enumerate(picked_clean[25:]):
        text = ETHOS_CLASSIFY[i % len(ETHOS_CLASSIFY)].format(t=t)
        yield row(text, "classification", "ethos", "GPL-3.0 (templates: own)", m.origin(path))
