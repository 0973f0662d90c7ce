"""bwv's pages as each role uses them, in a real browser: sign in, search, justify and play with
seeking, classify from the review queue, build a package and verify it offline, approve a plan
as a second person, export the audit log; every page checked by axe and kept as a screenshot."""
import csv
import io
import os
import re
import subprocess

from conftest import URL, accessible, screenshot

RECORDING = os.environ.get("BWV_RECORDING", "")
URN = "01BW0000126"

# What each role's navigation offers, and no more.
NAV = {
    "officer": ["Search"],
    "supervisor": ["Search", "Review queue"],
    "spoc": ["Search", "Review queue", "Cases"],
    "records1": ["Search", "Retention", "Holds"],
    "auditor": ["Audit"],
    "admin": ["Docks and people"],
}


def nav_of(page):
    return [t.strip() for t in page.locator("header nav a").all_inner_texts()]


def test_each_role_signs_in_and_sees_only_its_pages(person):
    for who, expected in NAV.items():
        p = person(who)
        page = p.sign_in("/")
        assert nav_of(page) == expected, who
        assert page.locator("header .who").inner_text().startswith(f"Test {who}")
        # The page names the person, and its CSP forbids anything but this server's files.
        r = page.request.get(URL + "/")
        assert "script-src 'self'" in r.headers["content-security-policy"]
        accessible(page, f"{who}'s first page")
        if who == "auditor":
            assert page.url.startswith(URL + "/audit")
        p.close()


def test_a_page_refuses_a_form_from_elsewhere(person):
    p = person("supervisor")
    page = p.sign_in("/review")
    # A form posted without the session's CSRF token (as another site would) changes nothing.
    r = page.request.post(f"{URL}/review/{RECORDING}", form={"classification": "evidential", "reason": "x"})
    assert r.status == 403, r.status
    assert "CSRF" in r.text()


def test_search_is_in_the_address_and_posters_need_a_reason(person):
    p = person("spoc")
    page = p.sign_in("/")
    screenshot(page, "search")
    page.fill("input[name=officer]", "4471")
    page.click("button:has-text('Search')")
    assert "officer=4471" in page.url
    results = page.locator(".result")
    assert results.count() >= 2
    # No poster is fetched until the person says why.
    assert page.locator(".result img").count() == 0
    page.select_option("select[name=stills]", "investigation")
    page.click("button:has-text('Search')")
    assert "stills=investigation" in page.url
    first = page.locator(".result img").first
    first.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=first.element_handle())
    accessible(page, "search results")
    screenshot(page, "search-results")
    # The same address, shared with a colleague, gives the same search.
    shared = p.context.new_page()
    shared.goto(page.url)
    assert shared.locator(".result").count() == results.count()


def test_footage_plays_and_seeks_after_a_justification(person):
    p = person("spoc")
    page = p.sign_in(f"/recordings/{RECORDING}")
    # Nothing of the recording is shown before the reason is given.
    assert page.locator("h1").inner_text().startswith("Why are you looking")
    assert page.locator("video").count() == 0
    accessible(page, "justification")
    screenshot(page, "justification")
    page.select_option("select[name=reason]", "investigation")
    page.fill("textarea[name=detail]", "Browser test: checking the player")
    page.click("button:has-text('Continue')")
    page.wait_for_url(re.compile(r".*consultation=.*"))
    video = page.locator("video#player-1")
    video.wait_for()
    page.evaluate("v => { v.muted = true; return v.play(); }", video.element_handle())
    page.wait_for_function("v => v.currentTime > 0.2", arg=video.element_handle(), timeout=20_000)
    # Seek: the player asks for a range and plays on from there.
    page.evaluate("v => { v.pause(); v.currentTime = 2.5; }", video.element_handle())
    page.wait_for_function("v => !v.seeking && v.readyState >= 2", arg=video.element_handle(), timeout=20_000)
    at = page.evaluate("v => v.currentTime", video.element_handle())
    assert abs(at - 2.5) < 0.6, at
    page.evaluate("v => v.play()", video.element_handle())
    page.wait_for_function("v => v.currentTime > 2.8", arg=video.element_handle(), timeout=20_000)
    page.evaluate("v => v.pause()", video.element_handle())
    # The hashes of the original and every derivative are on the page.
    assert page.locator("td.hash").count() >= 2
    for h in page.locator("td.hash").all_inner_texts():
        assert re.fullmatch(r"[0-9a-f]{64}", h.strip()), h
    accessible(page, "recording")
    screenshot(page, "recording")


def test_footage_addresses_need_a_session(person, browser):
    p = person("spoc")
    page = p.sign_in(f"/recordings/{RECORDING}")
    page.select_option("select[name=reason]", "investigation")
    page.click("button:has-text('Continue')")
    src = page.locator("video#player-1").get_attribute("src")
    stranger = browser.new_context()
    r = stranger.request.get(URL + src)
    assert r.status == 401, r.status
    stranger.close()


def test_a_supervisor_classifies_from_the_review_queue(person):
    p = person("supervisor")
    page = p.sign_in("/review")
    assert page.locator(".result").count() >= 1
    accessible(page, "review queue")
    screenshot(page, "review")
    row = page.locator(".result", has=page.locator(f"a[href='/recordings/{RECORDING}']"))
    row.locator("input[name=reason]").fill("Shows the arrest")
    row.locator("button[value=evidential]").click()
    assert "classified Evidential" in page.locator(".flash").inner_text()
    assert page.locator(f"a[href='/recordings/{RECORDING}']").count() == 0


def test_an_officer_asks_for_a_review_of_their_own_footage(person):
    officer = person("officer")
    page = officer.sign_in(f"/recordings/{RECORDING}")
    page.select_option("select[name=reason]", "evidential-review")
    page.click("button:has-text('Continue')")
    # An officer classifies nothing, but may ask for their footage to be looked at again.
    assert page.locator("form[action$='/classification']").count() == 0
    page.fill("form[action$='/review-request'] input[name=reason]", "The arrest continues after the clip")
    page.click("button:has-text('Request review')")
    assert "review is requested" in page.locator(".flash").inner_text()
    supervisor = person("supervisor")
    queue = supervisor.sign_in("/review")
    row = queue.locator(".result", has=queue.locator(f"a[href='/recordings/{RECORDING}']"))
    row.locator("input[name=reason]").fill("Reviewed again: still evidential")
    row.locator("button[value=evidential]").click()
    assert queue.locator(f"a[href='/recordings/{RECORDING}']").count() == 0


def test_a_package_is_built_downloaded_and_verifies(person, browser, tmp_path):
    p = person("spoc")
    page = p.sign_in("/cases")
    page.fill("input[name=urn]", URN)
    page.fill("input[name=offence]", "Assault occasioning actual bodily harm")
    page.fill("input[name=oic]", "4471")
    page.click("button:has-text('Open case')")
    page.wait_for_url(f"{URL}/cases/{URN}")
    # The footage joins the case from its own page, under the case as the reason.
    page.goto(f"{URL}/recordings/{RECORDING}")
    page.fill("input[name=case]", URN)
    page.click("button:has-text('Continue')")
    link = page.locator("form[action$='/cases']")
    link.locator("input[name=urn]").fill(URN)
    link.locator("button:has-text('Link')").click()
    assert f"Linked to case {URN}" in page.locator(".flash").inner_text()
    # An excerpt chosen on the player: mark start and end while it plays.
    video = page.locator("video#player-1")
    page.evaluate("v => { v.muted = true; v.currentTime = 1; }", video.element_handle())
    page.wait_for_function("v => !v.seeking", arg=video.element_handle())
    page.click("button:has-text('Mark excerpt start')")
    page.evaluate("v => { v.currentTime = 3.2; }", video.element_handle())
    page.wait_for_function("v => !v.seeking", arg=video.element_handle())
    page.click("button:has-text('Mark excerpt end')")
    excerpt = page.locator("form[action='/excerpts']")
    excerpt.locator("input[name=urn]").fill(URN)
    assert excerpt.locator("input[name=start]").input_value() == "0:01"
    excerpt.locator("button:has-text('Add excerpt')").click()
    assert "Excerpt" in page.locator(".flash").inner_text()
    page.goto(f"{URL}/cases/{URN}")
    assert page.locator("td a", has_text="/1").count() >= 1
    accessible(page, "case")
    page.fill("input[name=recipient]", "CPS Direct, lawyer J. Smith")
    page.fill("input[name=purpose]", "Initial disclosure")
    page.click("button:has-text('Build package')")
    page.wait_for_url(re.compile(r".*/tasks/.*"))
    # The page as the server sends it while the task runs, for the two pages below.
    task_url = page.url
    running = p.context.request.get(task_url).text()
    screenshot(page, "package-progress")
    # The page follows the task in place: no reload (which would forget this mark), no
    # self-refresh, and the status line that announced progress is the one that says "Done."
    assert page.locator("meta[http-equiv=refresh]").count() == 0
    if page.locator("#task[data-running]").count() == 1:
        assert not page.locator("[data-without-script]").first.is_visible()
        accessible(page, "running task")
    page.evaluate("() => { window.stillThisPage = document.getElementById('task-status'); }")
    page.wait_for_selector("#task-status.flash:text-is('Done.')", timeout=120_000)
    assert page.evaluate(
        "() => window.stillThisPage === document.getElementById('task-status')"
    ), "the task page reloaded instead of updating in place"
    accessible(page, "task")
    if "data-running" in running:
        # The running page shown again (its polls answered as for a task its node no longer
        # knows, after a restart): without script it offers the link to its latest progress;
        # with script the polling stops and brings the link back.

        def served(route):
            if route.request.resource_type == "document":
                route.fulfill(status=200, content_type="text/html", body=running)
            else:
                route.fulfill(status=404, body="no such task")

        plain = browser.new_context(java_script_enabled=False)
        still = plain.new_page()
        still.route(task_url, served)
        still.goto(task_url)
        assert still.locator("[data-without-script]").first.is_visible()
        plain.close()
        gone = p.context.new_page()
        gone.route(task_url, served)
        gone.goto(task_url)
        assert not gone.locator("[data-without-script]").first.is_visible()
        gone.locator("[data-without-script]").first.wait_for(state="visible", timeout=10_000)
        gone.close()
    page.click(f"a:has-text('Back to case {URN}')")
    screenshot(page, "case")
    with page.expect_download() as d:
        page.locator("a", has_text="Package ").first.click()
    zip_path = tmp_path / "package.zip"
    d.value.save_as(zip_path)
    out = subprocess.run(
        [os.environ["BWV_BIN"], "verify", str(zip_path), "--trust", os.environ["BWV_TRUST"]],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_package_is_shared_by_link_and_revoked(person, browser, tmp_path):
    spoc = person("spoc")
    page = spoc.sign_in(f"/cases/{URN}")
    page.click("button:has-text('Create link')")
    assert "CPS Direct, lawyer J. Smith" in page.locator("h1").inner_text()
    link = page.locator("#share-link").inner_text().strip()
    passcode = page.locator("#share-passcode").inner_text().strip()
    assert link.startswith(URL + "/s/") and len(passcode) == 11, (link, passcode)
    accessible(page, "share made")
    # The recipient: no account, no session, a browser of their own.
    recipient = browser.new_context(accept_downloads=True)
    them = recipient.new_page()
    them.goto(link)
    assert them.locator("video").count() == 0
    # Without the passcode, the files behind the link are not served either.
    assert them.request.get(link + "/package.zip").status == 403
    accessible(them, "share passcode")
    screenshot(them, "share-passcode")
    them.fill("input[name=passcode]", "WRONG-PASSC")
    them.click("button:has-text('Open')")
    assert "not right" in them.locator(".error").inner_text()
    them.fill("input[name=passcode]", passcode.lower())
    them.click("button:has-text('Open')")
    them.wait_for_selector("h1:has-text('disclosed material')")
    video = them.locator("video").first
    them.evaluate("v => { v.muted = true; return v.play(); }", video.element_handle())
    them.wait_for_function("v => v.currentTime > 0.2", arg=video.element_handle(), timeout=20_000)
    accessible(them, "shared package")
    screenshot(them, "share-package")
    with them.expect_download() as d:
        them.click("a:has-text('Download the whole package')")
    zip_path = tmp_path / "shared.zip"
    d.value.save_as(zip_path)
    out = subprocess.run(
        [os.environ["BWV_BIN"], "verify", str(zip_path), "--trust", os.environ["BWV_TRUST"]],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # The disclosure officer sees what was done through the share, and revokes it.
    page.goto(f"{URL}/cases/{URN}")
    uses = page.locator("ul.uses").inner_text()
    assert "opened" in uses and "viewed" in uses and "downloaded package.zip" in uses, uses
    page.click("button:has-text('Revoke')")
    assert "revoked" in page.locator(".flash").inner_text()
    assert them.request.get(link + "/package.zip").status == 410
    r = them.goto(link)
    assert r.status == 410
    assert "revoked" in them.locator(".error").inner_text()
    assert them.locator("video").count() == 0
    recipient.close()


def test_a_plan_is_approved_by_a_second_person(person):
    maker = person("records1")
    page = maker.sign_in("/retention")
    page.click("button:has-text('Record this plan')")
    assert "Plan recorded" in page.locator(".flash").inner_text()
    assert page.locator("text=You made it: another person approves it.").count() >= 1
    accessible(page, "retention")
    screenshot(page, "retention")
    page.goto(f"{URL}/holds")
    accessible(page, "holds")
    screenshot(page, "holds")
    checker = person("records2")
    page = checker.sign_in("/retention")
    page.locator("button:has-text('Approve')").first.click()
    assert "approved" in page.locator(".flash").inner_text()


def test_an_auditor_searches_and_exports_csv(person, tmp_path):
    p = person("auditor")
    page = p.sign_in("/audit")
    page.fill("input[name=event]", "consulted")
    page.click("form[role=search] button:has-text('Search')")
    assert page.locator("tbody tr").count() >= 1
    accessible(page, "audit")
    screenshot(page, "audit")
    with page.expect_download() as d:
        page.click("a:has-text('Export these records as CSV')")
    path = tmp_path / "audit.csv"
    d.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert rows and all(r["event"] == "consulted" for r in rows), rows[:2]
    with page.expect_download() as d:
        page.click("a:has-text('Export consultations as CSV')")
    path = tmp_path / "consultations.csv"
    d.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert any(r["detail"] == "Browser test: checking the player" for r in rows)
    # Each poster shown in a search list was a look at stills, logged under the reason given.
    assert any(r["what"] == "stills" and r["reason"] == "investigation" for r in rows), rows[:3]


def test_an_administrator_adds_a_dock(person):
    p = person("admin")
    page = p.sign_in("/admin")
    page.fill("input[name=name]", "browser-dock")
    page.click("button:has-text('Add dock')")
    assert "Its secret, shown only now" in page.locator(".flash").inner_text()
    accessible(page, "admin")
    screenshot(page, "admin")
    with page.expect_download() as d:
        page.click("button:has-text('Connection file for browser-dock')")
    assert d.value.suggested_filename == "browser-dock.connection.json"
