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
