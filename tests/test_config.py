"""Configuration read from the environment."""

from __future__ import annotations

import pytest

from portal.config import base_url_from


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
