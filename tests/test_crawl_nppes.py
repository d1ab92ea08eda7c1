"""A real `scrapy crawl nppes` in a subprocess against a local copy of the NPI Registry API
(127.0.0.1 serving the saved answers of tests/files/nppes/), through every pipeline."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from crawlers.items import CLINIC_FIELDS
from utils import FILES, LocalSite, crawl_stats, scrapy_crawl


def registry(path):
    """The saved answer for a request of the spider (states=TX, limit=2)."""
    parts = urlsplit(path)
    if parts.path != "/api/":
        return None
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    name = query.get("organization_name")
    if query.get("taxonomy_description") == "Infusion Therapy":
        answer = {"0": "infusion_tx.json", "2": "empty.json"}[query["skip"]]
    elif name == "ketamine*":
        answer = {"0": "ketamine_tx_page1.json", "2": "ketamine_tx_page2.json"}[query["skip"]]
    elif name == "esketamine*":
        answer = "empty.json"
    else:
        answer = "error.json"
    return 200, {"Content-Type": "application/json"}, (FILES / "nppes" / answer).read_text()


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    feed_dir = tmp_path_factory.mktemp("feeds")
    with LocalSite(registry) as api:
        log = scrapy_crawl("nppes", "-a", "states=TX", "-a", "limit=2",
                           "-a", f"api_url=http://127.0.0.1:{api.port}/api/", feed_dir=feed_dir)
    records = [json.loads(line) for line in (feed_dir / "nppes.jsonl").read_text().splitlines()]
    return {"records": {r["npi"]: r for r in records}, "stats": crawl_stats(log),
            "requested": api.requested}


def test_records_by_npi(crawl):
    assert sorted(crawl["records"]) == ["1234567893", "1555010101", "1666010206", "1987654328"]


def test_six_api_requests(crawl):  # two pages of two queries, one of the two others
    assert len([p for p in crawl["requested"] if p.startswith("/api/")]) == 6


def test_record_normalised(crawl):
    record = crawl["records"]["1234567893"]
    assert (record["postal_code"], record["phone"], record["state"], record["street"]) == (
        "78701", "(512) 555-0160", "TX", "100 CONGRESS AVE STE 300")


def test_record_keys(crawl):
    assert all(list(r) == list(CLINIC_FIELDS) for r in crawl["records"].values())


def test_phone_without_separators(crawl):
    assert crawl["records"]["1666010206"]["phone"] == "(214) 555-0163"


@pytest.mark.parametrize("key, value", [
    ("item_scraped_count", 4),
    ("nppes/api_errors", 1),
    ("nppes/skipped/duplicate_npi", 1),
    ("nppes/skipped/not_ketamine", 1),
    ("vocab/mapped/treatments", 2),
    ("feedguard/replaced", 1),
])
def test_stats(crawl, key, value):
    assert crawl["stats"].get(key) == value
