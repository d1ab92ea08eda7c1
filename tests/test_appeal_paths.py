"""Appeal paths, the states' phone lines and the insurers' FEHB flag: complete, sourced, in their
vocabularies, with the numbers the rules give, and loaded as documented."""

import collections
import json
import sqlite3

import pytest
import sqlite_utils
import yaml

from build_db import Build
from kad import CURATED, appeals, laws, vocab
from kad.records import Report

DATA = yaml.safe_load(appeals.APPEAL_PATHS.read_text())
PROGRAMS = {program["id"]: program for program in DATA["programs"]}
ROWS = DATA["rows"]
STATES = yaml.safe_load((CURATED / "states.yml").read_text())
POLICIES = yaml.safe_load((CURATED / "insurer_policies.yml").read_text())
REQUIRED = {"employer_fully_insured", "individual_marketplace", "employer_self_funded_erisa", "medicare_part_b",
            "medicare_part_d", "medicare_advantage", "medicaid_fee_for_service", "medicaid_managed_care",
            "tricare", "va_community_care", "fehb"}


def national(program, step, track=None):
    row, = [r for r in ROWS if r["program"] == program and r["step"] == step and r.get("track") == track
            and r.get("state") is None]
    return row


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    run = Build(tmp_path_factory.mktemp("appeals") / "ketamine.db", quiet=True)
    run.run()
    return run


@pytest.mark.parametrize("program", DATA["programs"], ids=lambda p: p["id"])
def test_programs_are_valid_and_sourced(program):
    assert appeals.program_problem(program) is None


@pytest.mark.parametrize("row", ROWS, ids=appeals.path_id)
def test_rows_are_valid_and_sourced(row):
    assert appeals.row_problem(row, PROGRAMS, appeals.federal_rule_ids()) is None
    assert row["sources"] and row["retrieved_at"] and row.get("verified") in (0, 1)


def test_every_program_of_the_issue_has_a_national_first_step():
    assert set(PROGRAMS) == REQUIRED
    assert {r["program"] for r in ROWS if r["step"] == 1 and r.get("state") is None} == REQUIRED


def test_ids_are_unique():
    assert [i for i, n in collections.Counter(map(appeals.path_id, ROWS)).items() if n > 1] == []


def test_national_steps_run_in_order_without_gaps():
    steps = collections.defaultdict(set)
    for row in ROWS:
        if row.get("state") is None:
            steps[row["program"], row.get("track")].add(row["step"])
    for (program, track), numbers in steps.items():
        first = set() if track is None else {1}  # a track branches off the program's shared first step
        assert numbers | first == set(range(1, max(numbers) + 1)), (program, track)
        assert track is None or (program, None) in steps


def test_state_rows_replace_a_national_row():
    national_ids = {appeals.path_id({**r, "state": None}) for r in ROWS if r.get("state") is None}
    orphans = [appeals.path_id(r) for r in ROWS if r.get("state")
               and appeals.path_id({**r, "state": None}) not in national_ids]
    assert orphans == []


def test_ladders_end_where_the_rules_end():
    kinds = {program: [r["step_kind"] for r in sorted(ROWS, key=lambda r: r["step"])
                       if r["program"] == program and r.get("state") is None and r.get("track") is None]
             for program in PROGRAMS}
    medicare = ["initial_decision", "plan_appeal", "independent_review", "hearing", "council_review", "court"]
    assert kinds["medicare_part_b"] == kinds["medicare_part_d"] == kinds["medicare_advantage"] == medicare
    assert kinds["employer_self_funded_erisa"] == ["initial_decision", "plan_appeal", "independent_review"]
    assert kinds["medicaid_managed_care"] == ["initial_decision", "plan_appeal", "hearing"]
    assert kinds["medicaid_fee_for_service"] == ["initial_decision", "hearing"]
    assert kinds["fehb"] == ["initial_decision", "plan_appeal", "agency_review", "court"]


@pytest.mark.parametrize(("program", "step", "track", "deadline", "decision"), [
    ("employer_fully_insured", 2, None, 180, 30),        # 45 CFR 147.136 / 29 CFR 2560.503-1
    ("employer_self_funded_erisa", 2, None, 180, 30),
    ("medicare_part_b", 2, None, 120, 60),                # 42 CFR 405.942, 405.950
    ("medicare_part_b", 3, None, 180, 60),                # 42 CFR 405.962, 405.970
    ("medicare_part_b", 4, None, 60, 90),                 # 42 CFR 405.1014, 405.1016
    ("medicare_part_d", 2, None, 65, 7),                  # 42 CFR 423.582, 423.590
    ("medicare_part_d", 3, None, 65, 7),
    ("medicare_advantage", 2, None, 65, 30),              # 42 CFR 422.582, 422.590
    ("medicaid_managed_care", 2, None, 60, 30),           # 42 CFR 438.402, 438.408
    ("medicaid_managed_care", 3, None, 120, 90),
    ("medicaid_fee_for_service", 2, None, 90, 90),        # 42 CFR 431.221, 431.244
    ("tricare", 2, "medical_necessity", 90, None),        # 32 CFR 199.10
    ("tricare", 2, "factual", 90, None),
    ("tricare", 3, "factual", 60, None),
    ("fehb", 3, None, 90, 60),                            # 5 CFR 890.105
])
def test_numbers_the_rules_give(program, step, track, deadline, decision):
    row = national(program, step, track)
    assert (row.get("deadline_days"), row.get("decision_days")) == (deadline, decision)


def test_state_medicaid_rows_keep_their_own_deadline():
    states = {(r["program"], r["state"], r["step"]): r["deadline_days"] for r in ROWS if r.get("state")}
    assert states[("medicaid_fee_for_service", "KS", 2)] == 30
    assert states[("medicaid_managed_care", "NC", 2)] == 60


def test_medicare_amount_rules_are_stated():
    assert "$200" in national("medicare_part_b", 4)["amount_rule"]
    assert "$1,960" in national("medicare_part_b", 6)["amount_rule"]


def test_external_review_points_to_the_state_rows_instead_of_copying_them():
    for program in ("employer_fully_insured", "individual_marketplace"):
        row = national(program, 3)
        assert row["state_law_topics"] and set(row["state_law_topics"]) <= set(laws.TOPICS)
        assert row["federal_rule_ids"]


def test_programs_point_to_their_coverage_rules():
    assert PROGRAMS["tricare"]["coverage_insurer_id"] == "tricare"
    assert PROGRAMS["medicare_part_b"]["coverage_insurer_id"] == "medicare"
    assert PROGRAMS["va_community_care"]["coverage_insurer_id"] == "va-community-care"
    for program in ("medicaid_fee_for_service", "medicaid_managed_care"):
        assert PROGRAMS[program]["coverage_state_law_topic"] == "medicaid_spravato_coverage"


@pytest.mark.parametrize("change", [
    {"step_kind": "appeal"}, {"track": "fast"}, {"program": "unknown_plan"}, {"state": "XX"}, {"step": 0},
    {"sources": []}, {"sources": ["not an address"]}, {"retrieved_at": None}, {"summary": ""},
    {"deadline_days": 61}, {"decision_days": "30"}, {"state_law_topics": ["no_such_topic"]},
    {"federal_rule_ids": ["no-such-rule"]},
], ids=lambda change: "-".join(f"{k}={v}" for k, v in change.items()))
def test_a_bad_row_is_named(change):
    row = {**national("medicare_part_b", 2), **change}
    assert appeals.row_problem(row, PROGRAMS, appeals.federal_rule_ids())


def load(tmp_path, data):
    path = tmp_path / "appeal_paths.yml"
    path.write_text(yaml.safe_dump(data))
    db = sqlite_utils.Database(tmp_path / "t.db")
    report, recorded = Report(), []
    laws.load_reference(db, Report(), lambda *a: None)
    laws.load_policy_data(db, Report(), lambda *a: None)
    appeals.load_appeal_paths(db, report, lambda url, kind, *rest: recorded.append((url, kind)), path=path)
    return db, report, recorded


def test_the_loader_reports_bad_rows_and_keeps_the_good(tmp_path):
    good = national("tricare", 2, "factual")
    bad_program = {**PROGRAMS["fehb"], "insurer_kinds": ["employer"]}
    data = {"programs": [PROGRAMS["tricare"], bad_program],
            "rows": [good, {**good, "step_kind": "appeal"}, good, {**national("fehb", 1)}]}
    db, report, recorded = load(tmp_path, data)
    assert [r["id"] for r in db["appeal_programs"].rows] == ["tricare"]
    assert [r["id"] for r in db["appeal_paths"].rows] == ["tricare:US:factual:2"]
    assert len(report.problems) == 4
    assert "appeal_paths.yml program 2" in report.problems[0]
    assert any("a second row for tricare:US:factual:2" in p for p in report.problems)
    assert {kind for _, kind in recorded} == {"appeal_rule"} and set(good["sources"]) <= {u for u, _ in recorded}
    row = db["appeal_paths"].get("tricare:US:factual:2")
    assert json.loads(row["sources"]) == good["sources"] and row["state"] is None


def test_the_built_tables_hold_every_row_and_pass_the_check(built):
    db = sqlite_utils.Database(built.db_path)
    assert db["appeal_paths"].count == len(ROWS) and db["appeal_programs"].count == len(PROGRAMS)
    assert appeals.check(db) == []
    assert "appeal_paths" in db["appeal_paths"].db.table_names() and "review_reasons" in db["appeal_paths"].columns_dict
    kinds = {r[0] for r in db.execute("SELECT DISTINCT kind FROM sources WHERE url IN "
                                      "(SELECT value FROM appeal_paths, json_each(appeal_paths.sources))")}
    assert "appeal_rule" in kinds


def test_the_check_names_a_program_without_a_first_step(built, tmp_path):
    db = sqlite_utils.Database(tmp_path / "copy.db")
    sqlite3.connect(built.db_path).backup(sqlite3.connect(tmp_path / "copy.db"))
    db.execute("DELETE FROM appeal_paths WHERE id = 'fehb:US:all:1'")
    assert appeals.check(db) == ["appeal programs without a national first step: fehb"]


# States: whom a patient can call.

@pytest.mark.parametrize("state", STATES, ids=lambda s: s["code"])
def test_state_contacts_are_sourced_and_valid(state):
    report = Report()
    contacts = laws.state_contacts(state, state["code"], report)
    assert report.problems == []
    stated = [k for k in laws.STATE_CONTACT_COLUMNS if k not in ("contact_sources", "contact_retrieved_at")
              and state.get(k)]
    assert not stated or (contacts["contact_sources"] and contacts["contact_retrieved_at"])
    for key in ("insurance_department_phone", "consumer_assistance_phone"):
        assert contacts[key] == state.get(key)  # stored as the build writes it


def test_most_states_have_a_phone_to_call():
    assert sum(bool(s.get("insurance_department_phone")) for s in STATES) >= 45
    assert sum(bool(s.get("consumer_assistance_program")) for s in STATES) >= 10


def test_a_bad_phone_or_unsourced_contact_is_reported_and_left_out():
    report = Report()
    row = {"insurance_department_phone": "call us", "consumer_assistance_phone": "800-555-0100",
           "contact_sources": ["https://example.gov/contact"], "contact_retrieved_at": "2026-11-30"}
    contacts = laws.state_contacts(row, "WY", report)
    assert contacts["insurance_department_phone"] is None and contacts["consumer_assistance_phone"] == "(800) 555-0100"
    assert len(report.problems) == 1 and "insurance_department_phone" in report.problems[0]
    report = Report()
    contacts = laws.state_contacts({"insurance_department_phone": "(307) 777-7401"}, "WY", report)
    assert contacts["insurance_department_phone"] is None and contacts["contact_sources"] == []
    assert len(report.problems) == 1


def test_built_states_carry_the_contacts(built):
    db = sqlite_utils.Database(built.db_path)
    wyoming = db["states"].get("WY")
    assert wyoming["insurance_department_phone"] == "(307) 777-7401" and json.loads(wyoming["contact_sources"])
    connecticut = db["states"].get("CT")
    assert "Healthcare Advocate" in connecticut["consumer_assistance_program"]


# Insurers: which path a plan takes; government programs' own coverage rules.

def test_fehb_carrier_is_in_its_vocabulary_and_sourced():
    entries = vocab.insurers().entries
    flagged = {i: e["fehb_carrier"] for i, e in entries.items() if e.get("fehb_carrier")}
    assert flagged == {"geha": "only", "aetna": "also"}
    assert all(entries[i].get("sources") and entries[i].get("retrieved_at") for i in flagged)


def test_built_insurers_have_the_fehb_column(built):
    db = sqlite_utils.Database(built.db_path)
    assert db["insurers"].get("geha")["fehb_carrier"] == "only"
    assert db["insurers"].get("cigna")["fehb_carrier"] is None


def test_tricare_excludes_racemic_ketamine_for_every_mental_health_condition():
    pain = {"chronic_pain", "crps", "fibromyalgia", "migraine", "neuropathic_pain"}
    mental = set(vocab.conditions().entries) - pain
    for treatment in ("iv_ketamine", "im_ketamine", "oral_ketamine", "intranasal_ketamine"):
        coded = {r["condition"]: r["coverage"] for r in POLICIES
                 if r["insurer"] == "TRICARE" and r["treatment"] == treatment}
        assert coded == dict.fromkeys(mental, "not_covered"), treatment


def test_medicare_spravato_row_cites_cms_billing_codes():
    row, = [r for r in POLICIES if r["insurer"] == "Medicare" and r["treatment"] == "esketamine_spravato"]
    assert "G2082" in row["criteria"] and "G2083" in row["criteria"]
    assert any("cms.gov" in url or "federalregister.gov" in url for url in row["sources"])
