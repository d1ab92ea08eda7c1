"""Which pipelines a spider gets (by the kind of record it yields), and the record pipeline on
source checks, bills and policy-page checks, each path with the stat it counts (the clinic paths
are in test_pipelines.py)."""

import pytest
from scrapy import Spider
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.pipelines import ItemPipelineManager
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from crawlers.items import BILL, BILL_FIELDS, NETWORK, NPI, POLICY_PAGE, SOURCE_CHECK, new_record
from crawlers.pipelines.records import RecordPipeline
from crawlers.pipelines.vocabulary import VocabularyPipeline
from crawlers.spiders.insurer_policy import InsurerPolicySpider
from crawlers.spiders.nppes import NppesSpider
from crawlers.spiders.openstates import OpenStatesSpider
from crawlers.spiders.source_check import SourceCheckSpider
from kad import ROOT


def kind_spider(kind):
    return type(f"Synthetic{kind.title()}Spider", (Spider,), {"name": f"synthetic_{kind}", "item_kind": kind})


def pipeline(kind):
    crawler = get_crawler(kind_spider(kind))
    return RecordPipeline.from_crawler(crawler), crawler


def stat(crawler, key):
    return crawler.stats.get_value(key)


def loaded_pipelines(spidercls, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("SCRAPY_SETTINGS_MODULE", raising=False)
    crawler = get_crawler(spidercls, {"ITEM_PIPELINES": get_project_settings().getdict("ITEM_PIPELINES")})
    return [type(p).__name__ for p in ItemPipelineManager.from_crawler(crawler).middlewares]


# --- which pipelines load ----------------------------------------------------------------------

@pytest.mark.parametrize("spidercls", [SourceCheckSpider, OpenStatesSpider, InsurerPolicySpider])
def test_other_kinds_get_only_the_record_pipeline(spidercls, monkeypatch):
    assert loaded_pipelines(spidercls, monkeypatch) == ["RecordPipeline"]


def test_clinic_spiders_get_the_vocabulary_pipeline_too(monkeypatch):
    assert loaded_pipelines(NppesSpider, monkeypatch) == ["RecordPipeline", "VocabularyPipeline"]


def test_vocabulary_pipeline_refuses_another_kind():
    with pytest.raises(NotConfigured):
        VocabularyPipeline.from_crawler(get_crawler(kind_spider(BILL)))


def test_record_pipeline_refuses_an_unknown_kind():
    with pytest.raises(NotConfigured):
        RecordPipeline.from_crawler(get_crawler(kind_spider("synthetic_kind")))


# --- the record pipeline -----------------------------------------------------------------------

def bill(**values):
    base = dict(id="ocd-bill/synthetic-1", state="TX", identifier="HB 9901", title="Synthetic act",
                status="introduced", sources=["https://v3.openstates.org/bills?q=ketamine&page=1"])
    return new_record(BILL, **{**base, **values})


def test_bill_passes_unchanged():
    records, _ = pipeline(BILL)
    item = bill()
    assert records.process_item(dict(item)) == item


def test_missing_keys_filled_in_order():
    records, crawler = pipeline(BILL)
    item = records.process_item({"id": "ocd-bill/synthetic-2", "state": "TX", "identifier": "SB 1",
                                 "sources": ["https://v3.openstates.org/bills"]})
    assert (list(item), item["subjects"], stat(crawler, "pipeline/cleaned/missing_key")) == (
        list(BILL_FIELDS), [], len(BILL_FIELDS) - 4)


def test_strings_cleaned():
    records, _ = pipeline(BILL)
    assert records.process_item(bill(title="  Synthetic\n act &amp; more "))["title"] == "Synthetic act & more"


def test_lists_deduplicated():
    records, _ = pipeline(BILL)
    assert records.process_item(bill(subjects=["Health", " Health", ""]))["subjects"] == ["Health"]


def test_state_name_to_code():
    records, crawler = pipeline(BILL)
    assert (records.process_item(bill(state="Texas"))["state"], stat(crawler, "pipeline/cleaned/state")) == ("TX", 1)


def test_territory_dropped():
    records, crawler = pipeline(BILL)
    with pytest.raises(DropItem):
        records.process_item(bill(state="PR"))
    assert stat(crawler, "pipeline/dropped/invalid_state") == 1


def test_unknown_status_reset():
    records, crawler = pipeline(BILL)
    assert (records.process_item(bill(status="signed"))["status"], stat(crawler, "pipeline/cleaned/status_invalid")) == (
        "unknown", 1)


@pytest.mark.parametrize("kind, values, reason", [
    (BILL, {"id": "ocd-bill/synthetic-3", "state": "TX", "identifier": None,
            "sources": ["https://v3.openstates.org/bills"]}, "missing_identifier"),
    (SOURCE_CHECK, {"url": None, "sources": ["https://synthetic.example.com/"]}, "missing_url"),
    (POLICY_PAGE, {"policy_row": None, "url": "https://synthetic.example.com/", "sources": ["https://synthetic.example.com/"]},
     "missing_policy_row"),
])
def test_required_fields(kind, values, reason):
    records, crawler = pipeline(kind)
    with pytest.raises(DropItem):
        records.process_item(new_record(kind, **values))
    assert stat(crawler, f"pipeline/dropped/{reason}") == 1


def test_bad_source_removed_and_counted():
    records, crawler = pipeline(SOURCE_CHECK)
    item = records.process_item(new_record(SOURCE_CHECK, url="https://synthetic.example.com/",
                                           sources=["javascript:alert(1)", "https://synthetic.example.com/"]))
    assert (item["sources"], stat(crawler, "pipeline/cleaned/sources_invalid")) == (["https://synthetic.example.com/"], 1)


def test_addresses_kept_exactly():
    url = "https://synthetic.example.com/rule?a=1&copy=2&para=3"
    records, _ = pipeline(SOURCE_CHECK)
    item = records.process_item(new_record(SOURCE_CHECK, url=url, final_url=url, sources=[url, url]))
    assert (item["url"], item["final_url"], item["sources"]) == (url, url, [url])


def test_source_check_flags_are_booleans():
    records, _ = pipeline(SOURCE_CHECK)
    item = records.process_item(new_record(SOURCE_CHECK, url="https://synthetic.example.com/", changed=None,
                                           sources=["https://synthetic.example.com/"]))
    assert (item["changed"], item["disappeared"]) == (False, False)


def test_new_record_refuses_unknown_keys():
    with pytest.raises(KeyError):
        new_record(BILL, name="Synthetic")


# -- network evidence and NPI records --------------------------------------------------------------

def network_record(**fields):
    values = {"npi": "1234567893", "insurer_id": "humana", "evidence": "payer_directory", "state": "Texas",
              "sources": ["https://synthetic.example/fhir/OrganizationAffiliation"],
              "source_url": "https://synthetic.example/fhir/OrganizationAffiliation?a=1&copy=2"}
    return new_record(NETWORK, **{**values, **fields})


def test_network_record_passes_with_state_normalised():
    network, _ = pipeline(NETWORK)
    assert network.process_item(network_record())["state"] == "TX"


def test_network_source_url_kept_exactly():
    network, _ = pipeline(NETWORK)
    assert network.process_item(network_record())["source_url"].endswith("?a=1&copy=2")


@pytest.mark.parametrize("fields, reason", [
    ({"npi": "1234567890"}, "invalid_npi"),
    ({"npi": None}, "missing_npi"),
    ({"insurer_id": "synthetic-insurer"}, "invalid_insurer_id"),
    ({"evidence": "clinic_website"}, "invalid_evidence"),
])
def test_bad_network_record_dropped_and_counted(fields, reason):
    network, crawler = pipeline(NETWORK)
    with pytest.raises(DropItem):
        network.process_item(network_record(**fields))
    assert stat(crawler, f"pipeline/dropped/{reason}") == 1


def test_npi_record_with_a_bad_state_keeps_the_npi():
    npis, crawler = pipeline(NPI)
    record = npis.process_item(new_record(NPI, npi="1234567893", state="Atlantis", sources=["https://synthetic.example/"]))
    assert (record["npi"], record["state"], stat(crawler, "pipeline/cleaned/state_invalid")) == ("1234567893", None, 1)
