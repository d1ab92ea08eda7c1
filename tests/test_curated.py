"""The hand-checked data: complete, sourced, in its vocabularies, and loaded without a problem."""

import pytest
import yaml

from build_db import Build
from kad import CURATED, checks, laws, normalise, vocab

JURISDICTIONS = set(normalise.JURISDICTIONS)
TOPIC_FILES = sorted((CURATED / "state_laws").glob("*.yml"))
POLICIES = yaml.safe_load((CURATED / "insurer_policies.yml").read_text())
FEDERAL = yaml.safe_load((CURATED / "federal_rules.yml").read_text())


def topic(path):
    return yaml.safe_load(path.read_text())


def test_every_topic_of_the_design_has_a_file():
    assert {topic(p)["topic"] for p in TOPIC_FILES} == set(laws.TOPICS)


@pytest.mark.parametrize("path", TOPIC_FILES, ids=lambda p: p.stem)
def test_every_jurisdiction_has_exactly_one_row(path):
    states = [row["state"] for row in topic(path)["rows"] if row["state"] != "US"]
    assert sorted(states) == sorted(JURISDICTIONS)


@pytest.mark.parametrize("path", TOPIC_FILES, ids=lambda p: p.stem)
def test_every_state_law_row_is_sourced_and_dated(path):
    assert all(row.get("sources") and row.get("retrieved_at") for row in topic(path)["rows"])


@pytest.mark.parametrize("path", TOPIC_FILES, ids=lambda p: p.stem)
def test_state_law_values_are_in_their_vocabulary(path):
    data = topic(path)
    assert [row["state"] for row in data["rows"] if laws._state_law_problem(data["topic"], row)] == []


@pytest.mark.parametrize("path", TOPIC_FILES, ids=lambda p: p.stem)
def test_unknown_values_say_what_was_searched(path):
    data = topic(path)
    unexplained = [row["state"] for row in data["rows"]
                   if str(row["value"]) == "unknown" and not (row.get("note") or data.get("searched"))]
    assert unexplained == []


def test_policies_cover_the_insurers_the_issue_names():
    named = {vocab.insurers().map_names([row["insurer"]])[0][0] for row in POLICIES}
    required = {"aetna", "cigna", "unitedhealthcare", "anthem", "humana", "kaiser-permanente", "centene",
                "molina-healthcare", "medicare", "tricare", "va-community-care"}
    blue_plans = {i for i in named if vocab.insurers().entries[i]["parent"] == "Blue Cross Blue Shield Association"}
    assert required <= named and len(blue_plans) >= 4


@pytest.mark.parametrize("row", POLICIES, ids=lambda r: f"{r['insurer']}-{r['treatment']}-{r['condition']}")
def test_policy_rows_are_valid_and_sourced(row):
    assert (laws._policy_problem(row), bool(row["sources"])) == (None, True)


def test_policies_cover_both_treatments():
    assert {row["treatment"] for row in POLICIES} >= {"iv_ketamine", "esketamine_spravato"}


@pytest.mark.parametrize("row", FEDERAL, ids=lambda r: r["id"])
def test_federal_rules_are_sourced(row):
    assert row["sources"] and row["citation"]


def test_federal_rules_cover_the_floor():
    ids = " ".join(row["id"] for row in FEDERAL)
    assert all(word in ids for word in ("internal-appeal", "external-review", "ketamine", "telemedicine",
                                        "rems", "g2082", "g2083", "j0013", "j3490", "96365", "96366"))


def test_states_file_covers_every_jurisdiction():
    rows = yaml.safe_load((CURATED / "states.yml").read_text())
    assert sorted(row["code"] for row in rows) == sorted(JURISDICTIONS)


def test_curated_data_loads_without_a_problem(tmp_path):
    run = Build(tmp_path / "ketamine.db", quiet=True)
    run.run()
    assert [p for p in run.report.problems if "curated/" in p] == []


def test_price_files_are_sourced_and_name_known_insurers():
    import yaml as _yaml
    from kad import CURATED as _CURATED, vocab as _vocab

    payers = _yaml.safe_load((_CURATED / "price_files.yml").read_text())["payers"]
    known = _vocab.insurers().entries
    for payer in payers:
        assert payer["landing_page"].startswith("https://") and payer["landing_page"] in payer["sources"]
        assert payer["cadence"] and payer["retrieved_at"] == "2026-11-30"
        assert payer["insurer_id"] is None or payer["insurer_id"] in known
        assert all(url.startswith("https://") for url in payer["toc_urls"])


# -- expedited review: a figure says whose limit it is ---------------------------------------------

EXPEDITED = topic(CURATED / "state_laws" / "expedited_review_hours.yml")["rows"]
PROCESS = {row["state"]: row["value"] for row in topic(CURATED / "state_laws" / "external_review_process.yml")["rows"]}


@pytest.mark.parametrize("row", [r for r in EXPEDITED if r.get("basis") == "federal_process"], ids=lambda r: r["state"])
def test_federal_figures_only_for_states_using_the_federal_process_and_labelled(row):
    assert (row["state"] == "US" or PROCESS[row["state"]] == "hhs_federal",
            row["state"] == "US" or "federal" in row["summary"], row["value"]) == (True, True, 72)


def test_every_expedited_figure_says_whose_it_is():
    assert [r["state"] for r in EXPEDITED if str(r["value"]).isdigit() != (r.get("basis") is not None)] == []


# -- pending legislation curated by hand -----------------------------------------------------------

BILLS = yaml.safe_load((CURATED / "bills.yml").read_text())


@pytest.mark.parametrize("bill", BILLS, ids=lambda b: f"{b['state']}-{b['identifier']}")
def test_curated_bills_are_sourced_dated_and_in_vocabulary(bill):
    assert checks._curated_bill_problem(bill) is None


def test_curated_bills_cover_every_topic():
    assert {s for bill in BILLS for s in bill["subjects"]} == set(checks.BILL_TOPICS)


def test_curated_bills_are_each_one_bill():
    keys = [checks.bill_key(b["state"], b["session"], b["identifier"]) for b in BILLS]
    assert len(keys) == len(set(keys))


def test_curated_bills_are_of_2025_or_2026():
    assert [b["identifier"] for b in BILLS if b["latest_action_date"] and b["latest_action_date"][:4] not in ("2025", "2026")] == []
