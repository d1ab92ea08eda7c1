"""A real `scrapy crawl insurer_policy` in a subprocess against the saved policy pages served on
127.0.0.1 (tests/files/insurer_policy/policies.yml with its addresses pointed there), through the
record pipeline: a PDF arrives as a real binary response and is counted, not read."""

import json

import pytest
import yaml

from crawlers.items import POLICY_PAGE_FIELDS
from utils import FILES, LocalSite, crawl_stats, scrapy_crawl

SYNTHETIC = "https://synthetic-plan.example.com/policies/"
ROUTES = {
    "/policies/labelled": (200, {}, (FILES / "insurer_policy" / "labelled.html").read_text()),
    "/policies/structured": (200, {}, (FILES / "insurer_policy" / "structured.html").read_text()),
    "/policies/definitions": (200, {}, (FILES / "insurer_policy" / "definitions.html").read_text()),
    "/policies/none": (200, {}, (FILES / "insurer_policy" / "none.html").read_text()),
    "/policies/policy.pdf": (200, {"Content-Type": "application/pdf"}, (FILES / "insurer_policy" / "policy.pdf").read_bytes()),
}


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    folder = tmp_path_factory.mktemp("insurer_policy")
    with LocalSite(ROUTES) as site:
        base = f"http://127.0.0.1:{site.port}/policies/"
        rows = yaml.safe_load((FILES / "insurer_policy" / "policies.yml").read_text())
        for row in rows:
            row["sources"] = [url.replace(SYNTHETIC, base) for url in row["sources"]]
        (folder / "policies.yml").write_text(yaml.safe_dump(rows))
        log = scrapy_crawl("insurer_policy", "-a", f"policies={folder / 'policies.yml'}", "-s", "RETRY_TIMES=0",
                           feed_dir=folder)
    records = [json.loads(line) for line in (folder / "insurer_policy.jsonl").read_text().splitlines()]
    return {"records": {r["policy_row"]: r for r in records}, "stats": crawl_stats(log), "requested": site.requested}


def test_one_record_per_named_row(crawl):
    assert len(crawl["records"]) == 7


def test_record_keys(crawl):
    assert all(list(r) == list(POLICY_PAGE_FIELDS) for r in crawl["records"].values())


def test_differs_as_read(crawl):
    assert {row: r["differs"] for row, r in crawl["records"].items() if r["differs"]} == {
        "cigna:commercial:US:esketamine_spravato:suicidal_ideation": ["last_reviewed"],
        "aetna:commercial:US:iv_ketamine:chronic_pain": ["title", "effective_date", "last_reviewed"]}


def test_errors(crawl):
    assert {row: r["error"] for row, r in crawl["records"].items() if r["error"]} == {
        "molina-healthcare:medicaid:TX:esketamine_spravato:depression": "pdf_not_read",
        "kaiser-permanente:commercial:US:iv_ketamine:depression": "http_404"}


def test_each_page_asked_for_once(crawl):
    pages = [p for p in crawl["requested"] if p != "/robots.txt"]
    assert sorted(pages) == sorted(set(pages)) and len(pages) == 6


@pytest.mark.parametrize("key, value", [
    ("item_scraped_count", 7),
    ("insurer_policy/read", 4),
    ("insurer_policy/skipped/pdf", 1),
    ("insurer_policy/failed/http_404", 1),
    ("insurer_policy/rows_left_out", 1),
    ("feedguard/replaced", 1),
])
def test_stats(crawl, key, value):
    assert crawl["stats"].get(key) == value
