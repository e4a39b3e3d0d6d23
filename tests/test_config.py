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
