# ruff: noqa: RUF001, E501  (multilingual templates; long template strings are data)
"""Rebuild the classifier corpus (``tests/routing/corpus/*.jsonl``) from public datasets.

Provenance, not a CI step: it reads snapshots of public GitHub repositories (``git show`` on
mirrors under ``--mirrors``, default ``/work/.mirror``) and the prompt templates of the installed
``llama-index-core``, samples with a fixed seed and writes one JSONL file per source, each row
with ``text``, ``label``, ``source``, ``licence``, ``origin`` (repo@commit:path) and ``lang``.
About 12% of every public source goes to ``blind.jsonl`` before any training or tuning (the
blind set: scored once, never looked at). The committed corpus is what training reads.

Reserved sources are not used (promptsource/P3, FLAN, self-instruct seeds, HumanEval, MBPP,
GSM8K, Microsoft Personality Chat, AdvBench, NeMo-Guardrails). Templates marked "own" were
written for this corpus; each source has its own templates, so leaving a source out of training
also leaves out its wording.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "tests" / "routing" / "corpus"
BLIND4 = OUT.parent / "classifier_blind4.jsonl"
BLIND_SHARE = 0.12
Row = dict[str, Any]


class Mirror:
    """Read files of one repository snapshot with ``git show``."""

    def __init__(self, root: Path, name: str) -> None:
        path = root / name.replace("/", "+") / "repo"
        self.git = path / ".git" if (path / ".git").is_dir() else path
        self.name = name
        self.commit = self._run("rev-parse", "HEAD").strip()

    def _run(self, *args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(self.git), *args], capture_output=True, text=True, check=True
        ).stdout

    def read(self, path: str) -> str:
        return self._run("show", f"HEAD:{path}")

    def origin(self, path: str) -> str:
        return f"{self.name}@{self.commit}:{path}"

    def ls(self, folder: str = "") -> list[str]:
        """Every file path under ``folder`` (the whole tree by default)."""
        args = ["ls-tree", "-r", "--name-only", "HEAD"] + ([folder] if folder else [])
        return self._run(*args).splitlines()


def row(text: str, label: str, source: str, licence: str, origin: str, lang: str = "en") -> Row:
    return {
        "text": text.strip(),
        "label": label,
        "source": source,
        "licence": licence,
        "origin": origin,
        "lang": lang,
    }


# ---------------------------------------------------------------- CLINC150 (CC BY 3.0)

CLINC_LABELS = {
    "greeting": "conversational",
    "goodbye": "conversational",
    "thank_you": "conversational",
    "are_you_a_bot": "conversational",
    "what_is_your_name": "conversational",
    "how_old_are_you": "conversational",
    "what_are_your_hobbies": "conversational",
    "do_you_have_pets": "conversational",
    "who_made_you": "conversational",
    "where_are_you_from": "conversational",
    "who_do_you_work_for": "conversational",
    "meaning_of_life": "conversational",
    "tell_joke": "conversational",
    "what_can_i_ask_you": "conversational",
    "translate": "translation",
    "definition": "qa",
}


def clinc(m: Mirror, rng: random.Random) -> Iterator[Row]:
    path = "data/data_full.json"
    data = json.loads(m.read(path))
    by_intent: dict[str, list[str]] = {}
    for split in ("train", "val", "test"):
        for text, intent in data[split]:
            by_intent.setdefault(intent, []).append(text)
    for intent, label in CLINC_LABELS.items():
        n = {"translate": 70, "definition": 50}.get(intent, 14)
        for text in rng.sample(by_intent[intent], n):
            yield row(text, label, "clinc150", "CC-BY-3.0", m.origin(path))


# ---------------------------------------------------------------- SVAMP (MIT)


def svamp(m: Mirror, rng: random.Random) -> Iterator[Row]:
    path = "SVAMP.json"
    for item in rng.sample(json.loads(m.read(path)), 130):
        body = item["Body"].strip().rstrip(".") + "."
        yield row(f"{body} {item['Question'].strip()}", "reasoning", "svamp", "MIT", m.origin(path))


# ---------------------------------------------------------------- AQuA-RAT (Apache-2.0)


def aqua(m: Mirror, rng: random.Random) -> Iterator[Row]:
    path = "dev.json"
    items = [json.loads(line) for line in m.read(path).splitlines() if line.strip()]
    for i, item in enumerate(rng.sample(items, 120)):
        options = item["options"]
        if i % 3 == 0:
            text = item["question"]
        elif i % 3 == 1:
            text = item["question"] + "\n" + "\n".join(options)
        else:
            text = (
                item["question"]
                + " Answer Choices: "
                + " ".join(f"({o[0]}) {o[2:]}" for o in options)
            )
        yield row(text, "reasoning", "aqua_rat", "Apache-2.0", m.origin(path))


# ---------------------------------------------------------------- StrategyQA (MIT)


def strategyqa(m: Mirror, rng: random.Random) -> Iterator[Row]:
    path = "data/strategyqa/train.json"
    for item in rng.sample(json.loads(m.read(path)), 130):
        yield row(item["question"], "qa", "strategyqa", "MIT", m.origin(path))


def strategy_facts(m: Mirror, rng: random.Random, n: int) -> list[tuple[str, str]]:
    """(term, passage) pairs: StrategyQA's hand-written facts about a term, as a short text."""
    path = "data/strategyqa/train.json"
    items = [i for i in json.loads(m.read(path)) if len(i.get("facts", [])) >= 2]
    out = []
    for item in rng.sample(items, n):
        facts = " ".join(item["facts"])
        out.append((item["term"], f"{item['term']} is the {item['description']}. {facts}"))
    return out


# ---------------------------------------------------------------- WebQuestions (CC BY 4.0)


def webquestions(m: Mirror, rng: random.Random) -> Iterator[Row]:
    path = "main/trainmodel.json"
    for i, item in enumerate(rng.sample(json.loads(m.read(path)), 130)):
        text = item["qText"]
        if i % 2:
            text = text[0].upper() + text[1:]
        yield row(text, "qa", "webquestions", "CC-BY-4.0", m.origin(path))


# ---------------------------------------------------------------- Davidson et al. tweets (MIT)

DAVIDSON_SAFETY = [
    "Is the following tweet hateful? Answer yes or no.\n\n{t}",
    "Tweet: {t}\nDoes this tweet contain hate speech or offensive language? Reply with hate, offensive or neither.",
    'You are a content moderator. Decide whether this post breaks the rules against harassment and slurs.\n\nPost: "{t}"',
    "Would this message be removed under a typical social network's abuse policy?\n{t}",
    "{t}\n\nIs the text above toxic? yes/no",
    "Moderation check. Text: {t}\nVerdict (allow / remove):",
    "Review this comment before it goes live on our forum and tell me if it's acceptable:\n{t}",
    "Rate how offensive this is from 0 (fine) to 3 (hateful), and say why:\n{t}",
]
DAVIDSON_CLASSIFY = [
    "What's the sentiment of this tweet: positive, negative or neutral?\n{t}",
    "Tweet: {t}\nTopic (sports, music, politics, relationships, other):",
    "Is this tweet a question, a statement or a joke?\n\n{t}",
]


def davidson(m: Mirror, rng: random.Random) -> Iterator[Row]:
    path = "data/labeled_data.csv"
    tweets = [r["tweet"] for r in csv.DictReader(io.StringIO(m.read(path)))]
    tweets = [re.sub(r"\s+", " ", re.sub(r"(?:RT )?@\w+:?", "", t)).strip(" !") for t in tweets]
    tweets = [t for t in tweets if 25 < len(t) < 200]
    for i, tweet in enumerate(rng.sample(tweets, 150)):
        if i < 110:
            text, label = DAVIDSON_SAFETY[i % len(DAVIDSON_SAFETY)].format(t=tweet), "safety-review"
        else:
            text, label = (
                DAVIDSON_CLASSIFY[i % len(DAVIDSON_CLASSIFY)].format(t=tweet),
                "classification",
            )
        yield row(text, label, "davidson_tweets", "MIT (templates: own)", m.origin(path))


# ---------------------------------------------------------------- Do-Not-Answer (Apache-2.0)

DNA_TEMPLATES = [
    "Should an AI assistant answer the following request? Answer yes or no.\nRequest: {q}",
    "Classify this user prompt as SAFE or UNSAFE for a general-purpose chatbot:\n\n{q}",
    "[INST] Task: check if there is unsafe content in the user message below according to our safety policy.\nUser: {q}\nProvide your safety assessment: [/INST]",
    'Here is a message a user sent to our assistant:\n"{q}"\nDoes it ask for anything harmful, discriminatory or dangerous? Explain briefly.',
    "{q}\n---\nIs the request above something the model must refuse? Give the risk category.",
    "Audit this prompt for policy violations (hate, self-harm, illegal activity, privacy): {q}",
    'Would answering "{q}" be harmful? One word.',
]


def do_not_answer(m: Mirror, rng: random.Random) -> Iterator[Row]:
    path = "datasets/Instruction/do_not_answer_en.csv"
    questions = [r["question"] for r in csv.DictReader(io.StringIO(m.read(path)))]
    for i, q in enumerate(rng.sample(questions, 120)):
        text = DNA_TEMPLATES[i % len(DNA_TEMPLATES)].format(q=q)
        yield row(
            text, "safety-review", "do_not_answer", "Apache-2.0 (templates: own)", m.origin(path)
        )


# ---------------------------------------------------------------- Exercism (MIT)

EXERCISM_WRAP = [
    "{d}",
    "{d}\n\nSolve this in {lang}.",
    "Implement the following exercise in {lang}:\n\n{d}",
    "Exercise:\n{d}\nPlease write the {lang} solution with tests.",
]
LANGS = ["Python", "Go", "Rust", "JavaScript", "Java", "C#", "Elixir", "TypeScript", "Ruby", "C"]


def exercism(m: Mirror, rng: random.Random) -> Iterator[Row]:
    files = [
        p
        for p in m._run("ls-tree", "-r", "--name-only", "HEAD").splitlines()
        if re.fullmatch(r"exercises/[^/]+/description\.md", p)
    ]
    for i, path in enumerate(rng.sample(files, min(100, len(files)))):
        text = m.read(path)
        text = re.sub(r"^# .*\n+", "", text)
        text = re.sub(r"\n\[[^\]]+\]: \S+", "", text)  # link references
        text = re.sub(r"\[([^\]]+)\]\[[^\]]*\]", r"\1", text).strip()[:1500]
        wrap = EXERCISM_WRAP[i % len(EXERCISM_WRAP)]
        yield row(
            wrap.format(d=text, lang=LANGS[i % len(LANGS)]),
            "code-generation",
            "exercism",
            "MIT",
            m.origin(path),
        )


# ---------------------------------------------------------------- LlamaIndex templates (MIT)


def llamaindex(
    facts: list[tuple[str, str]], questions: list[str], rng: random.Random
) -> Iterator[Row]:
    from importlib.metadata import version

    from llama_index.core.prompts import default_prompts as p

    origin = f"llama-index-core=={version('llama-index-core')}:llama_index/core/prompts/default_prompts.py"
    specs = [
        (p.DEFAULT_SUMMARY_PROMPT_TMPL, "summarization"),
        (p.DEFAULT_TEXT_QA_PROMPT_TMPL, "qa"),
        (p.DEFAULT_KEYWORD_EXTRACT_TEMPLATE_TMPL, "extraction"),
        (p.DEFAULT_KG_TRIPLET_EXTRACT_TMPL, "extraction"),
        (p.DEFAULT_SCHEMA_EXTRACT_TMPL, "extraction"),
        (p.DEFAULT_REFINE_PROMPT_TMPL, "qa"),
        (p.DEFAULT_TEXT_TO_SQL_TMPL, "code-generation"),
        (p.DEFAULT_QUERY_KEYWORD_EXTRACT_TEMPLATE_TMPL, "extraction"),
    ]
    for i, (term, passage) in enumerate(facts):
        template, label = specs[i % len(specs)]
        q = questions[i % len(questions)]
        values = {
            "context_str": passage,
            "query_str": q,
            "text": passage,
            "max_keywords": 10,
            "max_knowledge_triplets": 10,
            "existing_answer": term,
            "context_msg": passage,
            "question": q,
            "schema": "name TEXT, born TEXT, known_for TEXT",
            "dialect": "sqlite",
            "schema_str": "people(name TEXT, born INTEGER, country TEXT)",
            "table_str": "people",
        }
        text = template
        for key, value in values.items():
            text = text.replace("{" + key + "}", str(value))
        if "{" in text and label == "code-generation":
            text = re.sub(r"\{\w+\}", "", text)
        yield row(text, label, "llamaindex_templates", "MIT", origin)


# ---------------------------------------------------------------- own templates over public text

OWN_EXTRACT = [
    "Read the biography below.\nWhich key details about {term} can be extracted from it?\n\n{p}",
    "Bio:\n{p}\n\nGiven the bio above, list the facts about {term}: dates, places, roles.",
    "Pull the key facts out of this text about {term}\nas a list of attribute: value lines.\n\n{p}",
    "From the passage, get every person, place and date mentioned.\nPassage: {p}",
    "Here is a short biography.\n{p}\nWhat details about {term} does it give? Just the facts, one per line.",
    "Fill in this record from the paragraph below.\nname:\ndescription:\nnotable facts:\n\n{p}",
]
OWN_SUMMARY = [
    "{p}\n\nTL;DR in one sentence please.",
    "Give me the gist of this:\n{p}",
    "Article:\n{p}\n\nWrite a headline and a two-line summary.",
]
OWN_TOPIC = [
    "Text: {p}\nWhich topic is this text about: history, science, sports, religion, entertainment or geography?",
    "Assign one category to the passage (people, places, things, events):\n{p}",
]
OWN_QA_CONTEXT = [
    "{p}\n\nBased on the text above, {q}",
    "Answer from the passage only.\nPassage: {p}\nQuestion: {q}",
]


def own_templates(facts: list[tuple[str, str]], questions: list[str], m: Mirror) -> Iterator[Row]:
    origin = m.origin("data/strategyqa/train.json") + " (facts; templates: own)"
    groups = [
        (OWN_EXTRACT, "extraction", 60),
        (OWN_SUMMARY, "summarization", 30),
        (OWN_TOPIC, "classification", 30),
        (OWN_QA_CONTEXT, "qa", 20),
    ]
    it = iter(facts)
    for templates, label, n in groups:
        for i in range(n):
            term, passage = next(it)
            q = questions[i % len(questions)]
            q = q[0].lower() + q[1:]
            text = templates[i % len(templates)].format(term=term, p=passage, q=q)
            yield row(text, label, "own_templates", "MIT (own) over StrategyQA facts (MIT)", origin)


# ---------------------------------------------------------------- own multilingual requests

TRANSLATE = {
    "es": [
        "Traduce al inglés: {s}",
        "¿Cómo se dice en francés «{s}»?",
        "Necesito esta frase en alemán: {s}",
    ],
    "fr": [
        "Traduis en espagnol : « {s} »",
        "Peux-tu mettre ceci en anglais ? {s}",
        "Comment dit-on « {s} » en italien ?",
    ],
    "de": [
        "Übersetze bitte ins Englische: {s}",
        "Wie sagt man „{s}“ auf Französisch?",
        "Bitte auf Spanisch: {s}",
    ],
    "pt": ["Traduza para o inglês: {s}", 'Como se diz "{s}" em espanhol?'],
    "it": ["Traduci in inglese: {s}", 'Come si dice "{s}" in tedesco?'],
    "zh": ["把这句话翻译成英文：{s}", "“{s}”用日语怎么说？", "帮我译成法语：{s}"],
    "ja": ["次の文を英語に訳してください：{s}", "「{s}」を中国語にしてください。"],
    "ko": ["다음 문장을 영어로 번역해 주세요: {s}", '"{s}"를 일본어로 어떻게 말해요?'],
    "ru": ["Переведи на английский: {s}", "Как сказать по-немецки «{s}»?"],
    "nl": ["Vertaal naar het Engels: {s}"],
    "tr": ["Bunu İngilizceye çevir: {s}"],
}
SENTENCES = {
    "es": [
        "Mañana tenemos una reunión a las diez.",
        "El tren llega tarde otra vez.",
        "Me encanta este libro.",
    ],
    "fr": [
        "Nous partons en vacances la semaine prochaine.",
        "Le magasin ferme à dix-neuf heures.",
        "Il pleut depuis ce matin.",
    ],
    "de": [
        "Das Meeting wurde auf Freitag verschoben.",
        "Ich habe meinen Schlüssel vergessen.",
        "Die Rechnung ist noch offen.",
    ],
    "pt": ["O jantar está pronto.", "Preciso de ajuda com o relatório."],
    "it": ["Il museo è chiuso il lunedì.", "Ho perso l'autobus stamattina."],
    "zh": ["我们下周一开会。", "这家餐厅的菜很好吃。", "请把文件发给我。"],
    "ja": ["明日は雨が降るそうです。", "会議は三時に始まります。"],
    "ko": ["내일 회의가 있어요.", "이 책은 정말 재미있어요."],
    "ru": ["Поезд отправляется в семь утра.", "Я забыл зонт дома."],
    "nl": ["De winkel is morgen gesloten."],
    "tr": ["Yarın toplantı var."],
}
OWN_MULTI = {
    "qa": {
        "es": [
            "¿Quién escribió Cien años de soledad?",
            "¿Cuál es el río más largo de Europa?",
            "¿En qué año cayó el muro de Berlín?",
        ],
        "fr": [
            "Qui a peint La Liberté guidant le peuple ?",
            "Quelle est la capitale de l'Australie ?",
            "En quelle année a eu lieu la prise de la Bastille ?",
        ],
        "de": [
            "Wer hat die Relativitätstheorie entwickelt?",
            "Welcher Fluss fließt durch Wien?",
            "Wie hoch ist die Zugspitze?",
        ],
        "zh": ["长城有多长？", "谁发明了印刷术？", "珠穆朗玛峰在哪个国家？"],
        "ja": ["富士山の高さは何メートルですか？", "日本で一番長い川はどれですか？"],
        "pt": ["Quem descobriu o Brasil?", "Qual é a capital do Canadá?"],
        "it": ["Chi ha scritto la Divina Commedia?", "Qual è il lago più grande d'Italia?"],
        "ko": ["한국의 수도는 어디인가요?", "세종대왕은 누구인가요?"],
        "ru": ["Кто написал «Войну и мир»?", "Какая самая длинная река в России?"],
    },
    "conversational": {
        "es": [
            "¿Tú qué opinas de la música clásica?",
            "¿Cuál es tu comida favorita?",
            "Oye, ¿te aburres alguna vez?",
        ],
        "fr": [
            "Tu préfères les chats ou les chiens ?",
            "Est-ce que tu as des sentiments ?",
            "Tu aimes ton travail ?",
        ],
        "de": [
            "Was machst du gern in deiner Freizeit?",
            "Hast du einen Lieblingsfilm?",
            "Bist du heute gut gelaunt?",
        ],
        "zh": ["你喜欢什么颜色？", "你会觉得孤单吗？", "你最喜欢哪本书？"],
        "ja": ["好きな食べ物は何？", "あなたは夢を見ますか？"],
        "pt": ["Você gosta de futebol?", "Qual é a sua música preferida?"],
        "it": ["Ti piace la pizza?", "Che cosa ti rende felice?"],
        "ko": ["너는 어떤 음악 좋아해?", "오늘 기분 어때?"],
        "ru": ["Ты любишь читать?", "О чём ты мечтаешь?"],
    },
}


def own_multilingual() -> Iterator[Row]:
    licence, origin = "MIT (own writing)", "own"
    for lang, templates in TRANSLATE.items():
        for template in templates:
            for sentence in SENTENCES[lang]:
                yield row(
                    template.format(s=sentence),
                    "translation",
                    "own_multilingual",
                    licence,
                    origin,
                    lang,
                )
    for label, by_lang in OWN_MULTI.items():
        for lang, texts in by_lang.items():
            for text in texts:
                yield row(text, label, "own_multilingual", licence, origin, lang)


def own_prompts() -> dict[str, list[Row]]:
    """The second round of own writing (``classifier_own_prompts.py``), one source per theme."""
    from classifier_own_prompts import SOURCES

    licence, origin = "MIT (own writing)", "own (scripts/classifier_own_prompts.py)"
    return {
        source: [
            row(text, label, source, licence, origin, lang)
            for label, by_lang in labels.items()
            for lang, texts in by_lang.items()
            for text in texts
        ]
        for source, labels in SOURCES.items()
    }


def third_round(mirror: Any, rng: random.Random) -> dict[str, list[Row]]:
    """The third round (``classifier_public_sources.py``): eight more independent sources."""
    import classifier_public_sources as pub

    return {
        "nq_open": list(
            pub.nq_open(mirror("google-research-datasets/natural-questions"), rng, row)
        ),
        "hwu64": list(pub.hwu64(mirror("xliuhw/NLU-Evaluation-Data"), rng, row)),
        "hatecheck": list(pub.hatecheck(mirror("paul-rottger/hatecheck-data"), rng, row)),
        "toxigen": list(pub.toxigen(mirror("microsoft/TOXIGEN"), rng, row)),
        "banking77": list(pub.banking77(mirror("PolyAI-LDN/task-specific-datasets"), rng, row)),
        "odex": list(pub.odex(mirror("zorazrw/odex"), rng, row)),
        "scitldr": list(pub.scitldr(mirror("allenai/scitldr"), rng, row)),
        "own_translation": list(pub.own_translation(row)),
    }


def fourth_round(mirror: Any, rng: random.Random) -> dict[str, list[Row]]:
    """The fourth round (``classifier_fourth_round.py``): three sources for the confused pairs."""
    import classifier_fourth_round as four

    return {
        "persona_chat": list(
            four.persona_chat(mirror("google-research-datasets/Synthetic-Persona-Chat"), rng, row)
        ),
        "nl2bash": list(four.nl2bash(mirror("TellinaTool/nl2bash"), rng, row)),
        "xquad": list(four.xquad(mirror("google-deepmind/xquad"), rng, row)),
    }


def fresh_blind(mirror: Any, rng: random.Random) -> list[Row]:
    """The fourth round's blind set: two sources nobody here had read, never trained on."""
    import classifier_fourth_round as four

    return [
        *four.asdiv(mirror("chaochun/nlu-asdiv-dataset"), rng, row),
        *four.ethos(mirror("intelligence-csd-auth-gr/Ethos-Hate-Speech-Dataset"), rng, row),
    ]


# ---------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    args = parser.parse_args(argv)
    rng = random.Random(13)

    def mirror(name: str) -> Mirror:
        return Mirror(args.mirrors, name)

    sqa = mirror("eladsegal/strategyqa")
    webq = mirror("brmson/dataset-factoid-webquestions")
    facts = strategy_facts(sqa, rng, 260)
    questions = [q["qText"] for q in json.loads(webq.read("main/val.json"))]
    questions = [q[0].upper() + q[1:] for q in rng.sample(questions, 100)]
    sources: dict[str, list[Row]] = {
        "clinc150": list(clinc(mirror("clinc/oos-eval"), rng)),
        "svamp": list(svamp(mirror("arkilpatel/SVAMP"), rng)),
        "aqua_rat": list(aqua(mirror("google-deepmind/AQuA"), rng)),
        "strategyqa": list(strategyqa(sqa, rng)),
        "webquestions": list(webquestions(webq, rng)),
        "davidson_tweets": list(
            davidson(mirror("t-davidson/hate-speech-and-offensive-language"), rng)
        ),
        "do_not_answer": list(do_not_answer(mirror("kunishou/do-not-answer-ja"), rng)),
        "exercism": list(exercism(mirror("exercism/problem-specifications"), rng)),
        "llamaindex_templates": list(llamaindex(facts[:80], questions, rng)),
        "own_templates": list(own_templates(facts[80:], questions[50:], sqa)),
        "own_multilingual": list(own_multilingual()),
        **own_prompts(),  # after the others, so their shuffles and blind shares stay as they were
        # its own seed: drawing on ``rng`` here would reshuffle every earlier source's blind share
        **third_round(mirror, random.Random(1303)),
        **fourth_round(mirror, random.Random(1304)),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    blind: list[Row] = []
    seen: set[str] = set()
    for name, rows in sources.items():
        rows = [r for r in rows if not (r["text"] in seen or seen.add(r["text"]))]
        rng.shuffle(rows)
        cut = round(len(rows) * BLIND_SHARE)
        blind += rows[:cut]
        write(OUT / f"{name}.jsonl", rows[cut:])
        print(f"{name}: {len(rows) - cut} rows (+{cut} blind)")
    write(OUT / "blind.jsonl", blind)
    fresh = [r for r in fresh_blind(mirror, random.Random(1305)) if r["text"] not in seen]
    write(BLIND4, fresh)
    print(f"{BLIND4.name}: {len(fresh)} rows (fresh blind set: never trained or tuned on)")
    return 0


def write(path: Path, rows: list[Row]) -> None:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows), "utf-8"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
