"""build_db.py with hostile feed lines (the cases of issue 10): none stops the build, the good rows
survive, every bad field is emptied and reported at its own line, flags and prices keep their
types, records without what identifies them are dropped, a ZIP code of another state never
places a clinic, and merge keys never join two states or two websites."""

import json
import sqlite3

import pytest

from builds import build, synthetic

LATIN1_E = "é".encode("latin-1")
LINES = [
    synthetic("Good", phone="512-555-0100"),  # 1
    synthetic("Listed", name=["Synthetic Listed"]),  # 2
    synthetic("Numbered", name=42),  # 3
    synthetic("Object", name={"en": "Synthetic Object"}),  # 4
    synthetic("Unmapped", unmapped="Aetna"),  # 5
    synthetic("Same Phone", phone="(512) 555-0100", retrieved_at=20261120),  # 6: merges with line 1
    b'{"source_id": "site:synthetic-latin1", "name": "Synthetic Caf' + LATIN1_E + b'", "state": "TX"}',  # 7: not UTF-8
    synthetic("True Price", price_subsequent_usd=True),  # 8
    synthetic("Flags", accepts_medicare="yes", accepts_medicaid="false", va_community_care=1),  # 9
    synthetic("String Insurers", insurers="Aetna, Cigna"),  # 10
    synthetic("Null Id", source_id=None),  # 11
    synthetic("Empty Id", source_id=""),  # 12
    json.dumps(synthetic("Carriage Return")).replace(', "state"', ',\r "state"').encode(),  # 13
    b"{broken",  # 14
    synthetic("Bidi", name="Synthetic \u202eBidi\u202c\x00"),  # 15
    synthetic("Misplaced", city="Austin", postal_code="90210"),  # 16: a Beverly Hills ZIP in Texas
    synthetic("Twin", phone="303-555-0101", city="Denver", state="CO"),  # 17
    synthetic("Twin", phone="213-555-0102", city="Los Angeles", state="CA"),  # 18: same source id
    synthetic("Twin", phone="512-555-0103", website="https://other.synthetic.example/"),  # 19: another site
    synthetic("Npi Tx", npi="1000001002"),  # 20
    synthetic("Npi Co", npi="1000001002", city="Denver", state="CO"),  # 21: same NPI, another state
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    feeds = folder / "feeds"
    feeds.mkdir()
    (feeds / "clinic_site.jsonl").write_bytes(
        b"\n".join(value if isinstance(value, bytes) else json.dumps(value).encode() for value in LINES) + b"\n")
    return build(folder)


def rows(run, sql, params=()):
    connection = sqlite3.connect(run.db_path)
    connection.row_factory = sqlite3.Row
    return [dict(row) for row in connection.execute(sql, params)]


def clinic(run, clinic_id):
    found = rows(run, "SELECT * FROM clinics WHERE id = ?", [clinic_id])
    return found[0] if found else None


def problems_at(run, number):
    return [p.split(": ", 1)[1] for p in run.report.problems if p.startswith(f"clinic_site.jsonl:{number}: ")]


def test_the_build_keeps_every_good_row(run):
    assert sorted(r["id"] for r in rows(run, "SELECT id FROM clinics")) == sorted([
        "site:synthetic-good", "site:synthetic-unmapped", "site:synthetic-true-price", "site:synthetic-flags",
        "site:synthetic-string-insurers", "site:synthetic-carriage-return", "site:synthetic-bidi",
        "site:synthetic-misplaced", "site:synthetic-twin", "site:synthetic-twin-ca", "site:synthetic-twin-tx",
        "site:synthetic-npi-tx", "site:synthetic-npi-co"])


@pytest.mark.parametrize("number, problem", [
    (2, "dropped: name: text expected, got a list: ['Synthetic Listed']"),
    (3, "dropped: name: text expected, got a number: 42"),
    (4, "dropped: name: text expected, got an object: {'en': 'Synthetic Object'}"),
    (5, "unmapped emptied: an object expected, got text: 'Aetna'"),
    (6, "retrieved_at emptied: a date expected, got a number: 20261120"),
    (7, f"dropped: not UTF-8 (byte {LINES[6].index(LATIN1_E) + 1})"),
    (8, "price_subsequent_usd emptied: a number expected, got true/false: True"),
    (10, "insurers emptied: a list expected, got text: 'Aetna, Cigna'"),
    (11, "dropped: no source id"),
    (12, "dropped: no source id"),
    (14, "dropped: not JSON (Expecting property name enclosed in double quotes)"),
    (16, "postal_code emptied: ZIP 90210 is in CA, not TX: flagged for review"),
])
def test_each_problem_is_reported_at_its_own_line(run, number, problem):
    assert problems_at(run, number) == [problem]


def test_a_carriage_return_inside_a_line_is_not_a_line_break(run):
    assert (problems_at(run, 13), clinic(run, "site:synthetic-carriage-return")["state"]) == ([], "TX")


def test_drops_are_counted_by_reason(run):
    assert run.report.dropped == {"invalid_name": 3, "not_utf8": 1, "missing_source_id": 2, "malformed_json": 1}


def test_a_record_with_a_numeric_date_still_merges(run):
    assert json.loads(clinic(run, "site:synthetic-good")["source_ids"]) == [
        "site:synthetic-good", "site:synthetic-same-phone"]


def test_a_bool_is_never_a_price(run):
    assert clinic(run, "site:synthetic-true-price")["price_subsequent_usd"] is None


def test_flags_given_as_words_are_stored_as_integers(run):
    row = clinic(run, "site:synthetic-flags")
    assert (row["accepts_medicare"], row["accepts_medicaid"], row["va_community_care"]) == (1, 0, 1)


def test_bidirectional_controls_and_nuls_never_reach_the_database(run):
    assert clinic(run, "site:synthetic-bidi")["name"] == "Synthetic Bidi"


def test_no_clinic_has_an_empty_id(run):
    assert rows(run, "SELECT count(*) AS n FROM clinics WHERE id IS NULL OR id = ''")[0]["n"] == 0


# -- a ZIP code of another state -------------------------------------------------------------------

def test_a_texas_clinic_is_not_placed_by_a_california_zip(run):
    row = clinic(run, "site:synthetic-misplaced")
    assert (row["state"], row["postal_code"], row["geocode_precision"]) == ("TX", None, "city_centroid")


def test_it_is_placed_in_its_texas_city(run):
    row = clinic(run, "site:synthetic-misplaced")
    assert (round(row["latitude"]), round(row["longitude"])) == (30, -98)  # Austin, not Beverly Hills


def test_it_is_flagged_with_the_zip_code_in_the_reason(run):
    row = clinic(run, "site:synthetic-misplaced")
    assert (row["needs_review"], json.loads(row["review_reasons"])) == (1, [
        "The ZIP code 90210 given by https://synthetic.example/misplaced is in CA, not TX: left out "
        "(the clinic is placed by its city in TX, where that is known)."])


def test_it_is_not_found_by_the_california_zip(run):
    assert rows(run, "SELECT id FROM clinics WHERE postal_code = '90210'") == []


# -- merge keys scoped by state and website ------------------------------------------------------------

def test_one_source_id_in_three_places_stays_three_clinics(run):
    assert [(r["id"], r["state"], r["city"]) for r in rows(
        run, "SELECT id, state, city FROM clinics WHERE name = 'Synthetic Twin' ORDER BY id")] == [
        ("site:synthetic-twin", "CO", "Denver"), ("site:synthetic-twin-ca", "CA", "Los Angeles"),
        ("site:synthetic-twin-tx", "TX", "Austin")]


def test_one_source_id_in_several_places_is_reported(run):
    assert "clinics: source_id site:synthetic-twin names more than one location (in CA, CO, TX, or on different " \
           "websites): kept apart" in run.report.problems


def test_one_npi_in_two_states_stays_two_clinics(run):
    assert sorted(r["state"] for r in rows(run, "SELECT state FROM clinics WHERE npi = '1000001002'")) == ["CO", "TX"]


def test_one_npi_in_two_states_is_reported(run):
    assert "clinics: npi 1000001002 names more than one location (in CO, TX, or on different websites): kept apart" \
        in run.report.problems


# -- the network feeds (kad/network.py) read through the same layer ------------------------------------

DIRECTORY = "https://synthetic.example/fhir/OrganizationAffiliation?page=1"
PAYER = {"npi": "1234567893", "insurer_id": "aetna", "network": "Synthetic \u202eNetwork", "plan_ids": ["H9999-001"],
         "evidence": "payer_directory", "state": "TX", "detail": {"active": True}, "source_url": DIRECTORY,
         "sources": [DIRECTORY], "retrieved_at": "2026-11-25T00:00:00Z"}
NPI_LINE = {"npi": "1234567893", "entity": "organisation", "name": "Synthetic Npi Clinic", "state": "TX",
            "city": "Austin", "sources": ["https://npiregistry.cms.hhs.gov/api/?number=1234567893"]}


@pytest.fixture(scope="module")
def network_run(tmp_path_factory):
    return build(tmp_path_factory.mktemp("network"), feeds={
        "clinic_site": [synthetic("Npi Clinic", npi="1234567893", insurers=["Aetna"])],
        "plan_net": [PAYER, {**PAYER, "insurer_id": "humana", "detail": "accepting"}, {**PAYER, "npi": 42},
                     {**PAYER, "insurer_id": "synthetic-mutual"}],
        "nppes_bulk": [NPI_LINE, {**NPI_LINE, "name": ["Synthetic Npi Clinic"]}, {**NPI_LINE, "match_score": "high"}],
    })


def network_problems(run, feed):
    return sorted(p.split(": ", 1)[1] for p in run.report.problems if p.startswith(f"{feed}.jsonl:"))


def test_a_network_line_with_a_bad_field_is_kept_without_it(network_run):
    assert rows(network_run, "SELECT insurer_id, network, json_extract(detail, '$.active') AS active "
                             "FROM network_evidence WHERE evidence = 'payer_directory' ORDER BY insurer_id") == [
        {"insurer_id": "aetna", "network": "Synthetic Network", "active": 1},
        {"insurer_id": "humana", "network": "Synthetic Network", "active": None}]


def test_bad_network_lines_are_reported_by_field(network_run):
    assert network_problems(network_run, "plan_net") == [
        "detail emptied: an object expected, got text: 'accepting'",
        "dropped: insurer_id: not an insurer of the vocabulary: 'synthetic-mutual'",
        "dropped: npi: an NPI has 10 digits: '42'"]


def test_bad_npi_lines_are_reported_by_field_and_kept(network_run):
    assert network_problems(network_run, "nppes_bulk") == [
        "match_score emptied: not a number: 'high'",
        "name emptied: text expected, got a list: ['Synthetic Npi Clinic']"]
