# ruff: noqa: RUF001  (multilingual word lists: non-ASCII letters are meant)
"""Signals of a prompt's form that hold across writers and languages, for the task model.

Why: words tie a model to the wording it was trained on; the leave-one-source-out report showed
the misses come from form it could not read. These name the form instead: which scripts the
instruction and the rest are written in (a request in one script about text in another), inline
code and identifiers (a programming task needs no "write code"), a passage pasted after a short
instruction and which word opens that instruction, "instruction: payload" on one line, a
question word opening the prompt, a short prompt addressed to "you" (small talk), and a
language named in any of twenty languages (translation). Regexes compile on first use.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

__all__ = ["PASSAGE_LINE", "greek_question", "signals"]

PASSAGE_LINE = 300
"""A last line longer than this is pasted material, not an instruction placed at the end."""

_SCRIPTS = {
    "latn": "a-z\u00c0-\u024f",
    "cyrl": "\u0400-\u04ff",
    "grek": "\u0370-\u03ff",
    "arab": "\u0600-\u06ff",
    "hebr": "\u0590-\u05ff",
    "deva": "\u0900-\u097f",
    "thai": "\u0e00-\u0e7f",
    "hang": "\uac00-\ud7af",
    "kana": "\u3040-\u30ff",
    "hani": "\u4e00-\u9fff",
}
_QUESTION_WORDS = (
    "what whats what's who whose whom when where which why how "
    "qué que quién quien cuándo cuando dónde donde cuál cual cuánto cuanto cómo como "
    "qui quoi quand où quel quelle quels quelles comment pourquoi combien "
    "wer was wann wo welche welcher welches wie warum wieso "
    "quem quando onde qual quanto porque chi cosa dove quale perché "
    "кто что когда где какой какая какие как почему сколько хто що коли де який чому "
    "ποιος ποια ποιο ποιοι ποιες ποιων τι πότε πού πώς γιατί πόσο πόσα πόσοι "
    "ما ماذا متى أين كيف لماذا كم هل أي "
    "क्या कौन कब कहाँ कहां कैसे क्यों कितना कितने किस "
    "kim nerede nasıl neden hangi kaç "
    "cine când unde cum cât câte "
    "gì đâu nào sao bao"
)
_I = (
    "i i'm im i've i'd i'll my me we we're our "
    "yo mi me je j'ai moi mon ma ich mein meine mir eu meu minha я мне мой моя"
)
_I_CJK = ("我", "私は", "僕", "俺", "저는", "나는")
_YOU = (
    "you your yours yourself u ur ya tu te toi ton ta tes tú ti du dich dir dein deine "
    "você voce vc ты тебя тебе твой твоя ти тобі твій jij jou"
)
_YOU_CJK = ("你", "妳", "あなた", "君は", "너", "당신")
_LANGUAGE_NAMES = (
    # English, then the same languages named in other languages (stems cover inflections)
    r"english|spanish|french|german|italian|portuguese|japanese|chinese|korean|russian|arabic"
    r"|inglés|ingles|inglese|inglês|anglais|englisch|engels|engelsk|angiel|inggris|ingiliz"
    r"|tiếng anh|αγγλικ|англ|אנגלית|अंग्रेज़|อังกฤษ|英文|英语|英語|영어"
    r"|français|francés|francese|francês|französisch|frans|fransk|francus|франц|フランス語|法语|프랑스어"
    r"|español|espagnol|spagnolo|espanhol|spanisch|spaans|hiszpań|испан|スペイン語|西班牙语|스페인어"
    r"|deutsch|allemand|alemán|tedesco|alemão|duits|tysk|niemieck|немец|німец|ドイツ語|德语|독일어"
    r"|italien|italiano|italienisch|włosk|итальян|イタリア語|意大利语"
    r"|chinois|chino|cinese|chinês|chinesisch|chińsk|китай|中国語|中文|汉语|중국어"
    r"|japonais|japonés|giapponese|japonês|japanisch|japońsk|япон|日本語|日语|일본어"
    r"|coréen|coreano|koreanisch|корей|韓国語|韩语|한국어"
    r"|russe|ruso|russo|russisch|rosyjsk|русск|ロシア語|俄语|러시아어"
    r"|arabe|árabe|arabisch|араб|アラビア語|阿拉伯语"
)


class _Patterns(NamedTuple):
    scripts: tuple[tuple[str, re.Pattern[str]], ...]
    backtick: re.Pattern[str]
    ident: re.Pattern[str]
    colon: re.Pattern[str]
    language: re.Pattern[str]
    word: re.Pattern[str]
    number: re.Pattern[str]
    path: re.Pattern[str]


@functools.cache
def _patterns() -> _Patterns:
    return _Patterns(
        scripts=tuple((name, re.compile(f"[{chars}]")) for name, chars in _SCRIPTS.items()),
        backtick=re.compile(r"`[^`\n]{1,80}[`']"),
        ident=re.compile(
            r"\b[A-Za-z]+_[A-Za-z0-9_]+\b|\b[a-z]+[A-Z][A-Za-z0-9]*\b|\b\w+\.\w+\(|\b\w+\(\)"
        ),
        colon=re.compile(r"^[^:：\n]{2,70}[:：]\s*\S[^\n]{6,}"),
        language=re.compile(_LANGUAGE_NAMES),
        word=re.compile(r"[^\W\d_][\w'’]*"),
        number=re.compile(r"\d+(?:[.,]\d+)?"),
        path=re.compile(
            r"(?:^|[\s'\"(])(?:~|\.{1,2})?/[\w.-]+|\*\.\w{1,5}\b|\$\{?[A-Za-z_]\w*"
            r"|\b[\w-]+\.(?:txt|log|csv|json|xml|py|sh|c|h|java|js|html|conf|tar|gz|zip|pdf)\b"
        ),
    )


@functools.cache
def _word_sets() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    return frozenset(_QUESTION_WORDS.split()), frozenset(_YOU.split()), frozenset(_I.split())


def greek_question(text: str) -> str:
    """``text`` with a Greek question mark (";" ending Greek text) written as "?": read as
    code punctuation, it sent Greek questions to code-generation."""
    end = text.rstrip()
    if end.endswith(";") and re.search("[\u0370-\u03ff]", end[-200:]):
        return end[:-1] + "?"
    return text


def _scripts(text: str) -> list[str]:
    if text.isascii():
        return ["latn"] if any(c.isalpha() for c in text) else []
    return [name for name, pattern in _patterns().scripts if pattern.search(text)]


def signals(text: str, head: str, tail: str) -> dict[str, float]:
    """Form features of ``text`` given its lower-cased instruction ``head`` and ``tail``."""
    pat = _patterns()
    questions, you, me = _word_sets()
    out: dict[str, float] = {}
    instruction = head + "\n" + tail
    start = text[:1200]
    head_scripts = _scripts(head)
    for name in head_scripts:
        out["sc:" + name] = 1.0
    rest = start.lower()[len(head) :] if len(text) > len(head) + 20 else ""
    if rest:
        for name in _scripts(rest):
            if name not in head_scripts:
                out["mix:" + name] = 1.0
    if pat.backtick.search(start):
        out["bt"] = 1.0
    if pat.ident.search(start):
        out["ident"] = 1.0
    numbers = len(pat.number.findall(start[:600]))
    if numbers:
        out[f"nb:{min(numbers, 6) // 3}"] = 1.0  # 1-2, 3-5, 6+ numbers in the text's start
    if pat.colon.search(head):
        out["colon"] = 1.0
    words = pat.word.findall(head)
    if words and words[0] in questions:
        out["qw"] = 1.0
    elif len(text) < 200 and any(w in questions for w in words[1:12]):
        out["qw2"] = 1.0  # a question word later on: Turkish, Hindi, Vietnamese ask that way
    if pat.path.search(start):
        out["path"] = 1.0  # file paths, globs, file names and $variables: shell and file tasks
    if len(text) < 240:
        if any(w in me for w in words[:6]) or any(m in head[:12] for m in _I_CJK):
            out["me"] = 1.0  # the writer talks about themself: small talk, or a problem to solve
        if "!" in head or "！" in head:
            out["excl"] = 1.0
    if len(text) < 160 and (any(w in you for w in words) or any(y in head for y in _YOU_CJK)):
        out["you"] = 1.0  # a short prompt addressed to the assistant: often small talk
    first = head.split("\n", 1)[0]
    said_line = min((p for p in (first, tail) if p.strip()), key=len, default="")
    passage = len(text) - len(said_line) > 200  # a passage around a one-line instruction
    # a language named in the instruction, not in the passage (a text about German is not
    # a request to translate)
    if pat.language.search(said_line if passage else instruction):
        out["lname"] = 1.0
    instruction = said_line
    if passage:
        out["psg"] = 1.0
        said = pat.word.findall(instruction)
        if said:
            out["P:" + said[0]] = 1.0
        for word in set(said[:12]):
            out["pw:" + word] = 0.5
    return out
