"""source_check without a network: the content hash, the comparison with the previous check,
what each kind of failure means, and which addresses the curated data cites."""

import hashlib
import json

import pytest
from scrapy import Request
from scrapy.exceptions import CannotResolveHostError, DownloadCancelledError, IgnoreRequest
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawlers.fetch import content_sha256, failure_outcome, visible_text
from crawlers.items import SOURCE_CHECK_FIELDS
from crawlers.spiders.source_check import SourceCheckSpider, read_previous
from kad import CURATED
from kad.checks import cited_urls
from utils import FILES, crawl_offline, file_response, start_requests

BASE = "https://synthetic-regulator.example.com/"


def response(name, url=BASE + "review"):
    return file_response(f"source_check/{name}", url)


def digest(name):
    return content_sha256(response(name))[0]


# --- the content hash ----------------------------------------------------------------------

def test_new_token_same_hash():
    assert digest("page.html") == digest("page_new_token.html")


def test_changed_text_new_hash():
    assert digest("page.html") != digest("page_changed.html")


def test_html_hashed_as_text():
    assert content_sha256(response("page.html"))[1] == "text"


def test_pdf_hashed_as_bytes():
    body = (FILES / "source_check" / "document.pdf").read_bytes()
    assert content_sha256(response("document.pdf")) == (hashlib.sha256(body).hexdigest(), "bytes")


def test_visible_text_leaves_out_scripts_forms_and_navigation():
    text = visible_text(response("page.html"))
    assert ("4f1c9a7e0b" in text, "Subscribe" in text, "Log in" in text) == (False, False, False)


def test_visible_text_keeps_the_text():
    assert "You have 4 months from the final denial to ask." in visible_text(response("page.html"))


# --- comparing with the previous check ------------------------------------------------------

def make_spider(urls, previous=()):
    spider = SourceCheckSpider.from_crawler(get_crawler(SourceCheckSpider, {"FEED_DIR": str(FILES / "no-such-folder")}),
                                            urls=",".join(urls))
    spider.previous = {record["url"]: record for record in previous}
    return spider


URLS = [BASE + path for path in ("same", "changed", "gone", "new", "gone-again")]
PREVIOUS = [
    {"url": BASE + "same", "http_status": 200, "content_sha256": digest("page.html"),
     "changed_at": "2026-11-01T00:00:00+00:00"},
    {"url": BASE + "changed", "http_status": 200, "content_sha256": digest("page.html")},
    {"url": BASE + "gone", "http_status": 200, "content_sha256": digest("page.html")},
    {"url": BASE + "gone-again", "http_status": 404, "content_sha256": None, "previous_sha256": digest("page.html")},
]
spider = make_spider(URLS, PREVIOUS)
ITEMS, _ = crawl_offline(spider, {BASE + "same": "source_check/page_new_token.html",
                                  BASE + "changed": "source_check/page_changed.html",
                                  BASE + "new": "source_check/page.html"})
BY_URL = {item["url"]: item for item in ITEMS}
same, changed, gone, new, gone_again = (BY_URL[url] for url in URLS)


def test_every_address_has_a_record():
    assert sorted(BY_URL) == sorted(URLS)


def test_same_text_not_changed():
    assert same["changed"] is False


def test_same_text_previous_hash():
    assert same["previous_sha256"] == digest("page.html")


def test_changed_text_changed():
    assert changed["changed"] is True


def test_changed_text_records_when():
    assert changed["changed_at"] == changed["checked_at"]


def test_earlier_change_date_is_carried_forward():
    assert same["changed_at"] == "2026-11-01T00:00:00+00:00"


def test_never_changed_has_no_change_date():
    assert new["changed_at"] is None


def test_changed_text_hash():
    assert changed["content_sha256"] == digest("page_changed.html")


def test_gone_disappeared():
    assert gone["disappeared"] is True


def test_gone_status():
    assert gone["http_status"] == 404


def test_gone_error():
    assert gone["error"] == "http_404"


def test_gone_has_no_hash():
    assert gone["content_sha256"] is None


def test_still_gone_is_still_disappeared():
    assert gone_again["disappeared"] is True


def test_still_gone_keeps_the_last_known_hash():
    assert gone_again["previous_sha256"] == digest("page.html")


def test_first_check_not_changed():
    assert (new["changed"], new["disappeared"], new["previous_sha256"]) == (False, False, None)


def test_final_url():
    assert new["final_url"] == BASE + "new"


def test_checked_at():
    assert new["checked_at"].endswith("Z")


@pytest.mark.parametrize("item", ITEMS)
def test_every_key_in_order(item):
    assert list(item) == list(SOURCE_CHECK_FIELDS)


def test_counts():
    stats = spider.crawler.stats
    assert [stats.get_value(f"source_check/{k}") for k in ("urls", "changed", "disappeared", "first_check", "ok")] == [
        5, 1, 2, 1, 3]


def test_address_scrapy_cannot_fetch_counted_not_requested():
    odd = make_spider(["not a url", BASE + "ok"])
    assert ([r.url for r in start_requests(odd)], odd.crawler.stats.get_value("source_check/invalid_url")) == (
        [BASE + "ok"], 1)


# --- failures --------------------------------------------------------------------------------

def failure(error):
    result = Failure(error)
    result.request = Request(BASE + "x")
    return result


@pytest.mark.parametrize("error, reason, unreachable", [
    (IgnoreRequest("Forbidden by robots.txt"), "robots_txt_disallowed", False),
    (CannotResolveHostError("no such host"), "CannotResolveHostError", True),
    (DownloadCancelledError("too big"), "too_large", False),
    (IgnoreRequest("max redirections reached"), "IgnoreRequest", False),
])
def test_failure_outcome(error, reason, unreachable):
    outcome = failure_outcome(failure(error))
    assert (outcome.reason, outcome.unreachable, outcome.http_status) == (reason, unreachable, None)


# --- the previous feed and the cited addresses ------------------------------------------------

def test_previous_feed_bad_lines_counted(tmp_path):
    path = tmp_path / "source_check.jsonl"
    path.write_text(json.dumps({"url": BASE, "content_sha256": "a" * 64}) + "\nnot json\n{}\n")
    previous, bad = read_previous(path)
    assert (list(previous), bad) == ([BASE], 2)


def test_cited_urls_of_every_curated_file(tmp_path):
    (tmp_path / "state_laws").mkdir()
    (tmp_path / "state_laws" / "topic.yml").write_text("topic: t\nrows:\n- {state: TX, sources: [https://a.example.com/]}\n")
    (tmp_path / "federal_rules.yml").write_text("- {id: r, sources: [https://b.example.com/]}\n")
    (tmp_path / "insurer_policies.yml").write_text("- {insurer: Aetna, sources: [https://c.example.com/, https://a.example.com/]}\n")
    (tmp_path / "states.yml").write_text("- {code: TX, sources: [https://d.example.com/]}\n")
    (tmp_path / "clinics_seed.jsonl").write_text('{"name": "Synthetic", "source_urls": ["https://e.example.com/"]}\n')
    assert cited_urls(tmp_path) == [f"https://{h}.example.com/" for h in "abcde"]


def test_real_curated_data_cites_web_addresses():
    urls = cited_urls(CURATED)
    assert len(urls) > 500 and all(url.startswith(("http://", "https://")) for url in urls)


def test_spider_checks_the_curated_addresses_by_default():
    assert SourceCheckSpider().urls == cited_urls(CURATED)
