"""Configuration read from the environment."""

from __future__ import annotations

import pytest

from portal.config import (
    TEST_PASSWORD_HASH_PARAMS,
    TEST_PASSWORD_HASH_VALUE,
    TEST_PASSWORD_HASH_VAR,
    base_url_from,
    password_hash_params_from,
)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "http://127.0.0.1:5000"),
        ({"PORT": "5601"}, "http://127.0.0.1:5601"),
        ({"HOST": "127.0.0.1", "PORT": "5601"}, "http://127.0.0.1:5601"),
        # Listening everywhere: the links use an address a browser on this machine opens.
        ({"HOST": "0.0.0.0", "PORT": "8080"}, "http://127.0.0.1:8080"),
        ({"HOST": "::", "PORT": "8080"}, "http://localhost:8080"),
        ({"HOST": "::1", "PORT": "8080"}, "http://[::1]:8080"),
        ({"HOST": "kring.lan", "PORT": "80"}, "http://kring.lan:80"),
        # BASE_URL, when set, wins over HOST and PORT (a proxy, HTTPS, a real name).
        ({"BASE_URL": "https://kring.example/", "PORT": "5601"}, "https://kring.example"),
        ({"BASE_URL": "", "PORT": "5601"}, "http://127.0.0.1:5601"),
    ],
)
def test_base_url_follows_host_and_port_unless_set(environ, expected):
    assert base_url_from(environ) == expected


def test_password_hash_costs_are_argon2s_defaults_unless_the_test_suite_asks():
    """Production keeps argon2-cffi's costs; only the exact value the test suite's live
    server sets selects the cheap test costs, and any other value is refused."""
    assert password_hash_params_from({}) is None
    assert password_hash_params_from({TEST_PASSWORD_HASH_VAR: ""}) is None
    chosen = password_hash_params_from({TEST_PASSWORD_HASH_VAR: TEST_PASSWORD_HASH_VALUE})
    assert chosen == TEST_PASSWORD_HASH_PARAMS
    with pytest.raises(ValueError):
        password_hash_params_from({TEST_PASSWORD_HASH_VAR: "1"})


@pytest.mark.parametrize(("hops", "expected"), [(0, ("127.0.0.1", "http")), (1, None)])
def test_proxy_hops_decide_whose_address_counts(hops, expected):
    """Behind one nginx (PROXY_HOPS=1) the person's address is the last X-Forwarded-For
    entry, the one nginx added, so per-address limits count people, not the proxy; an
    entry the browser typed before it is not believed. Without it, the headers are
    ignored: a visitor cannot choose their own address."""
    from flask import request

    from portal import create_app
    from portal.extensions import db
    from tests.conftest import _Config

    class Behind(_Config):
        PROXY_HOPS = hops

    app = create_app(Behind)
    seen = []

    @app.get("/_who")
    def who():
        seen.append((request.remote_addr, request.scheme))
        return ""

    app.test_client().get(
        "/_who",
        headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.5", "X-Forwarded-Proto": "https"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    with app.app_context():
        db.engine.dispose()
    assert seen == [expected or ("203.0.113.5", "https")]


def test_forms_over_https_need_no_referer(client, make_user):
    """Every page says "Referrer-Policy: no-referrer", so browsers post forms without a
    Referer. Over HTTPS (behind nginx with PROXY_HOPS, or any TLS front) Flask-WTF
    refused every such post ("The referrer header is missing"); the CSRF token is the
    check, and a post with a wrong token is still refused."""
    from tests.conftest import PASSWORD, csrf_from

    user = make_user("Ann")
    page = client.get("/login", base_url="https://localhost")
    assert page.headers["Referrer-Policy"] == "no-referrer"
    forged = client.post(
        "/login",
        base_url="https://localhost",
        data={"login": user.username, "password": PASSWORD, "csrf_token": "forged"},
    )
    assert forged.status_code == 400
    signed_in = client.post(
        "/login",
        base_url="https://localhost",
        data={"login": user.username, "password": PASSWORD, "csrf_token": csrf_from(page)},
    )
    assert signed_in.status_code == 302
