"""Browser tests of bwv's web pages: Debian's chromium driven by Playwright (no browser is ever
downloaded), against a `bwv serve` and an OpenID Connect provider that tests/web_ui.rs starts
and names in the environment:

  BWV_URL          the server
  BWV_IDP          the identity provider (oidc-provider-mock)
  BWV_BIN          the bwv binary, for `bwv verify` of a downloaded package
  BWV_TRUST        the log's verifier key file
  BWV_RECORDING    a recording of officer 4471 (team A), unreviewed
  BWV_SCREENSHOTS  where to save a screenshot of each page (optional)
"""
import os
import pathlib

import pytest
import requests
from axe_playwright_python.sync_playwright import Axe

URL = os.environ.get("BWV_URL", "http://127.0.0.1:8080")
IDP = os.environ.get("BWV_IDP", "http://127.0.0.1:9400")
CHROMIUM = "/usr/bin/chromium"

# The people of the tests: their roles, staff number and team claims.
PEOPLE = {
    "officer": (["officer"], "4471", "A"),
    "supervisor": (["supervisor"], "5120", "A"),
    "spoc": (["disclosure-officer"], "7001", "HQ"),
    "records1": (["records-manager"], "7101", "HQ"),
    "records2": (["records-manager"], "7102", "HQ"),
    "auditor": (["auditor"], "7201", "PSD"),
    "admin": (["administrator"], "7301", "IT"),
}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox"]}


@pytest.fixture(scope="session", autouse=True)
def people():
    for sub, (roles, staff, team) in PEOPLE.items():
        r = requests.put(f"{IDP}/users/{sub}", json={
            "name": f"Test {sub}", "oid": f"oid-{sub}", "tid": "force-tenant",
            "roles": roles, "staff_number": staff, "team": team,
        }, timeout=10)
        r.raise_for_status()
    return PEOPLE


class Person:
    """One person at their own browser: a fresh context (cookies, session) each."""

    def __init__(self, browser, who):
        self.who = who
        self.context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.problems = []
        self.page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)

    def sign_in(self, path="/"):
        page = self.page
        page.goto(f"{URL}{path}")
        # The provider's own sign-in form, answered as the person would.
        page.fill("input[name=sub]", self.who)
        page.click("button[type=submit]:has-text('Authorize')")
        page.wait_for_url(f"{URL}/**")
        return page

    def close(self):
        self.context.close()


@pytest.fixture
def person(browser):
    opened = []

    def open_as(who):
        p = Person(browser, who)
        opened.append(p)
        return p

    yield open_as
    for p in opened:
        p.close()


def accessible(page, what):
    """axe finds no serious or critical violation of WCAG 2.x A/AA on the page, and the page
    weighs under 100 KB before posters and footage."""
    weight = page_weight(page)
    assert weight < 100_000, f"{what}: {weight} bytes"
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})
    bad = [
        (v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{what}: accessibility violations: {bad}"


def screenshot(page, name):
    where = os.environ.get("BWV_SCREENSHOTS")
    if where:
        pathlib.Path(where).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=os.path.join(where, f"{name}.png"), full_page=True)


def page_weight(page):
    """Bytes of the page's HTML, CSS and script (posters and footage aside)."""
    return page.evaluate("""() => performance.getEntriesByType('navigation')
        .concat(performance.getEntriesByType('resource'))
        .filter(e => !/\\/(poster|thumbstrip|copy|original)([?]|$)|\\/s\\/[^/]+\\/files\\//.test(e.name))
        .reduce((n, e) => n + (e.transferSize || e.encodedBodySize || 0), 0)""")
