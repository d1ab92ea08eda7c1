"""build_db.py with the feeds of openstates, source_check and insurer_policy (kad/checks.py): the
bills table, the check columns of `sources`, review flags on the rows citing a changed or
vanished page, policy_page_checks, and bad feed lines reported with file and line."""

import json
import sqlite3

import pytest
import yaml

from builds import build, synthetic
from kad import CURATED
from kad.checks import (BILL_COLUMNS, CURATED_BILLS, POLICY_CHECK_COLUMNS, SOURCE_CHECK_COLUMNS, bill_key,
                        curated_bills)
from kad.records import Report
from kad.laws import policy_row_id

LAW_FILE = sorted((CURATED / "state_laws").glob("*.yml"))[0]
LAW_URL = yaml.safe_load(LAW_FILE.read_text())["rows"][0]["sources"][0]
POLICY = next(row for row in yaml.safe_load((CURATED / "insurer_policies.yml").read_text())
              if row.get("policy_id") and policy_row_id(row))
POLICY_ROW = policy_row_id(POLICY)
GONE_URL = "https://synthetic-gone.example.com/"
QUIET_URL = "https://synthetic-quiet.example.com/"
CHECKED = "2026-12-01T08:00:00Z"
BILL_ROWS = yaml.safe_load(CURATED_BILLS.read_text())
CURATED_KEYS = {bill_key(b["state"], b["session"], b["identifier"]) for b in BILL_ROWS}
# The feed finds a curated bill again, its number written without the space.
REFOUND = BILL_ROWS[0]


def check(url, **values):
    record = {"url": url, "final_url": url, "http_status": 200, "content_sha256": "b" * 64,
              "previous_sha256": "b" * 64, "changed": False, "disappeared": False, "error": None,
              "checked_at": CHECKED, "sources": [url]}
    record.update(values)
    return record


def bill(number, **values):
    record = {"id": f"ocd-bill/synthetic-{number}", "state": "TX", "session": "89", "identifier": f"HB {number}",
              "title": f"Synthetic act {number} on ketamine", "status": "introduced",
              "latest_action": "Filed", "latest_action_date": "2025-01-10", "subjects": ["Health"],
              "matched_terms": ["ketamine"], "url": f"https://openstates.org/tx/bills/89/HB{number}/",
              "sources": ["https://v3.openstates.org/bills?q=ketamine&page=1"], "retrieved_at": CHECKED}
    record.update(values)
    return record


FEEDS = {
    "clinic_site": [synthetic("Gone Source Clinic", sources=[GONE_URL]),
                    synthetic("Quiet Source Clinic", sources=[QUIET_URL])],
    "source_check": [
        check(LAW_URL, content_sha256="c" * 64, changed=True),
        check(GONE_URL, http_status=404, content_sha256=None, disappeared=True, error="http_404"),
        check(QUIET_URL),
        "not json",
        check("ftp://synthetic.example.com/"),
    ],
    "openstates": [
        bill(9901, status="enacted", subjects=["Health", "Veterans"]),
        bill(9902, state="Colorado"),
        bill(9903, status="signed"),
        "{bad",
        bill(9904, state="PR"),
        bill(9905, state=REFOUND["state"], session=REFOUND["session"],
             identifier=REFOUND["identifier"].replace(" ", ""), title="Synthetic act found by the feed"),
    ],
    "insurer_policy": [
        {"policy_row": POLICY_ROW, "url": POLICY["sources"][0], "found_policy_id": POLICY["policy_id"],
         "found_title": None, "found_effective_date": None, "found_last_reviewed": "2026-02-01",
         "differs": ["last_reviewed"], "error": None, "sources": [POLICY["sources"][0]], "retrieved_at": CHECKED},
        {"policy_row": "aetna:commercial:US:iv_ketamine:synthetic-condition", "url": "https://synthetic.example.com/p",
         "differs": [], "sources": ["https://synthetic.example.com/p"]},
        {"policy_row": POLICY_ROW, "url": POLICY["sources"][0], "differs": ["colour"],
         "sources": [POLICY["sources"][0]]},
    ],
}


def query(run, sql, params=()):
    connection = sqlite3.connect(run.db_path)
    connection.row_factory = sqlite3.Row
    return [dict(row) for row in connection.execute(sql, params)]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return build(tmp_path_factory.mktemp("checks"), feeds=FEEDS)


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    return build(tmp_path_factory.mktemp("bare"), feeds={"clinic_site": [synthetic("Only Clinic")]})


def columns(run, table):
    return [row["name"] for row in query(run, f"PRAGMA table_info({table})")]


# -- tables without the feeds ------------------------------------------------------------------

def test_bills_table_without_the_feed_holds_the_curated_bills(bare):
    rows = query(bare, "SELECT state, session, identifier, fetched_by FROM bills")
    assert (columns(bare, "bills"), {bill_key(r["state"], r["session"], r["identifier"]) for r in rows},
            {r["fetched_by"] for r in rows}) == (list(BILL_COLUMNS), CURATED_KEYS, {"curated"})


def test_curated_bill_sources_recorded(bare):
    urls = {url for b in BILL_ROWS for url in b["sources"]}
    assert urls <= {r["url"] for r in query(bare, "SELECT url FROM sources")}


def test_policy_page_checks_table_without_the_feed(bare):
    assert columns(bare, "policy_page_checks") == list(POLICY_CHECK_COLUMNS)


def test_sources_check_columns_without_the_feed(bare):
    assert set(SOURCE_CHECK_COLUMNS) <= set(columns(bare, "sources"))


@pytest.mark.parametrize("table", ["clinics", "state_laws", "federal_rules", "insurer_policies"])
def test_review_reasons_default_to_an_empty_array(bare, table):
    assert {row["r"] for row in query(bare, f"SELECT DISTINCT review_reasons AS r FROM {table}")} == {"[]"}


def test_state_agency_sources_recorded(bare):
    assert query(bare, "SELECT count(*) AS n FROM sources WHERE kind = 'state_agency'")[0]["n"] > 0


# -- bills ---------------------------------------------------------------------------------------

def test_bills_loaded(run):
    assert [r["identifier"] for r in query(run, "SELECT identifier FROM bills WHERE fetched_by = 'openstates' "
                                                "ORDER BY identifier")] == [
        "HB 9901", "HB 9902", "HB 9903", REFOUND["identifier"].replace(" ", "")]


def test_a_bill_in_the_feed_and_the_curated_file_is_one_row_from_the_feed(run):
    rows = [r for r in query(run, "SELECT * FROM bills WHERE state = ? AND session = ?",
                             [REFOUND["state"], REFOUND["session"]])
            if bill_key(r["state"], r["session"], r["identifier"]) == bill_key(
                REFOUND["state"], REFOUND["session"], REFOUND["identifier"])]
    assert [(r["id"], r["fetched_by"], r["title"]) for r in rows] == [
        ("ocd-bill/synthetic-9905", "openstates", "Synthetic act found by the feed")]


def test_curated_bills_the_feed_lacks_stay(run):
    rows = query(run, "SELECT state, session, identifier FROM bills WHERE fetched_by = 'curated'")
    assert {bill_key(r["state"], r["session"], r["identifier"]) for r in rows} == CURATED_KEYS - {
        bill_key(REFOUND["state"], REFOUND["session"], REFOUND["identifier"])}


def test_bill_subjects_are_an_array(run):
    assert json.loads(query(run, "SELECT subjects FROM bills WHERE identifier = 'HB 9901'")[0]["subjects"]) == [
        "Health", "Veterans"]


def test_bill_state_name_normalised(run):
    assert query(run, "SELECT state FROM bills WHERE identifier = 'HB 9902'")[0]["state"] == "CO"


def test_bill_status_outside_the_vocabulary_is_unknown(run):
    assert query(run, "SELECT status FROM bills WHERE identifier = 'HB 9903'")[0]["status"] == "unknown"


def test_bad_bill_lines_reported_with_file_and_line(run):
    assert sorted(p for p in run.report.problems if p.startswith("openstates.jsonl:")) == [
        "openstates.jsonl:3: status set to 'unknown': not in the vocabulary: 'signed'",
        "openstates.jsonl:4: dropped: not JSON (Expecting property name enclosed in double quotes)",
        "openstates.jsonl:5: dropped: state: not a US state or DC: 'PR'"]


def test_bill_sources_recorded(run):
    assert query(run, "SELECT kind, fetched_by FROM sources WHERE url LIKE 'https://v3.openstates.org/%'") == [
        {"kind": "legislative_api", "fetched_by": "openstates"}]


# -- source checks -------------------------------------------------------------------------------

def test_sources_row_updated(run):
    row = query(run, "SELECT * FROM sources WHERE url = ?", [GONE_URL])[0]
    assert (row["http_status"], row["content_sha256"], row["changed"], row["disappeared"], row["check_error"],
            row["checked_at"], row["final_url"]) == (404, None, 0, 1, "http_404", CHECKED, GONE_URL)


def test_changed_source_flags_every_citing_law(run):
    citing = query(run, "SELECT needs_review, review_reasons FROM state_laws WHERE EXISTS "
                        "(SELECT 1 FROM json_each(state_laws.sources) WHERE value = ?)", [LAW_URL])
    assert citing and all(r["needs_review"] == 1 and LAW_URL in r["review_reasons"] for r in citing)


def test_changed_source_reason_says_changed(run):
    reasons = json.loads(query(run, "SELECT review_reasons FROM state_laws WHERE review_reasons != '[]' LIMIT 1")[0][
        "review_reasons"])
    assert reasons == [f"A cited source's text changed before the check of {CHECKED}: {LAW_URL}"]


def test_laws_not_citing_it_are_not_flagged_for_it(run):
    assert query(run, "SELECT count(*) AS n FROM state_laws WHERE review_reasons LIKE ? AND NOT EXISTS "
                      "(SELECT 1 FROM json_each(state_laws.sources) WHERE value = ?)", [f"%{LAW_URL}%", LAW_URL])[0]["n"] == 0


def test_vanished_source_flags_the_clinic(run):
    clinic = query(run, "SELECT needs_review, review_reasons FROM clinics WHERE name = 'Synthetic Gone Source Clinic'")[0]
    assert (clinic["needs_review"], json.loads(clinic["review_reasons"])) == (
        1, [f"A cited source stopped answering (HTTP 404) at the check of {CHECKED}: {GONE_URL}"])


def test_unchanged_source_leaves_the_clinic_alone(run):
    clinic = query(run, "SELECT needs_review, review_reasons FROM clinics WHERE name = 'Synthetic Quiet Source Clinic'")[0]
    assert (clinic["needs_review"], clinic["review_reasons"]) == (0, "[]")


def test_bad_source_check_lines_reported(run):
    assert [p for p in run.report.problems if p.startswith("source_check.jsonl:")] == [
        "source_check.jsonl:4: dropped: not JSON (Expecting value)",
        "source_check.jsonl:5: final_url emptied: not an http(s) address: 'ftp://synthetic.example.com/'",
        "source_check.jsonl:5: dropped: url: not an http(s) address: 'ftp://synthetic.example.com/'"]


# -- policy page checks --------------------------------------------------------------------------

def test_policy_page_check_loaded(run):
    assert [(r["policy_row"], r["found_last_reviewed"], json.loads(r["differs"])) for r in
            query(run, "SELECT * FROM policy_page_checks")] == [(POLICY_ROW, "2026-02-01", ["last_reviewed"])]


def test_differing_policy_flagged(run):
    policy = query(run, "SELECT needs_review, review_reasons FROM insurer_policies WHERE id = ?", [POLICY_ROW])[0]
    assert (policy["needs_review"], "last reviewed '2026-02-01'" in policy["review_reasons"]) == (1, True)


def test_policy_check_of_an_unknown_row_reported(run):
    assert "insurer_policy.jsonl:2: left out: no insurer_policies row aetna:commercial:US:iv_ketamine:" \
           "synthetic-condition (the curated data changed since the check?)" in run.report.problems


def test_policy_check_with_an_unknown_field_reported(run):
    assert "insurer_policy.jsonl:3: dropped: differs: left out fields that are not compared: ['colour']" \
        in run.report.problems


# -- the build as a whole -----------------------------------------------------------------------

def test_feeds_listed_in_build_info(run):
    inputs = json.loads(query(run, "SELECT value FROM build_info WHERE item = 'inputs'")[0]["value"])
    assert {i["file"]: (i["records_read"], i["records_loaded"]) for i in inputs if i["file"].startswith("feeds/") and "clinic" not in i["file"]} == {
        "feeds/openstates.jsonl": (5, 4), "feeds/insurer_policy.jsonl": (3, 1), "feeds/source_check.jsonl": (4, 3)}


def test_rebuild_gives_the_same_flags(run, tmp_path):
    again = build(tmp_path, feeds=FEEDS)
    sql = "SELECT id, needs_review, review_reasons FROM state_laws ORDER BY id"
    assert query(again, sql) == query(run, sql)


# -- a change stays flagged until the row is re-read -------------------------------------------

def flagged_clinics(tmp_path, clinic_read_at, check_record):
    run = build(tmp_path, feeds={"clinic_site": [synthetic("Cited", sources=[QUIET_URL], retrieved_at=clinic_read_at)],
                                 "source_check": [check_record]})
    return query(run, "SELECT needs_review FROM clinics")[0]["needs_review"]


def test_change_seen_at_an_earlier_check_still_flags_a_row_read_before_it(tmp_path):
    record = check(QUIET_URL, changed=False, changed_at="2026-11-24T08:00:00Z")
    assert flagged_clinics(tmp_path, "2026-11-20T00:00:00+00:00", record) == 1


def test_row_re_read_after_the_change_is_not_flagged(tmp_path):
    record = check(QUIET_URL, changed=False, changed_at="2026-11-24T08:00:00Z")
    assert flagged_clinics(tmp_path, "2026-11-25T00:00:00+00:00", record) == 0


def test_changed_agency_page_flags_the_state(tmp_path):
    texas = next(row for row in yaml.safe_load((CURATED / "states.yml").read_text()) if row["code"] == "TX")
    run = build(tmp_path, feeds={"clinic_site": [synthetic("Any")],
                                 "source_check": [check(texas["sources"][0], changed=True)]})
    assert query(run, "SELECT needs_review FROM states WHERE code = 'TX'")[0]["needs_review"] == 1


def test_changed_contact_page_flags_the_state(tmp_path):
    wyoming = next(row for row in yaml.safe_load((CURATED / "states.yml").read_text()) if row["code"] == "WY")
    url = next(u for u in wyoming["contact_sources"] if u not in wyoming["sources"])
    run = build(tmp_path, feeds={"clinic_site": [synthetic("Any")],
                                 "source_check": [check(url, changed=True)]})
    state, = query(run, "SELECT needs_review, review_reasons FROM states WHERE code = 'WY'")
    assert state["needs_review"] == 1 and url in state["review_reasons"]


# -- curated bills ---------------------------------------------------------------------------------

@pytest.mark.parametrize("written", ["SF 3971", "S.F. 3971", "sf3971", "SF 03971", "SF-3971"])
def test_bill_numbers_match_however_written(written):
    assert bill_key("MN", "2025-2026", written) == ("MN", "2025-2026", "SF3971")


def test_bill_numbers_keep_their_digits():
    assert [bill_key("CO", "2025A", n)[2] for n in ("HB25-1002", "SB 100", "LB 77")] == ["HB251002", "SB100", "LB77"]


def test_bad_curated_bills_reported_and_left_out(tmp_path):
    good = {**BILL_ROWS[0]}
    path = tmp_path / "curated" / "bills.yml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump([good, {**good, "identifier": "SB 1", "status": "signed"},
                                    {**good, "identifier": "SB 2", "sources": []},
                                    {**good, "identifier": "SB 3", "subjects": ["taxes"]}]))
    report = Report()
    rows = curated_bills(path, report)
    assert ([r["identifier"] for r in rows.values()], report.problems) == ([good["identifier"]], [
        "curated/bills.yml row 2: left out: status 'signed' is not in the bills vocabulary",
        "curated/bills.yml row 3: left out: no http(s) source address",
        "curated/bills.yml row 4: left out: subjects must name one or more of ketamine_coverage, psychedelic_therapy, "
        "prior_authorization, step_therapy, mental_health_parity"])
