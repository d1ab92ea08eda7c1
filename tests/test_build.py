"""build_db.py: merge rules, geocoding precision, bad input, atomic replace, idempotence."""

import json
import sqlite3

import pytest

import build_db
from builds import build, change, curated_line, synthetic, write_jsonl


def rows(db_path, sql, params=()):
    connection = sqlite3.connect(db_path)
    connection.row_factory = sqlite3.Row
    return [dict(row) for row in connection.execute(sql, params)]


def clinics(run):
    return {row["id"]: row for row in rows(run.db_path, "SELECT * FROM clinics")}


# -- merging -----------------------------------------------------------------------------------

def test_same_npi_merges_site_and_registry_records(tmp_path):
    run = build(tmp_path, feeds={
        "clinic_site": [synthetic("Mind Clinic", npi="1234567893", insurers=["Aetna"])],
        "nppes": [synthetic("Mind Clinic LLC", source_id="nppes:1234567893", npi="1234567893",
                            sources=["https://npiregistry.cms.hhs.gov/api/?version=2.1&number=1234567893"])],
    })
    assert list(clinics(run)) == ["site:synthetic-mind-clinic"]


def test_merged_row_keeps_every_source(tmp_path):
    run = build(tmp_path, feeds={
        "clinic_site": [synthetic("Mind Clinic", npi="1234567893")],
        "nppes": [synthetic("Mind Clinic LLC", source_id="nppes:1234567893", npi="1234567893",
                            sources=["https://npiregistry.cms.hhs.gov/api/?number=1234567893"])],
    })
    row = clinics(run)["site:synthetic-mind-clinic"]
    assert json.loads(row["sources"]) == ["https://synthetic.example/mind-clinic",
                                          "https://npiregistry.cms.hhs.gov/api/?number=1234567893"]


def test_registry_legal_name_becomes_operator(tmp_path):
    run = build(tmp_path, feeds={
        "clinic_site": [synthetic("Mind Clinic", npi="1234567893")],
        "nppes": [synthetic("Mind Clinic LLC", source_id="nppes:1234567893", npi="1234567893")],
    })
    assert clinics(run)["site:synthetic-mind-clinic"]["operator"] == "Synthetic Mind Clinic LLC"


def test_same_phone_in_same_city_merges(tmp_path):
    run = build(tmp_path, feeds={"clinic_site": [synthetic("A", phone="512-555-0100"),
                                                 synthetic("B", phone="(512) 555-0100")]})
    assert run.merged == 1


def test_same_phone_in_another_city_does_not_merge(tmp_path):
    run = build(tmp_path, feeds={"clinic_site": [synthetic("A", phone="512-555-0100"),
                                                 synthetic("B", phone="512-555-0100", city="Round Rock")]})
    assert len(clinics(run)) == 2


def test_same_street_address_merges(tmp_path):
    run = build(tmp_path, feeds={"clinic_site": [
        synthetic("A", street="1200 Main Street, Suite 4", postal_code="78701"),
        synthetic("B", street="1200 main st ste 4", postal_code="78701-2222")]})
    assert run.merged == 1


def test_merge_is_transitive(tmp_path):
    # A and B share a phone, B and C an address: one location.
    run = build(tmp_path, feeds={"clinic_site": [
        synthetic("A", phone="512-555-0100"),
        synthetic("B", phone="512-555-0100", street="9 Oak Ave", postal_code="78701"),
        synthetic("C", street="9 Oak Avenue", postal_code="78701")]})
    assert len(clinics(run)) == 1


def test_same_site_in_same_city_merges_a_curated_line_and_a_crawled_record(tmp_path):
    run = build(tmp_path, seed=[curated_line("Mind Clinic", website="https://www.mind.synthetic.example")],
                feeds={"clinic_site": [synthetic("Mind Clinic Home", website="https://mind.synthetic.example/about")]})
    row, = clinics(run).values()
    assert json.loads(row["source_ids"]) == ["site:synthetic-mind-clinic-austin", "site:synthetic-mind-clinic-home"]


def test_same_site_in_another_city_does_not_merge(tmp_path):
    run = build(tmp_path, seed=[curated_line("Mind Clinic", website="https://mind.synthetic.example")],
                feeds={"clinic_site": [synthetic("Mind Clinic Dallas", city="Dallas",
                                                 website="https://mind.synthetic.example")]})
    assert len(clinics(run)) == 2


def test_one_site_with_two_addresses_in_one_city_keeps_both(tmp_path):
    site = "https://chain.synthetic.example"
    run = build(tmp_path, seed=[curated_line("Chain", website=site)], feeds={"clinic_site": [
        synthetic("Chain Main", website=site, street="1 Main St", postal_code="78701"),
        synthetic("Chain Oak", website=site, street="9 Oak Ave", postal_code="78701")]})
    assert len(clinics(run)) == 3


def test_disagreeing_sources_are_kept_and_flagged(tmp_path):
    run = build(tmp_path, feeds={
        "clinic_site": [synthetic("A", npi="1234567893", price_initial_usd=450)],
        "nppes": [synthetic("A", source_id="nppes:1234567893", npi="1234567893", price_initial_usd=500)]})
    row = clinics(run)["site:synthetic-a"]
    assert (row["needs_review"], json.loads(row["conflicts"])[0]["field"]) == (1, "price_initial_usd")


def test_insurer_names_map_to_canonical_names(tmp_path):
    run = build(tmp_path, feeds={"clinic_site": [synthetic("A", insurers=["UHC", "AETNA PPO", "Advocate HMO"])]})
    row = clinics(run)["site:synthetic-a"]
    assert (json.loads(row["insurers"]), json.loads(row["unmapped_insurers"])) == \
        (["UnitedHealthcare", "Aetna"], ["Advocate HMO"])


def test_insurer_links_keep_their_evidence(tmp_path):
    run = build(tmp_path, feeds={"clinic_site": [synthetic("A", insurers=["Cigna"])]})
    link, = rows(run.db_path, "SELECT * FROM clinic_insurers")
    assert (link["insurer_id"], link["evidence"], link["source_url"]) == \
        ("cigna", "clinic_website", "https://synthetic.example/a")


def test_a_programme_flag_is_an_insurer_link(tmp_path):
    run = build(tmp_path, feeds={"clinic_site": [synthetic("A", accepts_tricare=True)]})
    link, = rows(run.db_path, "SELECT * FROM clinic_insurers")
    assert (link["insurer_id"], link["evidence"], json.loads(clinics(run)["site:synthetic-a"]["insurers"])) == \
        ("tricare", "clinic_website", ["TRICARE"])


def test_a_listed_plan_of_a_programme_sets_its_flag(tmp_path):
    run = build(tmp_path, feeds={"clinic_site": [synthetic("A", insurers=["Health First Colorado"])]})
    row = clinics(run)["site:synthetic-a"]
    assert (row["accepts_medicaid"], json.loads(row["insurers"])) == \
        (1, ["Health First Colorado (Colorado Medicaid)", "Medicaid"])


def test_a_flag_saying_no_beside_a_listed_programme_is_a_conflict(tmp_path):
    run = build(tmp_path, feeds={"clinic_site": [synthetic("A", accepts_medicare=False, insurers=["Medicare"])]})
    row = clinics(run)["site:synthetic-a"]
    assert (row["needs_review"], [c["field"] for c in json.loads(row["conflicts"])]) == (1, ["accepts_medicare"])


def test_array_columns_are_json_arrays_even_when_empty(tmp_path):
    run = build(tmp_path, feeds={"clinic_site": [synthetic("A", treatments=None, financing=None)]})
    row = clinics(run)["site:synthetic-a"]
    assert [row[c] for c in ("treatments", "conditions", "insurers", "financing", "clinician_types")] == ["[]"] * 5


# -- geocoding ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, precision", [
    ({"postal_code": "78701"}, "zip_centroid"),
    ({"postal_code": None, "city": "Austin"}, "city_centroid"),
    ({"postal_code": None, "city": "St. Paul", "state": "MN"}, "city_centroid"),
    ({"latitude": 30.27, "longitude": -97.74}, "source"),
    ({"postal_code": None, "city": None}, None),
])
def test_geocode_precision(tmp_path, fields, precision):
    run = build(tmp_path, feeds={"clinic_site": [synthetic("A", **fields)]})
    assert clinics(run)["site:synthetic-a"]["geocode_precision"] == precision


def test_zip_centroid_coordinates(tmp_path):
    run = build(tmp_path, feeds={"clinic_site": [synthetic("A", postal_code="78701")]})
    row = clinics(run)["site:synthetic-a"]
    assert (round(row["latitude"], 2), round(row["longitude"], 2)) == (30.27, -97.74)


def test_online_geocoder_is_cached_and_rate_limited(tmp_path, monkeypatch):
    from kad import geocode

    calls = []

    class FakeService:
        def __init__(self, user_agent, timeout):
            assert "KetamineAccessDirectory" in user_agent

        def geocode(self, query, **kwargs):
            calls.append(query)
            return type("Loc", (), {"latitude": 30.2672, "longitude": -97.7431})()

    monkeypatch.setattr(geocode, "get_geocoder_for_service", lambda name: FakeService)
    cache = tmp_path / "cache.jsonl"
    first = geocode.CachedOnlineGeocoder("nominatim", cache_path=cache, min_delay_seconds=0)
    first.street_point("1 Congress Ave", "Austin", "TX", "78701")
    again = geocode.CachedOnlineGeocoder("nominatim", cache_path=cache, min_delay_seconds=0)
    assert (again.street_point("1 Congress Ave", "Austin", "TX", "78701"), len(calls)) == ([30.2672, -97.7431], 1)


# -- bad input ---------------------------------------------------------------------------------

BAD_FEED = [
    json.dumps(synthetic("Good")),
    "{this is not json",
    json.dumps(synthetic("X", name=None)),
    json.dumps(synthetic("Y", state=None)),
    json.dumps(synthetic("Z", state="Atlantis")),
    json.dumps(synthetic("Js", website="javascript:alert(1)")),
    json.dumps(synthetic("Nozip", postal_code="00000")),
    json.dumps(synthetic("Abroad", latitude=48.85, longitude=2.35)),
]


@pytest.fixture(scope="module")
def bad_build(tmp_path_factory):
    return build(tmp_path_factory.mktemp("bad"), feeds={"clinic_site": BAD_FEED})


def test_good_rows_survive_bad_lines(bad_build):
    assert sorted(clinics(bad_build)) == ["site:synthetic-abroad", "site:synthetic-good",
                                          "site:synthetic-js", "site:synthetic-nozip"]


@pytest.mark.parametrize("line, message", [
    (2, "dropped: not JSON"),
    (3, "dropped: no name"),
    (4, "dropped: no state"),
    (5, "dropped: state: not a US state or DC"),
    (6, "website emptied: only http and https links are allowed"),
    (7, "postal_code emptied: ZIP code does not exist"),
    (8, "coordinates emptied: not in the US"),
])
def test_bad_input_is_reported_with_file_and_line(bad_build, line, message):
    assert any(p.startswith(f"clinic_site.jsonl:{line}: {message}") for p in bad_build.report.problems)


def test_drops_are_counted_by_reason(bad_build):
    assert bad_build.report.dropped == {"malformed_json": 1, "missing_name": 1, "missing_state": 1, "invalid_state": 1}


def test_problems_are_kept_in_build_info(bad_build):
    info = {r["item"]: r["value"] for r in rows(bad_build.db_path, "SELECT * FROM build_info")}
    assert len([p for p in json.loads(info["problems"]) if p.startswith("clinic_site.jsonl")]) == 7


def test_bad_field_is_emptied_not_guessed(bad_build):
    assert clinics(bad_build)["site:synthetic-js"]["website"] is None


# -- atomic replace and idempotence --------------------------------------------------------------

def test_failed_checks_keep_the_old_database(tmp_path):
    good = build(tmp_path, feeds={"clinic_site": [synthetic("A")]})
    before = good.db_path.read_bytes()
    with pytest.raises(build_db.BuildError, match="no clinics"):
        build(tmp_path, feeds={"clinic_site": ["{broken"]})
    assert good.db_path.read_bytes() == before


def test_interrupted_build_keeps_the_old_database_and_leaves_no_temp_file(tmp_path, monkeypatch):
    good = build(tmp_path, feeds={"clinic_site": [synthetic("A")]})
    before = good.db_path.read_bytes()

    def interrupted(self, db):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_db.Build, "finish", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(tmp_path, feeds={"clinic_site": [synthetic("A"), synthetic("B")]})
    assert (good.db_path.read_bytes() == before, sorted(p.name for p in tmp_path.glob("*.db*"))) == \
        (True, ["ketamine.db"])


def test_rebuild_gives_the_same_rows(tmp_path):
    feeds = {"clinic_site": [synthetic("A", postal_code="78701", insurers=["Aetna"]), synthetic("B")]}
    first = build(tmp_path, feeds=feeds)
    before = rows(first.db_path, "SELECT * FROM clinics ORDER BY id")
    build(tmp_path, feeds=feeds)
    assert rows(first.db_path, "SELECT * FROM clinics ORDER BY id") == before


def test_first_seen_is_carried_from_the_previous_build(tmp_path):
    build(tmp_path, feeds={"clinic_site": [synthetic("A", retrieved_at="2026-01-01T00:00:00+00:00")]})
    run = build(tmp_path, feeds={"clinic_site": [synthetic("A", retrieved_at="2026-11-01T00:00:00+00:00")]})
    row = clinics(run)["site:synthetic-a"]
    assert (row["first_seen"], row["last_seen"]) == ("2026-01-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00")


# -- curated lines and their changes -----------------------------------------------------------

CHANGED_LINE = curated_line("Changed", city=None, notes="Old note.",
                            insurance={"ketamine": "in_network", "insurers_accepted": ["Aetna"]})
CHANGE = change("Changed", set={"city": "Austin", "insurance": {"ketamine": "not_covered"}},
                add_source_urls=["https://synthetic.example/changed-faq"])


def test_a_change_replaces_whole_fields_and_adds_its_pages(tmp_path):
    run = build(tmp_path, seed=[CHANGED_LINE], changes=[CHANGE])
    row = clinics(run)["site:synthetic-changed"]
    assert (row["city"], row["ketamine_insurance"], json.loads(row["insurers"]), json.loads(row["sources"])) == (
        "Austin", "not_covered", [], ["https://synthetic.example/changed", "https://synthetic.example/changed-faq"])


def test_a_change_is_dated_and_keeps_the_first_date(tmp_path):
    run = build(tmp_path, seed=[CHANGED_LINE], changes=[CHANGE])
    row = clinics(run)["site:synthetic-changed"]
    dates = {r["url"]: r["retrieved_at"] for r in rows(run.db_path, "SELECT url, retrieved_at FROM sources "
                                                                   "WHERE url LIKE 'https://synthetic.example/%'")}
    assert (row["first_seen"], row["retrieved_at"], dates) == ("2026-11", "2026-11-30", {
        "https://synthetic.example/changed": "2026-11", "https://synthetic.example/changed-faq": "2026-11-30"})


def test_changes_give_the_same_database_twice(tmp_path):
    first = build(tmp_path, seed=[CHANGED_LINE], changes=[CHANGE])
    before = rows(first.db_path, "SELECT * FROM clinics ORDER BY id")
    build(tmp_path, seed=[CHANGED_LINE], changes=[CHANGE])
    assert rows(first.db_path, "SELECT * FROM clinics ORDER BY id") == before


def test_a_change_naming_no_line_or_an_unknown_field_is_left_out_and_reported(tmp_path):
    run = build(tmp_path, seed=[CHANGED_LINE], changes=[
        change("Nobody", set={"city": "Austin"}), change("Changed", set={"name": "Synthetic Renamed"})])
    assert (run.report.dropped, clinics(run)["site:synthetic-changed"]["name"]) == (
        {"change_matched_nothing": 1, "bad_change": 1}, "Synthetic Changed")


def test_review_reasons_come_from_the_line_and_its_notes(tmp_path):
    run = build(tmp_path, seed=[curated_line("Flagged", notes="Six sessions; city inferred from the domain.",
                                             review_reasons=["Known only from a sponsored article."])])
    row = clinics(run)["site:synthetic-flagged-austin"]
    assert (row["needs_review"], json.loads(row["review_reasons"])) == (1, [
        "Known only from a sponsored article.", "Weaker fact (inferred, not stated): city inferred from the domain."])


def test_a_bad_facility_kind_becomes_clinic_and_a_wrong_zip_says_why(tmp_path):
    run = build(tmp_path, feeds={"clinic_site": [synthetic("A", postal_code="10001", facility_kind="spa")]})
    row = clinics(run)["site:synthetic-a"]
    assert (row["facility_kind"], row["postal_code"], row["needs_review"], json.loads(row["review_reasons"])) == (
        "clinic", None, 1, ["The ZIP code 10001 given by https://synthetic.example/a is in NY, not TX: left out "
                            "(the clinic is placed by its city in TX, where that is known)."])


# -- the checked-in data -----------------------------------------------------------------------

def test_curated_record_keeps_its_sources_and_flags_inferred_facts():
    from kad.curated_clinics import curated_record
    from kad.records import Report
    record = curated_record({"name": "Synthetic Seed", "city": "Austin", "state": "TX",
                             "source_urls": ["https://synthetic.example/"], "insurance": {},
                             "prices_usd": {}, "notes": "Six infusions. State inferred from the city name."},
                            "seed:1", Report())
    assert (record["sources"], record["review_reasons"]) == (
        ["https://synthetic.example/"], ["Weaker fact (inferred, not stated): State inferred from the city name."])


def test_checked_in_data_builds(tmp_path):
    run = build_db.Build(tmp_path / "ketamine.db", quiet=True)
    run.run()
    assert run.counts["clinics"] >= 200 and run.counts["states"] == 51


def test_addresses_are_not_entity_decoded(tmp_path):
    run = build(tmp_path, feeds={"clinic_site": [synthetic("A", website="https://synthetic.example/?a=1&copy=2")]})
    assert clinics(run)["site:synthetic-a"]["website"] == "https://synthetic.example/?a=1&copy=2"


def test_an_online_geocoder_places_street_addresses_in_the_writing_process(tmp_path, monkeypatch):
    """Centroids are placed by the build's workers; an online service (its rate limit and cache
    file) only by the process that writes."""
    from kad import geocode

    class FakeService:
        def __init__(self, user_agent, timeout):
            pass

        def geocode(self, query, **kwargs):
            return type("Loc", (), {"latitude": 30.2672, "longitude": -97.7431})()

    monkeypatch.setattr(geocode, "get_geocoder_for_service", lambda name: FakeService)
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    write_jsonl(feeds / "clinic_site.jsonl", [synthetic("Street", street="1 Congress Ave", postal_code="78701"),
                                              synthetic("City Only")])
    run = build_db.Build(tmp_path / "ketamine.db", feeds_dir=feeds, clinic_files=[write_jsonl(tmp_path / "s.jsonl", [])],
                         changes=None, quiet=True)
    run.geocoder.online = geocode.CachedOnlineGeocoder("nominatim", cache_path=tmp_path / "cache.jsonl",
                                                       min_delay_seconds=0)
    run.run()
    placed = dict(sqlite3.connect(run.db_path).execute("SELECT name, geocode_precision FROM clinics"))
    assert placed == {"Synthetic Street": "street", "Synthetic City Only": "city_centroid"}


def test_the_build_refuses_clinics_that_break_its_checks(tmp_path):
    import shutil

    import sqlite_utils

    run = build(tmp_path, feeds={"clinic_site": [synthetic("One"), synthetic("Two"), synthetic("Three")]})
    broken = tmp_path / "broken.db"
    shutil.copy(run.db_path, broken)
    db = sqlite_utils.Database(broken)
    db.execute("UPDATE clinics SET treatments = 'iv_ketamine' WHERE name = 'Synthetic One'")
    db.execute("UPDATE clinics SET sources = '[]' WHERE name = 'Synthetic Two'")
    db.execute("UPDATE clinics SET state = 'ZZ' WHERE name = 'Synthetic Three'")
    db.conn.commit()
    with pytest.raises(build_db.BuildError) as error:
        run.check(db)
    assert [line.strip() for line in str(error.value).splitlines()[1:]] == [
        "1 clinics have a treatments value that is not a JSON array", "1 clinics have no source",
        "1 clinics have a state outside the states table"]
