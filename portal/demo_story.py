"""The demo circle's story, in words: who is in it, what they agreed, what they said.

Data only, in English, Dutch and French; :mod:`portal.demo` builds the circle from it.
"""

from __future__ import annotations

from portal.models import Role


def _t(en: str, nl: str, fr: str) -> dict[str, str]:
    return {"en": en, "nl": nl, "fr": fr}


TITLE = _t("Demo: circle around Sam", "Demo: kring rond Sam", "Démo : cercle autour de Sam")
QUESTION = _t(
    "What is needed so that Sam can grow up safely at home?",
    "Wat is er nodig zodat Sam veilig thuis kan opgroeien?",
    "De quoi Sam a-t-il besoin pour grandir en sécurité à la maison ?",
)

# The demo members: key -> (name, role, supporter of).
CAST = {
    "sanne": (_t("Sanne", "Sanne", "Sanne"), Role.CENTRAL, None),
    "riet": (_t("Grandma Riet", "Oma Riet", "Mamie Riet"), Role.MEMBER, None),
    "joost": (_t("Uncle Joost", "Oom Joost", "Oncle Joost"), Role.MEMBER, None),
    "karim": (_t("Karim", "Karim", "Karim"), Role.SUPPORTER, "Sam"),
    "ellen": (
        _t("Ellen (social worker)", "Ellen (maatschappelijk werker)", "Ellen (assistante sociale)"),
        Role.PROFESSIONAL,
        None,
    ),
}

# The newcomer's invitations: label -> (name, role, supporter of).
NEWCOMERS = {
    "coordinator": (
        _t("Noor (coordinator)", "Noor (coördinator)", "Noor (coordinatrice)"),
        Role.COORDINATOR,
        None,
    ),
    "central": (_t("Mark", "Mark", "Mark"), Role.CENTRAL, None),
    "member": (_t("Aunt Lies", "Tante Lies", "Tante Lies"), Role.MEMBER, None),
    "supporter": (_t("Bas", "Bas", "Bas"), Role.SUPPORTER, "Sam"),
    "professional": (
        _t("Jeroen (family guardian)", "Jeroen (gezinsvoogd)", "Jeroen (délégué à la tutelle)"),
        Role.PROFESSIONAL,
        None,
    ),
}

CONDITION = _t(
    "Sam goes to school every school day.",
    "Sam gaat elke schooldag naar school.",
    "Sam va à l'école chaque jour d'école.",
)
AGREEMENTS = [
    _t(
        "If Sanne cannot cope for a day, she calls Grandma Riet, who comes over.",
        "Als het Sanne een dag niet lukt, belt ze Oma Riet en die komt langs.",
        "Si Sanne n'y arrive pas un jour, elle appelle Mamie Riet, qui passe.",
    ),
    _t(
        "If Sam does not want to go to school, Karim talks with him first.",
        "Als Sam niet naar school wil, praat Karim eerst met hem.",
        "Si Sam ne veut pas aller à l'école, Karim en parle d'abord avec lui.",
    ),
]
SCHOOL = _t(
    "Take Sam to school on Monday and Thursday",
    "Sam op maandag en donderdag naar school brengen",
    "Emmener Sam à l'école le lundi et le jeudi",
)
FOOTBALL = _t(
    "Football training with Sam on Saturday morning",
    "Zaterdagochtend met Sam naar voetbaltraining",
    "Entraînement de foot avec Sam le samedi matin",
)
CALL_SCHOOL = _t(
    "Call the school about the after-school club",
    "De school bellen over de naschoolse opvang",
    "Appeler l'école pour la garderie du soir",
)
FORMS = _t(
    "Fill in the housing allowance forms",
    "De formulieren voor de huurtoeslag invullen",
    "Remplir les papiers pour l'aide au logement",
)
CHART = _t(
    "Make a chore chart with Sam",
    "Samen met Sam een klusjesschema maken",
    "Faire un tableau des tâches avec Sam",
)
CHART_ITEMS = [
    _t("Buy a small whiteboard", "Een klein whiteboard kopen", "Acheter un petit tableau blanc"),
    _t("Make the chart together", "Het schema samen maken", "Faire le tableau ensemble"),
    _t("Hang it in the kitchen", "Het in de keuken ophangen", "L'accrocher dans la cuisine"),
]
COOKING = _t(
    "Cook dinner with Sam on Wednesday",
    "Op woensdag samen met Sam koken",
    "Cuisiner avec Sam le mercredi",
)
COOKING_REASON = _t(
    "Sam likes cooking, and it gives Sanne a free evening.",
    "Sam kookt graag, en Sanne heeft dan een avond vrij.",
    "Sam aime cuisiner, et Sanne a une soirée libre.",
)
BACKUP = _t(
    "If Grandma Riet is ill, Uncle Joost takes Sam to school.",
    "Als Oma Riet ziek is, brengt Oom Joost Sam naar school.",
    "Si Mamie Riet est malade, Oncle Joost emmène Sam à l'école.",
)
BACKUP_REASON = _t(
    "I had a cold last week. Then Sam should still get to school.",
    "Ik was vorige week verkouden. Sam moet dan toch naar school kunnen.",
    "J'étais enrhumée la semaine dernière. Sam doit quand même aller à l'école.",
)
FIRST_MEETING = _t(
    "First follow-up meeting", "Eerste vervolgbijeenkomst", "Première réunion de suivi"
)
FIRST_PURPOSE = _t(
    "How is the plan going after the first weeks?",
    "Hoe gaat het met het plan na de eerste weken?",
    "Comment se passe le plan après les premières semaines ?",
)
PLACE = _t("At Grandma Riet's", "Bij Oma Riet thuis", "Chez Mamie Riet")
REVIEW_NOTES = _t(
    "A good start. Sam goes to school every day. Next time: the after-school club.",
    "Een goed begin. Sam gaat elke dag naar school. Volgende keer: de naschoolse opvang.",
    "Un bon début. Sam va à l'école tous les jours. La prochaine fois : la garderie.",
)
VERDICTS = {
    "school": ("working", _t("", "", "")),
    "football": ("working", _t("Sam loves it.", "Sam vindt het geweldig.", "Sam adore ça.")),
    "call_school": (
        "partly",
        _t("Sanne calls this week.", "Sanne belt deze week.", "Sanne appelle cette semaine."),
    ),
    "forms": (
        "partly",
        _t(
            "The forms are harder than we thought.",
            "De formulieren zijn lastiger dan gedacht.",
            "Les papiers sont plus compliqués que prévu.",
        ),
    ),
    "cooking": ("working", _t("", "", "")),
}
SECOND_MEETING = _t(
    "Second follow-up meeting", "Tweede vervolgbijeenkomst", "Deuxième réunion de suivi"
)
SECOND_PURPOSE = _t(
    "The after-school club, and how the forms are going.",
    "De naschoolse opvang, en hoe het gaat met de formulieren.",
    "La garderie, et où en sont les papiers.",
)

# The chat: (day, "HH:MM", author, text). A day is a number of days before today, or
# (weekday, n): that weekday n weeks back (1 = the last one before today), so that a
# message about Saturday's training is sent on a Saturday.
CHAT = [
    (
        15,
        "21:40",
        "sanne",
        _t(
            "Thank you all for tonight. I'm tired, but happy.",
            "Dank jullie wel voor vanavond. Ik ben moe, maar blij.",
            "Merci à tous pour ce soir. Je suis fatiguée, mais contente.",
        ),
    ),
    (
        15,
        "21:52",
        "riet",
        _t(
            "We are proud of you, love. And of Sam.",
            "We zijn trots op je, lieverd. En op Sam.",
            "On est fiers de toi, ma chérie. Et de Sam.",
        ),
    ),
    (
        15,
        "22:05",
        "joost",
        _t(
            "Same here. The plan is on my fridge 🙂",
            "Ik ook. Het plan hangt op mijn koelkast 🙂",
            "Moi aussi. Le plan est sur mon frigo 🙂",
        ),
    ),
    (
        15,
        "22:11",
        "karim",
        _t(
            "Sam asked me if training is really every Saturday. I said yes!",
            "Sam vroeg of de training echt elke zaterdag is. Ik zei ja!",
            "Sam m'a demandé si l'entraînement est vraiment chaque samedi. J'ai dit oui !",
        ),
    ),
    (
        14,
        "08:40",
        "riet",
        _t(
            "Sam is at school. He ate two sandwiches in the car.",
            "Sam is op school. Hij at twee boterhammen in de auto.",
            "Sam est à l'école. Il a mangé deux tartines dans la voiture.",
        ),
    ),
    (14, "08:52", "sanne", _t("Thank you, Mum ❤️", "Dank je, mam ❤️", "Merci maman ❤️")),
    (
        12,
        "18:05",
        "sanne",
        _t(
            "I've put up some dates for our first follow-up meeting. Please fill them in.",
            "Ik heb data gezet voor onze eerste vervolgbijeenkomst. Willen jullie ze invullen?",
            "J'ai proposé des dates pour notre première réunion de suivi. Vous pouvez répondre ?",
        ),
    ),
    (
        12,
        "18:30",
        "riet",
        _t(
            "Done. Any evening is fine for me.",
            "Gedaan. Elke avond is goed voor mij.",
            "C'est fait. Tous les soirs me vont.",
        ),
    ),
    (
        ("sat", 2),
        "12:20",
        "karim",
        _t(
            "Great training today. Sam scored twice and wants to be goalkeeper next time.",
            "Mooie training vandaag. Sam scoorde twee keer en wil de volgende keer keepen.",
            "Super entraînement aujourd'hui. Sam a marqué deux buts et veut être gardien.",
        ),
    ),
    (
        ("sat", 2),
        "12:34",
        "sanne",
        _t(
            "He hasn't stopped talking about it 😄",
            "Hij praat nergens anders meer over 😄",
            "Il ne parle que de ça 😄",
        ),
    ),
    (
        10,
        "20:00",
        "sanne",
        _t(
            "We have a date for the meeting. It's in Kring under Meetings.",
            "We hebben een datum voor de bijeenkomst. Die staat in Kring bij Bijeenkomsten.",
            "On a une date pour la réunion. Elle est dans Kring, sous Réunions.",
        ),
    ),
    (
        10,
        "21:10",
        "joost",
        _t(
            "I'd like to cook with Sam once a week. I've proposed it for the plan.",
            "Ik wil graag één keer per week met Sam koken. Ik heb het voorgesteld voor het plan.",
            "J'aimerais cuisiner avec Sam une fois par semaine. Je l'ai proposé pour le plan.",
        ),
    ),
    (
        10,
        "21:25",
        "sanne",
        _t(
            "Lovely idea. Yes from me.",
            "Leuk idee. Ja van mij.",
            "Super idée. Oui pour moi.",
        ),
    ),
    (
        9,
        "09:12",
        "riet",
        _t(
            "Yes from me too. He can learn my pancake recipe.",
            "Ook ja van mij. Dan leert hij mijn pannenkoekenrecept.",
            "Oui pour moi aussi. Il apprendra ma recette de crêpes.",
        ),
    ),
    (9, "17:50", "karim", _t("Agreed 👍", "Akkoord 👍", "D'accord 👍")),
    (
        8,
        "10:30",
        "ellen",
        _t(
            "Thank you for letting me read along. I've accepted the new version of the plan.",
            "Dank jullie dat ik mee mag lezen. Ik heb de nieuwe versie van het plan geaccepteerd.",
            "Merci de me laisser lire. J'ai accepté la nouvelle version du plan.",
        ),
    ),
    (
        ("mon", 2),
        "07:55",
        "riet",
        _t(
            "Sam has a cold and stays home today. I'll bring soup at lunchtime.",
            "Sam is verkouden en blijft vandaag thuis. Ik kom tussen de middag soep brengen.",
            "Sam est enrhumé et reste à la maison. J'apporte de la soupe à midi.",
        ),
    ),
    (
        ("mon", 2),
        "08:03",
        "sanne",
        _t(
            "Thank you. I've told the school.",
            "Dank je. Ik heb de school gebeld.",
            "Merci. J'ai prévenu l'école.",
        ),
    ),
    (
        ("wed", 1),
        "20:45",
        "joost",
        _t(
            "Cooking night: pasta with far too much cheese. Sam did the grating.",
            "Kookavond: pasta met veel te veel kaas. Sam heeft geraspt.",
            "Soirée cuisine : des pâtes avec beaucoup trop de fromage. Sam a râpé.",
        ),
    ),
    (
        ("thu", 1),
        "08:20",
        "riet",
        _t(
            "School run done. His teacher says he's doing really well.",
            "Sam is naar school gebracht. De juf zegt dat het heel goed gaat.",
            "Sam est à l'école. Sa maîtresse dit qu'il va très bien.",
        ),
    ),
    (
        ("sat", 1),
        "12:05",
        "karim",
        _t(
            "Sam kept goal for the whole second half. Very proud of him.",
            "Sam stond de hele tweede helft op doel. Super trots op hem.",
            "Sam a été gardien toute la deuxième mi-temps. Très fier de lui.",
        ),
    ),
    (
        3,
        "19:30",
        "joost",
        _t(
            "The housing allowance forms are harder than I thought. Could someone help?",
            "De formulieren voor de huurtoeslag zijn lastiger dan ik dacht. Kan iemand helpen?",
            "Les papiers pour l'aide au logement sont plus durs que prévu. Quelqu'un peut aider ?",
        ),
    ),
    (
        2,
        "10:15",
        "riet",
        _t(
            "I've proposed a backup plan for when I'm ill. Please have a look at the plan.",
            "Ik heb een reserveplan voorgesteld voor als ik ziek ben. Kijken jullie even?",
            "J'ai proposé un plan de secours pour quand je suis malade. Regardez le plan ?",
        ),
    ),
    (
        2,
        "11:02",
        "sanne",
        _t(
            "Good idea, I've said yes.",
            "Goed idee, ik heb ja gezegd.",
            "Bonne idée, j'ai dit oui.",
        ),
    ),
    (
        1,
        "19:10",
        "sanne",
        _t(
            "Joost, I can help you with the forms on Sunday afternoon.",
            "Joost, ik kan je zondagmiddag helpen met de formulieren.",
            "Joost, je peux t'aider avec les papiers dimanche après-midi.",
        ),
    ),
    (
        1,
        "19:24",
        "joost",
        _t(
            "That would be great, thank you! I'll bring cake.",
            "Graag, dank je! Ik neem taart mee.",
            "Avec plaisir, merci ! J'apporte un gâteau.",
        ),
    ),
]
#: The first follow-up meeting was held last Tuesday (a day as in CHAT).
MEETING_DAY = ("tue", 1)
# Said on the evening of the first meeting (its day depends on the calendar).
AFTER_MEETING = [
    (
        "22:15",
        "sanne",
        _t(
            "Thank you for this evening. I've written down how it went in Kring.",
            "Dank jullie voor vanavond. Ik heb in Kring gezet hoe het ging.",
            "Merci pour ce soir. J'ai noté dans Kring comment ça s'est passé.",
        ),
    ),
    (
        "22:30",
        "riet",
        _t(
            "A good meeting. Sleep well, everyone.",
            "Een fijne bijeenkomst. Slaap lekker allemaal.",
            "Une bonne réunion. Bonne nuit à tous.",
        ),
    ),
    (
        "22:40",
        "sanne",
        _t(
            "I've put up dates for the next one too.",
            "Ik heb ook al data gezet voor de volgende.",
            "J'ai aussi proposé des dates pour la prochaine.",
        ),
    ),
]

# Issue 14: everyone takes part. Sam himself (a child, in simple mode) with a private line
# to his supporter Karim, and a great-grandfather without internet whom Sanne answers for.
SAM = _t("Sam", "Sam", "Sam")
OFFLINE = _t("Great-grandpa Wim", "Opa Wim", "Papi Wim")
LINE = [
    (
        "sam",
        _t(
            "Karim, can we practise penalties again on Saturday?",
            "Karim, kunnen we zaterdag weer penalty's oefenen?",
            "Karim, on peut encore s'entraîner aux penalties samedi ?",
        ),
    ),
    (
        "karim",
        _t(
            "Yes! And you can always tell me here if something is on your mind.",
            "Ja! En je kunt me hier altijd vertellen als er iets is.",
            "Oui ! Et tu peux toujours me dire ici si quelque chose te tracasse.",
        ),
    ),
]
