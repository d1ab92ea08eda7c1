"""Journeys of patients whose plan or place the first pages answered wrongly: a veteran with
TRICARE whose clinic states it only as a flag, a search with no nearby match that must never end
in a dead end, a state with no clinic, and input too long to echo. Server-side, through Datasette's
test client, on a synthetic database."""

import sqlite3

import pytest
from test_pages import names, pages, text_of

from builds import build, synthetic

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
def db_path(tmp_path_factory):
    return build(tmp_path_factory.mktemp("plans"), feeds={"clinic_site": CLINICS}).db_path


def one(db_path, sql):
    return sqlite3.connect(db_path).execute(sql).fetchone()[0]


@pytest.fixture(scope="module")
def get(db_path):
    with pages(db_path) as get:
        yield get


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


# -- the checklist follows the kind of plan -------------------------------------------------------

def checklist(get, query):
    return get(f"/checklist.json?{query}").json()


def steps(page):
    return [step for group in page["path"] for step in group["steps"]]


def path_rows(db_path, program, state):
    """The curated steps of a program in a state, as the checklist should show them."""
    connection = sqlite3.connect(db_path)
    rows = connection.execute(
        "SELECT coalesce(track, ''), step, step_name, state FROM appeal_paths WHERE program = ? "
        "AND (state IS NULL OR state = ?) ORDER BY state IS NOT NULL", [program, state]).fetchall()
    chosen = {}
    for track, step, name, _ in rows:
        chosen[(track, step)] = name
    return sorted(chosen.items())


@pytest.mark.parametrize("query, program", [
    ("state=TX&insurer=tricare&condition=ptsd", "tricare"),
    ("state=TX&insurer=va-community-care&condition=ptsd", "va_community_care"),
    ("state=TX&insurer=geha&condition=depression", "fehb"),
    ("state=TX&insurer=medicare&condition=treatment_resistant_depression&plan=medicare_part_b", "medicare_part_b"),
    ("state=TX&insurer=humana&condition=depression&plan=medicare_advantage", "medicare_advantage"),
    ("state=NC&insurer=medicaid&condition=depression&plan=medicaid_managed_care", "medicaid_managed_care"),
    ("state=KS&insurer=medicaid&condition=depression&plan=medicaid_fee_for_service", "medicaid_fee_for_service"),
    ("state=TX&insurer=aetna&condition=depression&plan=employer_self_funded_erisa", "employer_self_funded_erisa"),
    ("state=TX&insurer=aetna&condition=depression&plan=individual_marketplace", "individual_marketplace"),
])
def test_the_checklist_gives_the_steps_of_the_plan(get, db_path, query, program):
    page = checklist(get, query)
    state = query.split("state=")[1][:2]
    assert (page["plan"]["chosen"]["id"], [s["name"] for s in steps(page)]) == \
        (program, [name for _, name in path_rows(db_path, program, state)])


@pytest.mark.parametrize("query", [
    "state=TX&insurer=tricare&condition=ptsd",
    "state=TX&insurer=va-community-care&condition=ptsd",
    "state=TX&insurer=medicare&condition=treatment_resistant_depression&plan=medicare_part_b",
    "state=NC&insurer=medicaid&condition=depression&plan=medicaid_managed_care",
    "state=TX&insurer=geha&condition=depression",
])
def test_a_programme_with_its_own_appeals_gets_no_aca_rule(get, query):
    page = checklist(get, query)
    cited = " ".join((s["citation"] or "") + " ".join(r["topic"] for r in s["state_rules"]) for s in steps(page))
    assert ("147.136" in cited, "internal_appeal_deadline_days" in cited) == (False, False)


def test_a_commercial_insurer_asks_which_kind_of_plan(get):
    page = checklist(get, "state=TX&insurer=aetna&condition=depression")
    assert (page["plan"]["asked"], page["path"]) == (True, [])


def test_the_question_offers_only_plans_the_insurer_runs(get):
    options = {o["id"] for o in checklist(get, "state=TX&insurer=cigna&condition=depression")["plan"]["options"]}
    assert ("fehb" in options, "tricare" in options, "employer_self_funded_erisa" in options) == (False, False, True)


def test_the_question_is_a_plain_one_on_the_page(get):
    text = text_of(get("/checklist?state=TX&insurer=aetna&condition=depression"))
    assert "Which kind of plan is it?" in text and "pays the claims itself" in text


def test_tricare_ketamine_is_not_called_unknown(get):
    page = checklist(get, "state=TX&insurer=tricare&condition=ptsd")
    iv = next(p for p in page["policies"] if p["treatment"] == "iv_ketamine")
    assert [p["coverage"] for p in iv["for_condition"]] == ["not_covered"]


def test_medicaid_coverage_comes_from_the_state_rule(get, db_path):
    value = one(db_path, "SELECT value FROM state_laws WHERE state = 'TX' AND topic = 'medicaid_spravato_coverage'")
    page = checklist(get, "state=TX&insurer=medicaid&condition=depression&plan=medicaid_fee_for_service")
    assert (page["program_coverage"]["topic"], page["program_coverage"]["value"]) == ("medicaid_spravato_coverage", value)


def test_state_help_shows_the_phone_the_data_has(get, db_path):
    phone = one(db_path, "SELECT insurance_department_phone FROM states WHERE code = 'WY'")
    html = get("/checklist?state=WY&insurer=bcbs&condition=depression&plan=individual_marketplace").text
    digits = "".join(ch for ch in phone if ch.isdigit())
    assert (phone in html, f'href="tel:+1{digits}"' in html) == (True, True)


def test_the_state_page_shows_the_phone_too(get, db_path):
    phone = one(db_path, "SELECT insurance_department_phone FROM states WHERE code = 'WY'")
    assert phone in get("/state/WY").text
