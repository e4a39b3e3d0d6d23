"""The basic flow: a coordinator invites, the invitee joins and sees the circle."""

from portal.models import Membership, Role
from tests.conftest import csrf_from


def test_invitee_joins_and_sees_the_circle(app, client, make_circle, login, new_client):
    circle, coord = make_circle()
    login(client, coord.user)
    people = client.get(f"/c/{circle.id}/people")
    assert people.status_code == 200
    card = client.post(
        f"/c/{circle.id}/invitations",
        data={"name": "Oma Riet", "role": "member", "csrf_token": csrf_from(people)},
    )
    assert card.status_code == 200
    html = card.get_data(as_text=True)
    link = html.split('readonly value="')[1].split('"')[0]
    assert "/i/" in link

    guest = new_client()
    opened = guest.get(link.replace("http://localhost", ""))
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/join")
    join = guest.get("/join")
    assert "Circle around Sam" in join.get_data(as_text=True)
    done = guest.post(
        "/join",
        data={
            "display_name": "Oma Riet",
            "username": "omariet",
            "password": "a long password",
            "confirm": "a long password",
            "csrf_token": csrf_from(join),
        },
    )
    assert done.status_code == 302
    home = guest.get(done.headers["Location"])
    assert home.status_code == 200
    assert "Oma Riet" in home.get_data(as_text=True)
    m = Membership.query.filter_by(display_name="Oma Riet").one()
    assert m.role == Role.MEMBER and m.circle_id == circle.id


def test_existing_account_signs_in_from_the_invitation_and_joins(
    app, client, make_circle, make_user, add_member, login
):
    """A grandmother already in one circle accepts an invitation to a second one."""
    from portal.services import circles as svc

    first, _ = make_circle("First circle")
    second, _ = make_circle("Second circle")
    oma = make_user("Oma")
    add_member(first, user=oma, name="Oma")
    _inv, token = svc.invite(second, None, name="Oma Riet", role="member")
    from portal.extensions import db

    db.session.commit()
    client.get(f"/i/{token}")
    join = client.get("/join")
    assert "Sign in first" in join.get_data(as_text=True)
    login_page = client.get("/login?next=/join")
    from tests.conftest import PASSWORD

    resp = client.post(
        "/login?next=/join",
        data={"login": oma.username, "password": PASSWORD, "csrf_token": csrf_from(login_page)},
    )
    assert resp.headers["Location"] == "/join"
    accept = client.get("/join")
    assert "Second circle" in accept.get_data(as_text=True)
    done = client.post("/join", data={"display_name": "Oma Riet", "csrf_token": csrf_from(accept)})
    assert done.status_code == 302
    roles = {m.circle_id: m.display_name for m in Membership.query.filter_by(user_id=oma.id)}
    assert roles == {first.id: "Oma", second.id: "Oma Riet"}
