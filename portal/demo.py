"""A lived-in demo circle for ``flask --app app kring demo`` (and so ``make run``).

A newcomer who opens a demo link must land in a circle that has been in use for two
weeks: a chat, a plan at version 2 with ticks (one commitment overdue, one help
request open), an open proposal with answers, a date poll, and a past follow-up
meeting with its review. The people who did all that are demo members: accounts made
here with long random passwords that nobody is told, so nobody can sign in as them.

Everything goes through the real services (``portal/services``), so the demo obeys the
same rules as real use: the plan is agreed before it changes, changes need consent,
ticks are checked, meetings are polled, fixed and then reviewed. The services stamp
rows with the current time; :class:`_Timeline` then moves what each step wrote back to
the moment in the story it belongs to. Only "when it happened" columns move; an
invitation's expiry and a meeting's future dates do not.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select, update

from portal.access import ChatSeat
from portal.extensions import db
from portal.models import (
    Acceptance,
    Circle,
    CircleEvent,
    Commitment,
    Completion,
    Condition,
    Invitation,
    Meeting,
    MeetingAnswer,
    MeetingOption,
    MeetingReview,
    Membership,
    Message,
    PlanVersion,
    Proposal,
    ProposalVote,
    Role,
    User,
)
from portal.models.types import utcnow
from portal.services import accounts
from portal.services import chat as chat_svc
from portal.services import circles as circle_svc
from portal.services import meetings as meeting_svc
from portal.services import plan as plan_svc
from portal.services.meetings import MeetingData, local_to_utc
from portal.services.plan import CommitmentData
from portal.services.schedule import Schedule, occurrences, today_in

LANGUAGES = ("en", "nl", "fr")
#: The printed links, in this order; ``kring demo`` prints "<label>: <url>" for each.
ROLES = ("coordinator", "central", "member", "supporter", "professional")
MON, TUE, WED, THU, SAT = 0, 1, 2, 3, 5


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


@dataclass
class Demo:
    circle: Circle
    #: label (see ROLES) -> invitation token for the newcomer
    tokens: dict[str, str]


class _Timeline:
    """Moves what the services just wrote, in this circle, back to a moment in the story.

    Every row written during the build carries a time at or after ``self.start``; the
    story's moments are all earlier. So "fresh" rows are exactly those not yet moved,
    and each step's rows are stamped right after the step.
    """

    def __init__(self, circle: Circle, tz: str, today: date):
        self.circle_id = circle.id
        self.tz = tz
        self.today = today
        self.start = utcnow() - timedelta(seconds=1)

    def day(self, spec) -> date:
        """A number of days before today, or (weekday, n): that weekday n weeks back."""
        if isinstance(spec, int):
            return self.today - timedelta(days=spec)
        name, n = spec
        weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(name)
        back = (self.today.weekday() - weekday - 1) % 7 + 1  # 1..7 days back
        return self.today - timedelta(days=back + 7 * (n - 1))

    def at(self, spec, hhmm: str) -> datetime:
        h, m = (int(x) for x in hhmm.split(":"))
        return local_to_utc(datetime.combine(self.day(spec), time(h, m)), self.tz)

    def stamp(self, when: datetime) -> None:
        cid, fresh_since = self.circle_id, self.start
        in_circle_meetings = select(Meeting.id).where(Meeting.circle_id == cid)
        targets = [
            (Circle, Circle.id == cid, ["created_at"]),
            (CircleEvent, CircleEvent.circle_id == cid, ["created_at"]),
            (Message, Message.circle_id == cid, ["created_at"]),
            (Membership, Membership.circle_id == cid, ["joined_at"]),
            (Invitation, Invitation.circle_id == cid, ["created_at"]),
            (Proposal, Proposal.circle_id == cid, ["created_at"]),
            (
                ProposalVote,
                ProposalVote.proposal_id.in_(select(Proposal.id).where(Proposal.circle_id == cid)),
                ["answered_at"],
            ),
            (PlanVersion, PlanVersion.circle_id == cid, ["created_at"]),
            (
                Completion,
                Completion.commitment_id.in_(
                    select(Commitment.id).where(Commitment.circle_id == cid)
                ),
                ["at"],
            ),
            (Commitment, Commitment.circle_id == cid, ["help_requested_at"]),
            (Condition, Condition.circle_id == cid, ["created_at"]),
            (Acceptance, Acceptance.circle_id == cid, ["at"]),
            (Meeting, Meeting.circle_id == cid, ["created_at", "updated_at"]),
            (
                MeetingAnswer,
                MeetingAnswer.option_id.in_(
                    select(MeetingOption.id).where(MeetingOption.meeting_id.in_(in_circle_meetings))
                ),
                ["updated_at"],
            ),
            (MeetingReview, MeetingReview.meeting_id.in_(in_circle_meetings), ["recorded_at"]),
        ]
        db.session.flush()
        for model, where, columns in targets:
            for name in columns:
                col = getattr(model, name)
                db.session.execute(
                    update(model)
                    .where(where, col >= fresh_since)
                    .values({name: when})
                    .execution_options(synchronize_session=False)
                )


def build_demo(language: str = "en", timezone: str = "Europe/Amsterdam") -> Demo:
    """Create the demo circle and its two weeks of life; the caller commits."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}")

    def tr(text: dict[str, str]) -> str:
        return text[language]

    circle, _none, coordinator_token = circle_svc.create_circle(
        title=tr(TITLE),
        question=tr(QUESTION),
        language=language,
        timezone=timezone,
        coordinator_name=tr(NEWCOMERS["coordinator"][0]),
    )
    clock = _Timeline(circle, timezone, today_in(timezone))
    today = clock.today
    clock.stamp(clock.at(16, "10:00"))

    # The people who have been using the circle: real accounts, passwords nobody knows.
    cast: dict[str, Membership] = {}
    for i, (key, (name, role, supporter_of)) in enumerate(CAST.items()):
        user = accounts.create_user(
            name=tr(name),
            username=f"demo{circle.id}.{key}",
            password=secrets.token_urlsafe(32),
            locale=language,
        )
        _inv, token = circle_svc.invite(
            circle, None, name=tr(name), role=role, supporter_of=supporter_of
        )
        cast[key] = circle_svc.redeem_invitation(token, user)
        clock.stamp(clock.at(16, f"{11 + i}:00"))
    sanne, riet, joost, karim, ellen = (cast[k] for k in CAST)
    voters = [sanne, riet, joost, karim]

    # The conference evening: the plan is entered and agreed (version 1).
    circle_svc.set_flags(circle, sanne, riet, plan_keeper=True, followup=True)
    circle_svc.set_flags(circle, sanne, joost, plan_keeper=False, followup=True)
    plan_svc.add_condition(circle, ellen, tr(CONDITION))
    clock.stamp(clock.at(15, "19:00"))
    start = clock.day(15)

    def weekly(what, who, days, since=start, checker=None):
        return CommitmentData(
            what=tr(what),
            assignee_ids=[who.id],
            checker_id=checker.id if checker else None,
            schedule=Schedule(kind="weekly", start=since, weekdays=frozenset(days)),
        )

    entered = {
        "school": weekly(SCHOOL, riet, {MON, THU}, checker=sanne),
        "football": weekly(FOOTBALL, karim, {SAT}),
        "call_school": CommitmentData(
            what=tr(CALL_SCHOOL),
            assignee_ids=[sanne.id],
            schedule=Schedule(kind="once", start=today - timedelta(days=3)),
        ),
        "forms": CommitmentData(
            what=tr(FORMS),
            assignee_ids=[joost.id],
            checker_id=sanne.id,
            schedule=Schedule(kind="period", start=start, end=today + timedelta(days=10)),
        ),
        "chart": CommitmentData(
            what=tr(CHART),
            assignee_ids=[sanne.id],
            items=[tr(i) for i in CHART_ITEMS],
            schedule=Schedule(kind="once", start=today + timedelta(days=7)),
        ),
    }
    # Entered the way the plan's forms enter a draft; the plan lists them in that order.
    for data in entered.values():
        plan_svc.change(circle, sanne, "add_commitment", payload=data.to_payload())
    commitments = dict(zip(entered, plan_svc.commitments(circle), strict=True))
    for text in AGREEMENTS:
        plan_svc.change(circle, sanne, "add_agreement", payload={"text": tr(text)})
    plan_svc.set_evaluation_date(circle, sanne, today + timedelta(days=75))
    plan_svc.record_agreement(circle, sanne, [m.id for m in voters])
    clock.stamp(clock.at(15, "21:15"))
    plan_svc.accept(circle, ellen, 1)
    clock.stamp(clock.at(14, "09:30"))
    circle_svc.set_professionals_read_chat(circle, sanne, True)
    clock.stamp(clock.at(13, "20:00"))

    # The first follow-up meeting: polled, fixed, then (below) held and reviewed. The
    # services only take times in the future, so it is made with future dates that are
    # moved into the past once it is fixed, the way time would have passed.
    soon = datetime.combine(today + timedelta(days=1), time(19, 30))
    meeting = meeting_svc.propose_meeting(
        circle,
        sanne,
        MeetingData(
            title=tr(FIRST_MEETING),
            purpose=tr(FIRST_PURPOSE),
            place=tr(PLACE),
            video_link="",
            duration_minutes=90,
            options=[local_to_utc(soon + timedelta(days=d), timezone) for d in (0, 1)],
            invitee_ids=[karim.id],
        ),
    )
    clock.stamp(clock.at(12, "18:00"))
    first, second = meeting.options
    for who, answers in ((riet, ("yes", "yes")), (joost, ("yes", "no")), (karim, ("yes", "maybe"))):
        meeting_svc.set_answers(meeting, who, {first.id: answers[0], second.id: answers[1]})
    clock.stamp(clock.at(11, "20:00"))
    meeting_svc.fix_date(meeting, sanne, first.id)
    clock.stamp(clock.at(10, "19:55"))

    # A change by consent: version 2.
    proposal = plan_svc.propose(
        circle,
        joost,
        "add_commitment",
        payload=weekly(COOKING, joost, {WED}, since=clock.day(9)).to_payload(),
        reason=tr(COOKING_REASON),
    )
    clock.stamp(clock.at(10, "21:05"))
    for who, when in ((sanne, clock.at(10, "21:24")), (riet, clock.at(9, "09:10"))):
        plan_svc.answer(circle, who, proposal, True)
        clock.stamp(when)
    plan_svc.answer(circle, karim, proposal, True)  # the last consent applies it
    clock.stamp(clock.at(9, "17:49"))
    commitments["cooking"] = db.session.scalar(
        select(Commitment).where(Commitment.circle_id == circle.id, Commitment.what == tr(COOKING))
    )
    plan_svc.accept(circle, ellen, 2)
    clock.stamp(clock.at(8, "10:25"))

    # Ticks: every turn done on its day, except the Monday Sam was ill; the call to the
    # school was not made (overdue); two of the three chart steps are done.
    yesterday = today - timedelta(days=1)
    sick_day = clock.day(("mon", 2))
    for key, who, hhmm in (
        ("school", riet, "08:45"),
        ("football", karim, "12:00"),
        ("cooking", joost, "20:30"),
    ):
        c = commitments[key]
        for day in occurrences(plan_svc.schedule_of(c), c.start, yesterday):
            if key == "school" and day == sick_day:
                continue
            plan_svc.tick(circle, who, c, day.isoformat())
            clock.stamp(local_to_utc(datetime.combine(day, _hhmm(hhmm)), timezone))
    chart = commitments["chart"]
    for item, days_ago in zip(chart.items[:2], (6, 4), strict=True):
        plan_svc.tick(circle, sanne, chart, f"item:{item.id}")
        clock.stamp(clock.at(days_ago, "16:00"))

    meeting_day = clock.day(("tue", 1))
    held = local_to_utc(datetime.combine(meeting_day, time(19, 30)), timezone)

    def hold_meeting() -> None:
        """The meeting took place; its review is recorded that evening, and the date
        poll for the next one is put up."""
        first.starts_at, second.starts_at = held, held - timedelta(days=1)
        meeting.starts_at = held
        db.session.flush()
        meeting_svc.record_review(
            circle,
            meeting,
            sanne,
            present_ids=[m.id for m in voters],
            verdicts={
                commitments[k].id: (verdict, tr(note)) for k, (verdict, note) in VERDICTS.items()
            },
            decisions={},
            next_evaluation=today + timedelta(days=40),
            notes=tr(REVIEW_NOTES),
        )
        clock.stamp(held + timedelta(hours=2, minutes=30))
        later = datetime.combine(today + timedelta(days=12), time(19, 30))
        poll = meeting_svc.propose_meeting(
            circle,
            sanne,
            MeetingData(
                title=tr(SECOND_MEETING),
                purpose=tr(SECOND_PURPOSE),
                place=tr(PLACE),
                video_link="",
                duration_minutes=90,
                options=[local_to_utc(later + timedelta(days=d), timezone) for d in (0, 1, 3)],
                deadline=local_to_utc(later - timedelta(days=5), timezone),
                invitee_ids=[karim.id],
            ),
        )
        clock.stamp(held + timedelta(hours=3, minutes=10))
        answers = {
            sanne: ("yes", "yes", "maybe"),
            riet: ("yes", "maybe", "no"),
            joost: ("maybe", "yes", "yes"),
        }
        for i, (who, said) in enumerate(answers.items()):
            ids = [o.id for o in poll.options]
            meeting_svc.set_answers(poll, who, dict(zip(ids, said, strict=True)))
            clock.stamp(held + timedelta(hours=3, minutes=20 + 10 * i))

    def ask_for_help() -> None:
        plan_svc.request_help(circle, joost, commitments["forms"])
        clock.stamp(clock.at(3, "19:35"))

    def propose_backup() -> None:
        """An open proposal: Grandma Riet's backup plan, one consent so far, two waiting."""
        backup = plan_svc.propose(
            circle, riet, "add_agreement", payload={"text": tr(BACKUP)}, reason=tr(BACKUP_REASON)
        )
        clock.stamp(clock.at(2, "10:12"))
        plan_svc.answer(circle, sanne, backup, True)
        clock.stamp(clock.at(2, "11:00"))

    # In the order they happened (the meeting's day moves with the calendar), so the
    # circle's history, which lists newest first by id, reads right.
    for _when, step in sorted(
        [
            (held, hold_meeting),
            (clock.at(3, "19:35"), ask_for_help),
            (clock.at(2, "10:12"), propose_backup),
        ],
        key=lambda pair: pair[0],
    ):
        step()

    # Two weeks of chat, oldest first, so the numbering follows the clock.
    lines = [(clock.at(day, hhmm), who, tr(text)) for day, hhmm, who, text in CHAT]
    lines += [
        (local_to_utc(datetime.combine(meeting_day, _hhmm(hhmm)), timezone), who, tr(text))
        for hhmm, who, text in AFTER_MEETING
    ]
    for when, who, text in sorted(lines, key=lambda line: line[0]):
        chat_svc.send_message(ChatSeat.of(cast[who]), secrets.token_hex(8), text)
        clock.stamp(when)

    # The newcomer's doors: one invitation per role (the coordinator's came with the circle).
    tokens = {"coordinator": coordinator_token}
    for label in ROLES[1:]:
        name, role, supporter_of = NEWCOMERS[label]
        _inv, tokens[label] = circle_svc.invite(
            circle, sanne, name=tr(name), role=role, supporter_of=supporter_of
        )
    # This morning: after everything else, however the calendar falls.
    clock.stamp(utcnow() - timedelta(minutes=20))
    last_seq = db.session.scalar(select(Circle.message_seq).where(Circle.id == circle.id))
    for m in cast.values():  # the demo members have read everything
        m.last_read_seq = last_seq
    db.session.flush()
    db.session.expire_all()
    return Demo(circle=db.session.get(Circle, circle.id), tokens=tokens)


def _hhmm(text: str) -> time:
    h, m = (int(x) for x in text.split(":"))
    return time(h, m)


def demo_users(circle: Circle) -> list[User]:
    """The accounts made for the demo members of ``circle``."""
    prefix = f"demo{circle.id}."
    return list(db.session.scalars(select(User).where(User.username.startswith(prefix))))
