"""Translations: every string is translated into Dutch and French, the catalogs keep up
with the code, and each person sees the language they chose.

The page tests need compiled catalogs (``make setup`` runs ``pybabel compile``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po

from portal.models import User
from tests import plan_data
from tests.conftest import ROOT, csrf_from

TRANSLATIONS = ROOT / "portal" / "translations"
LANGS = ("nl", "fr")
# %(name)s, %(n)d, %(total)5.2f ... and positional %s / %d.
PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
UPDATE_HINT = (
    "Run `make translations-update`, then translate the new entries in "
    "portal/translations/{nl,fr}/LC_MESSAGES/messages.po and run `make translations`."
)


def _catalog(lang: str):
    path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        return read_po(f, locale=lang)


def _ids(message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple | list) else (message.id,)


def _strings(message) -> tuple[str, ...]:
    s = message.string
    return tuple(s) if isinstance(s, tuple | list) else (s,)


def _placeholders(text: str) -> set[str]:
    return {p for p in PLACEHOLDER.findall(text) if p != "%%"}


# --- the catalogs themselves ---------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_is_translated_without_fuzzy_flags(lang):
    catalog = _catalog(lang)
    messages = [m for m in catalog if m.id]
    assert len(messages) > 100, "the catalog looks empty"
    problems = []
    for m in messages:
        if not all(s and s.strip() for s in _strings(m)):
            problems.append(f"not translated: {m.id!r}")
        if m.fuzzy:
            problems.append(f"marked fuzzy (check it, then remove the flag): {m.id!r}")
    assert not catalog.fuzzy, f"the {lang} catalog header is marked fuzzy"
    assert not problems, f"{lang}:\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", LANGS)
def test_translations_keep_the_placeholders(lang):
    """A dropped or renamed %(name)s shows the person the wrong text, or crashes the page."""
    problems = []
    for m in _catalog(lang):
        if not m.id:
            continue
        wanted = set().union(*(_placeholders(i) for i in _ids(m)))
        for s in _strings(m):
            got = _placeholders(s)
            if got != wanted:
                problems.append(f"{m.id!r}: has {sorted(got)}, needs {sorted(wanted)} -> {s!r}")
    assert not problems, f"{lang}:\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", LANGS)
def test_translations_can_be_formatted(lang):
    """Each translation formats with the same arguments as its English text."""
    for m in _catalog(lang):
        if not m.id or "python-format" not in m.flags:
            continue
        args = {name: 1 for i in _ids(m) for name in re.findall(r"%\((\w+)\)", i)}
        for s in _strings(m):
            s % args  # raises on a broken placeholder


# --- the catalogs keep up with the code ------------------------------------------------


def _extract(tmp_path: Path) -> set[str]:
    """Extract the strings from the code exactly as `make translations-update` does."""
    pot = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    cmd = [str(pybabel)] if pybabel.exists() else [sys.executable, "-m", "babel.messages.frontend"]
    cmd += [
        "extract",
        "-F",
        "babel.cfg",
        "-k",
        "_l",
        "-o",
        str(pot),
        "--sort-output",
        "--no-location",
        ".",
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    with pot.open("rb") as f:
        return {i for m in read_po(f) if m.id for i in _ids(m)}


def test_every_string_in_the_code_is_translated(tmp_path):
    in_code = _extract(tmp_path)
    assert len(in_code) > 100, "the extractor found almost nothing; is babel.cfg right?"
    missing = {}
    for lang in LANGS:
        catalog = _catalog(lang)
        translated = {
            i for m in catalog if m.id and not m.fuzzy and all(_strings(m)) for i in _ids(m)
        }
        gone = sorted(in_code - translated)
        if gone:
            missing[lang] = gone
    assert not missing, (
        "These strings from the code have no Dutch/French translation yet:\n"
        + "\n".join(f"  {lang}: {s!r}" for lang, strings in missing.items() for s in strings)
        + "\n"
        + UPDATE_HINT
    )


def test_the_template_lists_every_string_in_the_code(tmp_path):
    with (TRANSLATIONS / "messages.pot").open("rb") as f:
        in_pot = {i for m in read_po(f) if m.id for i in _ids(m)}
    missing = sorted(_extract(tmp_path) - in_pot)
    assert not missing, f"messages.pot is out of date, missing {missing!r}.\n{UPDATE_HINT}"


# --- which language a person sees -------------------------------------------------------


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_login_page_follows_the_browser_language(client):
    english = _html(client.get("/login"))
    assert '<html lang="en">' in english
    assert "Forgot your password?" in english and "Your username or email" in english

    dutch = _html(client.get("/login", headers={"Accept-Language": "nl-BE,nl;q=0.9,en;q=0.5"}))
    assert '<html lang="nl">' in dutch
    assert "Wachtwoord vergeten?" in dutch  # from a template
    assert "Je gebruikersnaam of e-mailadres" in dutch  # a form label (lazy string in Python)
    assert "Forgot your password?" not in dutch

    french = _html(client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"}))
    assert '<html lang="fr">' in french
    assert "Mot de passe oublié" in french
    assert "Se connecter" in french
    assert "Forgot your password?" not in french


def test_unknown_browser_language_falls_back_to_english(client):
    page = _html(client.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9"}))
    assert '<html lang="en">' in page and "Forgot your password?" in page


def test_messages_from_python_code_are_translated(client, make_user):
    """An error set in a view (gettext at request time) comes out in the person's language."""
    user = make_user()
    headers = {"Accept-Language": "nl"}
    page = client.get("/login", headers=headers)
    resp = client.post(
        "/login",
        data={"login": user.username, "password": "wrong password", "csrf_token": csrf_from(page)},
        headers=headers,
    )
    html = _html(resp)
    assert "Deze gebruikersnaam en dit wachtwoord horen niet bij elkaar" in html
    assert "do not match" not in html


def test_signed_in_persons_own_language_beats_the_browser(client, db, make_user, login):
    user = make_user("Mamie")
    user.locale = "fr"
    db.session.commit()
    login(client, user)
    page = _html(client.get("/circles", headers={"Accept-Language": "nl"}))
    assert '<html lang="fr">' in page
    assert "Mes cercles" in page
    assert "Mijn kringen" not in page and "My circles" not in page


def test_language_switch_sticks_for_a_visitor(client):
    page = client.get("/login", headers={"Accept-Language": "nl"})
    resp = client.post(
        "/language",
        data={"language": "fr", "next": "/login", "csrf_token": csrf_from(page)},
        headers={"Accept-Language": "nl"},
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/login")
    # The browser still asks for Dutch, but the choice made on the page wins.
    after = _html(client.get("/login", headers={"Accept-Language": "nl"}))
    assert '<html lang="fr">' in after and "Mot de passe oublié" in after
    again = _html(client.get("/", headers={"Accept-Language": "nl"}))
    assert '<html lang="fr">' in again


def test_language_switch_is_saved_for_a_signed_in_person(client, new_client, db, make_user, login):
    user = make_user("Oma")
    user.locale = "fr"
    db.session.commit()
    login(client, user)
    page = client.get("/circles")
    resp = client.post(
        "/language",
        data={"language": "nl", "next": "/circles", "csrf_token": csrf_from(page)},
    )
    assert resp.status_code == 302
    assert "Mijn kringen" in _html(client.get("/circles"))
    assert db.session.get(User, user.id).locale == "nl"

    # On another device, with an English browser, the saved choice follows the person.
    other = new_client()
    login(other, user)
    assert "Mijn kringen" in _html(other.get("/circles", headers={"Accept-Language": "en"}))


def test_language_switch_needs_the_csrf_token(client):
    """Another site cannot switch someone's language behind their back."""
    resp = client.post("/language", data={"language": "fr", "next": "/login"})
    assert resp.status_code in (400, 403)
    assert "kring_lang" not in resp.headers.get("Set-Cookie", "")
    page = _html(client.get("/login"))
    assert '<html lang="en">' in page and "Forgot your password?" in page


def test_language_switch_refuses_unknown_languages_and_foreign_redirects(client):
    page = client.get("/login")
    token = csrf_from(page)
    odd = client.post("/language", data={"language": "xx", "next": "/login", "csrf_token": token})
    assert odd.status_code == 302
    assert "kring_lang" not in odd.headers.get("Set-Cookie", "")
    assert '<html lang="en">' in _html(client.get("/login"))

    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example/"):
        resp = client.post("/language", data={"language": "nl", "next": evil, "csrf_token": token})
        assert resp.status_code == 302
        location = resp.headers["Location"]
        # Browsers read "//host" and "/\\host" as another site; an encoded "%5C" is a path.
        assert urlsplit(location).netloc in ("", "localhost"), (evil, location)
        assert not location.startswith(("//", "/\\")), (evil, location)


def test_french_punctuation_and_quotes_come_from_the_translation(
    db, new_client, make_circle, add_member, login
):
    """French puts a non-breaking space before a colon and quotes with « »; those are in
    the catalogue, not the template. What a person wrote stays escaped inside them."""
    from portal.services import plan as plan_svc
    from portal.services.schedule import Schedule

    circle, coordinator = make_circle()
    mamie = add_member(circle, role="central", name="Mamie")
    mamie.user.locale = "fr"
    c = plan_data.add_commitment(
        circle,
        coordinator,
        plan_svc.CommitmentData(
            what="Apporter la soupe",
            assignee_ids=[mamie.id],
            other_assignees="",
            checker_id=None,
            checker_name="",
            items=[],
            schedule=Schedule(kind="once", start=circle.created_at.date()),
        ),
    )
    db.session.flush()
    plan_svc.tick(circle, mamie, c, "once", "<b>chaude</b> & bonne")
    db.session.commit()
    page = _html(login(new_client(), mamie.user).get(f"/c/{circle.id}/plan"))
    assert "«\u00a0&lt;b&gt;chaude&lt;/b&gt; &amp; bonne\u00a0»" in page
    assert "<b>chaude</b>" not in page
    assert re.search(r"Bientôt\u00a0: 1|Fait\u00a0: 1|En bonne voie\u00a0: 1", page), page
