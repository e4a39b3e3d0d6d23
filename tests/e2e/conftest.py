"""Browser tests: the real server in a subprocess, driven by headless Chromium.

``live_server`` starts ``python app.py`` (gevent, Socket.IO, the real middleware) on a
free port over a fresh SQLite database built by the real migrations. ``kring`` runs the
operator CLI against the same database. ``person`` opens a fresh browser context per
person and fails the test on any console error, page error or CSP violation.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect, sync_playwright

from tests.live_server import kring_server

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class LiveServer:
    url: str
    env: dict
    log: Path

    def cli(self, *args: str) -> str:
        """Run ``flask --app app <args>`` against the live server's database."""
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
        return done.stdout

    def create_circle(
        self, title: str, coordinator_name: str, question: str = ""
    ) -> tuple[int, str]:
        """``kring create-circle``: returns (circle id, coordinator's invitation URL)."""
        out = self.cli(
            "kring",
            "create-circle",
            "--title",
            title,
            "--coordinator-name",
            coordinator_name,
            "--question",
            question,
            "--language",
            "en",
        ).split()
        assert len(out) == 2 and out[0].isdigit(), out
        return int(out[0]), self._check_url(out[1])

    def invite(
        self,
        circle_id: int,
        name: str,
        role: str,
        supporter_of: str | None = None,
        *,
        simple_mode: bool = False,
    ) -> str:
        """``kring invite``: returns the invitation URL."""
        extra = ("--supporter-of", supporter_of) if supporter_of else ()
        extra += ("--simple-mode",) if simple_mode else ()
        out = self.cli(
            "kring", "invite", str(circle_id), "--name", name, "--role", role, *extra
        ).split()
        assert len(out) == 1, out
        return self._check_url(out[0])

    def mail_to(self, address: str, containing: str, timeout: float = 15) -> str:
        """The body of the first mail to ``address`` whose body holds ``containing``,
        as the server's own mail sender wrote it to MAIL_OUTBOX_DIR; waits for it."""
        folder = Path(self.env["MAIL_OUTBOX_DIR"])
        deadline = time.monotonic() + timeout
        while True:
            for path in sorted(folder.glob("*.eml")):
                msg = message_from_bytes(path.read_bytes(), policy=default_policy)
                body = msg.get_content()
                if msg["To"] == address and containing in body:
                    return body
            assert time.monotonic() < deadline, f"no mail to {address} with {containing!r}"
            time.sleep(0.1)

    def _check_url(self, url: str) -> str:
        assert re.fullmatch(re.escape(self.url) + r"/i/[A-Za-z0-9_\-]{20,}", url), url
        return url


@pytest.fixture(scope="session")
def live_server():
    with kring_server("kring-e2e-") as (url, env, log, _proc):
        yield LiveServer(url=url, env=env, log=log)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield b
        b.close()


@dataclass
class Person:
    """One person with their own browser context (own cookies), watched for errors."""

    name: str
    context: BrowserContext
    page: Page
    problems: list[str] = field(default_factory=list)
    expected_404: set[str] = field(default_factory=set)

    def goto(self, path: str, *, expect_status: int = 200):
        if expect_status == 404:
            self.expected_404.add(path)
        response = self.page.goto(path)
        assert response is not None and response.status == expect_status, (
            f"{self.name}: {path} answered {response and response.status}"
        )
        return response

    def _on_console(self, msg: ConsoleMessage) -> None:
        text = msg.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.problems.append(f"CSP violation: {text}")
        elif msg.type == "error":
            # Chromium logs every 4xx document as a console error; the tests say when they
            # expect a 404, and nothing else may fail.
            where = msg.location.get("url", "")
            if "status of 404" in text and any(where.endswith(p) for p in self.expected_404):
                return
            self.problems.append(f"console error: {text} ({where})")

    def screenshot(self, name: str, *, full_page: bool = True) -> None:
        """Phone and desktop screenshots of the current page; leaves the phone size set."""
        SCREENSHOTS.mkdir(exist_ok=True)
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            self.page.set_viewport_size(size)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=full_page)


@pytest.fixture
def person(browser, live_server):
    """``person("Noor")`` -> a Person in a fresh browser context at phone size."""
    people: list[Person] = []

    def make(name: str, viewport: dict | None = None) -> Person:
        context = browser.new_context(
            base_url=live_server.url,
            viewport=viewport or PHONE,
            locale="en-US",
            timezone_id="Europe/Amsterdam",
        )
        context.set_default_timeout(10_000)
        # Assertions wait as long as actions: the two test passes run side by side on a
        # small machine, and a live round trip may take seconds under that load.
        expect.set_options(timeout=10_000)
        page = context.new_page()
        p = Person(name=name, context=context, page=page)
        page.on("console", p._on_console)
        page.on("pageerror", lambda exc: p.problems.append(f"page error: {exc}"))
        # Report violations from the page itself too (also catches report-only cases).
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => console.error("
            "'Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
        )
        people.append(p)
        return p

    yield make
    problems = [f"{p.name}: {msg}" for p in people for msg in p.problems]
    for p in people:
        p.context.close()
    assert not problems, "\n".join(problems)
