# ruff: noqa: RUF001, E501  (multilingual templates; long template strings are data)
"""Third-round corpus sources (issue #13): more independent public data, each in its own wording.

Read by ``build_classifier_corpus.py``, which passes a ``Mirror`` (a snapshot read with
``git show``) and its seeded ``random.Random``. Every builder yields rows of one source, capped
at 150, and names repo@commit:path and licence per row. Wrappers around public text (moderation,
routing, summary, extraction requests) are own writing, different for every source, so leaving a
source out of training also leaves out its wording.

Checked and not used: databricks-dolly-15k (CC BY-SA 3.0, the right kind of data) exists in the
snapshots only as a Git LFS pointer or as a file over the 4 MB snapshot limit; BIG-Bench-Hard
(MIT) carries a canary asking that it never appear in training corpora, which a public corpus
would break; OpenAssistant prompts have no task labels to map from.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, Protocol

Row = dict[str, Any]
CAP = 150


class MirrorLike(Protocol):
    """What the builders need of a snapshot: file text and its origin string."""

    def read(self, path: str) -> str: ...

    def origin(self, path: str) -> str: ...

    def ls(self, folder: str = "") -> list[str]: ...


RowFn = Callable[..., Row]


def _lang(template: str) -> str:
    """The language of an own wrapper (most are English; a few per source are not)."""
    for marker, lang in (
        ("¿", "es"),
        ("Clasifica", "es"),
        ("Extrae", "es"),
        ("« ", "fr"),
        ("Catégorise", "fr"),
        ("Verstößt", "de"),
        ("Ordne", "de"),
        ("Fasse", "de"),
        ("概括", "zh"),
    ):
        if marker in template:
            return lang
    return "en"


# ---------------------------------------------------------------- NQ-open (CC BY-SA 3.0)


def nq_open(m: MirrorLike, rng: Any, row: RowFn) -> Iterator[Row]:
    """Real search-engine questions (Natural Questions, open split): qa, as users type them."""
    path = "nq_open/NQ-open.dev.jsonl"
    items = [json.loads(line)["question"] for line in m.read(path).splitlines() if line.strip()]
    for i, q in enumerate(rng.sample(items, CAP)):
        if i % 3 == 1:
            q = q[0].upper() + q[1:] + "?"
        yield row(q, "qa", "nq_open", "CC-BY-SA-3.0", m.origin(path))


# ---------------------------------------------------------------- HWU64 (CC BY 4.0)

HWU_LABELS = {
    "general_joke": ("conversational", 35),
    "general_praise": ("conversational", 40),
    "qa_factoid": ("qa", 45),
    "qa_definition": ("qa", 30),
}
_WAKE = re.compile(r"^\s*(?:alexa|olly|ok google|hey google|siri)[,.!]?\s*", re.IGNORECASE)


def hwu64(m: MirrorLike, rng: Any, row: RowFn) -> Iterator[Row]:
    """Things people said to a home assistant (HWU64): jokes and praise aimed at it, and questions."""
    files = [p for p in m.ls() if "/testset/csv/" in p and p.rsplit("/", 1)[-1][:-4] in HWU_LABELS]
    by_intent: dict[str, dict[str, tuple[str, str]]] = {}
    for path in sorted(files):
        intent = path.rsplit("/", 1)[-1][:-4]
        for rec in csv.DictReader(io.StringIO(m.read(path)), delimiter=";"):
            text = rec["answer_from_user"]
            if not text or text.lower() in ("xxx", "null") or len(text) < 8:
                text = rec["answer_from_anno"]
            text = _WAKE.sub("", text or "").strip()
            if len(text) >= 8:
                by_intent.setdefault(intent, {}).setdefault(text.lower(), (text, path))
    for intent, (label, n) in HWU_LABELS.items():
        for key in rng.sample(sorted(by_intent[intent]), n):
            text, path = by_intent[intent][key]
            yield row(text, label, "hwu64", "CC-BY-4.0", m.origin(path))


# ---------------------------------------------------------------- HateCheck (CC BY 4.0)

HATECHECK_WRAP = [
    "Content moderation: does the following comment attack a protected group? Reply HATEFUL or NOT HATEFUL.\n\nComment: {t}",
    "{t}\n\nShould our platform take this comment down? Answer keep or remove, with a reason.",
    'Check this reply for hate speech, threats or slurs before it gets published: "{t}"',
    "I moderate a gaming forum. Someone posted: {t}\nIs that against the rules?",
    "Flag or pass?\n{t}",
    "Please screen the message below for abusive language.\n---\n{t}\n---",
    'Is it OK to show "{t}" on a site for teenagers?',
    "Trust & safety triage. Severity (none / low / high) for this user report: {t}",
    "¿Este comentario es discurso de odio? Responde sí o no.\n{t}",
    "Ce message enfreint-il notre charte de modération ? « {t} »",
    "Verstößt dieser Kommentar gegen unsere Community-Regeln? {t}",
]


def hatecheck(m: MirrorLike, rng: Any, row: RowFn) -> Iterator[Row]:
    """HateCheck's functional test cases (hateful and not) inside own moderation requests."""
    path = "test_suite_cases.csv"
    cases = [r["test_case"].strip() for r in csv.DictReader(io.StringIO(m.read(path)))]
    for i, case in enumerate(rng.sample(cases, 130)):
        wrap = HATECHECK_WRAP[i % len(HATECHECK_WRAP)]
        yield row(
            wrap.format(t=case),
            "safety-review",
            "hatecheck",
            "CC-BY-4.0 (templates: own)",
            m.origin(path),
            _lang(wrap),
        )


# ---------------------------------------------------------------- ToxiGen prompts (MIT)

TOXIGEN_SAFETY = [
    "Is this statement toxic toward any group? {t}",
    'Would a careful moderator call this implicitly hateful? "{t}"',
    "Statement: {t}\nToxicity from 1 (harmless) to 5 (severe):",
    "Screen this line for stereotyping or demeaning content before it goes into our chatbot's replies:\n{t}",
    "Does the following sentence promote a harmful stereotype? Say yes or no and why.\n\n{t}",
    "Could posting this get an account banned for hateful conduct?\n{t}",
]
TOXIGEN_CLASSIFY = [
    "Is this statement a fact or an opinion?\n{t}",
    "Tag the sentence with one topic (history, culture, food, religion, work, family, health): {t}",
    "Sentiment of the sentence below (positive / negative / neutral)?\n\n{t}",
    "{t}\n\nWhich type of sentence is this: a claim, a question, an instruction or a story?",
]


def _toxigen_lines(m: MirrorLike, kind: str) -> list[tuple[str, str]]:
    out = []
    for path in m.ls("prompts/"):
        name = path.rsplit("/", 1)[-1]
        if name.startswith(kind + "_") and name.endswith("_1k.txt"):
            for line in m.read(path).replace("\\n", "\n").splitlines():  # lines hold "\\n"
                line = line.strip().lstrip("-").strip()
                if 20 < len(line) < 220:
                    out.append((line, path))
    return sorted(set(out))


def toxigen(m: MirrorLike, rng: Any, row: RowFn) -> Iterator[Row]:
    """ToxiGen's seed statements: hateful ones in own moderation requests (safety-review),
    neutral ones in own topic, sentiment and type questions (classification)."""
    for i, (line, path) in enumerate(rng.sample(_toxigen_lines(m, "hate"), 100)):
        text = TOXIGEN_SAFETY[i % len(TOXIGEN_SAFETY)].format(t=line)
        yield row(text, "safety-review", "toxigen", "MIT (templates: own)", m.origin(path))
    for i, (line, path) in enumerate(rng.sample(_toxigen_lines(m, "neutral"), 45)):
        text = TOXIGEN_CLASSIFY[i % len(TOXIGEN_CLASSIFY)].format(t=line)
        yield row(text, "classification", "toxigen", "MIT (templates: own)", m.origin(path))


# ---------------------------------------------------------------- Banking77 (CC BY 4.0)

BANKING_WRAP = [
    'Customer message: "{t}"\nRoute it to one of: cards, transfers, top-ups, account, fees, security.',
    "Which intent does this support ticket express?\n{t}",
    "Tag this query with the right category from our help-centre taxonomy.\n\n{t}",
    "{t}\n\nIntent label:",
    'Is this customer asking about a card, a payment or their account? "{t}"',
    "Assign a priority (low, medium, urgent) to this banking request: {t}",
    "Clasifica este mensaje de un cliente del banco según el tema:\n{t}",
    "Catégorise la demande suivante (carte, virement, compte, frais) : {t}",
    "Ordne die Kundenanfrage einer Kategorie zu (Karte, Überweisung, Konto, Gebühren):\n{t}",
    "Bucket these for the ops team — card problem, transfer problem or other?\n- {t}",
]


def banking77(m: MirrorLike, rng: Any, row: RowFn) -> Iterator[Row]:
    """Banking77 customer queries inside own intent-routing requests: classification."""
    path = "banking_data/test.csv"
    texts = sorted({r["text"].strip() for r in csv.DictReader(io.StringIO(m.read(path)))})
    for i, t in enumerate(rng.sample(texts, 120)):
        wrap = BANKING_WRAP[i % len(BANKING_WRAP)]
        yield row(
            wrap.format(t=t),
            "classification",
            "banking77",
            "CC-BY-4.0 (templates: own)",
            m.origin(path),
            _lang(wrap),
        )


# ---------------------------------------------------------------- ODEX (CC BY-SA 4.0)

ODEX_SHARE = {"en": 60, "es": 30, "ja": 30, "ru": 30}


def odex(m: MirrorLike, rng: Any, row: RowFn) -> Iterator[Row]:
    """ODEX's natural-language intents for Python snippets (from StackOverflow; en, es, ja, ru):
    code-generation stated as what the code should do, usually with no "write code"."""
    for lang, n in ODEX_SHARE.items():
        path = f"data/{lang}_test.jsonl"
        intents = sorted(
            {json.loads(line)["intent"].strip() for line in m.read(path).splitlines() if line}
        )
        for text in rng.sample(intents, min(n, len(intents))):
            yield row(text, "code-generation", "odex", "CC-BY-SA-4.0", m.origin(path), lang)


# ---------------------------------------------------------------- SciTLDR (Apache-2.0)

SCITLDR = {
    "summarization": [
        "{a}\n\nTLDR:",
        "Can you write a one-line TL;DR of this paper abstract?\n\n{a}",
        "Abstract: {a}\nExplain the contribution to a non-specialist in two sentences.",
        "Give me a tweet-length version of the following abstract.\n{a}",
        "Condense this abstract to its main claim:\n\n{a}",
        "Fasse dieses Abstract in einem Satz zusammen:\n{a}",
        "用一句话概括这篇论文摘要：\n{a}",
    ],
    "extraction": [
        "List every dataset, model and metric named in this abstract, as JSON arrays.\n\n{a}",
        "{a}\n\nPull out the task, the method and the headline result as three short fields.",
        "Identify the named methods and baselines mentioned here, one per line:\n{a}",
        "From the abstract below, collect each number together with what it measures.\n{a}",
        "Extrae los nombres de métodos y conjuntos de datos que aparecen en este resumen:\n{a}",
    ],
    "classification": [
        "Which area does this abstract belong to: computer vision, NLP, reinforcement learning, optimization or theory?\n\n{a}",
        "{a}\n\nIs this paper mainly empirical or theoretical?",
        "Label the abstract with one arXiv category (cs.LG, cs.CL, cs.CV, stat.ML):\n{a}",
    ],
    "analysis": [
        "Review this abstract like a skeptical referee: what are the weak points and what evidence is missing?\n\n{a}",
        "{a}\n\nHow convincing is the claimed improvement, and what would you want to see before believing it?",
        "Assess the novelty and likely impact of the work described here:\n{a}",
        "What are the strengths and limitations of this approach?\n{a}",
    ],
}
SCITLDR_SHARE = {"summarization": 50, "extraction": 40, "classification": 25, "analysis": 25}


def scitldr(m: MirrorLike, rng: Any, row: RowFn) -> Iterator[Row]:
    """SciTLDR paper abstracts inside own summary, extraction, topic and critique requests."""
    path = "SciTLDR-Data/SciTLDR-A/dev.jsonl"
    abstracts = [
        " ".join(json.loads(line)["source"]) for line in m.read(path).splitlines() if line.strip()
    ]
    abstracts = [a[:1400] for a in abstracts if len(a) > 300]
    picked = iter(rng.sample(abstracts, sum(SCITLDR_SHARE.values())))
    for label, n in SCITLDR_SHARE.items():
        templates = SCITLDR[label]
        for i in range(n):
            wrap = templates[i % len(templates)]
            yield row(
                wrap.format(a=next(picked)),
                label,
                "scitldr",
                "Apache-2.0 (templates: own)",
                m.origin(path),
                _lang(wrap),
            )


# ---------------------------------------------------------------- own: translation and scripts

OWN_TRANSLATION: dict[str, dict[str, list[str]]] = {
    "translation": {
        "en": [
            "Can you help me say this to my landlord in Spanish? The heating has been broken since Monday and I need someone to come this week.",
            "What's 'see you tomorrow' in Japanese?",
            "Render this paragraph in French, keeping the formal tone:\n\nDear Ms. Laurent, thank you for your letter of 3 May. We have reviewed your request and are pleased to confirm that the contract will be extended until the end of the year.",
            "Localize these UI strings to Brazilian Portuguese: Save, Cancel, Delete account, Are you sure?",
            "in korean pls: where is the nearest subway station",
            "EN→DE: The package will arrive on Thursday.",
            "The meeting has been moved to 3 pm.\n\n→ Italian, please",
            "I need the Arabic for 'emergency exit' and 'no smoking' for a sign.",
            "How would a Mexican speaker say 'I'm running late'?",
            "Put this product description into German for our shop: Lightweight waterproof jacket with two zip pockets and an adjustable hood.",
            "Give me the Hindi version of: Please keep your ticket until the end of the journey.",
            "Turn these menu items into Thai: grilled chicken, fried rice, mango sticky rice.",
        ],
        "ar": [
            "ترجم هذه الجملة إلى الإنجليزية: المكتبة مغلقة يوم الجمعة.",
            "كيف أقول «صباح الخير» بالفرنسية؟",
        ],
        "hi": ["इस वाक्य का अंग्रेज़ी में अनुवाद करें: कल बारिश होगी।", "'धन्यवाद' को जर्मन में क्या कहते हैं?"],
        "th": ["ช่วยแปลประโยคนี้เป็นภาษาอังกฤษหน่อย: ร้านนี้เปิดถึงสี่ทุ่ม"],
        "he": ["תתרגם לאנגלית: האוטובוס מאחר בעשר דקות."],
        "el": ["Μετάφρασε στα αγγλικά: Το μουσείο κλείνει στις πέντε."],
        "vi": [
            "Dịch sang tiếng Anh giúp mình: Tôi đã đặt bàn cho bốn người.",
            "Câu 'good luck' tiếng Việt nói thế nào?",
        ],
        "id": ["Tolong terjemahkan ke bahasa Inggris: Saya sudah mengirim dokumennya kemarin."],
        "pl": [
            "Przetłumacz na angielski: Spotkanie zostało przełożone na piątek.",
            "Jak po niemiecku powiedzieć „smacznego”?",
        ],
        "sv": ["Översätt till engelska: Tåget är försenat på grund av snö."],
        "uk": ["Переклади англійською: Я забула телефон удома."],
        "tr": ["Şunu Almancaya çevirir misin: Hesabı alabilir miyiz?"],
        "es": [
            "Pásame esto al inglés, que es para un correo al cliente: le enviaremos la factura corregida mañana.",
            "Necesito el texto en portugués:\n\nEl horario de atención es de lunes a viernes, de 9 a 18 h.",
        ],
        "fr": ["Tu peux me donner la version allemande de « bonne année et meilleurs vœux » ?"],
        "de": [
            "Wie heißt „Kündigungsfrist“ auf Englisch?",
            "Mach mir daraus bitte eine englische Version: Wir freuen uns auf Ihren Besuch.",
        ],
        "zh": [
            "帮我把这封邮件改成英文：您好，附件是本月的报价单，请查收。",
            "“加油”用韩语怎么说？",
        ],
        "ja": [
            "この案内文をスペイン語にしてもらえますか：本日は休館日です。",
            "「お疲れさまです」は英語でどう言えばいいですか？",
        ],
        "ko": ["이 문장 중국어로 바꿔 줘: 회의는 내일 오전으로 옮겼습니다."],
        "ru": ["Как будет по-испански «счёт, пожалуйста»?"],
        "it": ["Mi traduci in spagnolo questa frase? Il volo è stato cancellato."],
        "pt": ["Passa isso para o inglês: o pedido foi enviado ontem à tarde."],
        "nl": ["Hoe zeg je 'gefeliciteerd' in het Frans?"],
    },
    "qa": {
        "ar": ["ما هي عاصمة أستراليا؟", "متى بُنيت الأهرامات؟"],
        "hi": ["ताजमहल किसने बनवाया था?", "भारत की सबसे लंबी नदी कौन सी है?"],
        "th": ["ประเทศไทยมีกี่จังหวัด"],
        "he": ["מי כתב את 'מאה שנים של בדידות'?"],
        "el": ["Πόσο ψηλός είναι ο Όλυμπος;"],
        "vi": ["Thủ đô của Úc là thành phố nào?"],
        "id": ["Kapan Indonesia merdeka?"],
        "pl": ["Kto odkrył penicylinę?"],
        "sv": ["Vilket är Sveriges största sjö?"],
        "uk": ["Яка найвища гора в Україні?"],
        "tr": ["Türkiye'nin başkenti neresidir?"],
        "en": ["what language do they speak in Brazil", "Which planet has the most moons?"],
    },
    "conversational": {
        "ar": ["مرحبا، كيف حالك اليوم؟", "هل تحب الموسيقى؟"],
        "hi": ["नमस्ते! आप कैसे हो?", "तुम्हें कौन सा खाना पसंद है?"],
        "th": ["สวัสดีครับ วันนี้เป็นยังไงบ้าง"],
        "he": ["היי, מה שלומך?"],
        "el": ["Γεια σου! Τι κάνεις;"],
        "vi": ["Chào bạn, hôm nay bạn thế nào?"],
        "id": ["Halo, kamu lagi ngapain?"],
        "pl": ["Cześć, jak ci minął dzień?"],
        "sv": ["Hej! Vad gillar du att göra?"],
        "uk": ["Привіт! Як справи?"],
        "tr": ["Merhaba, nasılsın?"],
        "en": ["do you ever get tired of answering questions", "you're funny, you know that?"],
    },
}


def own_translation(row: RowFn) -> Iterator[Row]:
    """Own writing: translation requests in many forms and scripts, next to questions and small
    talk in the same scripts (so a script alone does not mean translation)."""
    for label, by_lang in OWN_TRANSLATION.items():
        for lang, texts in by_lang.items():
            for text in texts:
                yield row(text, label, "own_translation", "MIT (own writing)", "own", lang)
