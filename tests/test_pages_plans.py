"""Journeys of patients whose plan or place the first pages answered wrongly: a veteran with
TRICARE whose clinic states it only as a flag, a search with no nearby match that must never end
in a dead end, a state with no clinic, and input too long to echo. Server-side, through Datasette's
test client, on a synthetic database."""

import asyncio

import pytest
from test_pages import METADATA, names, text_of

from builds import build, synthetic
from datasette.app import Datasette
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CLINICS = [
    # San Antonio: takes TRICARE by its flag alone, lists no insurer by name.
    synthetic("San Antonio", city="San Antonio", postal_code="78212", accepts_tricare=True,
              conditions=["PTSD"]),
    # Around Cheyenne (82001): Fort Collins (~40 miles) treats TRD but lists only Aetna; Denver
    # (~100 miles) lists Blue Cross Blue Shield but treats depression, not TRD by name.
    synthetic("Fort Collins", state="CO", city="Fort Collins", postal_code="80525",
              conditions=["treatment resistant depression"], insurers=["Aetna"]),
    synthetic("Denver", state="CO", city="Denver", postal_code="80202", conditions=["depression"],
              insurers=["Blue Cross Blue Shield"]),
    # Matches BCBS and TRD, but nobody knows where in Illinois it is.
    synthetic("Illinois", state="IL", city=None, conditions=["treatment resistant depression"],
              insurers=["Blue Cross Blue Shield"]),
]


@pytest.fixture(scope="module")
def get(tmp_path_factory):
    db_path = build(tmp_path_factory.mktemp("plans"), feeds={"clinic_site": CLINICS}).db_path
    loop = asyncio.new_event_loop()
    ds = Datasette(immutables=[str(db_path)], metadata=METADATA, plugins_dir=str(ROOT / "plugins"),
                   template_dir=str(ROOT / "templates"))
    loop.run_until_complete(ds.invoke_startup())

    def get(path):
        response = loop.run_until_complete(ds.client.get(path))
        assert response.status_code == 200, (path, response.status_code)
        return response
    yield get
    loop.close()


CHEYENNE = "zip=82001&insurer=bcbs&condition=treatment_resistant_depression"


# -- a programme stated as a flag is an insurer --------------------------------------------------

def test_a_tricare_flag_finds_the_clinic_near_me(get):
    page = get("/search.json?zip=78201&insurer=tricare&condition=ptsd").json()
    assert names(page["results"]) == ["Synthetic San Antonio"]


def test_the_clinic_page_agrees_with_its_tricare_flag(get):
    text = text_of(get("/clinic/site/synthetic-san-antonio?insurer=tricare"))
    assert ("Takes TRICARE Yes" in text, "does not list TRICARE" in text) == (True, False)


def test_the_near_zip_query_finds_it_by_the_flag_too(get):
    rows = get("/ketamine/clinics_near_zip.json?zip=78201&insurer=TRICARE&_shape=array").json()
    assert [row["name"] for row in rows] == ["Synthetic San Antonio"]


# -- no dead ends --------------------------------------------------------------------------------

def test_widenings_combine_distance_and_dropped_filters(get):
    options = get(f"/search.json?{CHEYENNE}").json()["widen"]["options"]
    assert [(o["miles"], o["dropped"], o["count"]) for o in options] == [(50, ["insurer"], 1), (100, ["condition"], 1)]


def test_widenings_that_find_nothing_are_not_offered(get):
    text = text_of(get(f"/?{CHEYENNE}"))
    assert "(0 clinic" not in text


def test_a_widening_leads_to_the_clinic_it_counted(get):
    option = get(f"/search.json?{CHEYENNE}").json()["widen"]["options"][0]
    assert names(get(option["url"].replace("/?", "/search.json?")).json()["results"]) == ["Synthetic Fort Collins"]


def test_unmapped_matches_elsewhere_are_not_called_nothing(get):
    text = text_of(get(f"/?{CHEYENNE}"))
    assert ("anywhere in the country" in text, "whose location we do not know, in other states: Illinois (1)" in text) == \
        (False, True)


def test_a_state_with_no_match_is_not_said_to_have_mapped_ones(get):
    text = text_of(get(f"/?{CHEYENNE}"))
    assert ("every matching clinic we know in Wyoming has a mapped location" in text,
            "We know no clinic in Wyoming that matches this search" in text) == (False, True)


def test_a_state_search_with_no_clinic_offers_the_nearest_elsewhere(get):
    widen = get("/search.json?state=WY&condition=treatment_resistant_depression").json()["widen"]
    assert (names(widen["nearest"]), widen["nearest_from"].startswith("the middle of Wyoming")) == \
        (["Synthetic Fort Collins"], True)


# -- long input ----------------------------------------------------------------------------------

def test_long_input_is_not_echoed_in_full(get):
    response = get("/?city=" + "x" * 5000 + "&state=TX&insurer=" + "y" * 5000)
    assert ("x" * 101 in response.text, "y" * 101 in response.text) == (False, False)
