# ruff: noqa: RUF001, E501  (multilingual prompts; long prompt strings are data)
"""Prompts written for the classifier corpus (issue #13, second round), one source per theme.

Own writing (MIT), read by ``build_classifier_corpus.py``. Written for the labels the
leave-one-source-out report found weakest: ``analysis`` (only the project's eval had any),
small talk aimed at the assistant (CLINC's "what is your name" went to qa), programming tasks
stated as a problem with no "write code" verb (as exercism states them), and non-English
summaries, extractions and classifications. Written without looking at either blind set.
"""

from __future__ import annotations

PASSAGES = {
    "council": (
        "The city council voted 7-2 on Tuesday to convert two downtown parking garages into "
        "mixed-use housing. The project adds 340 apartments, a third of them priced for "
        "households earning under 60% of the median income, and removes 900 parking spaces. "
        "Business owners warned that fewer spaces could hurt evening trade; transit advocates "
        "said the bus network now covers the area every ten minutes. Construction starts in "
        "spring and is expected to take two years."
    ),
    "sales": (
        "Q1: revenue 1.20M, new customers 310, churn 2.1%\n"
        "Q2: revenue 1.26M, new customers 290, churn 2.6%\n"
        "Q3: revenue 1.29M, new customers 240, churn 3.4%\n"
        "Q4: revenue 1.27M, new customers 205, churn 4.0%"
    ),
    "survey": (
        "Employee survey, 412 answers. 71% say they like hybrid work; 44% say meetings take too "
        "much of their week; 38% would leave for a 10% raise; satisfaction with managers fell "
        "from 7.8 to 6.9 out of 10; the engineering team reported the lowest scores on "
        "career growth."
    ),
    "email": (
        "Hi all, quick update from the facilities team. The third-floor kitchen will be closed "
        "from Monday 12 to Wednesday 14 for new plumbing. Please use the kitchen on the second "
        "floor meanwhile. Parking level B will also be repainted on Thursday night, so cars "
        "must be moved by 6 pm. Questions go to Dana Whitfield, ext. 4471, or "
        "facilities@northwind.example. Thanks, Marco"
    ),
    "review": (
        "I bought the X200 headphones three weeks ago. Sound is great and the noise "
        "cancelling works on the train, but the left ear cup started creaking after a week "
        "and the app keeps logging me out. Support answered after five days."
    ),
}

ANALYSIS: dict[str, list[str]] = {
    "en": [
        "We're a team of four deciding between Vue and Svelte for a new dashboard. Which holds up better over three years of maintenance, and what would tip the decision?",
        "Our nonprofit's donations went up 20% but the number of donors dropped by a third. What could explain that, and should it worry us?",
        "Here are our quarterly numbers:\n\n"
        + PASSAGES["sales"]
        + "\n\nWhat story do these tell, and what would you look into first?",
        "Think through the second-order effects of a city banning cars from its historic center.",
        "Is it smarter for a mid-size hospital to build its own patient app or license one? Lay out the considerations.",
        "Read this survey summary and tell me what's really going on underneath the numbers:\n\n"
        + PASSAGES["survey"],
        "How well does the argument in this paragraph hold up? 'Since crime fell after the new streetlights went in, streetlights reduce crime.'",
        "Which of these two pricing models is more sustainable for a language-learning app: a one-off purchase at $60 or $8 a month? Consider churn and acquisition costs.",
        "What are the likely consequences for local farmers if the regional supermarket chain switches to a single national supplier?",
        "Weigh the case for and against moving our annual conference online permanently.",
        "I run a small coffee roastery. Sales through cafés are flat, online sales grew 40%. Where should I put next year's marketing budget, and why?",
        "Evaluate how the council's decision below is likely to play out for residents and shop owners:\n\n"
        + PASSAGES["council"],
        "Contrast the way Japan and Germany approached energy policy after 2011 and what each gained or lost.",
        "Our support tickets about login problems tripled after we added two-factor authentication. Diagnose what's probably happening and what to check.",
        "What does it mean for a bank that its loan defaults rose while its deposits kept growing? Give me your reading of it.",
        "Review our hiring funnel: 1,200 applicants, 180 phone screens, 40 onsite interviews, 6 offers, 2 accepts. Where is it leaking, and what would you change?",
        "How sound is our plan to enter the Brazilian market with only an English-language website?",
        "What's driving the shift from public cloud back to on-premise servers at some large companies? Is it a real trend?",
        "Examine this product review and tell me which problems matter most for the next hardware revision:\n\n"
        + PASSAGES["review"],
        "Given the numbers below, is our growth healthy or are we buying it with discounts?\n\nRevenue +35% year on year, average discount 22% (last year 9%), repeat purchase rate 18% (last year 27%).",
        "Judge the strengths and blind spots of using lines of code as a productivity metric.",
        "Should a startup with eight months of runway hire a senior salesperson or two more engineers? Reason it out.",
        "What lessons can a regional airline take from the collapse of budget carriers in the 2000s?",
        "Stress-test this idea: a subscription for renting children's clothes that kids outgrow quickly.",
        "Why might a city's bike-share scheme succeed downtown but fail in the suburbs? Walk through the factors.",
        "Look over these A/B results and tell me whether I should trust them: control 3.1% conversion (n=900), variant 3.9% (n=880), test ran for two days over a holiday weekend.",
        "Rank these three risks for our mobile launch by likelihood and impact: app store rejection, server load at launch, negative early reviews.",
        "Which market segment is most promising for a meal-kit company: students, young families, or retirees? Justify the choice.",
        "How has the rise of short-form video changed the economics of the music industry?",
        "Appraise the decision to raise prices by 15% during a recession for a premium furniture brand.",
    ],
    "zh": [
        "请分析一下我们门店客流下降而客单价上升的原因，这意味着什么？",
        "对比一下在一线城市和三线城市开连锁咖啡店的机会与风险。",
        "下面这组数据说明了什么问题？我们应该先解决哪一个？\n\n" + PASSAGES["sales"],
        "从长期来看，远程办公对公司文化有哪些影响？请说说你的判断。",
        "评价一下这个方案：公司把所有客服外包给第三方，以节省三成成本。",
    ],
    "es": [
        "¿Qué factores explican que nuestras ventas en línea crezcan mientras las tiendas físicas pierden clientes? Dame tu interpretación.",
        "Evalúa si conviene a una pyme migrar toda su contabilidad a la nube este año.",
        "Haz un análisis de los riesgos de depender de un solo proveedor en Asia para nuestros componentes.",
        "¿Qué conclusiones sacas de esta encuesta?\n\n" + PASSAGES["survey"],
    ],
    "fr": [
        "Quels sont les enjeux d'une semaine de quatre jours pour une PME industrielle ? Pèse le pour et le contre.",
        "Évalue la stratégie d'une marque de luxe qui se lance dans la location de sacs.",
        "Comment interpréter la baisse des inscriptions dans notre club de sport alors que les prix n'ont pas changé ?",
        "Examine les conséquences probables de cette décision pour les commerçants :\n\n"
        + PASSAGES["council"],
    ],
    "de": [
        "Wie bewertest du die Entscheidung, unser Lager von München nach Tschechien zu verlegen? Welche Risiken siehst du?",
        "Welche Ursachen könnte es haben, dass unsere Newsletter-Öffnungsrate seit März sinkt? Bitte einschätzen.",
        "Stell die Chancen und Risiken eines eigenen Onlineshops für eine kleine Bäckerei gegenüber.",
        "Was sagen diese Zahlen über die Entwicklung unseres Geschäfts aus?\n\n"
        + PASSAGES["sales"],
    ],
    "ja": [
        "新しい料金プランが解約率に与える影響を検討してください。",
        "地方都市に大型ショッピングモールができた場合、商店街にどんな影響がありますか？多角的に考えてください。",
        "次の従業員アンケートの結果から、どのような課題が読み取れますか？\n\n" + PASSAGES["survey"],
    ],
    "pt": [
        "Avalie os prós e os contras de abrir uma filial da nossa loja em Lisboa.",
        "O que pode explicar a queda nas vendas de inverno deste ano? Faça uma análise.",
    ],
    "it": [
        "Valuta i rischi di lanciare il nostro prodotto in Germania senza un team locale.",
        "Quali fattori spiegano il successo dei mercati contadini nelle grandi città?",
    ],
    "ko": ["우리 회사가 구독 모델로 전환하면 어떤 장단점이 있을지 분석해 주세요."],
    "ru": [
        "Оцени риски перехода нашей компании на четырёхдневную рабочую неделю.",
        "Почему продажи падают, хотя трафик на сайте растёт? Разбери возможные причины.",
    ],
}

SMALL_TALK: dict[str, list[str]] = {
    "en": [
        "what should i call you",
        "do you have a name or just a model number",
        "are you a real person",
        "how old are you anyway",
        "do you ever get tired of answering questions",
        "what do you do when nobody is talking to you",
        "do you have any hobbies",
        "who built you",
        "where do you live",
        "do you like your job",
        "are you happy",
        "what's your favourite colour",
        "do you dream at night",
        "you're funny, you know that",
        "thanks, you've been a big help today",
        "ok bye for now",
        "good night, talk tomorrow",
        "that's awesome, nice work",
        "tell me a joke",
        "make me laugh",
        "what's the meaning of life in your opinion",
        "do you have pets",
        "can we just talk for a bit",
        "i had a rough day",
        "my cat knocked my coffee over this morning lol",
        "guess what, i passed my driving test!",
        "what kinds of things can i ask you",
        "do you have feelings",
        "are you smarter than me",
        "hey there, how's your day been",
        "morning! ready for another week?",
        "do you remember me from yesterday",
        "what music do you like",
        "would you rather be a cat or a dog",
        "is it weird that i talk to you every day",
    ],
    "es": [
        "¿Cómo te llamas?",
        "¿Eres una persona de verdad?",
        "¿Quién te creó?",
        "Cuéntame un chiste",
        "¡Gracias, me ayudaste mucho!",
    ],
    "fr": [
        "Comment tu t'appelles ?",
        "Tu es un robot ?",
        "Raconte-moi une blague",
        "Tu as quel âge ?",
        "Merci beaucoup, à plus tard !",
    ],
    "de": [
        "Wie heißt du eigentlich?",
        "Bist du ein Mensch?",
        "Erzähl mir einen Witz",
        "Danke dir, bis morgen!",
        "Wer hat dich gebaut?",
    ],
    "zh": [
        "你叫什么名字？",
        "你是真人吗？",
        "给我讲个笑话吧",
        "谁创造了你？",
        "今天好累啊，陪我说说话",
    ],
    "ja": ["あなたの名前は？", "あなたは人間ですか？", "何か面白い話をして", "今日もお疲れさま！"],
    "pt": ["Qual é o seu nome?", "Você é um robô?", "Me conta uma piada"],
    "it": ["Come ti chiami?", "Sei una persona vera?", "Raccontami una barzelletta"],
    "ko": ["이름이 뭐예요?", "너는 사람이야?", "재미있는 농담 하나 해줘"],
    "ru": ["Как тебя зовут?", "Ты настоящий человек?", "Расскажи анекдот"],
}

PROBLEMS: dict[str, list[str]] = {
    "en": [
        'Given a string of brackets like "([]{})", decide whether every opening bracket is closed in the right order. Return true or false.',
        "A robot starts at (0, 0) facing north. It receives commands L, R and A (advance). Report its final position and direction after a sequence of commands.",
        'Your task is to convert a number of seconds into a human-readable duration such as "1 hour, 2 minutes and 5 seconds".',
        'Implement run-length encoding: "AAABCC" becomes "3AB2C", and decoding reverses it.',
        "Given a list of meeting intervals, merge the overlapping ones and return the result sorted by start time.",
        "The input is a grid of 0s and 1s. Count the islands, where an island is a group of 1s connected horizontally or vertically.",
        "Build a small in-memory key-value store with get, set and delete, plus transactions that can be rolled back.",
        "Take a Roman numeral such as MCMXCIV and return its integer value. Then do the reverse.",
        "Calculate the score of a bowling game from a list of rolls, handling strikes and spares in the tenth frame.",
        "Parse a CSV file of transactions and print the total amount per customer, sorted from highest to lowest.",
        "Check whether a sentence is a pangram, i.e. uses every letter of the alphabet at least once. Case does not matter.",
        "Design a rate limiter that allows at most 100 requests per user per minute; expose allow(user_id) -> bool.",
        "Given two sorted arrays, return the median of their combined elements in O(log n) time.",
        "Produce the first n rows of Pascal's triangle as a list of lists.",
        "The program should read a log file line by line and report the ten most frequent IP addresses.",
        "Make the checkout page show a spinner while the payment request is pending and disable the pay button.",
        "Add a command-line flag --dry-run to our backup tool that lists the files it would copy without copying them.",
        "Our API returns dates as Unix timestamps; change the serializer so it returns ISO 8601 strings instead.",
        "Simulate a queue at a bank with three tellers: customers arrive at random intervals; output the average waiting time.",
        "Represent a deck of cards, shuffle it and deal five-card hands to four players.",
        "Translate this pseudo-code into Go: for each user in users, if user.active then send reminder.",
        "Create a Makefile target that runs the linters and the unit tests in one step.",
        "Port this Python list comprehension to Rust: [x * x for x in nums if x % 2 == 0]",
        "Determine whether a year is a leap year according to the Gregorian calendar rules.",
        "Given an amount and a set of coin denominations, find the fewest coins that make up the amount.",
    ],
    "es": [
        "Dada una lista de palabras, agrupa las que son anagramas entre sí y devuelve los grupos.",
        "Implementa una pila con las operaciones push, pop y min en tiempo constante.",
        "Haz que el formulario de registro valide el correo electrónico antes de enviarlo.",
    ],
    "fr": [
        "Étant donné un tableau d'entiers, renvoie les indices des deux nombres dont la somme vaut une cible donnée.",
        "Implémente un cache LRU avec une capacité fixe.",
        "Ajoute une pagination à l'endpoint /articles de notre API Flask.",
    ],
    "de": [
        "Gegeben ist eine Liste von Zeitstempeln; berechne die längste Lücke zwischen zwei aufeinanderfolgenden Einträgen.",
        "Implementiere einen Binärbaum mit Einfügen, Suchen und In-Order-Traversierung.",
        "Baue in unsere React-App einen Dark-Mode-Schalter ein, der die Auswahl im localStorage speichert.",
    ],
    "zh": [
        "给定一个整数数组，找出和最大的连续子数组，返回它的和。",
        "实现一个简单的命令行待办事项工具，支持添加、删除和列出任务。",
        "把用户列表按注册时间倒序排列，并分页返回，每页20条。",
    ],
    "ja": [
        "文字列が回文かどうかを判定する処理を作ってください。大文字と小文字は区別しません。",
        "与えられた整数のリストから重複を取り除き、元の順序を保ったまま返すようにして。",
    ],
    "pt": ["Dada uma matriz, gire-a 90 graus no sentido horário sem usar memória extra."],
    "it": ["Implementa una coda di priorità usando un heap binario."],
    "ru": ["Реализуй функцию, которая проверяет, является ли число простым."],
}

DOCUMENT_TASKS: dict[str, dict[str, list[str]]] = {
    "summarization": {
        "en": [
            "Can you give me the short version of this?\n\n" + PASSAGES["council"],
            "tl;dr please:\n\n" + PASSAGES["email"],
            "Condense this review into a single line for our product dashboard:\n\n"
            + PASSAGES["review"],
            "I don't have time to read the whole thing. What's the gist?\n\n" + PASSAGES["survey"],
            "Write a two-sentence recap of the council vote for our newsletter:\n\n"
            + PASSAGES["council"],
        ],
        "es": [
            "Resume este correo en dos frases:\n\n" + PASSAGES["email"],
            "Hazme un resumen corto de esta noticia:\n\n" + PASSAGES["council"],
            "¿Me das la versión breve de esta reseña?\n\n" + PASSAGES["review"],
        ],
        "fr": [
            "Fais-moi un résumé de ce message en trois points :\n\n" + PASSAGES["email"],
            "Résume cet article en une phrase :\n\n" + PASSAGES["council"],
        ],
        "de": [
            "Fass diese Mail kurz zusammen:\n\n" + PASSAGES["email"],
            "Gib mir eine Kurzfassung der Umfrage:\n\n" + PASSAGES["survey"],
        ],
        "zh": [
            "帮我把这段内容总结成三句话：\n\n" + PASSAGES["council"],
            "用一句话概括这封邮件：\n\n" + PASSAGES["email"],
            "请简要概述下面这条评论的主要内容：\n\n" + PASSAGES["review"],
        ],
        "ja": [
            "このメールを短くまとめてください：\n\n" + PASSAGES["email"],
            "次の記事の要点を三つ挙げて要約して：\n\n" + PASSAGES["council"],
        ],
        "pt": ["Resuma este e-mail em poucas linhas:\n\n" + PASSAGES["email"]],
        "it": ["Riassumi questo articolo in due frasi:\n\n" + PASSAGES["council"]],
        "ko": ["다음 이메일을 세 줄로 요약해 주세요:\n\n" + PASSAGES["email"]],
        "ru": ["Кратко перескажи это письмо:\n\n" + PASSAGES["email"]],
    },
    "extraction": {
        "en": [
            "Pull every date, name and phone extension out of this email and return them as JSON:\n\n"
            + PASSAGES["email"],
            "From the text below, list each number together with what it counts:\n\n"
            + PASSAGES["council"],
            "Which product model and which defects are mentioned here? Give me just those, one per line.\n\n"
            + PASSAGES["review"],
        ],
        "es": ["Extrae las fechas y el nombre de contacto de este correo:\n\n" + PASSAGES["email"]],
        "fr": ["Relève tous les chiffres cités dans ce texte :\n\n" + PASSAGES["survey"]],
        "de": [
            "Zieh alle Termine und Kontaktdaten aus dieser Nachricht heraus:\n\n"
            + PASSAGES["email"]
        ],
        "zh": ["从下面的邮件中提取日期、联系人和电话分机号：\n\n" + PASSAGES["email"]],
        "ja": ["このメールから日付と連絡先を抜き出してください：\n\n" + PASSAGES["email"]],
        "pt": ["Extraia os números e as porcentagens deste texto:\n\n" + PASSAGES["survey"]],
    },
    "classification": {
        "en": [
            "Is this review positive, negative or mixed? Answer with one word.\n\n"
            + PASSAGES["review"],
            "Route this email to one of: IT, Facilities, HR, Finance.\n\n" + PASSAGES["email"],
            "Tag this news item with a section: politics, housing, transport, business or sport.\n\n"
            + PASSAGES["council"],
        ],
        "es": ["Clasifica esta reseña como positiva, negativa o neutra:\n\n" + PASSAGES["review"]],
        "fr": [
            "Classe ce message dans une catégorie : urgent, information ou demande.\n\n"
            + PASSAGES["email"]
        ],
        "de": ["Ist diese Bewertung eher positiv oder negativ?\n\n" + PASSAGES["review"]],
        "zh": ["判断这条评论的情感是正面、负面还是中性：\n\n" + PASSAGES["review"]],
        "ja": [
            "このレビューをポジティブ・ネガティブ・中立のどれかに分類してください：\n\n"
            + PASSAGES["review"]
        ],
        "it": ["Questa recensione è positiva o negativa?\n\n" + PASSAGES["review"]],
    },
}
"""Document tasks in many languages over the same few passages (the instruction decides)."""

SOURCES: dict[str, dict[str, dict[str, list[str]]]] = {
    "own_analysis": {"analysis": ANALYSIS},
    "own_small_talk": {"conversational": SMALL_TALK},
    "own_problems": {"code-generation": PROBLEMS},
    "own_documents": DOCUMENT_TASKS,
}
"""Source name -> label -> language -> prompts."""
