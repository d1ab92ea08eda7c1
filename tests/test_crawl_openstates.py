"""Real `scrapy crawl openstates` runs in a subprocess against a local copy of the Open States
API (127.0.0.1 serving the saved pages of tests/files/openstates/): without a key (no request at
all, the previous feed kept), with a key (every page of every term, the key in a header only),
and with a key the API refuses (the crawl stops and the previous feed is kept)."""

import json
import os
from urllib.parse import parse_qs, urlsplit

import pytest

from crawlers.items import BILL_FIELDS
from utils import FILES, LocalSite, crawl_stats, scrapy_crawl

KEY = "synthetic-test-key-0000"
PAGES = {("ketamine", "1"): "ketamine_page1.json", ("ketamine", "2"): "ketamine_page2.json",
         ("esketamine", "1"): "esketamine.json"}
PREVIOUS = '{"id": "ocd-bill/synthetic-old", "state": "TX"}\n'


def api(path):
    """The saved answer for a bill search of the spider (per_page=2)."""
    parts = urlsplit(path)
    if parts.path != "/bills":
        return None
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    name = PAGES.get((query["q"], query["page"]), "empty.json")
    return 200, {"Content-Type": "application/json"}, (FILES / "openstates" / name).read_text()


def refusing(path):
    return 401, {"Content-Type": "application/json"}, (FILES / "openstates" / "error.json").read_text()


def environment(key=None):
    env = {k: v for k, v in os.environ.items() if k != "OPENSTATES_API_KEY"}
    if key:
        env["OPENSTATES_API_KEY"] = key
    return env


def run(tmp_path, routes, key):
    (tmp_path / "openstates.jsonl").write_text(PREVIOUS)
    with LocalSite(routes) as site:
        log = scrapy_crawl("openstates", "-a", f"api_url=http://127.0.0.1:{site.port}/bills", "-a", "per_page=2",
                           feed_dir=tmp_path, env=environment(key))
    return {"log": log, "stats": crawl_stats(log), "site": site,
            "feed": (tmp_path / "openstates.jsonl").read_text()}


# -- without a key ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keyless(tmp_path_factory):
    return run(tmp_path_factory.mktemp("keyless"), api, key=None)


def test_without_key_no_request(keyless):
    assert keyless["site"].requested == []


def test_without_key_says_so(keyless):
    assert "OPENSTATES_API_KEY is not set" in keyless["log"]


def test_without_key_previous_feed_kept(keyless):
    assert keyless["feed"] == PREVIOUS


def test_without_key_counted(keyless):
    assert (keyless["stats"].get("openstates/no_api_key"), keyless["stats"].get("downloader/request_count")) == (1, None)


# -- with a key ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    result = run(tmp_path_factory.mktemp("keyed"), api, key=KEY)
    result["bills"] = {b["identifier"]: b for b in map(json.loads, result["feed"].splitlines())}
    result["api_requests"] = [(path, headers) for path, headers in zip(result["site"].requested, result["site"].headers)
                              if path.startswith("/bills")]
    return result


def test_every_page_of_every_term(keyed):
    asked = [(parse_qs(urlsplit(p).query)["q"][0], parse_qs(urlsplit(p).query)["page"][0]) for p, _ in keyed["api_requests"]]
    assert asked == [("ketamine", "1"), ("ketamine", "2"), ("esketamine", "1"), ("psilocybin", "1"),
                     ("psychedelic therapy", "1")]


def test_key_sent_in_the_header(keyed):
    assert all({k.lower(): v for k, v in headers.items()}.get("x-api-key") == KEY for _, headers in keyed["api_requests"])


def test_key_never_in_a_url(keyed):
    assert not any(KEY in path for path in keyed["site"].requested)


def test_key_never_in_the_feed_or_log(keyed):
    assert KEY not in keyed["feed"] and KEY not in keyed["log"]


def test_bills_of_states_only(keyed):
    assert sorted(keyed["bills"]) == ["B26-9905", "HB 9901", "LB 9904", "SB 25-9903"]


def test_record_keys(keyed):
    assert all(list(b) == list(BILL_FIELDS) for b in keyed["bills"].values())


def test_bill_found_twice_written_once_with_both_terms(keyed):
    assert keyed["bills"]["HB 9901"]["matched_terms"] == ["ketamine", "esketamine"]


def test_status_through_the_pipeline(keyed):
    assert {i: b["status"] for i, b in keyed["bills"].items()} == {
        "HB 9901": "enacted", "SB 25-9903": "in_committee", "LB 9904": "vetoed", "B26-9905": "introduced"}


@pytest.mark.parametrize("key, value", [
    ("item_scraped_count", 4),
    ("openstates/requests", 5),
    ("openstates/results", 6),
    ("openstates/bills", 4),
    ("openstates/duplicates", 1),
    ("openstates/skipped/not_a_state", 1),
    ("openstates/api_errors", None),
    ("feedguard/replaced", 1),
])
def test_stats(keyed, key, value):
    assert keyed["stats"].get(key) == value


# -- a refused key ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    return run(tmp_path_factory.mktemp("refused"), refusing, key=KEY)


def test_refused_key_stops_the_crawl(refused):
    assert "'finish_reason': 'openstates_api_error'" in refused["log"]


def test_refused_key_keeps_the_previous_feed(refused):
    assert refused["feed"] == PREVIOUS


def test_refused_key_logged(refused):
    assert "HTTP 401 (the API key was refused)" in refused["log"]


def test_refused_key_asked_once(refused):
    assert len([p for p in refused["site"].requested if p.startswith("/bills")]) == 1
