# ruff: noqa: F811  (fixtures imported from other test modules, then used as arguments)
"""Review E of issue 14 (offline members, acting for someone, the private supporter line,
take-their-place invitations), attacked as an insider would.

Each test performs one attack and asserts the SAFE behaviour: a failing test is a hole.
The ones that held stay as regression tests.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db as _db
from portal.models import Completion, LineMessage, Membership, Role, SupportLine, User
from portal.services import Forbidden, accounts
from portal.services import circles as circle_svc
from portal.services import lines as line_svc
from portal.services import membership as membership_svc
from portal.services import offline as offline_svc
from portal.services import plan as plan_svc
from portal.services.schedule import Schedule
from tests import plan_data
from tests.conftest import csrf_from
from tests.test_support_line import pair  # noqa: F401

SECRET = "I am scared of the weekend"


@pytest.fixture(autouse=True)
def _lenient_limits(app):
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    app.config["TOKEN_RATE_LIMIT"] = "1000 per minute"
    app.config["JOIN_RATE_LIMIT"] = "1000 per minute"


@pytest.fixture
def fam(db, make_circle, add_member):
    circle, coord = make_circle("Circle around Sam")
    sanne = add_member(circle, Role.CENTRAL, name="Sanne")
    tom = add_member(circle, Role.MEMBER, name="Tom")
    child = add_member(circle, Role.MEMBER, name="Sam")
    other, _ = make_circle("Another circle")
    outsider = add_member(other, Role.CENTRAL, name="Other mum")
    return {
        "circle": circle,
        "coord": coord,
        "sanne": sanne,
        "tom": tom,
        "child": child,
        "other": other,
        "outsider": outsider,
    }


def _soup(f, who):
    c = plan_data.add_commitment(
        f["circle"],
        f["coord"],
        plan_svc.CommitmentData(
            what="Soup",
            schedule=Schedule(kind="once", start=date.today() - timedelta(days=1)),
            assignee_ids=[who.id],
        ),
    )
    plan_svc.record_agreement(f["circle"], f["coord"], [f["sanne"].id, f["tom"].id])
    _db.session.commit()
    return c


def _take_place_token(f, oma) -> str:
    _inv, token = offline_svc.invite_to_take_place(f["circle"], f["sanne"], oma)
    _db.session.commit()
    return token


def _join_with_new_account(new_client, token, username):
    browser = new_client()
    browser.get(f"/i/{token}")
    page = browser.get("/join")
    if page.status_code != 200:
        return browser, page
    r = browser.post(
        "/join",
        data={
            "csrf_token": csrf_from(page),
            "display_name": "Oma Jansen",
            "username": username,
            "password": "a long password",
            "confirm": "a long password",
        },
    )
    return browser, r


def _user(username):
    return _db.session.scalar(select(User).where(User.username == username))


# --- The private line and people without internet -------------------------------------


def test_a_child_cannot_write_into_a_line_to_a_supporter_without_internet(
    app, fam, new_client, login
):
    """A central person adds an offline "supporter" and names the child as the one they
    support. A line to nobody who can read it would be a mailbox for whoever later takes
    that place, and the central person can take it with a fresh account: the line must
    not open while either side is offline, and the taker finds nothing of the child's."""
    f = fam
    ghost = offline_svc.add_offline_member(f["circle"], f["sanne"], name="Auntie", role="supporter")
    line_svc.set_supports(f["circle"], f["sanne"], ghost, f["child"].id)
    _db.session.commit()
    line = _db.session.scalar(select(SupportLine).where(SupportLine.supporter_id == ghost.id))
    child = login(new_client(), f["child"].user)
    home = child.get(f"/c/{f['circle'].id}").get_data(as_text=True)
    url = f"/c/{f['circle'].id}/line/{line.id}" if line is not None else None
    if url is not None:
        assert url not in home
        page = child.get(url)
        if page.status_code == 200:  # the hole: the child writes to "Auntie"
            child.post(
                url,
                data={
                    "csrf_token": csrf_from(page),
                    "client_id": "abcdefgh12345678",
                    "body": SECRET,
                },
            )
        assert page.status_code == 404
    # The central person takes the "supporter"'s place with an account of their own.
    token = _take_place_token(f, ghost)
    taker, r = _join_with_new_account(new_client, token, "not.really.auntie")
    assert r.status_code == 302
    if url is not None:
        assert SECRET not in taker.get(url).get_data(as_text=True)
    _db.session.expire_all()
    assert _db.session.scalar(select(LineMessage.id).where(LineMessage.body == SECRET)) is None
    # Whom "Auntie" supports stays with her place: the one who took it supports the
    # child now, and the line opens for those two (empty: nothing could be written).
    auntie = _db.session.get(Membership, ghost.id)
    assert auntie.supports_id == f["child"].id and not auntie.offline
    if url is not None:
        assert taker.get(url).status_code == 200


def test_a_supporter_cannot_write_to_a_member_without_internet(
    app, fam, new_client, login, make_user
):
    f = fam
    oma = offline_svc.add_offline_member(f["circle"], f["sanne"], name="Oma", role="member")
    _db.session.commit()
    inv, token = circle_svc.invite(
        f["circle"], f["sanne"], name="Jo", role=Role.SUPPORTER, supports=str(oma.id)
    )
    _db.session.commit()
    jo = circle_svc.redeem_invitation(token, make_user("Jo"))
    _db.session.commit()
    line = _db.session.scalar(select(SupportLine).where(SupportLine.supporter_id == jo.id))
    if line is None:
        return
    browser = login(new_client(), jo.user)
    url = f"/c/{f['circle'].id}/line/{line.id}"
    assert browser.get(url).status_code == 404
    page = browser.get(url)
    r = browser.post(url, data={"client_id": "c" * 16, "body": SECRET})
    assert r.status_code in (400, 404)
    assert _db.session.scalar(select(LineMessage.id).where(LineMessage.body == SECRET)) is None
    del page


def test_a_central_person_never_reads_a_line_and_the_who_can_see_page_says_no_text(
    app, fam, new_client, login, make_user
):
    f = fam
    inv, token = circle_svc.invite(
        f["circle"], f["sanne"], name="Jo", role=Role.SUPPORTER, supports=str(f["child"].id)
    )
    _db.session.commit()
    jo = circle_svc.redeem_invitation(token, make_user("Jo"))
    _db.session.commit()
    line = _db.session.scalar(select(SupportLine).where(SupportLine.supporter_id == jo.id))
    child = login(new_client(), f["child"].user)
    url = f"/c/{f['circle'].id}/line/{line.id}"
    page = child.get(url)
    r = child.post(
        url,
        data={"csrf_token": csrf_from(page), "client_id": "abcdefgh12345678", "body": SECRET},
    )
    assert r.status_code == 302
    central = login(new_client(), f["sanne"].user)
    assert central.get(url).status_code == 404
    for page_url in (
        f"/c/{f['circle'].id}",
        f"/c/{f['circle'].id}/chat",
        f"/c/{f['circle'].id}/people",
        f"/c/{f['circle'].id}/history",
        f"/c/{f['circle'].id}/who-can-see",
        "/news",
        "/",
    ):
        body = central.get(page_url).get_data(as_text=True)
        assert SECRET not in body, page_url


def test_a_line_send_without_the_csrf_token_is_refused(app, fam, new_client, login, make_user):
    f = fam
    inv, token = circle_svc.invite(
        f["circle"], f["sanne"], name="Jo", role=Role.SUPPORTER, supports=str(f["child"].id)
    )
    _db.session.commit()
    jo = circle_svc.redeem_invitation(token, make_user("Jo"))
    _db.session.commit()
    line = _db.session.scalar(select(SupportLine).where(SupportLine.supporter_id == jo.id))
    app.config["WTF_CSRF_ENABLED"] = True
    child = login(new_client(), f["child"].user)
    r = child.post(
        f"/c/{f['circle'].id}/line/{line.id}",
        data={"client_id": "abcdefgh12345678", "body": SECRET},
    )
    assert r.status_code in (400, 403)
    assert _db.session.scalar(select(LineMessage.id).where(LineMessage.body == SECRET)) is None


# --- Take their place -------------------------------------------------------------------


def test_proxies_a_central_person_chose_do_not_follow_the_person_who_takes_the_place(
    app, fam, new_client, login
):
    """For an offline member a central person chooses who answers for them. Once a real
    person has the place, only people *they* name may act for them: the central
    person's choice must not keep letting Sanne tick and consent in their name."""
    f = fam
    oma = offline_svc.add_offline_member(f["circle"], f["sanne"], name="Oma", role="member")
    membership_svc.set_proxies(f["circle"], f["sanne"], oma, [f["sanne"].id])
    _db.session.commit()
    c = _soup(f, oma)
    token = _take_place_token(f, oma)
    _browser, r = _join_with_new_account(new_client, token, "oma.jansen")
    assert r.status_code == 302
    _db.session.expire_all()
    oma = _db.session.get(Membership, oma.id)
    sanne = _db.session.get(Membership, f["sanne"].id)
    assert not oma.offline
    assert oma.proxies == []
    with pytest.raises(Forbidden):
        plan_svc.tick(f["circle"], sanne, c, "once", for_member=oma)
    _db.session.rollback()
    # Over HTTP too: the forged "for whom" is refused and no tick appears.
    central = login(new_client(), f["sanne"].user)
    page = central.get(f"/c/{f['circle'].id}/plan")
    r = central.post(
        f"/c/{f['circle'].id}/plan/commitments/{c.id}/tick",
        data={"csrf_token": csrf_from(page), "occurrence": "once", "for_member": str(oma.id)},
    )
    assert r.status_code in (403, 404)
    assert _db.session.scalar(select(Completion.id).where(Completion.commitment_id == c.id)) is None


def test_a_take_place_link_works_once_even_when_used_twice(app, fam, new_client):
    f = fam
    oma = offline_svc.add_offline_member(f["circle"], f["sanne"], name="Oma", role="member")
    _db.session.commit()
    token = _take_place_token(f, oma)
    _b, first = _join_with_new_account(new_client, token, "oma.one")
    assert first.status_code == 302
    _b, second = _join_with_new_account(new_client, token, "oma.two")
    assert second.status_code == 404
    _db.session.expire_all()
    assert _db.session.get(Membership, oma.id).user.username == "oma.one"
    assert _user("oma.two") is None


def test_a_take_place_link_stops_when_the_offline_member_is_removed_or_its_maker_goes(
    app, fam, new_client
):
    f = fam
    oma = offline_svc.add_offline_member(f["circle"], f["sanne"], name="Oma", role="member")
    opa = offline_svc.add_offline_member(f["circle"], f["sanne"], name="Opa", role="member")
    _db.session.commit()
    token_oma = _take_place_token(f, oma)
    token_opa = _take_place_token(f, opa)
    membership_svc.remove_member(f["circle"], f["sanne"], oma)
    _db.session.commit()
    _b, r = _join_with_new_account(new_client, token_oma, "not.oma")
    assert r.status_code == 404
    assert _user("not.oma") is None
    # Sanne, who made Opa's link, leaves: the link stops with her.
    membership_svc.leave_circle(f["circle"], _db.session.get(Membership, f["sanne"].id))
    _db.session.commit()
    _b, r = _join_with_new_account(new_client, token_opa, "not.opa")
    assert r.status_code == 404
    _db.session.expire_all()
    assert _db.session.get(Membership, opa.id).offline


def test_a_revoked_take_place_link_does_not_work(app, fam, new_client):
    f = fam
    oma = offline_svc.add_offline_member(f["circle"], f["sanne"], name="Oma", role="member")
    _db.session.commit()
    inv, token = offline_svc.invite_to_take_place(f["circle"], f["sanne"], oma)
    _db.session.commit()
    circle_svc.revoke_invitation(inv, f["sanne"])
    _db.session.commit()
    _b, r = _join_with_new_account(new_client, token, "not.oma")
    assert r.status_code == 404
    _db.session.expire_all()
    assert _db.session.get(Membership, oma.id).offline


def test_nobody_but_a_central_person_of_the_circle_makes_a_take_place_link(
    app, fam, new_client, login
):
    f = fam
    oma = offline_svc.add_offline_member(f["circle"], f["sanne"], name="Oma", role="member")
    _db.session.commit()
    url = f"/c/{f['circle'].id}/members/{oma.id}/take-place"
    for who, expected in ((f["tom"], (403, 404)), (f["outsider"], (404,))):
        b = login(new_client(), who.user)
        page = b.get("/account")
        r = b.post(url, data={"csrf_token": csrf_from(page)})
        assert r.status_code in expected, who.display_name
        assert "/i/" not in r.get_data(as_text=True)


# --- The stand-in account ---------------------------------------------------------------


def test_the_stand_in_account_cannot_be_reached_by_any_door(app, fam, new_client, login):
    f = fam
    oma = offline_svc.add_offline_member(f["circle"], f["sanne"], name="Oma", role="member")
    _db.session.commit()
    username = oma.user.username
    assert accounts.find_user_for_login(username, "!offline") is None
    browser = new_client()
    page = browser.get("/login")
    r = browser.post(
        "/login",
        data={"login": username, "password": "!offline", "csrf_token": csrf_from(page)},
    )
    assert r.status_code != 302
    # A way back in link for her is refused, and the card carries no link.
    central = login(new_client(), f["sanne"].user)
    page = central.get(f"/c/{f['circle'].id}/people")
    r = central.post(
        f"/c/{f['circle'].id}/members/{oma.id}/reentry",
        data={"csrf_token": csrf_from(page)},
    )
    assert "/reset/" not in r.get_data(as_text=True) and "/r/" not in r.get_data(as_text=True)


# --- Acting for someone -----------------------------------------------------------------


def test_a_forged_for_member_from_another_circle_or_for_someone_who_did_not_name_me(
    app, fam, new_client, login
):
    f = fam
    c = _soup(f, f["tom"])
    central = login(new_client(), f["sanne"].user)
    page = central.get(f"/c/{f['circle'].id}/plan")
    url = f"/c/{f['circle'].id}/plan/commitments/{c.id}/tick"
    for forged, expected in (
        (str(f["outsider"].id), 404),  # another circle
        (str(f["tom"].id), 403),  # Tom never named Sanne
        ("99999999999999999999", 404),
        ("-1", 404),
    ):
        r = central.post(
            url, data={"csrf_token": csrf_from(page), "occurrence": "once", "for_member": forged}
        )
        assert r.status_code == expected, forged
    assert _db.session.scalar(select(Completion.id).where(Completion.commitment_id == c.id)) is None


def test_a_proxy_whose_plan_keeper_flag_was_taken_away_acts_for_nobody(app, fam):
    f = fam
    tom, child = f["tom"], f["child"]
    circle_svc.set_flags(f["circle"], f["sanne"], tom, plan_keeper=True, followup=False)
    membership_svc.set_proxies(f["circle"], child, child, [tom.id])
    _db.session.commit()
    c = _soup(f, child)
    circle_svc.set_flags(f["circle"], f["sanne"], tom, plan_keeper=False, followup=False)
    _db.session.commit()
    with pytest.raises(Forbidden):
        plan_svc.tick(f["circle"], tom, c, "once", for_member=child)
    _db.session.rollback()


def test_a_proxy_the_member_un_named_acts_for_them_no_more(app, fam):
    f = fam
    child = f["child"]
    membership_svc.set_proxies(f["circle"], child, child, [f["sanne"].id])
    _db.session.commit()
    c = _soup(f, child)
    membership_svc.set_proxies(f["circle"], child, child, [])
    _db.session.commit()
    with pytest.raises(Forbidden):
        plan_svc.tick(f["circle"], f["sanne"], c, "once", for_member=child)
    _db.session.rollback()


def test_a_removed_proxy_acts_for_nobody_when_they_come_back(app, fam, make_user):
    f = fam
    child = f["child"]
    membership_svc.set_proxies(f["circle"], child, child, [f["sanne"].id])
    _db.session.commit()
    c = _soup(f, child)
    sanne_user = f["sanne"].user
    membership_svc.leave_circle(f["circle"], f["sanne"])
    _db.session.commit()
    _inv, token = circle_svc.invite(f["circle"], None, name="Sanne", role=Role.CENTRAL)
    back = circle_svc.redeem_invitation(token, sanne_user)
    _db.session.commit()
    with pytest.raises(Forbidden):
        plan_svc.tick(f["circle"], back, c, "once", for_member=child)
    _db.session.rollback()


# --- Names and text -----------------------------------------------------------------------


def test_an_offline_members_name_and_a_line_message_are_not_markup(
    app, fam, pair, new_client, login
):
    f = fam
    evil = "<img src=x onerror=alert(1)>Oma"
    central = login(new_client(), f["sanne"].user)
    page = central.get(f"/c/{f['circle'].id}/people")
    r = central.post(
        f"/c/{f['circle'].id}/people/offline",
        data={"csrf_token": csrf_from(page), "name": evil, "role": "member"},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "<img src=x" not in r.get_data(as_text=True)
    oma = _db.session.scalar(select(Membership).where(Membership.offline.is_(True)))
    assert oma is not None and oma.display_name == evil  # kept as typed, shown as text
    membership_svc.set_proxies(f["circle"], f["sanne"], oma, [f["sanne"].id])
    _db.session.commit()
    c = _soup(f, oma)
    plan_svc.tick(f["circle"], f["sanne"], c, "once", for_member=oma)
    _db.session.commit()
    for url in (
        f"/c/{f['circle'].id}/people",
        f"/c/{f['circle'].id}",
        f"/c/{f['circle'].id}/history",
        f"/c/{f['circle'].id}/plan",
        f"/c/{f['circle'].id}/plan/commitments/{c.id}",
        f"/c/{f['circle'].id}/people/{oma.id}/sheet",
    ):
        got = central.get(url)
        assert "<img src=x" not in got.get_data(as_text=True), url
    # A line message with markup, read by the other of the two.
    p = pair
    line_svc.send_message(p["line"], p["child"], "client-0000009", "<script>alert(1)</script>")
    _db.session.commit()
    sup = login(new_client(), p["supporter"].user)
    html = sup.get(f"/c/{p['circle'].id}/line/{p['line'].id}").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


def test_the_feed_page_is_not_cached(app, fam, new_client, login):
    f = fam
    browser = login(new_client(), f["tom"].user)
    r = browser.get("/account/calendar")  # the feed page (meetings.calendar_link)
    assert r.status_code == 200
    assert "no-store" in r.headers.get("Cache-Control", "")


# --- A supporter whose pair was changed, over the socket --------------------------------


def test_after_the_pair_changes_the_old_line_is_not_found_over_every_socket_event(
    app, pair, new_client, login, socket_client
):
    p = pair
    line_svc.send_message(p["line"], p["child"], "client-0000001", SECRET)
    _db.session.commit()
    ids = {"circle_id": p["circle"].id, "line_id": p["line"].id}
    sup = socket_client(p["supporter"].user)
    assert sup.emit("line:join", ids)["ok"]
    central = login(new_client(), p["central"].user)
    token = csrf_from(central.get(f"/c/{p['circle'].id}/people"))
    r = central.post(
        f"/c/{p['circle'].id}/members/{p['supporter'].id}/supports",
        data={"csrf_token": token, "supports": str(p["member"].id)},
    )
    assert r.status_code == 302
    # A fresh socket of the supporter, asking with the old line's id.
    again = socket_client(p["supporter"].user)
    for event, extra in (
        ("line:join", {"after_seq": 0}),
        ("line:history", {"before_seq": 5}),
        ("line:send", {"client_id": "client-0000002", "body": "still there?"}),
        ("line:read", {"seq": 1}),
    ):
        got = again.emit(event, {**ids, **extra})
        assert got == {"ok": False, "error": "not_found"}, event
        assert SECRET not in json.dumps(got)
    _db.session.expire_all()
    assert (
        _db.session.scalar(select(LineMessage.id).where(LineMessage.body == "still there?")) is None
    )


# --- Two take-place links for one place, used at the same instant -------------------------


@pytest.mark.postgres_only
def test_two_take_place_links_for_one_place_used_at_once_give_it_to_one_person(app, fam):
    """A central person made two links for Oma (one printed, one sent). Used at the same
    instant, each link is spent once; the place must go to exactly one account, and
    the other must not be left holding nothing while its link says it worked."""
    import threading

    from flask.testing import FlaskClient

    f = fam
    oma = offline_svc.add_offline_member(f["circle"], f["sanne"], name="Oma", role="member")
    _db.session.commit()
    tokens = [_take_place_token(f, oma), _take_place_token(f, oma)]
    oma_id = oma.id
    _db.session.rollback()
    n = 10
    browsers, forms = [], []
    for i in range(n):
        b = FlaskClient(app, app.response_class, use_cookies=True)
        with app.app_context():
            assert b.get(f"/i/{tokens[i % 2]}").status_code == 302
            page = b.get("/join")
        assert page.status_code == 200
        browsers.append(b)
        forms.append(csrf_from(page))
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = browsers[i].post(
                "/join",
                data={
                    "csrf_token": forms[i],
                    "display_name": f"Oma {i}",
                    "username": f"oma.racer{i}",
                    "password": "a long password",
                    "confirm": "a long password",
                },
            )
        except BaseException as e:  # reported below
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not [r for r in results if isinstance(r, BaseException) or r is None], results
    statuses = sorted(r.status_code for r in results)
    assert 500 not in statuses, statuses
    winners = [i for i, r in enumerate(results) if r.status_code == 302]
    assert len(winners) == 1, statuses
    _db.session.rollback()
    m = _db.session.get(Membership, oma_id)
    assert not m.offline and m.user.username == f"oma.racer{winners[0]}"
    # Nobody else got an account out of a link that did not work for them.
    made = _db.session.scalars(select(User.username).where(User.username.like("oma.racer%"))).all()
    assert made == [f"oma.racer{winners[0]}"]


@pytest.mark.postgres_only
@pytest.mark.parametrize("kind", ["take_place", "ordinary"])
def test_one_account_with_two_links_used_at_once_joins_once(app, fam, login, kind):
    """Two links into the same circle (two offline members' places, or two ordinary
    invitations), opened by one account in two browsers and accepted at the same
    instant: one lets them in, the other says so plainly (it was a 500: the second
    membership broke the one-per-person-and-circle rule), and the account holds one
    place."""
    import threading

    from flask.testing import FlaskClient

    f = fam
    if kind == "take_place":
        places = [
            offline_svc.add_offline_member(f["circle"], f["sanne"], name=n, role="member")
            for n in ("Oma", "Opa")
        ]
        _db.session.commit()
        tokens = [_take_place_token(f, p) for p in places]
    else:
        tokens = [
            circle_svc.invite(f["circle"], f["sanne"], name=n, role="member")[1]
            for n in ("Cousin", "Cousin too")
        ]
        _db.session.commit()
    me = f["outsider"].user
    _db.session.rollback()
    browsers, forms = [], []
    for token in tokens:
        b = FlaskClient(app, app.response_class, use_cookies=True)
        # Each request in an app context of its own: one shared context would share
        # ``g`` (the signed-in person, the CSRF token) between the two browsers.
        with app.app_context():
            login(b, me)
        with app.app_context():
            assert b.get(f"/i/{token}").status_code == 302
        with app.app_context():
            page = b.get("/join")
        assert page.status_code == 200
        browsers.append(b)
        forms.append(csrf_from(page))
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def accept(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = browsers[i].post(
                "/join", data={"csrf_token": forms[i], "display_name": f"Me {i}"}
            )
        except BaseException as e:  # reported below
            results[i] = e

    threads = [threading.Thread(target=accept, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(r is not None and not isinstance(r, BaseException) for r in results), results
    assert [r.status_code for r in results].count(500) == 0, results
    _db.session.rollback()
    mine = _db.session.scalars(
        select(Membership).where(
            Membership.circle_id == f["circle"].id, Membership.user_id == me.id
        )
    ).all()
    assert len(mine) == 1
    if kind == "take_place":  # the other place is still waiting for its person
        still = [p for p in places if _db.session.get(Membership, p.id).offline]
        assert len(still) == 1


# --- A new link for a take-place invitation ------------------------------------------------


def test_only_a_central_person_makes_a_new_link_for_a_take_place_invitation(
    app, fam, new_client, login
):
    """Making a take-place link is for a central person (``can_invite_to_take_place``):
    it hands someone's place, name and history to whoever holds it. The coordinator
    (before the handover) manages invitations, so "new link" on Sanne's take-place
    invitation must not hand the coordinator a link to Oma's place."""
    f = fam
    oma = offline_svc.add_offline_member(f["circle"], f["sanne"], name="Oma", role="central")
    _db.session.commit()
    inv, _token = offline_svc.invite_to_take_place(f["circle"], f["sanne"], oma)
    _db.session.commit()
    before = inv.token_hash
    coord = login(new_client(), f["coord"].user)
    page = coord.get(f"/c/{f['circle'].id}/people")
    assert page.status_code == 200
    r = coord.post(
        f"/c/{f['circle'].id}/invitations/{inv.id}/reissue",
        data={"csrf_token": csrf_from(page)},
    )
    assert "/i/" not in r.get_data(as_text=True)
    _db.session.expire_all()
    assert _db.session.get(type(inv), inv.id).token_hash == before
    # A central person may.
    central = login(new_client(), f["sanne"].user)
    page = central.get(f"/c/{f['circle'].id}/people")
    r = central.post(
        f"/c/{f['circle'].id}/invitations/{inv.id}/reissue",
        data={"csrf_token": csrf_from(page)},
    )
    assert r.status_code == 200 and "/i/" in r.get_data(as_text=True)
