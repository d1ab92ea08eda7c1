"""The patient pages (plugins/patient_pages.py, templates/kad_*.html) through Datasette's test client,
on a synthetic database: search, widening, clinic, state, checklist, JSON twins, escaping."""

import asyncio
import html
import json
import re
import shutil
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from datasette.app import Datasette

from builds import build, synthetic

ROOT = Path(__file__).resolve().parents[1]
METADATA = yaml.safe_load((ROOT / "metadata.yml").read_text())
XSS_NAME = "<script>alert(1)</script>"

CLINICS = [
    # Austin: A downtown (ZIP 78701), C in Pflugerville (~15 miles), B south Austin (Cigna only).
    synthetic("A", postal_code="78701", street="100 Congress Ave", insurers=["Aetna"],
              conditions=["treatment resistant depression"], price_initial_usd=450, price_series_usd=2400,
              series_count=6, phone="512-555-0101"),
    synthetic("B", postal_code="78745", insurers=["Cigna"], treatments=["Spravato"],
              spravato_insurance="in_network", price_initial_usd=500),
    synthetic("C", postal_code="78660", city="Pflugerville", insurers=["Aetna", "UHC"],
              treatments=["iv_ketamine", "esketamine_spravato"], price_initial_usd=400),
    # Dallas, about 180 miles away: the only Humana clinic.
    synthetic("D", postal_code="75201", city="Dallas", insurers=["Aetna", "Humana"], price_initial_usd=600),
    # In Texas, matching Aetna, but nowhere on the map (no ZIP code, a city the geocoder does not know).
    synthetic("E", city="Nowhere Springs", insurers=["Aetna"]),
    # Two records of one place (same phone and city) that disagree about the website.
    synthetic("G", phone="512-555-0199", website="https://g-one.synthetic.example"),
    synthetic("G two", phone="(512) 555-0199", website="https://g-two.synthetic.example"),
    # Hostile text from a scraped page.
    synthetic(XSS_NAME, postal_code="78702", website="javascript:alert(1)", insurers=["Aetna", "<b>Evil</b> Health"],
              notes='<img src=x onerror="alert(2)">'),
]


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    return build(tmp_path_factory.mktemp("pages"), feeds={"clinic_site": CLINICS}).db_path


def make_datasette(loop, path):
    ds = Datasette(immutables=[str(path)], metadata=METADATA, plugins_dir=str(ROOT / "plugins"),
                   template_dir=str(ROOT / "templates"))
    loop.run_until_complete(ds.invoke_startup())
    return ds


@contextmanager
def pages(path):
    """GET on the pages served over the database at `path`, asserting a 200 answer."""
    loop = asyncio.new_event_loop()
    ds = make_datasette(loop, path)

    def get(page):
        response = loop.run_until_complete(ds.client.get(page))
        assert response.status_code == 200, (page, response.status_code, response.text[:1000])
        return response
    try:
        yield get
    finally:
        loop.close()


@pytest.fixture(scope="module")
def ds(loop, db_path):
    return make_datasette(loop, db_path)


def page_getter(loop, ds):
    """get(path, status=200): the page's response, once its status is the one expected."""
    def get(path, status=200):
        response = loop.run_until_complete(ds.client.get(path))
        assert response.status_code == status, (path, response.status_code, response.text[:2000])
        return response
    return get


@pytest.fixture(scope="module")
def get(loop, ds):
    return page_getter(loop, ds)


def rows(path, sql, params=()):
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in connection.execute(sql, params)]
    finally:
        connection.close()


def text_of(response):
    """The page's visible text, roughly: tags removed, entities decoded, spaces collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.text, flags=re.S)
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))
    return re.sub(r" ([,.;:)])", r"\1", text)


def names(cards):
    return [card["name"] for card in cards]


# -- search ------------------------------------------------------------------------------------

def test_search_by_zip_and_insurer_is_nearest_first(get):
    page = get("/search.json?zip=78701&insurer=aetna").json()
    assert names(page["results"]) == ["Synthetic A", f"Synthetic {XSS_NAME}", "Synthetic C"]
    distances = [card["distance_miles"] for card in page["results"]]
    assert distances == sorted(distances) and distances[0] < 1 and 10 < distances[-1] < 25


def test_search_page_lists_the_same_clinics_with_distances(get):
    text = text_of(get("/?zip=78701&insurer=aetna"))
    assert "3 clinics within 25 miles of ZIP 78701 (Austin, TX)" in text
    assert text.index("Synthetic A") < text.index("Synthetic C")
    assert re.search(r"\d+\.\d miles · Pflugerville, TX", text)


def test_search_uses_the_canned_query(get):
    page = get("/search.json?zip=78701&insurer=aetna&miles=25").json()
    canned = get("/ketamine/clinics_near_zip.json?zip=78701&miles=25&insurer=aetna&condition=&_shape=objects").json()
    assert [(r["id"], r["distance_miles"]) for r in canned["rows"]] == \
        [(c["id"], c["distance_miles"]) for c in page["results"]]
    assert page["links"]["datasette_json"].startswith("/ketamine/clinics_near_zip.json?")
    assert get(page["links"]["datasette_json"]).json()["rows"]


def test_search_card_shows_insurers_evidence_prices_freshness_and_location(get):
    card = get("/search.json?zip=78701&insurer=aetna").json()["results"][0]
    assert card["insurers"] == [{**card["insurers"][0], "name": "Aetna", "evidence": "clinic_website", "matched": True}]
    assert [p["text"] for p in card["prices"]] == ["$450", "$2,400"]
    assert card["approximate"] and "ZIP code" in card["location_note"]
    text = text_of(get("/?zip=78701&insurer=aetna"))
    for expected in ("IV ketamine infusion", "From the clinic's website: Aetna", "First infusion: $450",
                     "Series of 6 sessions: $2,400", "Listing last read November 20, 2026",
                     "Approximate location: placed at the center of its ZIP code", "Details and sources"):
        assert expected in text, expected


def test_search_shows_spravato_coverage_said_by_the_clinic(get):
    card = next(c for c in get("/search.json?zip=78701").json()["results"] if c["name"] == "Synthetic B")
    assert card["spravato_insurance"] == {"value": "in_network", "text": "Says it is in network"}
    assert "Spravato and insurance Says it is in network" in text_of(get("/?zip=78701&insurer=cigna"))


def test_treatment_and_condition_filters(get):
    spravato = get("/search.json?zip=78701&treatment=esketamine_spravato").json()
    assert sorted(names(spravato["results"])) == ["Synthetic B", "Synthetic C"]
    trd = get("/search.json?zip=78701&condition=treatment_resistant_depression").json()
    assert names(trd["results"]) == ["Synthetic A"]


def test_no_match_widens_the_search(get):
    page = get("/search.json?zip=78701&insurer=humana").json()
    assert page["results"] == []
    widen = page["widen"]
    any_insurer, farther = widen["options"]
    assert (farther["miles"], farther["dropped"], farther["count"]) == (250, [], 1)
    assert "miles=250" in farther["url"]
    assert (any_insurer["miles"], any_insurer["dropped"]) == (25, ["insurer"]) and any_insurer["count"] >= 3
    assert "insurer" not in any_insurer["url"]
    assert names(widen["nearest"]) == ["Synthetic D"] and 150 < widen["nearest"][0]["distance_miles"] < 250
    text = text_of(get("/?zip=78701&insurer=humana"))
    assert "No clinic matches this search within 25 miles" in text
    assert "Search within 250 miles (1 clinic)" in text
    assert "Search within 25 miles with any insurer" in text
    assert "Nearest matching clinics outside 25 miles" in text and "Synthetic D" in text


def test_no_match_anywhere_still_says_so(get):
    text = text_of(get("/?zip=78701&insurer=tricare"))
    assert "No clinic matches this search" in text
    assert "No clinic in the directory matches these filters anywhere in the country" in text
    assert "Search within 25 miles with any insurer" in text


def test_clinics_without_coordinates_are_found_by_state(get):
    near = get("/search.json?zip=78701&insurer=aetna").json()
    assert "Synthetic E" in names(near["unmapped"]) and "Synthetic E" not in names(near["results"])
    assert near["unmapped_state"]["code"] == "TX"
    state = get("/search.json?state=TX&insurer=aetna").json()
    assert state["mode"] == "state"
    assert "Synthetic E" in names(state["unmapped"])
    assert {"Synthetic A", "Synthetic C", "Synthetic D"} <= set(names(state["results"]))
    assert "Clinics in Texas without a mapped location" in text_of(get("/?state=TX&insurer=aetna"))


def test_city_and_state_search(get):
    page = get("/search.json?city=austin&state=TX&miles=50").json()
    assert page["origin"]["kind"] == "city" and page["origin"]["city"] == "Austin"
    assert "Synthetic A" in names(page["results"])


def test_unknown_city_falls_back_to_the_state(get):
    page = get("/search.json?city=Atlantis&state=TX").json()
    assert page["mode"] == "state" and "could not find \u201cAtlantis, TX\u201d" in page["notes"][0]


@pytest.mark.parametrize("query, message", [
    ("zip=00000", "We could not find ZIP code 00000"),
    ("zip=7870", "is not a 5-digit ZIP code"),
    ("city=Austin", "Choose the state as well as the city"),
])
def test_bad_search_input_gets_a_message_not_a_blank_page(get, query, message):
    response = get(f"/?{query}")
    assert message in text_of(response)
    assert 'id="zip"' in response.text


def test_home_page_without_a_search_has_the_form_and_states(get):
    response = get("/")
    for field in ("zip", "city", "state", "miles", "insurer", "condition"):
        assert f'<label for="{field}">' in response.text
    assert "I pay myself" in response.text and "Any treatment" in response.text
    assert '<option value="25" selected>' in response.text
    assert 'href="/state/TX"' in response.text
    assert 'href="/ketamine"' in response.text  # Data & API


# -- clinic page -------------------------------------------------------------------------------

def test_clinic_page_shows_facts_with_sources_and_dates(get):
    response = get("/clinic/site/synthetic-a")
    text = text_of(response)
    assert "Synthetic A" in text and "100 Congress Ave, Austin, TX 78701" in text
    assert 'href="https://synthetic.example/a"' in response.text
    assert "Listing last read November 20, 2026" in text
    assert "The clinic's website says it takes Aetna. (read November 20, 2026: source)" in text
    assert "First infusion: $450" in text
    assert "placed at the center of its ZIP code" in text
    assert 'href="tel:+15125550101"' in response.text


def test_clinic_page_shows_insurer_policy_for_its_treatments(get, db_path):
    page = get("/clinic/site/synthetic-a.json?insurer=aetna").json()
    expected = rows(db_path, "SELECT id FROM insurer_policies WHERE insurer_id = 'aetna' AND treatment = 'iv_ketamine' "
                             "AND (state IS NULL OR state = 'TX')")
    assert expected, "the curated Aetna IV ketamine policy rows are missing"
    assert sorted(p["id"] for p in page["policy"]["rows"]) == sorted(r["id"] for r in expected)
    assert page["policy"]["clinic_lists_insurer"]["name"] == "Aetna"
    text = text_of(get("/clinic/site/synthetic-a?insurer=aetna"))
    assert "What Aetna’s policy says" in text
    assert page["policy"]["rows"][0]["coverage_text"] in text


def test_clinic_page_shows_conflicting_sources(get, db_path):
    clinic_id = rows(db_path, "SELECT id FROM clinics WHERE conflicts != '[]'")[0]["id"]
    prefix, _, rest = clinic_id.partition(":")
    page = get(f"/clinic/{prefix}/{rest}.json").json()
    assert page["clinic"]["needs_review"]
    assert page["conflicts"][0]["field"] == "website"
    text = text_of(get(f"/clinic/{prefix}/{rest}"))
    assert "Sources disagree about: website" in text and "Where sources disagree" in text
    assert "g-one.synthetic.example" in text and "g-two.synthetic.example" in text


def test_unknown_clinic_is_404(get):
    assert "No clinic with the id" in get("/clinic/site/no-such-clinic", status=404).text
    assert get("/clinic/site/no-such-clinic.json", status=404).json()["page"] == "not_found"


def test_clinic_links_from_search_use_url_safe_ids(get):
    page = get("/search.json?zip=78701&insurer=aetna").json()
    for card in page["results"]:
        assert re.fullmatch(r"/clinic/[A-Za-z0-9_~-]+/[A-Za-z0-9_~-]+(\?insurer=aetna)?", card["url"]), card["url"]
        assert get(card["url"]).status_code == 200


# -- state page --------------------------------------------------------------------------------

def test_state_page_shows_every_law_with_citation_and_dates(get, db_path):
    response = get("/state/TX")
    text = text_of(response)
    laws = rows(db_path, "SELECT * FROM state_laws WHERE state = 'TX'")
    assert len(laws) >= 10
    for law in laws:
        if law["citation"]:
            assert law["citation"] in text, law["topic"]
        for url in json.loads(law["sources"]):
            assert f'href="{html.escape(url)}"' in response.text or not url.startswith("http")
    assert "Texas: your rights and rules" in text
    assert "Checked against the primary source" in text


def test_state_page_says_what_it_could_not_confirm(get, db_path):
    unknown = rows(db_path, "SELECT * FROM state_laws WHERE state = 'TX' AND value = 'unknown'")
    text = text_of(get("/state/TX"))
    if unknown:
        assert "We could not confirm this" in text and "What we searched:" in text
        assert unknown[0]["note"].split(";")[0] in text
    page = get("/state/TX.json").json()
    topics = {law["topic"] for group in page["groups"] for law in group["laws"]}
    assert {"internal_appeal_deadline_days", "external_review_deadline_days", "expedited_review_hours",
            "step_therapy_law", "prior_authorization_law", "gold_card_law", "crna_supervision_opt_out",
            "np_practice_authority", "psilocybin_program", "medicaid_spravato_coverage"} <= topics


def test_state_page_has_federal_floor_contacts_and_clinics(get, db_path):
    page = get("/state/TX.json").json()
    assert {law["topic"] for law in page["federal"]["laws"]} == \
        {r["topic"] for r in rows(db_path, "SELECT topic FROM state_laws WHERE state = 'US'")}
    assert sum(len(g["rules"]) for g in page["federal"]["rules"]) == rows(db_path, "SELECT count(*) AS n FROM federal_rules")[0]["n"]
    assert "Synthetic A" in [c["name"] for c in page["clinics"]]
    # No bills feed in the synthetic build: Texas shows its hand-curated bills.
    curated = [r["identifier"] for r in rows(db_path, "SELECT identifier FROM bills WHERE state = 'TX' "
                                                      "ORDER BY latest_action_date DESC, identifier")]
    assert [b["identifier"] for b in page["bills"]] == curated
    text = text_of(get("/state/TX"))
    assert "The federal floor" in text
    assert all(identifier in text for identifier in curated)
    assert "Synthetic E" in text and "no mapped location" in text


def test_unknown_state_is_404(get):
    get("/state/ZZ", status=404)


def _copy_with(loop, db_path, tmp_path, *statements):
    copy = tmp_path / "ketamine.db"
    shutil.copy(db_path, copy)
    connection = sqlite3.connect(copy)
    for statement in statements:
        connection.execute(*statement) if isinstance(statement, tuple) else connection.execute(statement)
    connection.commit()
    connection.close()
    ds = make_datasette(loop, copy)
    return lambda path: loop.run_until_complete(ds.client.get(path))


def test_federal_process_figure_is_labelled_on_the_state_page(get, db_path):
    federal = rows(db_path, "SELECT state FROM state_laws WHERE topic = 'expedited_review_hours' "
                            "AND basis = 'federal_process' AND state != 'US' ORDER BY state")[0]["state"]
    own = rows(db_path, "SELECT state FROM state_laws WHERE topic = 'expedited_review_hours' "
                        "AND basis = 'state_law' ORDER BY state")[0]["state"]
    laws = {state: next(law for g in get(f"/state/{state}.json").json()["groups"] for law in g["laws"]
                        if law["topic"] == "expedited_review_hours") for state in (federal, own)}
    assert ((laws[federal]["basis"], laws[own]["basis"]), "uses the federal (HHS-run) external review" in
            text_of(get(f"/state/{federal}")), "federal (HHS-run)" in text_of(get(f"/state/{own}"))) == (
        ("federal_process", "state_law"), True, False)


def test_state_page_with_a_minimal_bills_table_and_no_federal_rules(loop, db_path, tmp_path):
    get = _copy_with(
        loop, db_path, tmp_path, "DROP TABLE IF EXISTS bills",
        "CREATE TABLE bills (state TEXT, session TEXT, identifier TEXT, title TEXT, status TEXT, "
        "latest_action TEXT, latest_action_date TEXT, subjects TEXT, url TEXT)",
        "INSERT INTO bills VALUES ('TX', '89R', 'HB 1', 'Synthetic bill on step therapy', 'in_committee', "
        "'Referred', '2026-03-01', '[\"step therapy\"]', 'https://synthetic.example/hb1')",
        "INSERT INTO bills VALUES ('TX', '89R', 'SB 2', 'Synthetic bill <i>two</i>', 'enacted', NULL, "
        "'2026-02-01', 'parity', 'javascript:alert(1)')",
        "DELETE FROM federal_rules")
    response = get("/state/TX")
    assert response.status_code == 200
    text = text_of(response)
    assert "HB 1 (89R): Synthetic bill on step therapy In committee; latest action: Referred (March 1, 2026)" in text
    assert "Recently decided" in text and "Enacted" in text
    assert 'href="https://synthetic.example/hb1"' in response.text
    assert "javascript:" not in response.text and "<i>two</i>" not in response.text
    page = get("/state/TX.json").json()
    assert [(b["identifier"], b["pending"]) for b in page["bills"]] == [("HB 1", True), ("SB 2", False)]
    assert page["bills"][1]["subjects"] == ["parity"]
    assert page["federal"]["rules"] == []


def test_state_page_without_bills_or_federal_rules_tables(loop, db_path, tmp_path):
    get = _copy_with(loop, db_path, tmp_path, "DROP TABLE IF EXISTS bills", "DROP TABLE federal_rules")
    response = get("/state/TX")
    assert response.status_code == 200
    assert "We have not collected bills for any state yet" in text_of(response)
    assert get("/state/TX.json").json()["bills"] is None


def test_review_reasons_are_shown(loop, db_path, tmp_path):
    columns = {r["name"] for r in rows(db_path, "PRAGMA table_info(state_laws)")}
    if "review_reasons" not in columns:
        pytest.skip("this build has no review_reasons column")
    reason = "The page https://synthetic.example/law changed when read on 2026-11-20."
    get = _copy_with(loop, db_path, tmp_path, ("UPDATE state_laws SET needs_review = 1, review_reasons = ? "
                                               "WHERE id = 'TX:gold_card_law'", (json.dumps([reason]),)))
    text = text_of(get("/state/TX"))
    assert reason in text


# -- checklist ---------------------------------------------------------------------------------

CHECKLIST = "/checklist?state=TX&insurer=aetna&condition=treatment_resistant_depression"


def test_checklist_without_choices_shows_the_form(get):
    response = get("/checklist")
    for field in ("state", "insurer", "condition"):
        assert f'<label for="{field}">' in response.text
    assert "Make my checklist" in response.text and "steps" not in get("/checklist.json").json()


def test_checklist_steps_and_prior_authorization_needs(get):
    text = text_of(get(CHECKLIST))
    assert "Coverage checklist" in text and "For Aetna, Treatment-resistant depression, in Texas" in text
    assert "This is information, not medical or legal advice." in text
    for needed in ("A letter of medical necessity", "Treatment-resistant depression", "already tried",
                   "Your clinical notes", "Aetna’s own prior-authorization form"):
        assert needed in text, needed


def test_checklist_shows_the_insurer_criteria_per_treatment(get, db_path):
    page = get(CHECKLIST + "&_format=json").json()
    by_treatment = {p["treatment"]: p for p in page["policies"]}
    assert set(by_treatment) == {"iv_ketamine", "esketamine_spravato"}
    spravato = rows(db_path, "SELECT * FROM insurer_policies WHERE insurer_id = 'aetna' AND treatment = 'esketamine_spravato' "
                             "AND condition = 'treatment_resistant_depression'")
    assert [p["id"] for p in by_treatment["esketamine_spravato"]["for_condition"]] == [r["id"] for r in spravato]
    text = text_of(get(CHECKLIST))
    if spravato and spravato[0]["criteria"]:
        assert spravato[0]["criteria"][:60] in text
    iv = rows(db_path, "SELECT * FROM insurer_policies WHERE insurer_id = 'aetna' AND treatment = 'iv_ketamine' "
                       "AND condition = 'treatment_resistant_depression'")
    if not iv:
        assert "We found no Aetna policy on IV ketamine infusion for Treatment-resistant depression" in text
    broader = rows(db_path, "SELECT id FROM insurer_policies WHERE insurer_id = 'aetna' AND treatment = 'iv_ketamine' "
                            "AND condition = 'depression'")
    # Treatment-resistant depression is a kind of depression: Aetna's depression rows are shown too.
    assert [p["id"] for p in by_treatment["iv_ketamine"]["broader_conditions"]] == [r["id"] for r in broader]
    if broader:
        assert "for a broader condition that includes yours" in text


def test_checklist_deadlines_fall_back_to_the_federal_floor(get, db_path):
    insured = CHECKLIST + "&plan=employer_fully_insured"
    page = get(insured + "&_format=json").json()
    deadlines = {d["topic"]: d for group in page["path"] for step in group["steps"] for d in step["state_rules"]}
    assert {"internal_appeal_deadline_days", "external_review_process", "external_review_deadline_days",
            "expedited_review_hours"} <= set(deadlines)
    tx = {r["topic"]: r for r in rows(db_path, "SELECT * FROM state_laws WHERE state = 'TX'")}
    us = {r["topic"]: r for r in rows(db_path, "SELECT * FROM state_laws WHERE state = 'US'")}
    text = text_of(get(insured))
    for topic, entry in deadlines.items():
        own = tx.get(topic)
        if own and own["value"] != "unknown":
            assert not entry["federal_fallback"] and entry["value"] == own["value"]
        else:
            assert entry["federal_fallback"] and entry["value"] == us[topic]["value"]
            assert "federal minimum" in text
        assert entry["retrieved_text"] in text
    assert "Where to get help" in text


def test_checklist_price_median_and_range(get):
    page = get(CHECKLIST + "&_format=json").json()
    initial = next(p for p in page["prices"] if p["column"] == "price_initial_usd")
    # Synthetic Texas prices: 450, 500, 400, 600.
    assert initial["scope"] == "state"
    assert {k: initial["state"][k] for k in ("count", "median", "min", "max")} == \
        {"count": 4, "median": 475, "min": 400, "max": 600}
    series = next(p for p in page["prices"] if p["column"] == "price_series_usd")
    assert series["scope"] == "national" and series["state"]["count"] == 1
    text = text_of(get(CHECKLIST))
    assert "Median $475; range $400 to $600" in text and "From 4 clinics in Texas that publish a price" in text
    assert "Fewer than 3 clinics in Texas publish a price for a whole series (1), so these are national figures" in text


def test_checklist_for_a_state_without_prices_uses_national_figures(get):
    page = get("/checklist.json?state=VT&insurer=cigna&condition=depression").json()
    assert all(p["scope"] == "national" for p in page["prices"])
    assert "We found no Cigna policy" in text_of(get("/checklist?state=VT&insurer=cigna&condition=ptsd"))


def test_checklist_is_printable(get):
    css = get("/-/kad/static/site.css")
    assert css.headers["content-type"].startswith("text/css")
    assert "@media print" in css.text
    assert 'class="checklist-form no-print"' in get(CHECKLIST).text


def test_checklist_rejects_unknown_choices(get):
    page = get("/checklist.json?state=TX&insurer=nobody&condition=depression").json()
    assert not page["complete"] and "We do not know the insurer" in page["errors"][0]


# -- JSON twins and links ----------------------------------------------------------------------

@pytest.mark.parametrize("path, twin", [
    ("/?zip=78701&insurer=aetna", "/search.json?zip=78701&insurer=aetna"),
    ("/clinic/site/synthetic-a?insurer=aetna", "/clinic/site/synthetic-a.json?insurer=aetna"),
    ("/state/TX", "/state/TX.json"),
    ("/states", "/states.json"),
    (CHECKLIST, CHECKLIST.replace("/checklist?", "/checklist.json?")),
])
def test_every_page_has_a_json_twin(get, path, twin):
    by_format = get(path + ("&" if "?" in path else "?") + "_format=json").json()
    by_route = get(twin).json()
    for page in (by_format, by_route):
        page.pop("prepared_on", None), page.pop("prepared_text", None)
    assert by_format == by_route
    assert by_route["links"]["json"] in get(path).text.replace("&amp;", "&")
    for key, url in by_route["links"].items():
        if key.startswith("datasette_") and url:
            assert get(url).status_code == 200, (key, url)


def test_datasette_pages_link_back_to_the_patient_pages(get):
    text = get("/ketamine").text
    assert 'href="/"' in text and "Find care" in text and 'href="/checklist"' in text


def test_pages_make_no_third_party_requests(get):
    for path in ("/", "/?zip=78701", "/clinic/site/synthetic-a", "/state/TX", CHECKLIST):
        page = get(path).text
        for url in re.findall(r'<(?:script|link(?! rel="canonical")|img|iframe)\b[^>]*(?:src|href)="([^"]+)"', page):
            assert url.startswith("/"), (path, url)  # a canonical address names the page, it is not fetched
    assert "tile.openstreetmap.org" in get("/-/kad/static/map.js").text  # tiles: the one allowed request


def test_map_data_is_embedded_and_its_scripts_are_local(get):
    response = get("/?zip=78701&insurer=aetna")
    data = json.loads(re.search(r'<script type="application/json" id="kad-map-data">(.*?)</script>',
                                response.text, re.S).group(1))
    assert [p["name"] for p in data["points"]] == ["Synthetic A", f"Synthetic {XSS_NAME}", "Synthetic C"]
    assert data["origin"]["label"].startswith("ZIP 78701")
    leaflet = re.search(r'data-leaflet="([^"]+)"', response.text).group(1)
    assert get(leaflet).status_code == 200
    assert "OpenStreetMap contributors" in response.text


def test_static_files_refuse_other_paths(get):
    get("/-/kad/static/nothing.css", status=404)
    get("/-/kad/static/..secret.py", status=404)


# -- untrusted text ----------------------------------------------------------------------------

def test_hostile_clinic_text_is_escaped(get, db_path):
    clinic_id = rows(db_path, "SELECT id FROM clinics WHERE name = ?", (f"Synthetic {XSS_NAME}",))[0]["id"]
    search = get("/?zip=78701&insurer=aetna")
    card = next(c for c in get("/search.json?zip=78701&insurer=aetna").json()["results"] if XSS_NAME in c["name"])
    clinic = get(card["url"])
    for response in (search, clinic, get("/state/TX")):
        assert XSS_NAME not in response.text
        assert "<b>Evil</b>" not in response.text and "onerror=\"alert" not in response.text
        assert not re.search(r'href="\s*javascript:', response.text, re.I)
    assert "Synthetic &lt;script&gt;alert(1)&lt;/script&gt;" in clinic.text
    assert "&lt;b&gt;Evil&lt;" in clinic.text  # named by the clinic, not in the vocabulary: shown as text
    assert card["website"] is None and clinic_id  # the build emptied the javascript: website


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "//evil.example/x", "/relative",
    "http://", "mailto:a@example.com", "", None, 42, "https://exa mple.com",
])
def test_url_filter_refuses_everything_but_http_links(url):
    from plugins.kad_pages.words import safe_url
    assert safe_url(url) is None


@pytest.mark.parametrize("url", ["https://example.com/a?b=1&c=<2>", "http://example.com", "HTTPS://EXAMPLE.COM/"])
def test_url_filter_keeps_http_links(url):
    from plugins.kad_pages.words import safe_url
    assert safe_url(url) == url


def test_link_macro_renders_unsafe_urls_as_text(ds):
    template = ds.jinja_env.from_string('{% import "kad_macros.html" as m %}{{ m.link(url) }}')
    assert template.render(url="javascript:alert(1)") == "javascript:alert(1)"
    assert template.render(url='https://x.example/"><script>') == \
        '<a href="https://x.example/&#34;&gt;&lt;script&gt;" class="url">https://x.example/&#34;&gt;&lt;script&gt;</a>'


@pytest.mark.parametrize("value, text", [(450, "$450"), (1250.5, "$1,250.50"), (0, "$0"), ("450", ""),
                                         (None, ""), (True, ""), (float("nan"), "")])
def test_prices_are_formatted_from_numbers_only(value, text):
    from plugins.kad_pages.words import money
    assert money(value) == text
