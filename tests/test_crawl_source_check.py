"""A real `scrapy crawl source_check` in a subprocess against a small website on 127.0.0.1, with
a previous feed in the feed folder: a page read again with a new token (unchanged), a page whose
text changed, a page that is gone (404, read before), a redirect, a PDF, a server error, a
closed port (no answer, read before) and a path robots.txt forbids (never asked for; its record
says so and keeps the last known hash). Nothing leaves this machine."""

import json

import pytest

from crawlers.fetch import content_sha256
from crawlers.items import SOURCE_CHECK_FIELDS
from utils import FILES, LocalSite, crawl_stats, file_response, free_port, scrapy_crawl


def text_hash(name):
    return content_sha256(file_response(f"source_check/{name}", "https://synthetic.example.com/"))[0]


def page(name):
    return (FILES / "source_check" / name).read_text(encoding="utf-8")


ROUTES = {
    "/robots.txt": (200, {"Content-Type": "text/plain"}, "User-agent: *\nDisallow: /private/\n"),
    "/same": (200, {}, page("page_new_token.html")),
    "/changed": (200, {}, page("page_changed.html")),
    "/gone": (404, {}, "Not Found"),
    "/old": (301, {"Location": "/moved"}, ""),
    "/moved": (200, {}, page("page.html")),
    "/doc.pdf": (200, {"Content-Type": "application/pdf"}, (FILES / "source_check" / "document.pdf").read_bytes()),
    "/error": (500, {}, "Internal Server Error"),
    "/private/rules": (200, {}, page("page.html")),
}
OLD_HASH = "0" * 64  # the robots-forbidden page's hash at an earlier check


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    feed_dir = tmp_path_factory.mktemp("feeds")
    refused = f"http://127.0.0.1:{free_port()}/rules"
    with LocalSite(ROUTES) as site:
        base = f"http://127.0.0.1:{site.port}"
        previous = [
            {"url": f"{base}/same", "http_status": 200, "content_sha256": text_hash("page.html")},
            {"url": f"{base}/changed", "http_status": 200, "content_sha256": text_hash("page.html")},
            {"url": f"{base}/gone", "http_status": 200, "content_sha256": text_hash("page.html")},
            {"url": f"{base}/private/rules", "http_status": 200, "content_sha256": OLD_HASH},
            {"url": refused, "http_status": 200, "content_sha256": OLD_HASH},
        ]
        (feed_dir / "source_check.jsonl").write_text("".join(json.dumps(r) + "\n" for r in previous))
        urls = [f"{base}{path}" for path in ROUTES if path != "/robots.txt"] + [refused]
        log = scrapy_crawl("source_check", "-a", "urls=" + ",".join(urls), "-s", "RETRY_TIMES=0",
                           feed_dir=feed_dir)
    lines = (feed_dir / "source_check.jsonl").read_text(encoding="utf-8").splitlines()
    records = {r["url"]: r for r in map(json.loads, lines)}
    return {"records": records, "stats": crawl_stats(log), "requested": site.requested, "base": base,
            "refused": refused, "urls": urls, "log": log}


def record(crawl, path):
    return crawl["records"][crawl["base"] + path]


def test_one_record_per_address(crawl):
    assert sorted(crawl["records"]) == sorted(crawl["urls"])


def test_record_keys(crawl):
    assert all(list(r) == list(SOURCE_CHECK_FIELDS) for r in crawl["records"].values())


def test_new_token_is_not_a_change(crawl):
    assert (record(crawl, "/same")["changed"], record(crawl, "/same")["content_sha256"]) == (
        False, text_hash("page.html"))


def test_changed_text_is_a_change(crawl):
    assert record(crawl, "/changed")["changed"] is True


def test_changed_keeps_the_previous_hash(crawl):
    assert record(crawl, "/changed")["previous_sha256"] == text_hash("page.html")


def test_gone_page_disappeared(crawl):
    gone = record(crawl, "/gone")
    assert (gone["http_status"], gone["disappeared"], gone["content_sha256"], gone["error"]) == (
        404, True, None, "http_404")


def test_redirect_final_url(crawl):
    moved = record(crawl, "/old")
    assert (moved["final_url"], moved["http_status"]) == (crawl["base"] + "/moved", 200)


def test_first_check_is_neither_changed_nor_disappeared(crawl):
    moved = record(crawl, "/old")
    assert (moved["changed"], moved["disappeared"], moved["previous_sha256"]) == (False, False, None)


def test_pdf_hashed_as_bytes(crawl):
    import hashlib
    body = (FILES / "source_check" / "document.pdf").read_bytes()
    assert record(crawl, "/doc.pdf")["content_sha256"] == hashlib.sha256(body).hexdigest()


def test_server_error_not_read_before_did_not_disappear(crawl):
    error = record(crawl, "/error")
    assert (error["http_status"], error["disappeared"], error["error"]) == (500, False, "http_500")


def test_no_answer_after_an_answer_disappeared(crawl):
    refused = crawl["records"][crawl["refused"]]
    assert (refused["http_status"], refused["disappeared"], refused["error"]) == (
        None, True, "DownloadConnectionRefusedError")


def test_robots_forbidden_path_never_asked_for(crawl):
    assert "/private/rules" not in crawl["requested"]


def test_robots_forbidden_path_reported(crawl):
    forbidden = record(crawl, "/private/rules")
    assert (forbidden["error"], forbidden["http_status"], forbidden["changed"], forbidden["disappeared"],
            forbidden["previous_sha256"]) == ("robots_txt_disallowed", None, False, False, OLD_HASH)


def test_sources_are_the_address(crawl):
    assert all(r["sources"] == [url] for url, r in crawl["records"].items())


def test_robots_txt_read(crawl):
    assert crawl["requested"][0] == "/robots.txt"


@pytest.mark.parametrize("key, value", [
    ("item_scraped_count", 9),
    ("source_check/urls", 9),
    ("source_check/ok", 5),
    ("source_check/changed", 1),
    ("source_check/disappeared", 2),
    ("source_check/first_check", 4),
    ("source_check/redirected", 1),
    ("source_check/hashed/text", 4),
    ("source_check/hashed/bytes", 1),
    ("source_check/failed/http_404", 1),
    ("source_check/failed/http_500", 1),
    ("source_check/not_asked/robots_txt_disallowed", 1),
    ("source_check/unanswered", None),
    ("feedguard/replaced", 1),
    ("feedguard/previous_lines", 5),
])
def test_stats(crawl, key, value):
    assert crawl["stats"].get(key) == value


def test_only_the_record_pipeline_ran(crawl):
    assert "crawlers.pipelines.records.RecordPipeline" in crawl["log"] and "VocabularyPipeline" not in crawl["log"]
