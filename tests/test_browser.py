"""The patient pages in a real browser: Debian's Chromium (/usr/bin/chromium, never a downloaded
browser; without it these tests are skipped and the run ends saying so, see conftest.py) driven
by Playwright, against Datasette started as `make serve` starts it, on a synthetic database. Every request that is not to 127.0.0.1 is blocked, so the tests are offline (the map's
tiles are the only third-party request the pages make, and they are refused here).

Scenarios: search by ZIP with an insurer filter (with and without JavaScript), open a clinic,
open a state page, produce a checklist (and its print layout), an axe-core scan of each page
at phone and desktop widths, and no Content-Security-Policy violation on any patient page or
Datasette's clinics table (with their maps drawn)."""

import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

from builds import build, synthetic
from utils import CHROMIUM, free_port

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TILE_HOST = "tile.openstreetmap.org"
CHECKLIST = "/checklist?state=TX&insurer=aetna&condition=treatment_resistant_depression"

CLINICS = [
    synthetic("A", postal_code="78701", street="100 Congress Ave", insurers=["Aetna"],
              conditions=["treatment resistant depression"], price_initial_usd=450, phone="512-555-0101"),
    synthetic("B", postal_code="78745", insurers=["Cigna"], treatments=["Spravato"], price_initial_usd=500),
    synthetic("C", postal_code="78660", city="Pflugerville", insurers=["Aetna"],
              treatments=["iv_ketamine", "esketamine_spravato"], price_initial_usd=400),
    synthetic("D", postal_code="75201", city="Dallas", insurers=["Humana"], price_initial_usd=600),
    synthetic("E", city="Nowhere Springs", insurers=["Aetna"]),
    synthetic("G", phone="512-555-0199", website="https://g-one.synthetic.example"),
    synthetic("G two", phone="(512) 555-0199", website="https://g-two.synthetic.example"),
    # San Antonio: takes TRICARE by its flag alone.
    synthetic("San Antonio", city="San Antonio", postal_code="78212", accepts_tricare=True, conditions=["PTSD"]),
]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    db_path = build(tmp_path_factory.mktemp("browser"), feeds={"clinic_site": CLINICS}).db_path
    port = free_port()
    server = subprocess.Popen(  # the Makefile's serve command, on this database and port
        [str(ROOT / ".venv" / "bin" / "python"), "serve.py", "--db", str(db_path), "--host", "127.0.0.1",
         "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        if server.poll() is not None:
            pytest.fail("Datasette stopped: " + server.stderr.read().decode())
        try:
            urllib.request.urlopen(url + "/-/versions.json", timeout=1)
            break
        except OSError:
            if time.time() > deadline:
                server.terminate()
                pytest.fail("Datasette did not start within 30 seconds")
            time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Tab:
    """A page whose requests leave only for 127.0.0.1; what was refused, and page errors, are kept."""

    def __init__(self, browser, base_url, viewport=DESKTOP, javascript=True):
        self.base_url = base_url
        self.context = browser.new_context(viewport=viewport, java_script_enabled=javascript)
        self.page = self.context.new_page()
        self.blocked, self.errors = [], []
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: message.type == "error" and not self._refused(message.text)
                     and self.errors.append(message.text))

    def _route(self, route):
        if route.request.url.startswith(self.base_url + "/"):
            route.continue_()
        else:
            self.blocked.append(urlsplit(route.request.url).hostname)
            route.abort()

    @staticmethod
    def _refused(text):
        return "net::ERR_FAILED" in text or "Failed to load resource" in text

    def goto(self, path):
        self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("networkidle")
        return self.page


@pytest.fixture
def tab(browser, base_url):
    tab = Tab(browser, base_url)
    yield tab
    assert not tab.errors, tab.errors
    assert set(tab.blocked) <= {TILE_HOST}, tab.blocked
    tab.context.close()


@pytest.fixture
def no_js_tab(browser, base_url):
    tab = Tab(browser, base_url, viewport=PHONE, javascript=False)
    yield tab
    assert tab.blocked == []
    tab.context.close()


def card_titles(page):
    return page.locator("#results-heading ~ article .card-title").all_inner_texts()


# -- scenarios ---------------------------------------------------------------------------------

def test_search_by_zip_with_an_insurer(tab):
    page = tab.goto("/")
    page.get_by_label("ZIP code").fill("78701")
    page.get_by_label("Insurance").select_option(label="Aetna")
    page.get_by_role("button", name="Find clinics").click()
    page.wait_for_load_state("networkidle")
    assert "zip=78701" in page.url and "insurer=aetna" in page.url
    expect(page.locator("#results-heading")).to_have_text("2 clinics within 25 miles of ZIP 78701 (Austin, TX)")
    assert card_titles(page) == ["Synthetic A", "Synthetic C"]
    distances = [float(d.split()[0]) for d in page.locator("#results-heading ~ article .distance").all_inner_texts()]
    assert distances == sorted(distances)
    # The map: Leaflet from this server, one marker per clinic plus the search center; tiles refused.
    page.wait_for_selector("#kad-map[data-ready]")
    assert page.locator("#kad-map path.leaflet-interactive").count() == 3
    expect(page.locator(".leaflet-control-attribution")).to_contain_text("OpenStreetMap contributors")
    assert TILE_HOST in tab.blocked
    # The clinic without coordinates is still offered, by state.
    expect(page.locator("#unmapped-heading")).to_have_text("Clinics in Texas without a mapped location")
    expect(page.locator("#unmapped-heading ~ article .card-title")).to_have_text(["Synthetic E"])


def test_search_widens_when_nothing_matches(tab):
    page = tab.goto("/?zip=78701&insurer=humana")
    expect(page.get_by_text("No clinic matches this search within 25 miles")).to_be_visible()
    page.get_by_role("link", name="Search within 250 miles").click()
    page.wait_for_load_state("networkidle")
    assert card_titles(page) == ["Synthetic D"]


def test_search_works_without_javascript(no_js_tab):
    page = no_js_tab.goto("/")
    page.get_by_label("ZIP code").fill("78701")
    page.get_by_label("Insurance").select_option("aetna")
    page.get_by_label("Spravato (esketamine)").check()
    page.get_by_role("button", name="Find clinics").click()
    page.wait_for_load_state("networkidle")
    assert card_titles(page) == ["Synthetic C"]
    expect(page.locator(".map-fallback")).to_contain_text("The map needs JavaScript")


def test_open_a_clinic_and_its_insurers_policy(tab):
    page = tab.goto("/?zip=78701&insurer=aetna")
    page.get_by_role("link", name="Synthetic A", exact=True).click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("heading", level=1)).to_have_text("Synthetic A")
    assert "/clinic/site/synthetic-a" in page.url and "insurer=aetna" in page.url
    expect(page.locator("#policy-heading")).to_have_text("What Aetna’s policy says")
    assert page.locator("#policy-heading ~ .policy").count() >= 1
    expect(page.get_by_role("link", name="https://synthetic.example/a")).to_be_visible()
    page.wait_for_selector("#kad-map[data-ready]")
    # Choose another insurer with the form.
    page.get_by_label("Your insurer").select_option(label="Cigna")
    page.get_by_role("button", name="Show policy").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#policy-heading")).to_have_text("What Cigna’s policy says")
    expect(page.get_by_text("This clinic does not list Cigna")).to_be_visible()


def test_clinic_where_sources_disagree(tab):
    page = tab.goto("/states")
    page.get_by_role("link", name="Texas").click()
    page.get_by_role("link", name="Synthetic G", exact=True).click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("heading", name="Where sources disagree")).to_be_visible()
    expect(page.locator(".warning").first).to_contain_text("Sources disagree about: website")


def test_open_a_state_page(tab):
    page = tab.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="State rules").click()
    page.get_by_role("link", name="Texas").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("heading", level=1)).to_have_text("Texas: your rights and rules")
    for heading in ("If your insurer says no: appeals and external review", "Who may run infusion clinics",
                    "The federal floor", "Pending bills", "Clinics in Texas"):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    law = page.locator(".law").first
    law.locator("summary").click()
    expect(law.locator("details.sources a").first).to_be_visible()
    assert page.locator(".law .meta").first.inner_text().strip()


def test_produce_a_checklist(tab):
    page = tab.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Coverage checklist").click()
    page.get_by_label("Your state").select_option("TX")
    page.get_by_label("Your insurer").select_option(label="Aetna")
    page.get_by_label("Your condition").select_option(label="Treatment-resistant depression")
    page.get_by_role("button", name="Make my checklist").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".checklist-for")).to_have_text("For Aetna, Treatment-resistant depression, in Texas.")
    expect(page.get_by_text("This is information, not medical or legal advice.")).to_be_visible()
    assert page.locator("ol.steps > li").count() == 5
    expect(page.get_by_text("A letter of medical necessity")).to_be_visible()
    expect(page.locator(".price-figure").first).to_have_text("Median $475; range $400 to $600")  # TX: 400-600
    # Printing drops the navigation, the form and the map.
    page.emulate_media(media="print")
    assert not page.locator(".site-header nav").is_visible()
    assert not page.locator("form.checklist-form").is_visible()
    expect(page.locator("ol.steps")).to_be_visible()


def test_checklist_asks_the_kind_of_plan_then_gives_its_steps(tab):
    page = tab.goto(CHECKLIST)
    expect(page.get_by_role("heading", name="Which kind of plan is it?")).to_be_visible()
    page.get_by_role("link", name="Is this plan through a private employer or union that pays the claims itself").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".plan-kind")).to_contain_text("self-funded")
    expect(page.get_by_role("heading", name="Step 3: Federal external review")).to_be_visible()


def test_a_veteran_with_tricare_finds_the_clinic_and_its_own_steps(tab):
    page = tab.goto("/")
    page.get_by_label("ZIP code").fill("78201")
    page.get_by_label("Insurance").select_option(label="TRICARE")
    page.get_by_label("Condition").select_option(label="PTSD")
    page.get_by_role("button", name="Find clinics").click()
    page.wait_for_load_state("networkidle")
    assert card_titles(page) == ["Synthetic San Antonio"]
    page = tab.goto("/checklist?state=TX&insurer=tricare&condition=ptsd")
    expect(page.get_by_role("heading", name="Step 1: Prior authorization decision by the regional contractor")).to_be_visible()
    expect(page.get_by_text("45 CFR 147.136")).to_have_count(0)


def test_checklist_works_without_javascript(no_js_tab):
    page = no_js_tab.goto("/checklist")
    page.get_by_label("Your state").select_option("TX")
    page.get_by_label("Your insurer").select_option("self")
    page.get_by_label("Your condition").select_option("ptsd")
    page.get_by_role("button", name="Make my checklist").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("heading", name="What paying yourself typically costs")).to_be_visible()


def test_skip_link_moves_focus_to_the_content(tab):
    page = tab.goto("/state/TX")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


# -- content security policy ----------------------------------------------------------------------

CSP_PAGES = ["/", "/?zip=78701&insurer=aetna", "/?state=TX", "/clinic/site/synthetic-a?insurer=aetna", "/states",
             "/state/TX", "/checklist", CHECKLIST, "/clinic/site/no-such-clinic", "/ketamine", "/ketamine/clinics",
             "/ketamine/clinics/site~3Asynthetic-a", "/ketamine?sql=select+name+from+clinics"]
# Every violation the page reports, from the DOM event and from the console (which also has those
# of the page's own first load).
WATCH_CSP = ("window.kadViolations = [];"
             "document.addEventListener('securitypolicyviolation', e => window.kadViolations.push("
             "e.violatedDirective + ' ' + e.blockedURI));")


@pytest.mark.parametrize("path", CSP_PAGES)
def test_pages_and_maps_satisfy_the_content_security_policy(browser, base_url, path):
    tab = Tab(browser, base_url)
    console = []
    tab.page.on("console", lambda message: "Content Security Policy" in message.text and console.append(message.text))
    tab.page.add_init_script(WATCH_CSP)
    try:
        response = tab.page.goto(base_url + path)
        tab.page.wait_for_load_state("networkidle")
        if tab.page.locator("#kad-map").count():
            tab.page.wait_for_selector("#kad-map[data-ready]")
        if path == "/ketamine/clinics":  # datasette-cluster-map: Leaflet, marker clusters, tiles
            tab.page.wait_for_selector(".leaflet-container .leaflet-marker-icon")
        violations = tab.page.evaluate("window.kadViolations") + console
        assert (bool(response.headers.get("content-security-policy")), violations) == (True, [])
        assert {host.split(".", 1)[-1] if host.endswith("." + TILE_HOST) else host for host in tab.blocked} <= {TILE_HOST}
    finally:
        tab.context.close()


# -- accessibility -----------------------------------------------------------------------------

AXE_PAGES = ["/", "/?zip=78701&insurer=aetna", "/?zip=78701&insurer=humana", "/?state=TX&insurer=aetna",
             "/clinic/site/synthetic-a?insurer=aetna", "/clinic/site/synthetic-g", "/states", "/state/TX",
             "/checklist", CHECKLIST, CHECKLIST + "&plan=employer_fully_insured",
             "/checklist?state=TX&insurer=tricare&condition=ptsd", "/?zip=82001&insurer=bcbs&condition=ptsd",
             "/clinic/site/no-such-clinic"]


@pytest.fixture(scope="module")
def axe():
    return Axe()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("path", AXE_PAGES)
def test_accessibility(browser, base_url, axe, path, viewport):
    """axe-core's WCAG 2.x A/AA rules and best practices: no violations at all, any impact."""
    tab = Tab(browser, base_url, viewport=viewport)
    try:
        page = tab.goto(path)
        if page.locator("#kad-map").count():
            page.wait_for_selector("#kad-map[data-ready]")
        results = axe.run(page)
        assert results.violations_count == 0, results.generate_report()
        assert not tab.errors, tab.errors
    finally:
        tab.context.close()
