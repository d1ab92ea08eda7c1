"""The network tables in the build (kad/network.py): the NPI join, every network_status, rows
without a clinic kept, NPI matches from the NPPES feeds, and the default build without them."""

import json
import sqlite3

import pytest

from builds import build, synthetic
from kad import network

DIRECTORY = "https://synthetic.example/fhir/OrganizationAffiliation?page=1"


def rows(db_path, sql, params=()):
    connection = sqlite3.connect(db_path)
    connection.row_factory = sqlite3.Row
    return [dict(row) for row in connection.execute(sql, params)]


def payer_row(npi, insurer, evidence="payer_directory", state="TX", **detail):
    return {"npi": npi, "insurer_id": insurer, "network": f"Synthetic {insurer} network", "plan_ids": ["H9999-001"],
            "evidence": evidence, "name": "Synthetic listed name", "street": "100 Congress Ave", "city": "Austin",
            "state": state, "postal_code": "78701", "phone": None, "detail": detail, "source_url": DIRECTORY,
            "sources": [DIRECTORY], "retrieved_at": "2026-11-25T00:00:00Z"}


CLINICS = [
    synthetic("Agrees", npi="1234567893", insurers=["Aetna"], postal_code="78701"),
    synthetic("Clinic Only", npi="1987654328", insurers=["Humana"], postal_code="78701"),
    synthetic("Unchecked", npi="1666010206", insurers=["Cigna"], postal_code="78701"),
    synthetic("Payer Only", npi="1555010101", insurers=[], postal_code="78701"),
    synthetic("Conflict", npi="1245319599", insurers=["UnitedHealthcare"], postal_code="78701"),
]
PLAN_NET = [
    payer_row("1234567893", "aetna"),
    payer_row("1555010101", "aetna"),
    payer_row("1245319599", "unitedhealthcare", accepting_new_patients="nopt"),
    payer_row("1003000126", "humana"),  # no directory clinic has this NPI
]
MEDICARE = [payer_row("1234567893", "medicare", evidence="medicare_claims", hcpcs_code="G2082")]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return build(tmp_path_factory.mktemp("network"), feeds={
        "clinic_site": CLINICS, "plan_net": PLAN_NET, "medicare_billers": MEDICARE})


def status(run, label, insurer):
    found = rows(run.db_path, "SELECT network_status FROM clinic_insurers WHERE clinic_id = ? AND insurer_id = ?",
                 [f"site:synthetic-{label}", insurer])
    return found[0]["network_status"] if found else None


def test_npi_join_sets_the_clinic(run):
    assert rows(run.db_path, "SELECT clinic_id FROM network_evidence WHERE npi = '1234567893' "
                             "AND evidence = 'payer_directory'") == [{"clinic_id": "site:synthetic-agrees"}]


def test_row_without_a_clinic_is_kept(run):
    assert rows(run.db_path, "SELECT clinic_id, insurer_id FROM network_evidence WHERE npi = '1003000126'") == [
        {"clinic_id": None, "insurer_id": "humana"}]


def test_agrees(run):
    assert status(run, "agrees", "aetna") == "agrees"


def test_clinic_only_when_the_directory_was_read_for_the_state(run):
    assert status(run, "clinic-only", "humana") == "clinic_only"


def test_clinic_only_unchecked_without_payer_data(run):
    assert status(run, "unchecked", "cigna") == "clinic_only_unchecked"


def test_payer_only_adds_the_insurer(run):
    assert status(run, "payer-only", "aetna") == "payer_only"


def test_conflict_when_the_payer_lists_it_not_accepting(run):
    assert status(run, "conflict", "unitedhealthcare") == "conflict"


def test_claims_make_medicare_payer_only(run):
    assert status(run, "agrees", "medicare") == "payer_only"


def test_strongest_evidence_kept_with_its_source(run):
    assert rows(run.db_path, "SELECT evidence, source_url FROM clinic_insurers WHERE clinic_id = 'site:synthetic-agrees' "
                             "AND insurer_id = 'aetna'") == [{"evidence": "payer_directory", "source_url": DIRECTORY}]


def test_clinic_side_evidence_kept_beside_the_payer_side(run):
    assert [r["evidence"] for r in rows(run.db_path, "SELECT evidence FROM network_evidence WHERE clinic_id = "
                                        "'site:synthetic-agrees' AND insurer_id = 'aetna' ORDER BY evidence")] == [
        "clinic_website", "payer_directory"]


def test_plan_ids_are_a_json_array(run):
    assert json.loads(rows(run.db_path, "SELECT plan_ids FROM network_evidence WHERE npi = '1003000126'")[0]["plan_ids"]) == [
        "H9999-001"]


def test_listed_address_kept_in_detail(run):
    detail = json.loads(rows(run.db_path, "SELECT detail FROM network_evidence WHERE npi = '1003000126'")[0]["detail"])
    assert detail["listed_as"]["city"] == "Austin"


def test_record_npi_in_clinic_npis(run):
    assert rows(run.db_path, "SELECT match_method, match_score FROM clinic_npis WHERE npi = '1234567893'") == [
        {"match_method": "record", "match_score": 1.0}]


def test_feeds_listed_in_build_info(run):
    inputs = json.loads(rows(run.db_path, "SELECT value FROM build_info WHERE item = 'inputs'")[0]["value"])
    assert {i["file"] for i in inputs} >= {"feeds/plan_net.jsonl", "feeds/medicare_billers.jsonl"}


def test_directory_pages_recorded_as_sources(run):
    assert rows(run.db_path, "SELECT kind, fetched_by FROM sources WHERE url = ?", [DIRECTORY]) == [
        {"kind": "payer_directory", "fetched_by": "plan_net"}]


# -- NPI matches ---------------------------------------------------------------------------------

NPPES_SOURCE = "https://npiregistry.cms.hhs.gov/api/?version=2.1&organization_name=Synthetic+Mind*"


def npi_record(npi, **fields):
    return {"npi": npi, "entity": "organisation", "name": "SYNTHETIC MIND CLINIC PLLC", "other_names": [],
            "taxonomies": ["261QI0500X"], "street": None, "city": "AUSTIN", "state": "TX", "postal_code": None,
            "phone": None, "locations": [], "clinic_source_id": None, "match_method": None, "match_score": None,
            "sources": [NPPES_SOURCE], "retrieved_at": "2026-11-25T00:00:00Z", **fields}


@pytest.fixture(scope="module")
def matched(tmp_path_factory):
    return build(tmp_path_factory.mktemp("matched"), feeds={
        "clinic_site": [synthetic("Mind Clinic", street="9 Oak Avenue", postal_code="78701"),
                        synthetic("Far Clinic", city="Round Rock")],
        "nppes_match": [npi_record("1234567893", clinic_source_id="site:synthetic-mind-clinic",
                                   match_method="name_address", match_score=0.97),
                        npi_record("1987654328", clinic_source_id="site:synthetic-far-clinic",
                                   match_method="name_state", match_score=0.42)],
        "nppes_bulk": [npi_record("1666010206", street="9 OAK AVE", postal_code="787011234"),
                       "not json"],
        "plan_net": [payer_row("1234567893", "aetna"), payer_row("1987654328", "aetna")],
    })


def test_api_match_kept_with_method_and_score(matched):
    assert rows(matched.db_path, "SELECT clinic_id, match_method, match_score FROM clinic_npis WHERE npi = '1234567893'") == [
        {"clinic_id": "site:synthetic-mind-clinic", "match_method": "name_address", "match_score": 0.97}]


def test_bulk_record_matched_by_address(matched):
    assert rows(matched.db_path, "SELECT match_method FROM clinic_npis WHERE npi = '1666010206' "
                                 "AND clinic_id = 'site:synthetic-mind-clinic'") == [{"match_method": "name_address"}]


def test_strong_match_joins_evidence(matched):
    assert rows(matched.db_path, "SELECT clinic_id FROM network_evidence WHERE npi = '1234567893'") == [
        {"clinic_id": "site:synthetic-mind-clinic"}]


def test_weak_match_kept_but_joins_nothing(matched):
    assert (rows(matched.db_path, "SELECT count(*) AS n FROM clinic_npis WHERE npi = '1987654328'")[0]["n"],
            rows(matched.db_path, "SELECT clinic_id FROM network_evidence WHERE npi = '1987654328'")) == (
        1, [{"clinic_id": None}])


def test_nppes_answers_recorded_as_sources(matched):
    assert rows(matched.db_path, "SELECT kind, fetched_by FROM sources WHERE url = ?", [NPPES_SOURCE]) == [
        {"kind": "registry_api", "fetched_by": "nppes_match"}]


def test_weak_match_never_merges_clinics(matched):
    assert rows(matched.db_path, "SELECT count(*) AS n FROM clinics")[0]["n"] == 2


def test_bad_npi_feed_line_reported_with_file_and_line(matched):
    assert any(p.startswith("nppes_bulk.jsonl:2: dropped: not JSON") for p in matched.report.problems)


# -- the default build ---------------------------------------------------------------------------

def test_without_the_feeds_tables_exist_and_nothing_is_checked(tmp_path):
    run = build(tmp_path, feeds={"clinic_site": [synthetic("A", insurers=["Aetna"])]})
    assert (rows(run.db_path, "SELECT count(*) AS n FROM clinic_npis")[0]["n"],
            rows(run.db_path, "SELECT evidence, count(*) AS n FROM network_evidence GROUP BY evidence"),
            rows(run.db_path, "SELECT network_status, evidence FROM clinic_insurers")) == (
        0, [{"evidence": "clinic_website", "n": 1}],
        [{"network_status": "clinic_only_unchecked", "evidence": "clinic_website"}])


def test_add_evidence_for_other_loaders(run, tmp_path):
    import sqlite_utils
    db = sqlite_utils.Database(run.db_path)
    rate = {"npi": "1234567893", "insurer_id": "aetna", "evidence": "price_transparency_file",
            "plan_ids": [], "detail": {"billing_code": "J0013"}, "state": "TX",
            "source_url": "https://synthetic.example/rates.json.gz", "retrieved_at": "2026-11-26"}
    bad = {**rate, "evidence": "rumour"}
    from kad.records import Report
    report = Report()
    added = network.add_evidence(db, [rate, rate, bad], report, "negotiated_rates")
    linked = rows(run.db_path, "SELECT clinic_id FROM network_evidence WHERE evidence = 'price_transparency_file'")
    assert (added, linked, report.dropped) == (1, [{"clinic_id": "site:synthetic-agrees"}], {"network_evidence_invalid": 1})


def test_clinic_side_row_the_checks_refuse_is_reported_by_clinic_and_insurer(tmp_path):
    import sqlite_utils
    from kad.records import Report
    run = build(tmp_path, feeds={"clinic_site": [synthetic("A", insurers=["Aetna"]), synthetic("B", insurers=["Cigna"])]})
    db = sqlite_utils.Database(run.db_path)
    db.execute("DELETE FROM network_evidence")
    db.execute("UPDATE clinic_insurers SET source_url = ' ' WHERE clinic_id = 'site:synthetic-b'")
    db.conn.commit()
    report = Report()
    network.add_clinic_side_evidence(db, report)
    assert (report.problems, rows(run.db_path, "SELECT clinic_id, insurer_id FROM network_evidence")) == (
        ["clinic_insurers site:synthetic-b cigna: dropped: no source_url"],
        [{"clinic_id": "site:synthetic-a", "insurer_id": "aetna"}])


def test_a_payer_feed_is_written_as_it_is_read(tmp_path, monkeypatch):
    """Memory stays flat however long a payer directory is: the Python memory load_evidence holds
    at its peak (tracemalloc) for 5,000 feed lines is under twice that for 500 (it held every
    row until the last was read). Chunks of 100 lines, so that both feeds fill the workers."""
    import shutil
    import tracemalloc

    import sqlite_utils
    from kad.normalise import npi_check_digit
    from kad.records import Report

    (tmp_path / "base").mkdir()
    base = build(tmp_path / "base", feeds={"clinic_site": CLINICS})
    monkeypatch.setattr(network, "FEED_CHUNK", 100)

    def peak(lines):
        feeds = tmp_path / str(lines) / "feeds"
        feeds.mkdir(parents=True)
        npis = (f"{100000000 + n:09d}" for n in range(lines))
        (feeds / "plan_net.jsonl").write_text(
            "".join(json.dumps(payer_row(npi + npi_check_digit(npi), "aetna")) + "\n" for npi in npis))
        shutil.copy(base.db_path, feeds.parent / "ketamine.db")
        db = sqlite_utils.Database(feeds.parent / "ketamine.db")
        read = []
        tracemalloc.start()
        try:
            network.load_evidence(db, feeds, Report(), lambda path, count, added: read.append((count, added)),
                                  lambda *source: None)
            held = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            db.close()
        assert read == [(lines, lines)]
        return held

    small, large = peak(500), peak(5_000)
    assert large < 2 * small, (small, large)
