"""The clinic pipelines (records, then vocabulary), each path with the stat it counts."""

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawlers.items import CLINIC_FIELDS, new_clinic
from crawlers.pipelines.records import RecordPipeline
from crawlers.pipelines.vocabulary import VocabularyPipeline

PIPELINES = (RecordPipeline, VocabularyPipeline)


@pytest.fixture
def crawler():
    return get_crawler()


def stat(crawler, key):
    return crawler.stats.get_value(key)


def record(**values):
    base = dict(source_id="site:synthetic-test-clinic-austin", name="Synthetic Test Clinic",
                city="Austin", state="TX", sources=["https://synthetic-test.example.com/"])
    return new_clinic(**{**base, **values})


def through(cls, crawler, item):
    return cls.from_crawler(crawler).process_item(item)


# --- text and keys -------------------------------------------------------------------------

def test_clean_whitespace_and_entities(crawler):
    item = through(RecordPipeline, crawler, record(name="  Synthetic\n Test &amp; Clinic "))
    assert (item["name"], stat(crawler, "pipeline/cleaned/name")) == ("Synthetic Test & Clinic", 1)


def test_clean_empty_string_to_null(crawler):
    assert through(RecordPipeline, crawler, record(street="   "))["street"] is None


def test_clean_lists_deduplicated(crawler):
    item = through(RecordPipeline, crawler, record(insurers=["Aetna", " Aetna ", "", None, "Cigna"]))
    assert (item["insurers"], stat(crawler, "pipeline/cleaned/insurers")) == (["Aetna", "Cigna"], 1)


PARTIAL = {"state": "TX", "name": "Synthetic Partial", "source_id": "site:synthetic-partial",
           "sources": ["https://synthetic-test.example.com/"]}


def test_clean_fills_missing_keys_in_order(crawler):
    item = through(RecordPipeline, crawler, dict(PARTIAL))
    assert (list(item), item["unmapped"], item["insurers"]) == (list(CLINIC_FIELDS), {}, [])


def test_clean_counts_missing_keys(crawler):
    through(RecordPipeline, crawler, dict(PARTIAL))
    assert stat(crawler, "pipeline/cleaned/missing_key") == len(CLINIC_FIELDS) - len(PARTIAL)


def test_clean_leaves_numbers(crawler):
    assert through(RecordPipeline, crawler, record(price_initial_usd=450))["price_initial_usd"] == 450


# --- normalised fields ---------------------------------------------------------------------

def test_state_name_to_code(crawler):
    item = through(RecordPipeline, crawler, record(state="Texas"))
    assert (item["state"], stat(crawler, "pipeline/cleaned/state")) == ("TX", 1)


def test_bad_state_drops(crawler):
    with pytest.raises(DropItem, match="invalid_state"):
        through(RecordPipeline, crawler, record(state="Ontario"))
    assert stat(crawler, "pipeline/dropped/invalid_state") == 1


def test_territory_is_not_a_state(crawler):
    with pytest.raises(DropItem):
        through(RecordPipeline, crawler, record(state="PR"))


def test_phone_formatted(crawler):
    item = through(RecordPipeline, crawler, record(phone="+1-512-555-0142"))
    assert (item["phone"], stat(crawler, "pipeline/cleaned/phone")) == ("(512) 555-0142", 1)


def test_bad_phone_nulled_and_counted(crawler):
    item = through(RecordPipeline, crawler, record(phone="555-01"))
    assert (item["phone"], stat(crawler, "pipeline/cleaned/phone_invalid")) == (None, 1)


def test_website_gains_scheme(crawler):
    assert through(RecordPipeline, crawler, record(website="synthetic.example.com"))["website"] == \
        "https://synthetic.example.com/"


def test_bad_website_nulled_and_counted(crawler):
    item = through(RecordPipeline, crawler, record(website="ftp://synthetic.example.com/"))
    assert (item["website"], stat(crawler, "pipeline/cleaned/website_invalid")) == (None, 1)


def test_zip_plus_four(crawler):
    assert through(RecordPipeline, crawler, record(postal_code="787014042"))["postal_code"] == "78701"


def test_bad_zip_nulled_and_counted(crawler):
    item = through(RecordPipeline, crawler, record(postal_code="7870"))
    assert (item["postal_code"], stat(crawler, "pipeline/cleaned/postal_code_invalid")) == (None, 1)


def test_zip_of_another_state_nulled_and_flagged(crawler):
    item = through(RecordPipeline, crawler, record(postal_code="80202"))
    assert (item["postal_code"], item["needs_review"], stat(crawler, "pipeline/cleaned/postal_code_other_state")) == (
        None, True, 1)


def test_zip_of_another_state_gives_a_reason_that_keeps_it(crawler):
    item = through(RecordPipeline, crawler, record(postal_code="80202"))
    assert item["review_reasons"] == ["The ZIP code 80202 given by https://synthetic-test.example.com/ is in CO, not "
                                      "TX: left out (the clinic is placed by its city in TX, where that is known)."]


def test_npi_kept(crawler):
    assert through(RecordPipeline, crawler, record(npi="1234567893"))["npi"] == "1234567893"


def test_bad_npi_nulled_and_counted(crawler):
    item = through(RecordPipeline, crawler, record(npi="1234567890"))
    assert (item["npi"], stat(crawler, "pipeline/cleaned/npi_invalid")) == (None, 1)


def test_bad_source_dropped_from_sources(crawler):
    item = through(RecordPipeline, crawler, record(sources=["javascript:void(0)", "https://synthetic.example.com/a"]))
    assert (item["sources"], stat(crawler, "pipeline/cleaned/sources_invalid")) == (
        ["https://synthetic.example.com/a"], 1)


# --- vocabulary ----------------------------------------------------------------------------

def test_insurer_names_to_ids(crawler):
    item = through(VocabularyPipeline, crawler, record(insurers=["United Healthcare/Optum", "BCBS of Texas", "aetna"]))
    assert (item["insurers"], stat(crawler, "vocab/mapped/insurers")) == (["unitedhealthcare", "bcbs-texas", "aetna"], 3)


def test_unmapped_insurer_kept_and_counted(crawler):
    item = through(VocabularyPipeline, crawler, record(insurers=["Aetna", "Synthetic Mutual Health Plan"]))
    assert (item["insurers"], item["unmapped"]["insurers"], stat(crawler, "vocab/unmapped/insurers")) == (
        ["aetna"], ["Synthetic Mutual Health Plan"], 1)


def test_conditions_and_treatments(crawler):
    item = through(VocabularyPipeline, crawler, record(
        conditions=["treatment-resistant depression", "ptsd"], treatments=["Spravato", "iv_ketamine"]))
    assert (item["conditions"], item["treatments"]) == (
        ["treatment_resistant_depression", "ptsd"], ["esketamine_spravato", "iv_ketamine"])


def test_unmapped_condition_counted(crawler):
    item = through(VocabularyPipeline, crawler, record(conditions=["Synthetic syndrome"]))
    assert (item["unmapped"]["conditions"], stat(crawler, "vocab/unmapped/conditions")) == (["Synthetic syndrome"], 1)


def test_existing_unmapped_names_kept(crawler):
    item = record(insurers=["Synthetic Co-op"])
    item["unmapped"]["insurers"] = ["Synthetic Co-op"]
    assert through(VocabularyPipeline, crawler, item)["unmapped"]["insurers"] == ["Synthetic Co-op"]


# --- identity, coordinates, enumerations, numbers ------------------------------------------

@pytest.mark.parametrize("field, reason", [
    ("name", "missing_name"), ("state", "missing_state"), ("source_id", "missing_source_id"),
    ("sources", "missing_sources"),
])
def test_required_fields(crawler, field, reason):
    with pytest.raises(DropItem, match=reason):
        through(RecordPipeline, crawler, record(**{field: [] if field == "sources" else None}))
    assert stat(crawler, f"pipeline/dropped/{reason}") == 1


@pytest.mark.parametrize("latitude, longitude", [
    (30.265, -97.7445),  # Austin
    (61.2176, -149.8997),  # Anchorage
    (52.8, 173.2),  # Attu, Aleutians (east longitude)
    (21.3069, -157.8583),  # Honolulu
    (38.9072, -77.0369),  # Washington DC
])
def test_us_coordinates_kept(crawler, latitude, longitude):
    item = through(RecordPipeline, crawler, record(latitude=str(latitude), longitude=longitude))
    assert (item["latitude"], item["longitude"]) == (latitude, longitude)


@pytest.mark.parametrize("latitude, longitude", [
    (51.5072, -0.1276),  # London
    (-97.7445, 30.265),  # swapped
    (0, 0),
])
def test_foreign_coordinates_nulled(crawler, latitude, longitude):
    item = through(RecordPipeline, crawler, record(latitude=latitude, longitude=longitude))
    assert (item["latitude"], item["longitude"], stat(crawler, "pipeline/cleaned/coordinates_outside_us")) == (
        None, None, 1)


def test_half_coordinates_nulled(crawler):
    item = through(RecordPipeline, crawler, record(latitude=30.2, longitude="east"))
    assert (item["latitude"], stat(crawler, "pipeline/cleaned/coordinates_invalid")) == (None, 1)


def test_unknown_status_reset(crawler):
    item = through(RecordPipeline, crawler, record(spravato_insurance="maybe"))
    assert (item["spravato_insurance"], stat(crawler, "pipeline/cleaned/spravato_insurance_invalid")) == (
        "unknown", 1)


def test_bad_price_nulled(crawler):
    item = through(RecordPipeline, crawler, record(price_initial_usd="call us", price_series_usd="2400"))
    assert (item["price_initial_usd"], item["price_series_usd"]) == (None, 2400)


def test_bad_series_count_nulled(crawler):
    assert through(RecordPipeline, crawler, record(series_count=0))["series_count"] is None


# --- the whole chain -----------------------------------------------------------------------

def run_all(crawler, item):
    for cls in PIPELINES:
        item = through(cls, crawler, item)
    return item


def test_chain_on_a_raw_site_record(crawler):
    item = run_all(crawler, record(
        state="Texas", postal_code="78701-4042", phone="+1-512-555-0142",
        insurers=["Aetna", "Blue Cross and Blue Shield of Texas", "Synthetic Mutual Health Plan"],
        latitude=30.265, longitude=-97.7445))
    assert (item["state"], item["postal_code"], item["phone"], item["insurers"], item["unmapped"]["insurers"]) == (
        "TX", "78701", "(512) 555-0142", ["aetna", "bcbs-texas"], ["Synthetic Mutual Health Plan"])


def test_chain_on_a_registry_record(crawler):
    item = run_all(crawler, record(source_id="nppes:1234567893", npi="1234567893", state="TX",
                                   postal_code="787014042", phone="512-555-0160"))
    assert (item["npi"], item["postal_code"], item["phone"]) == ("1234567893", "78701", "(512) 555-0160")


def test_chain_keeps_key_order(crawler):
    assert list(run_all(crawler, record())) == list(CLINIC_FIELDS)


def test_clean_keeps_entities_in_addresses(crawler):
    item = through(RecordPipeline, crawler, record(
        name="Synthetic &amp; Co", website="https://synthetic.example/?a=1&copy=2",
        sources=["https://synthetic.example/?x=1&reg=2"]))
    assert (item["name"], item["website"], item["sources"]) == \
        ("Synthetic & Co", "https://synthetic.example/?a=1&copy=2", ["https://synthetic.example/?x=1&reg=2"])
