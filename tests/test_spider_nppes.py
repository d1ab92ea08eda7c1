"""nppes against saved NPI Registry API answers (tests/files/nppes/). The spider asks for
pages of 2 here so that a full page (2 results) leads to the next page."""

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler

from crawlers.items import CLINIC_FIELDS
from crawlers.spiders.nppes import NppesSpider
from utils import file_response, start_requests


def make_spider(**args):
    crawler = get_crawler(NppesSpider)
    return NppesSpider.from_crawler(crawler, **args)


def params(url):
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def run(spider, request, path):
    output = list(spider.parse(file_response(path, request.url, request), **request.cb_kwargs))
    return ([o for o in output if not isinstance(o, Request)],
            [o for o in output if isinstance(o, Request)])


spider = make_spider(states="TX", limit="2")
requests = start_requests(spider)
name_request, _, _, taxonomy_request = requests
page1_items, page1_next = run(spider, name_request, "nppes/ketamine_tx_page1.json")
page2_items, page2_next = run(spider, page1_next[0], "nppes/ketamine_tx_page2.json")
taxonomy_items, taxonomy_next = run(spider, taxonomy_request, "nppes/infusion_tx.json")
ALL_ITEMS = page1_items + page2_items + taxonomy_items
first, second = page1_items


# --- requests ------------------------------------------------------------------------------

def test_four_queries_per_state():
    assert [params(r.url).get("organization_name") or params(r.url)["taxonomy_description"]
            for r in requests] == ["ketamine*", "esketamine*", "spravato*", "Infusion Therapy"]


def test_request_parameters():
    assert params(name_request.url) == {
        "version": "2.1", "enumeration_type": "NPI-2", "organization_name": "ketamine*",
        "state": "TX", "address_purpose": "LOCATION", "limit": "2", "skip": "0"}


def test_wildcard_left_readable():
    assert "organization_name=ketamine*" in name_request.url


def test_every_state_and_dc_by_default():
    states = {params(r.url)["state"] for r in start_requests(make_spider())}
    assert len(states) == 51 and "DC" in states


def test_default_page_size_is_the_api_maximum():
    assert params(start_requests(make_spider(states="CO"))[0].url)["limit"] == "200"


def test_full_page_asks_for_the_next():
    assert [params(r.url)["skip"] for r in page1_next] == ["2"]


def test_short_page_stops():
    assert page2_next == []


def test_skip_cap_stops_and_counts(caplog):
    capped = make_spider(states="TX", limit="2")
    request = capped.request("name", {"organization_name": "ketamine*"}, "TX", skip=1000)
    with caplog.at_level(logging.WARNING):
        _, following = run(capped, request, "nppes/ketamine_tx_page1.json")
    assert (following, capped.crawler.stats.get_value("nppes/truncated")) == ([], 1)


def test_empty_answer():
    empty = make_spider(states="TX")
    assert run(empty, start_requests(empty)[0], "nppes/empty.json") == ([], [])


def test_error_answer_is_counted():
    failing = make_spider(states="TX")
    result = run(failing, start_requests(failing)[0], "nppes/error.json")
    assert (result, failing.crawler.stats.get_value("nppes/api_errors")) == (([], []), 1)


# --- records -------------------------------------------------------------------------------

def test_first_source_id():
    assert first["source_id"] == "nppes:1234567893"


def test_first_name_is_the_dba_name():
    assert first["name"] == "SYNTHETIC KETAMINE INFUSION CENTER OF AUSTIN"


def test_first_operator_is_the_legal_name():
    assert first["operator"] == "SYNTHETIC KETAMINE HOLDINGS LLC"


def test_first_location_address_not_mailing():
    assert (first["street"], first["city"], first["state"], first["postal_code"]) == (
        "100 CONGRESS AVE STE 300", "AUSTIN", "TX", "787014042")


def test_first_phone_of_the_location():
    assert first["phone"] == "512-555-0160"


def test_first_npi():
    assert first["npi"] == "1234567893"


def test_first_primary_taxonomy():
    assert first["taxonomy"] == "Clinic/Center, Infusion Therapy"


def test_first_treatment_from_the_name():
    assert first["treatments"] == ["iv_ketamine"]


def test_first_source_is_the_request():
    assert first["sources"] == [name_request.url]


def test_second_without_dba_has_no_operator():
    assert (second["name"], second["operator"]) == ("SYNTHETIC KETAMINE WELLNESS PLLC", None)


def test_second_primary_taxonomy_is_the_flagged_one():
    assert second["taxonomy"] == "Psychiatry & Neurology, Psychiatry"


def test_second_no_treatment_guessed():
    assert second["treatments"] == []


def test_page_two_source_has_its_skip():
    assert params(page2_items[0]["sources"][0])["skip"] == "2"


def test_taxonomy_query_keeps_only_ketamine_names():
    assert [i["npi"] for i in taxonomy_items] == ["1666010206"]


def test_taxonomy_query_reads_other_names():
    assert (taxonomy_items[0]["name"], taxonomy_items[0]["treatments"]) == (
        "SYNTHETIC INFUSION ASSOCIATES PA", ["esketamine_spravato"])


def test_counts():
    stats = spider.crawler.stats
    assert (stats.get_value("nppes/skipped/duplicate_npi"), stats.get_value("nppes/skipped/not_ketamine"),
            stats.get_value("nppes/records")) == (1, 1, 4)


@pytest.mark.parametrize("item", ALL_ITEMS)
def test_every_contract_key_in_order(item):
    assert list(item) == list(CLINIC_FIELDS)


@pytest.mark.parametrize("item", ALL_ITEMS)
def test_no_website_facts_from_the_registry(item):
    assert (item["insurers"], item["ketamine_insurance"], item["price_initial_usd"], item["website"]) == (
        [], "unknown", None, None)


@pytest.mark.parametrize("item", ALL_ITEMS)
def test_names_are_synthetic(item):
    assert item["name"].startswith("SYNTHETIC")


@pytest.mark.parametrize("item", ALL_ITEMS)
def test_source_id_is_the_npi(item):
    assert item["source_id"] == f"nppes:{item['npi']}"
