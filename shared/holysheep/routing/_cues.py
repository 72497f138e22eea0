# ruff: noqa: RUF001  (multilingual cues: full-width and curly punctuation are meant)
"""Cue tables for the local task classifier: words, word prefixes and phrases, with weights.

Data, not logic (``_classifier`` compiles these once). Weights: about 3-4 for a cue that names
the task ("translate", "summarize", 翻译), 2 for a strong hint, 1 or less for a weak one.
``WORDS`` match whole Latin/Cyrillic words, ``PREFIXES`` the start of a word (``summar`` covers
summary/summarize/summarise), ``PHRASES`` are regular expressions searched in the lower-cased
instruction, which is how Chinese and Japanese cues (no spaces between words) are found.
Languages: English, Chinese, Spanish, French, German, Japanese; a few Portuguese, Italian,
Korean and Russian cues.
"""

from __future__ import annotations

__all__ = ["LANGUAGE_NAMES", "PHRASES", "PREFIXES", "WORDS"]

LANGUAGE_NAMES = (
    "english|spanish|french|german|japanese|chinese|mandarin|cantonese|korean|italian|"
    "portuguese|dutch|russian|arabic|hindi|latin|greek|turkish|polish|swedish|vietnamese|thai|"
    "indonesian|hebrew|ukrainian|danish|norwegian|finnish|czech"
)
_ZH_LANGS = "英文|英语|中文|汉语|日语|日文|法语|法文|德语|德文|西班牙语|韩语|俄语"
_JA_LANGS = "英語|日本語|中国語|フランス語|ドイツ語|スペイン語|韓国語"
_FR_LANGS = "anglais|français|espagnol|allemand|italien|japonais|chinois|portugais"
_DE_LANGS = "englisch|deutsch|französisch|spanisch|italienisch|japanisch|chinesisch"
_ES_LANGS = "inglés|francés|español|alemán|italiano|japonés|chino|portugués"
_CODES = "en|de|fr|es|it|pt|zh|ja|ko|ru|nl"


def _weights(spec: str) -> dict[str, float]:
    """``"gist=3 recap=2.5"`` -> ``{"gist": 3.0, "recap": 2.5}`` (keeps the tables compact)."""
    pairs = (item.rsplit("=", 1) for item in spec.split())
    return {word: float(weight) for word, weight in pairs}


WORDS: dict[str, dict[str, float]] = {
    "summarization": _weights(
        "tl;dr=3 tldr=3 gist=3 recap=3 synopsis=3 digest=2.5 shorten=2.5 shorter=2 abridge=3 "
        "abstract=2 overview=1.5 takeaways=3 highlights=2 condense=3 brief=0.5 resumen=3 "
        "resumir=3 resuma=3 resumo=3 synthèse=3 kurzfassung=3 kernaussage=3 kernaussagen=3"
    ),
    "classification": _weights(
        "tag=2 sentiment=3 spam=2.5 clickbait=2.5 genre=2 intent=1.5 priority=1.5 urgency=1.5 "
        "triage=2.5 category=2.5 categories=2.5 bucket=2.5 classe=2 catégorie=2.5 "
        "categoría=2.5 stimmung=2 positiv=2 negativ=2 positif=2 négatif=2 positivo=2 "
        "negativo=2 positive=1.5 negative=1.5 neutral=1 urgent=1 topics=1.5 topic=1 "
        "register=1 emotion=1.5 tone=1 ordne=2 einordnen=3 assign=2"
    ),
    "extraction": _weights(
        "extract=3.5 extraction=3.5 parse=2.5 entities=2.5 scrape=2.5 fields=1.5 json=1 iso=1 "
        "url=1.5 urls=1.5 hashtags=1.5 extrae=3.5 extraer=3.5 saca=2.5 sacar=2.5 relève=2.5 "
        "estrai=3.5 mentioned=1 pairs=1.5 quantities=1.5 amounts=1.5 grab=2.5 capture=2"
    ),
    "conversational": _weights(
        "hi=2.5 hey=2.5 hello=2.5 hiya=2.5 yo=2 sup=2 thanks=2 lol=2.5 haha=2.5 hahaha=2.5 "
        "ugh=2 bored=2 lonely=2.5 vent=2.5 nervous=1.5 excited=1.5 hola=3 gracias=2 "
        "buenas=2.5 salut=3 bonjour=2.5 bonsoir=3 coucou=3 merci=2 hallo=3 servus=3 moin=3 "
        "danke=2 plaudern=3 langweilig=2 oi=3 olá=3 cool=1 triste=1.5 chat=1.5 hablamos=2 "
        "luck=1 privet=3 привет=3"
    ),
    "translation": _weights(
        "localize=3 localise=3 localization=3 localisation=3 "
        "translate=4 translation=4 translating=4 traduce=4 traducir=4 traduis=4 traduire=4 "
        "traduz=4 übersetze=4 übersetzen=4 übersetzung=4 subtitle=1.5 переведи=4 перевод=3 "
        "traduzione=4 traduci=4 languages=1.5"
    ),
    "qa": _weights(
        "define=2 definition=2 wann=2 combien=1.5 quand=1.5 warum=1.5 pourquoi=1.5 whats=1.5"
    ),
    "code-generation": _weights(
        "code=2.5 snippet=3 python=2 javascript=2.5 typescript=2.5 java=2 rust=2 golang=2.5 "
        "kotlin=2.5 swift=1.5 c++=2.5 bash=2.5 shell=1.5 awk=2.5 sql=3 regex=3 cron=3 "
        "function=2 script=2 dockerfile=3 docker=2 terraform=3 react=2.5 component=1.5 "
        "endpoint=2 api=2 pytest=3 compiler=2.5 refactor=3 bug=2 pandas=2.5 dataframe=2.5 "
        "dataframes=2.5 quicksort=2.5 algorithm=1.5 docstring=1.5 serializer=2 flask=2 "
        "django=2 html=2.5 css=2.5 json=0.5 one-liner=2 loop=1.5 array=2 printf=2.5 "
        "función=2.5 código=3 fonction=2.5 funktion=2.5 skript=2.5 função=2.5 class=1 "
        "method=1.5 methods=1.5 workflow=1 debug=2.5 git=2 npm=2.5 requête=1.5 "
        "implémente=3 implémenter=3 реализуй=3 реализовать=2.5 функцию=2.5 makefile=3 "
        "linters=2 cli=2 input=1 output=1 returns=1.5 stdin=3 stdout=3 parser=2 "
        # the file system and the shell, which tasks stated with no programming word act on
        "directory=1.5 directories=1.5 subdirectories=2 folder=1 files=1 symlinks=2.5 "
        "symlink=2.5 chmod=3 recursively=2 filename=1.5 filenames=1.5 permissions=1 "
        "répertoire=1.5 dossier=1 fichiers=1 verzeichnis=1.5 ordner=1 dateien=1 "
        "directorio=1.5 carpeta=1 archivos=1 каталог=1.5 папке=1 файлы=1 "
        "recursion=2.5 recursive=2 iterate=1.5 hashmap=3 linked=1 queue=1 stack=1 "
        "dictionary=1 string=1 strings=1 integer=1 integers=1.5 boolean=2 tuple=2 substring=2"
    ),
    "reasoning": _weights(
        "prove=3 proof=3 puzzle=3 riddle=3 logic=2 logical=2 solve=2.5 probability=2.5 "
        "justify=2.5 reasoning=2.5 reason=1.5 derivative=3 integral=3 equation=2.5 "
        "factorial=3 calculate=2 compute=1.5 sequence=2 valid=1.5 deduction=2.5 deduce=2.5 "
        "explain=0.5 resuelve=3 demuestra=3 résous=3 démontre=3 justifie=2.5 récurrence=3 "
        "löse=3 beweise=3 begründe=2.5 rätsel=3 irrational=2 prime=1.5 primes=1.5 divisible=2 "
        "constraints=1.5 angles=1.5 hexagon=1.5 triangle=1.5 area=1 perimeter=1.5"
    ),
    "safety-review": _weights(
        "phishing=3.5 scam=3 jailbreak=3.5 harmful=3 dangerous=2 harassment=3 moderate=3 "
        "moderation=3 toxic=2 offensive=2.5 slurs=3 slur=3 pii=3 redact=2.5 redacted=2.5 "
        "unsafe=3 safety=3 nsfw=3 bias=2 threat=2.5 violence=2 refuse=2 leaks=2.5 leak=2.5 "
        "confidential=2 credentials=2 illegal=2 misleading=2 inappropriate=2.5 appropriate=2 "
        "audit=1.5 escalated=1.5 flag=1.5 guidelines=2.5 suspicious=2.5 legit=2 creepy=2 "
        "predatory=2.5 kill=1.5 suicide=2 abuse=1.5 racist=2 sexist=2 weapon=2 weapons=2 "
        "estafa=3.5 incumple=3 ofensivo=2.5 haineux=3 harcèlement=3 arnaque=3.5 approprié=2 "
        "richtlinien=3 verstößt=3 hassrede=3 red-team=3 policy=1.5 "
        "hateful=3 hate=1 abusive=3 insults=2 insult=2 threats=2 moderator=3 moderators=3 "
        "misinformation=2.5 disinformation=2.5 removal=1 takedown=2.5 bannable=3 "
        "odio=1.5 ódio=2 haine=2 haineuse=3 insultos=2 insulti=2.5 minacce=2.5 amenazas=2 "
        "menaces=2 drohungen=2.5 beleidigungen=3 оскорбления=3 угрозы=2.5 ненависти=2.5"
    ),
    "analysis": _weights(
        "compare=2.5 comparison=2.5 swot=3.5 trend=2 trends=2 insights=2.5 insight=2.5 "
        "implications=2.5 impact=2 critique=3 weigh=2 interpret=2.5 examine=2.5 risks=2 "
        "feasibility=2.5 themes=2 convincing=2 drivers=1.5 factors=2 patterns=2 tradeoffs=3 "
        "trade-offs=3 opportunities=2 significant=1.5 versus=1.5 vs=1 landscape=2 lessons=1.5 "
        "compara=3 ventajas=2 desventajas=2 riesgos=2 oportunidades=2 vergleiche=3 "
        "bewerte=2.5 causes=1.5 strategy=1 appraise=3 appraisal=3 consequences=2 diagnose=1.5 "
        "enjeux=2.5 évalue=2.5 évaluer=2.5 risques=2 avantages=1.5 inconvénients=2 risiken=2 "
        "chancen=1.5 einschätzen=2.5 bewerten=2.5 evalúa=2.5 evaluar=2.5 valuta=2.5 valutare=2.5 "
        "avalie=2.5 avaliar=2.5 prós=2 contras=2 оцени=2.5 оценить=2.5 проанализируй=3.5 "
        "разбери=2 риски=2 причины=1.5"
    ),
}

PREFIXES: dict[str, dict[str, float]] = {
    "summarization": _weights(
        "summar=3.5 condens=3 zusammenfass=3.5 résum=3 sintetiz=3 synthétis=3"
    ),
    "classification": _weights(
        "classif=3.5 categori=3 kategori=3 klassifizier=3.5 clasific=3.5 label=2.5"
    ),
    "extraction": _weights("extrai=3.5 extrahier=3.5 heraus=2.5 récupèr=2.5"),
    "translation": _weights("translat=4 traduc=4 tradui=4 übersetz=4"),
    "code-generation": _weights("implement=2.5 programm=1.5"),
    "reasoning": _weights("deduc=2.5"),
    "safety-review": _weights(
        "violat=3 moderat=3 modérat=3 moderac=3 moderaç=3 phish=3.5 safe=1.5 discrimin=2.5 "
        "beleidig=2.5 stereotyp=2 оскорб=2.5"
    ),
    "analysis": _weights(
        "analy=3.5 analiz=3.5 evaluat=2.5 assess=2.5 analysier=3.5 vergleich=3 beurteil=3"
    ),
}

PHRASES: dict[str, dict[str, float]] = {
    "summarization": {
        r"key (?:points|takeaways)|main (?:points|ideas)|short version|short of it": 3,
        r"in a nutshell|cliff ?notes|sum (?:it |this |these |that )?up|boil .{0,40}down": 3,
        r"brief overview|executive summary|status update|make (?:it|this) shorter": 2.5,
        r"what (?:is|'s) (?:this|the) (?:text|article|email|document|report|post) about": 2.5,
        r"in (?:one|two|three|four|five|a few|\d+) (?:sentences?|lines?|bullets?|words)": 2,
        r"\b\d+[- ]word\b|bullet points|one[- ]paragraph|short recap": 1.5,
        r"\bresume (?:este|esta|el|la|los|las|en)\b|puntos clave|ideas principales": 3,
        r"de qué trata|en pocas palabras|de quoi parle|points clés|en quelques mots": 3,
        r"idées principales|wichtigste|fass\w* .{0,40}zusammen|worum geht": 3,
        r"in \w+ sätzen|in kürze|kurz und knapp": 2,
        r"总结|摘要|概括|概述|归纳|要点|大意|主要内容|简述|核心意思|要約|まとめ|概要|手短": 3.5,
        r"一句话|简要|压缩|簡単に|簡潔に|内容を": 1.5,
    },
    "classification": {
        r"positive,? (?:or )?negative|positive or negative|positive/negative": 3,
        r"positivo|negativo|positif ou négatif|buen[oa] o mal[oa]|good or bad": 3,
        r"which (?:category|genre|department|topic|class|type|bucket|group|team|language)": 2.5,
        r"what (?:kind|type|category|sort) of|dans quelle catégorie|qué tipo de": 2,
        r"assign (?:a|each|the)|one of(?: these)?:|into one of|belongs? to": 2,
        r"falls? (?:into|under)": 2,
        r"(?:spam|formal|urgent) or\b|star rating|sort (?:these|them|each|into)|group these": 2,
        r"which of these .{0,60} and which|\brate (?:the|this|each|these)\b|yes or no": 2,
        r"\w+, [\w ]{1,25},? (?:or|oder|o|ou|还是) [\w ]{1,25}[?:.？]": 1.5,
        r"\w+ (?:or|oder|o|ou) \w+\s*[?？]": 1,
        r"分类|归类|类别|情感|正面|负面|属于|哪一类|哪类|垃圾邮件": 3,
        r"分類|感情|ポジティブ|ネガティブ": 3,
        r"スパム|カテゴリ|判定|분류|긍정|부정|gehört zu|appartient à|pertenece a": 2.5,
        r"判断": 1.5,
    },
    "extraction": {
        r"pull out|pick out|key[- ]value|key fields|named entities|structured data": 3,
        r"(?:list|find|get|grab) (?:all|every|each)\b|return (?:only|them)|as json|into json": 2,
        r"\b(?:identify|collect|name|highlight|extract) (?:all|every|each"
        r"|the \w+ (?:mentioned|named))|one per line|\bmentioned (?:in|here)\b"
        r"|извлеки|выпиши|estrai|extrahiere": 2,
        r"fill (?:in )?(?:this|the) (?:form|json|schema|table)|json object|\blist them\b": 2,
        r"(?:get|give) me the (?:\w+ ){0,3}(?:numbers?|dates?|names?|address(?:es)?|phone)": 2,
        r"\bfrom (?:this|the|these) (?:receipt|invoice|letter|email|document|post|page)": 1.5,
        r"\bfrom (?:this|the|these) (?:contract|form|resume|cv|text|paragraph|message|log)": 1.5,
        r"email address(?:es)?|phone numbers?|welche \w+ stehen|liste (?:alle|tous|toutes)": 2,
        r"提取|抽取|找出|列出|摘出|取出|抽出|抜き出|取り出": 3.5,
    },
    "conversational": {
        r"how are you|how's it going|what's (?:up|good)|how was your|nice to meet you": 3,
        r"good (?:morning|night|evening)|see you|keep me company|wish me luck|guess what": 2.5,
        r"long time no see|am i right|you know that|you're (?:so |pretty |very )?\w+ for": 2.5,
        r"let's (?:just )?chat|tell me something|entertain me|i'm bored|just want(?:ed)? to": 2,
        r"do you ever|what do you like|for fun|you're my friend|tell me another|your day": 2,
        r"go to (?:bed|sleep)|any thoughts|i'm so|i feel|feeling|i just got|i finally": 1,
        r"qué tal|tu día|cómo estás|buenos días|buenas noches|hasta mañana|ça va|bonne nuit": 3,
        r"à demain|et toi|tu fais quoi|wie geht|alles klar|guten (?:morgen|abend)|gute nacht": 3,
        r"schönes wochenende|^na\b|tudo bem": 3,
        r"\byour (?:name|favou?rite|hobbies|age)\b|who (?:made|built|created) you"
        r"|how old are you": 3,
        r"are you (?:a |an )?(?:real|human|person|robot|bot|ai)\b|tell me a joke|make me laugh": 3,
        r"te llamas|tu t'appelles|heißt du|seu nome|ti chiami|тебя зовут|chiste|blague|witz": 3,
        r"你叫什么|笑话|名前は|面白い話|이름이|농담|barzelletta|piada|анекдот": 3,
        r"你好|您好|晚上好|早上好|早安|晚安|最近怎么样|过得怎么样|陪我|聊聊|聊天|哈哈|谢谢|心情": 3,
        r"こんにちは|こんばんは|おはよう|おやすみ|ありがとう|雑談|元気|よろしく": 3,
        r"[\U0001F300-\U0001FAFF\u2600-\u27BF]": 2,
        # greetings in languages the lines above do not read
        r"^(?:merhaba|selam|cześć|czesc|ahoj|szia|hej|hei|halo|ciao|salve|namaste|xin chào"
        r"|привіт|здравствуй|γει[αά])\b|^(?:مرحبا|السلام عليكم|नमस्ते|สวัสดี|안녕)": 3,
    },
    "translation": {
        r"how (?:do|would) (?:you|i) (?:say|write)|how to say|what does .{1,40} mean in": 3.5,
        r"how (?:do|would|does) (?:they|people|the \w+|\w+ speakers) say"
        r"|what(?:'s| is) the word for": 3,
        rf"(?:into|to|in) (?:plain )?(?:{LANGUAGE_NAMES})\b": 2,
        rf"(?:{LANGUAGE_NAMES}) (?:version|translation|word|words|for)\b": 3,
        r"\bin (?:\w+ )?(?:different )?languages\b|\bsay ['\"‘“].{1,60}['\"’”] in\b": 2.5,
        r"cómo se dice|qué significa|comment dit-on|que veut dire|wie sagt man|was heißt": 3.5,
        rf"\bal (?:{_ES_LANGS})|\ben (?:{_FR_LANGS})|\bauf (?:{_DE_LANGS})|\bins \w+e\b": 2.5,
        r"翻译|译成|译为|翻成|翻訳|訳して|訳す|英訳|和訳|怎么说|怎么写|何と言い|にすると": 3,
        rf"{_ZH_LANGS}|{_JA_LANGS}": 2,
        # "English" in languages the other cues do not read
        r"angiel|inggris|ingiliz|tiếng anh|αγγλικ|англ|אנגלית|अंग्रेज़|อังกฤษ|영어|engelsk": 2,
        rf"\b(?:{_CODES})\s*(?:→|->|>|2)\s*(?:{_CODES})\b": 3,
    },
    "qa": {
        r"^(?:what|who|when|where|which|why|how)(?:'s| is| are| was| were| did| does| do)\b": 2,
        r"^how (?:many|much|long|tall|old|far|big|does|do)\b|what does .{1,30} stand for": 2,
        r"(?<=. )(?:what|who|when|where|which|why|how) (?:is|are|was|were|did|does|do)\b": 1,
        r"^what does .{1,40} mean\??$|^tell me (?:who|what|when|where|why|how)\b": 1.5,
        r"^(?:do|does|did|is|are|can|was|were) \w+|explain what (?:a|an|the) ": 1,
        r"difference between|according to|capital of|quick question|is it safe to eat": 2,
        r"¿(?:en )?(?:qué|cuál|cuáles|quién|quiénes|cuándo|dónde|cómo|cuánt\w+|por qué)": 2,
        r"quelle? (?:est|sont)|quels? (?:est|sont)|qui (?:a|est)|qu'est-ce qu|^où\b": 2,
        r"^(?:was ist|wer|wo ist|wie viel|wie heißt|wie (?:hoch|lang|groß|weit|alt))|qual è": 2,
        r"什么|是谁|谁|哪里|哪个|多少|为什么|多长|多高|多大|多远": 2,
        r"とは|何ですか|誰|いつ|どこ|どれ": 2,
        r"吗[？?]|ですか|なぜ|どうして": 1,
    },
    "code-generation": {
        r"```|^\s*(?:def|class|import|from \S+ import|#include|function|public class)\b": 3,
        r"write (?:a|an|me a|the) .{0,30}(?:function|script|query|class|program|server)": 2.5,
        r"unit tests?|rest api|http server|github actions|binary search tree|data class": 2.5,
        r"left join|for loop|regular expression|cron expression|html page|web page": 2.5,
        r"\w\([^)]*\)\s*[:{;]|=>|console\.log|print\(|\.\w+\(|[{};]\s*$": 1.5,
        r"fix (?:it|this|the code|my code)|this crashes|compiler says": 2,
        r"\b\w+(?:error|exception)\b": 2,
        r"代码|函数|编程|报错|脚本|程序|コード|関数|バグ|スクリプト|プログラム|アプリ": 3,
        r"(?:java|python|c\+\+|go|rust|sql)\s*(?:类|で)": 2,
        r"实现|実装|処理を作|구현|\bo\((?:n|log|1)": 2.5,
        r"given (?:a|an|two) (?:\w+ )?(?:list|array|string|grid|matrix|tree|integer)s?\b": 2,
        r"étant donné un|dada una? (?:lista|matriz|cadena)|gegeben ist eine|给定一个|与えられた": 2,
        # inline code and the objects programs work on, named in several languages
        r"`[^`\n]{1,60}[`']": 2,
        r"\b(?:a|the|each|every|of|in|into|from|nested) (?:list|dict|dictionary|string|array"
        r"|tuple|dataframe|integer|substring|column)s?\b|diccionario|\bcadena de|\barreglo"
        r"|словар|массив|кортеж|списк|リスト|辞書|文字列|配列|タプル|列表|字典|字符串|数组": 1.5,
    },
    "reasoning": {
        r"step[- ]by[- ]step|show (?:that|the work|your work)|explain your reasoning": 3,
        r"solve for|how many ways|next number|minimum number|without a calculator|monty hall": 3,
        r"work (?:it |me )?through|walk me through|reason (?:it out|about it)|which is larger": 2,
        r"\d\s*[-+*/×÷^=]\s*\d|\b\d*[xyn]\s*(?:[-+=^]|squared)|\bn\(n": 2,
        r"divided by|multiplied by|sum of the|how many \w+ (?:will|would)": 1.5,
        r"\d+\s*km/h|\d+\s*%\s*of|catch up|how long would|how much (?:does|do) .{1,30} cost": 1.5,
        r"must (?:come|be|go|sit) (?:right )?(?:before|after|next to)|can't be (?:first|last)": 2,
        r"is \w+ (?:older|younger|taller|shorter|faster|heavier|bigger|richer) than": 2.5,
        r"\bif (?:all|some|no) \w+ (?:are|is)\b|wenn alle|si todos|si tous|如果所有": 2.5,
        r"推理|证明|解题|逻辑|一步一步|说谎|几只|推导|等于|加上|减去|乘以|除以": 3,
        r"解いて|証明|論理|パズル|計算|理由も|何回": 2.5,
        r"cuánto tardan|hace[n]? falta|quel âge|wie alt": 2,
        # "explain your reasoning" in other languages
        r"justifi|erkläre (?:den|deine|die)|rechenweg|paso a paso|passo a passo|schritt für schritt"
        r"|étape par étape|说明理由|写出.{0,4}过程|논리적|단계별": 2.5,
    },
    "safety-review": {
        r"community guidelines|hate speech|self-harm|content policy|prompt[- ]injection": 3.5,
        r"safety review|revue de sécurité|personal (?:data|information)|medical advice": 3,
        r"datos personales|données personnelles|personenbezogene|credit card": 3,
        r"should (?:the assistant )?refuse|kill yourself": 3,
        r"should (?:an? |the |your )?(?:ai|assistant|model|chatbot|bot)\b.{0,20}(?:answer|respond"
        r"|reply|comply|help)|must refuse|(?:it'?s|is it|is this|be) acceptable|goes live"
        r"|take (?:it|this|that)(?: \w+)? down": 3,
        r"is (?:this|it) (?:a )?(?:scam|phishing)": 3,
        r"is this (?:ok|okay|safe|appropriate|allowed) to|would it be a problem": 2.5,
        r"flag (?:any|all|anything|messages|content)|check (?:this|the|these) .{0,30} for": 2,
        r"normas de la comunidad|violates?|shouldn't": 2,
        r"审核|违规|违反|违法|有害|诈骗|安全风险|泄露|隐私|个人信息|夸大|広告法|广告法": 3.5,
        r"違反|詐欺|ガイドライン|個人情報|有害": 3.5,
        r"安全": 1.5,
    },
    "analysis": {
        r"pros and cons|strengths and weaknesses|root causes?|what trend|competitive": 3,
        r"stack up|trade-?offs?|which is better|points forts|points faibles|what patterns": 3,
        r"what's your take|break down|dig into|explore the reasons|which would you pick": 2.5,
        r"should (?:i|we) .{1,30} or\b|where should (?:we|i) focus|what's going on": 2,
        r"look at (?:this|these|our|the) .{0,30}(?:data|numbers|feedback|results|figures)": 2,
        r"ventajas y desventajas|avantages et (?:les )?inconvénients|stärken und schwächen": 3,
        r"what do (?:they|these) (?:say|tell)|identify the biggest|why did (?:our|my|the)\b": 2,
        r"\b(?:rose|fell|dropped|grew|declined|increased|decreased) (?:from|by|to) \d": 2,
        r"what factors|explain (?:the success|why)|worth it": 1.5,
        r"\bhow (?:has|have|did|will|would|could) .{3,60}\b(?:change[ds]?|affect(?:ed)?|shape[ds]?"
        r"|transform(?:ed)?|influence[ds]?)\b|what lessons|lessons (?:from|for)": 2,
        r"vor- und nachteile|vantaggi e svantaggi|factores|facteurs|faktoren|fattori|fatores": 2,
        r"pour et le contre|pros y contras|prós e (?:os )?contras|pro und contra"
        r"|for and against": 3,
        r"how (?:sound|solid|realistic|viable) is|hold(?:s)? up"
        r"|is it (?:smarter|wiser|better) to": 2,
        r"second-order|what would you (?:change|look into|prioriti[sz]e)|what story do": 2,
        r"分析|比较|评估|优劣|可行性|比較|長所と短所|評価|傾向|読み取": 3.5,
        r"评价|利弊|优缺点|検討|장단점|분석|평가": 3,
        r"谈谈|影响|角度|风险|影響|データ": 1.5,
    },
}
