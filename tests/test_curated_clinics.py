"""The curated clinic files (seed, gathered, changes): every line sourced, in its vocabularies,
one location per line, changes that name real lines; and what the build makes of them: closed
clinics never listed as open, inferred facts flagged with their reason, all 51 jurisdictions."""

import sqlite3

import pytest

from build_db import Build
from kad import curated_clinics, normalise, vocab
from kad.records import Report, read_jsonl

SEED = [line for _, line in read_jsonl(curated_clinics.SEED, Report())]
GATHERED = [line for _, line in read_jsonl(curated_clinics.GATHERED, Report())]
CHANGES = [line for _, line in read_jsonl(curated_clinics.CHANGES, Report())]
LINES = [*SEED, *GATHERED]
CHANGED = list(curated_clinics.curated_lines())  # every line with its changes applied
_CHANGES = curated_clinics.Changes.load(curated_clinics.CHANGES, Report())
RECORDS = [curated_clinics.curated_record(line, "curated", Report(), _CHANGES) for line in LINES]


def label(line):
    return f"{line['name']} ({line.get('city')}, {line['state']})"


def site_key(line):
    return (normalise.site_host(line["website"]), line["state"], normalise.city_key(line["city"]))


# -- the files -----------------------------------------------------------------------------------

def test_the_gathered_file_adds_218_locations_to_the_214_of_the_seed():
    assert (len(SEED), len(GATHERED), len(CHANGES)) == (214, 218, 28)


@pytest.mark.parametrize("line", LINES, ids=label)
def test_every_line_is_sourced_with_web_addresses(line):
    assert line["source_urls"] and all(normalise.is_web_address(url) for url in line["source_urls"])


def test_every_gathered_line_keeps_its_gathering_date():
    assert {line["gathered"] for line in GATHERED} == {"2026-11-30"}


def test_every_change_says_why_and_when():
    assert all(change["why"].strip() and change["gathered"] == "2026-11-30" for change in CHANGES)


def test_every_change_names_lines_that_exist():
    names = [(line["name"], line["website"]) for line in LINES]
    matches = {change["match"]["name"]: names.count((change["match"]["name"], change["match"]["website"]))
               for change in CHANGES}
    assert (min(matches.values()), matches["KetaMC"]) == (1, 3)


def test_the_klarisana_colorado_listing_gets_no_city():
    colorado = next(line for line in CHANGED if line["name"] == "Klarisana (Colorado clinics)")
    assert colorado["city"] is None


@pytest.mark.parametrize("key", ["treatments", "conditions"])
def test_vocabularies_map_every_value(key):
    vocabulary = {"treatments": vocab.treatments(), "conditions": vocab.conditions()}[key]
    values = sorted({value for line in CHANGED for value in line[key]})
    assert [value for value in values if vocabulary.map_names([value])[1]] == []


def test_the_gatherers_extra_conditions_map_to_the_vocabulary():
    # Major depressive disorder is the vocabulary's depression; alcohol use disorder is one of the
    # substance use disorders (conditions.yml).
    mapped = vocab.conditions().map_names(["major_depressive_disorder", "alcohol_use_disorder"])
    assert mapped == (["depression", "substance_use_disorder"], [])


def test_no_two_lines_share_an_id():
    ids = [record["source_id"] for record in RECORDS]
    assert len(set(ids)) == len(ids)


def test_no_gathered_line_repeats_a_seed_location():
    """The same website host in the same city is the same location."""
    seed_sites = {site_key(line) for line in CHANGED[:len(SEED)] if line["website"] and line["city"]}
    repeated = [label(line) for line in CHANGED[len(SEED):]
                if line["website"] and line["city"] and site_key(line) in seed_sites]
    assert repeated == []


def test_no_two_lines_share_a_site_and_city():
    keys = [site_key(line) for line in CHANGED if line["website"] and line["city"]]
    assert len(set(keys)) == len(keys)


def test_va_medical_centers_are_a_facility_kind():
    centers = [line for line in CHANGED if line.get("facility_kind") == "va_medical_center"]
    assert len(centers) == 8 and all("veteran" in line["notes"].lower() for line in centers)


@pytest.mark.parametrize("line", [line for line in CHANGED if "inferred" in (line["notes"] or "").lower()],
                         ids=label)
def test_an_inferred_fact_gives_a_review_reason(line):
    assert curated_clinics.inferred_reasons(line["notes"])


def test_every_jurisdiction_has_a_curated_location():
    assert {line["state"] for line in LINES} == set(normalise.JURISDICTIONS)


# -- what the build makes of them ----------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    run = Build(tmp_path_factory.mktemp("curated") / "ketamine.db", quiet=True)
    run.run()
    connection = sqlite3.connect(run.db_path)
    connection.row_factory = sqlite3.Row
    yield run, connection
    connection.close()


def rows(built, sql, params=()):
    return [dict(row) for row in built[1].execute(sql, params)]


def test_every_line_is_one_location(built):
    run, _ = built
    assert (run.counts["clinics"], run.merged, run.report.dropped) == (len(LINES), 0, {})


def test_every_change_was_applied(built):
    run, _ = built
    assert [p for p in run.report.problems if "clinics_enrich" in p] == []


def test_all_51_jurisdictions_have_clinics(built):
    assert len(rows(built, "SELECT DISTINCT state FROM clinics")) == 51


def test_every_clinic_is_sourced_and_dated(built):
    assert rows(built, "SELECT name FROM clinics WHERE sources = '[]' OR retrieved_at IS NULL") == []


def test_closed_clinics_are_kept_as_reported_closed(built):
    closed = {r["name"] for r in rows(built, "SELECT name FROM clinics WHERE reported_closed = 1")}
    reported = {line["name"] for line in LINES if (line["notes"] or "").startswith("CLOSED:")}
    assert closed == reported and len(closed) == 8


def test_closed_clinics_do_not_count_as_open_in_their_state(built):
    counted = {r["code"]: r["clinic_count"] for r in rows(built, "SELECT code, clinic_count FROM states")}
    open_ = {r["state"]: r["n"] for r in rows(built, "SELECT state, count(*) AS n FROM clinics "
                                                     "WHERE reported_closed = 0 GROUP BY state")}
    assert counted == {code: open_.get(code, 0) for code in counted}


def test_inferred_facts_are_flagged_with_their_reason(built):
    unflagged = rows(built, "SELECT name FROM clinics WHERE lower(notes) LIKE '%inferred%' AND NOT "
                            "(needs_review = 1 AND review_reasons LIKE '%inferred%')")
    assert unflagged == []


def test_every_flag_of_a_curated_clinic_says_why(built):
    assert rows(built, "SELECT name FROM clinics WHERE needs_review = 1 AND review_reasons = '[]' "
                       "AND conflicts = '[]'") == []


def test_va_medical_centers_are_labelled_in_the_data(built):
    assert len(rows(built, "SELECT id FROM clinics WHERE facility_kind = 'va_medical_center'")) == 8


def test_a_changed_clinic_keeps_its_id_and_dates(built):
    heading, = rows(built, "SELECT * FROM clinics WHERE id = 'site:heading-health'")
    assert (heading["city"], heading["first_seen"], heading["retrieved_at"]) == ("Austin", "2026-11", "2026-11-30")


def test_pages_a_change_added_are_dated_by_the_change(built):
    dates = {r["url"]: r["retrieved_at"] for r in rows(
        built, "SELECT url, retrieved_at FROM sources WHERE url IN (?, ?)",
        ["https://phillyintegrative.com/spravato-faq", "https://www.phillyintegrative.com/ketamine-therapy-faq"])}
    assert dates == {"https://phillyintegrative.com/spravato-faq": "2026-11-30",
                     "https://www.phillyintegrative.com/ketamine-therapy-faq": "2026-11"}


def test_insurers_a_change_added_cite_the_page_that_names_them(built):
    links = {r["insurer_id"]: r["source_url"] for r in rows(
        built, "SELECT insurer_id, source_url FROM clinic_insurers WHERE clinic_id = 'site:florida-tms-clinic-tampa-tampa'")}
    assert links == {"tricare": "https://floridatmsclinic.com/tms-learning-hub/tms-tricare",
                     "florida-blue": "https://floridatmsclinic.com/tms-florida-blue"}
