"""Closed clinics and VA medical centers on the patient pages and in the canned queries, on a
synthetic database: a clinic a source reports closed is kept, shown as closed, and never listed
as open; a VA medical center says it is for enrolled veterans."""

import pytest
from test_pages import pages, text_of

from builds import build, synthetic

CLOSED_NOTE = "CLOSED: the chain shut all its clinics (synthetic)."
CLINICS = [
    synthetic("Open", postal_code="78701", insurers=["Aetna"], price_initial_usd=400, price_series_usd=2000,
              series_count=6),
    synthetic("Closed", postal_code="78701", insurers=["Aetna"], price_initial_usd=9000, price_series_usd=90000,
              series_count=20, notes=CLOSED_NOTE, reported_closed=True),
    # A closed placeholder: no city, no ZIP, so not on the map.
    synthetic("Closed Placeholder", city=None, insurers=["Aetna"], notes=CLOSED_NOTE, reported_closed=True),
    synthetic("VA Center", postal_code="78702", facility_kind="va_medical_center"),
]
LABEL = "VA medical center: for veterans enrolled in VA health care"


@pytest.fixture(scope="module")
def get(tmp_path_factory):
    with pages(build(tmp_path_factory.mktemp("closed"), feeds={"clinic_site": CLINICS}).db_path) as get:
        yield get


def names(cards):
    return {card["name"] for card in cards}


def test_search_near_a_zip_leaves_closed_clinics_out(get):
    page = get("/search.json?zip=78701&insurer=aetna").json()
    assert (names(page["results"]), names(page["unmapped"])) == ({"Synthetic Open"}, set())


def test_search_by_state_leaves_closed_clinics_out(get):
    page = get("/search.json?state=TX").json()
    assert names(page["results"]) | names(page["unmapped"]) == {"Synthetic Open", "Synthetic VA Center"}


def test_near_zip_canned_query_leaves_closed_clinics_out(get):
    rows = get("/ketamine/clinics_near_zip.json?zip=78701&miles=25&insurer=&condition=&treatment=&_shape=objects").json()
    assert {row["name"] for row in rows["rows"]} == {"Synthetic Open", "Synthetic VA Center"}


def test_state_page_lists_closed_clinics_apart(get):
    page = get("/state/TX.json").json()
    assert ({c["name"] for c in page["clinics"]}, {c["name"] for c in page["closed_clinics"]}) == (
        {"Synthetic Open", "Synthetic VA Center"}, {"Synthetic Closed", "Synthetic Closed Placeholder"})
    text = text_of(get("/state/TX"))
    assert text.index("Reported closed") < text.index("Synthetic Closed Placeholder")


def test_state_counts_only_open_clinics(get):
    counts = get("/ketamine/states.json?code=TX&_shape=objects").json()["rows"]
    assert counts[0]["clinic_count"] == 2


def test_checklist_prices_leave_closed_clinics_out(get):
    page = get("/checklist.json?state=TX&insurer=aetna&condition=depression").json()
    initial = next(p for p in page["prices"] if p["column"] == "price_initial_usd")
    assert (initial["national"]["count"], initial["national"]["max"], page["typical_series_count"]) == (1, 400, 6)


def test_coverage_guide_counts_only_open_clinics(get):
    rows = get("/ketamine/coverage_guide.json?state=TX&insurer=Aetna&condition=depression&_shape=objects").json()["rows"]
    clinics, = [row for row in rows if row["section"] == "Clinics"]
    assert clinics["value"] == 1


def test_a_closed_clinic_page_says_so(get):
    assert "A source says this clinic has closed." in text_of(get("/clinic/site/synthetic-closed"))


def test_va_medical_center_is_labelled_on_cards_and_its_page(get):
    card, = [c for c in get("/search.json?zip=78701").json()["results"] if c["name"] == "Synthetic VA Center"]
    assert (card["facility_kind"], card["facility_label"]) == ("va_medical_center", LABEL)
    assert LABEL in text_of(get("/clinic/site/synthetic-va-center"))
    assert LABEL in text_of(get("/state/TX"))


def test_a_veteran_searching_for_va_care_finds_the_va_medical_center(get):
    page = get("/search.json?zip=78701&insurer=va-community-care").json()
    assert names(page["results"]) == {"Synthetic VA Center"}


def test_the_near_zip_query_finds_the_va_medical_center_for_va_care(get):
    rows = get("/ketamine/clinics_near_zip.json?zip=78701&miles=25&insurer=VA+Community+Care&condition=&treatment="
               "&_shape=objects").json()["rows"]
    assert {row["name"] for row in rows} == {"Synthetic VA Center"}


def test_a_va_medical_center_is_not_shown_for_another_insurer(get):
    page = get("/search.json?zip=78701&insurer=aetna").json()
    assert "Synthetic VA Center" not in names(page["results"])
