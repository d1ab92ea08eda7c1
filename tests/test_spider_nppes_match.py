"""nppes_match: every directory clinic (a synthetic seed here) matched to NPI records of the
saved NPI Registry answers (tests/files/nppes/), with the method and score of each match."""

from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy.utils.test import get_crawler

from crawlers.items import NPI_FIELDS
from crawlers.spiders.nppes_match import NppesMatchSpider, name_prefix
from kad import npi_match
from utils import FILES, file_response, start_requests


def make_spider(tmp_path, **args):
    crawler = get_crawler(NppesMatchSpider, {"FEED_DIR": str(tmp_path)})
    return NppesMatchSpider.from_crawler(crawler, seed=str(FILES / "nppes" / "match_seed.jsonl"), **args)


def params(url):
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    spider = make_spider(tmp_path_factory.mktemp("feeds"), states="TX")
    requests = start_requests(spider)
    austin = list(requests[0].callback(file_response("nppes/ketamine_tx_page1.json", requests[0].url, requests[0]),
                                       **requests[0].cb_kwargs))
    wellness = list(requests[1].callback(file_response("nppes/ketamine_tx_page1.json", requests[1].url, requests[1]),
                                         **requests[1].cb_kwargs))
    return {"spider": spider, "requests": requests, "austin": austin, "wellness": wellness}


def test_one_query_per_clinic_of_the_chosen_states(crawl):
    assert [params(r.url)["organization_name"] for r in crawl["requests"]] == ["Synthetic Ketamine*", "Synthetic Ketamine*"]


def test_query_within_the_clinic_state(crawl):
    assert params(crawl["requests"][0].url)["state"] == "TX"


def test_query_asks_for_organisations_by_location(crawl):
    query = params(crawl["requests"][0].url)
    assert (query["enumeration_type"], query["address_purpose"], query["version"]) == ("NPI-2", "LOCATION", "2.1")


def test_address_match_is_strong(crawl):
    best = crawl["austin"][0]
    assert (best["npi"], best["match_method"], best["match_score"] >= npi_match.STRONG) == ("1234567893", "name_address", True)


def test_match_names_the_clinic_record(crawl):
    assert crawl["austin"][0]["clinic_source_id"] == "site:synthetic-ketamine-center-of-austin-austin"


def test_match_keeps_the_names(crawl):
    record = crawl["austin"][0]
    assert (record["name"], record["other_names"]) == ("SYNTHETIC KETAMINE HOLDINGS LLC",
                                                       ["SYNTHETIC KETAMINE INFUSION CENTER OF AUSTIN"])


def test_match_keeps_the_taxonomies_primary_first(crawl):
    assert crawl["austin"][0]["taxonomies"][0] == "261QI0500X"


def test_match_keeps_the_practice_location(crawl):
    record = crawl["austin"][0]
    assert (record["street"], record["city"], record["phone"]) == ("100 CONGRESS AVE STE 300", "AUSTIN", "512-555-0160")


def test_name_only_match_is_weak(crawl):
    assert crawl["wellness"] and all(r["match_method"] == "name_state" and r["match_score"] < npi_match.STRONG
                                     for r in crawl["wellness"])


def test_every_key_in_order(crawl):
    assert all(list(r) == list(NPI_FIELDS) for r in crawl["austin"] + crawl["wellness"])


@pytest.mark.parametrize("name, prefix", [("Ketamine Wellness Centers", "Ketamine Wellness*"),
                                          ("A&B Infusions, LLC", "A B*"), ("", None)])
def test_name_prefix(name, prefix):
    assert name_prefix(name) == prefix


def test_other_state_is_no_match():
    assert npi_match.score({"name": "X", "state": "CO"}, {"name": "X", "state": "TX"}) is None


def test_phone_match_scores_below_address():
    clinic = {"name": "Synthetic Mind Clinic", "state": "TX", "phone": "512-555-0100"}
    assert npi_match.score(clinic, {"name": "SYNTHETIC MIND CLINIC PLLC", "state": "TX", "phone": "5125550100"}) == ("name_phone", 0.95)
