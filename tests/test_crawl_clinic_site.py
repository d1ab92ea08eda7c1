"""Real crawls: `scrapy crawl clinic_site` in a subprocess against a small website on
127.0.0.1 (robots.txt, a redirect, broken pages, an off-site link to a second local server),
and the feed guard keeping a bigger previous feed. Nothing leaves this machine: the only
off-site link, and the only off-site redirect, point at a second local server, which must never
be asked for anything. The home page links /pricing and /pricing-old (a redirect to /pricing),
which must be read once."""

import json

import pytest

from crawlers.items import CLINIC_FIELDS
from utils import LocalSite, crawl_stats, scrapy_crawl

HOME = """<!DOCTYPE html><html><head><title>Synthetic Local Ketamine</title>
<script type="application/ld+json">
{{"@context": "https://schema.org", "@type": "MedicalClinic", "name": "Synthetic Local Ketamine",
 "telephone": "512-555-0170",
 "address": {{"@type": "PostalAddress", "streetAddress": "200 Synthetic Ave",
             "addressLocality": "Austin", "addressRegion": "TX", "postalCode": "78701"}}}}
</script></head><body>
<nav><a href="/insurance/">Insurance</a> <a href="/pricing-old">Pricing</a> <a href="/faq/">FAQ</a>
<a href="/services/">Services</a> <a href="/private/fees/">Fees</a> <a href="/pricing">Our prices</a>
<a href="/payment-options/">Payment options</a>
<a href="http://localhost:{offsite}/contact/">Contact</a> <a href="/blog/ketamine-news/">Blog</a></nav>
<p>IV ketamine infusions for depression and PTSD.</p>
</body></html>"""
INSURANCE = """<html><body><h1>Insurance</h1><p>We accept these insurance plans:</p>
<ul><li>Aetna</li><li>Cigna</li><li>Synthetic Mutual Health Plan</li></ul></body></html>"""
PRICING = """<html><body><p>Initial infusion: $500</p><p>Each additional infusion: $400</p></body></html>"""
NO_STATE = """<html><head><script type="application/ld+json">
{"@type": "MedicalClinic", "name": "Synthetic Stateless Clinic"}</script></head>
<body><p>Ketamine infusions.</p></body></html>"""


def routes(offsite_port):
    return {
        "/robots.txt": (200, {"Content-Type": "text/plain"}, "User-agent: *\nDisallow: /private/\n"),
        "/": (200, {}, HOME.format(offsite=offsite_port)),
        "/insurance/": (200, {}, INSURANCE),
        "/pricing-old": (301, {"Location": "/pricing"}, ""),
        "/payment-options/": (302, {"Location": f"http://localhost:{offsite_port}/payments/"}, ""),
        "/pricing": (200, {}, PRICING),
        "/faq/": (500, {}, "Internal Server Error"),
        "/services/": (404, {}, "Not Found"),
        "/private/fees/": (200, {}, PRICING),
        "/nostate/": (200, {}, NO_STATE),
    }


def crawl(port, feed_dir):
    return scrapy_crawl("clinic_site", "-a", f"start_urls=http://127.0.0.1:{port}/,http://127.0.0.1:{port}/nostate/",
                        "-s", "RETRY_TIMES=1", feed_dir=feed_dir)


@pytest.fixture(scope="module")
def finished_crawl(tmp_path_factory):
    feed_dir = tmp_path_factory.mktemp("feeds")
    with LocalSite({}) as offsite:
        with LocalSite(routes(offsite.port)) as site:
            log = crawl(site.port, feed_dir)
    lines = (feed_dir / "clinic_site.jsonl").read_text(encoding="utf-8").splitlines()
    return {"records": [json.loads(line) for line in lines], "log": log, "stats": crawl_stats(log),
            "requested": site.requested, "offsite": offsite.requested, "port": site.port,
            "offsite_port": offsite.port, "feed_dir": feed_dir}


@pytest.fixture(scope="module")
def record(finished_crawl):
    return finished_crawl["records"][0]


def test_one_record_written(finished_crawl):
    assert len(finished_crawl["records"]) == 1


def test_no_partial_feed_left(finished_crawl):
    assert sorted(p.name for p in finished_crawl["feed_dir"].iterdir()) == ["clinic_site.jsonl"]


def test_record_keys(record):
    assert list(record) == list(CLINIC_FIELDS)


def test_record_place(record):
    assert (record["name"], record["street"], record["city"], record["state"], record["postal_code"]) == (
        "Synthetic Local Ketamine", "200 Synthetic Ave", "Austin", "TX", "78701")


def test_record_phone_normalised(record):
    assert record["phone"] == "(512) 555-0170"


def test_record_insurers_mapped(record):
    assert (record["insurers"], record["unmapped"]["insurers"]) == (["aetna", "cigna"], ["Synthetic Mutual Health Plan"])


def test_record_prices_through_the_redirect(record):
    assert (record["price_initial_usd"], record["price_subsequent_usd"]) == (500, 400)


def test_record_sources(record, finished_crawl):
    base = f"http://127.0.0.1:{finished_crawl['port']}"
    assert record["sources"] == [f"{base}/", f"{base}/insurance/", f"{base}/pricing"]


def test_robots_txt_read_and_obeyed(finished_crawl):
    assert "/robots.txt" in finished_crawl["requested"]
    assert not any(path.startswith("/private/") for path in finished_crawl["requested"])


def test_offsite_server_never_asked(finished_crawl):
    assert finished_crawl["offsite"] == []


def test_every_download_was_to_the_clinic_site(finished_crawl):
    assert finished_crawl["stats"]["downloader/request_count"] == len(finished_crawl["requested"])


def test_offsite_redirect_logged(finished_crawl):
    assert f"to http://localhost:{finished_crawl['offsite_port']}/payments/" in finished_crawl["log"]


def test_blog_not_followed(finished_crawl):
    assert "/blog/ketamine-news/" not in finished_crawl["requested"]


def test_broken_pages_asked_for(finished_crawl):
    assert {"/faq/", "/services/", "/pricing-old", "/pricing"} <= set(finished_crawl["requested"])


@pytest.mark.parametrize("key, value", [
    ("item_scraped_count", 1),
    ("item_dropped_count", 1),
    ("pipeline/dropped/missing_state", 1),
    ("robotstxt/forbidden", 1),
    ("clinic_site/sites", 2),
    ("clinic_site/pages/failed/http_500", 1),
    ("clinic_site/pages/failed/http_404", 1),
    ("clinic_site/pages/failed/IgnoreRequest", 1),
    ("vocab/unmapped/insurers", 1),
    ("vocab/mapped/insurers", 2),
    ("pipeline/cleaned/phone", 1),
    ("feedguard/replaced", 1),
    ("feedguard/new_lines", 1),
    ("clinic_site/pages/redirect_refused", 1),
    ("clinic_site/pages/redirect_seen", 1),
    ("dupefilter/filtered", None),
])
def test_stats(finished_crawl, key, value):
    assert finished_crawl["stats"].get(key) == value


def test_guard_keeps_a_much_bigger_previous_feed(tmp_path):
    previous = "".join(json.dumps({"source_id": f"site:synthetic-old-{n}", "name": f"Synthetic Old {n}"}) + "\n"
                       for n in range(5))
    (tmp_path / "clinic_site.jsonl").write_text(previous, encoding="utf-8")
    with LocalSite({}) as offsite:
        with LocalSite(routes(offsite.port)) as site:
            log = crawl(site.port, tmp_path)
    stats = crawl_stats(log)
    assert (tmp_path / "clinic_site.jsonl").read_text(encoding="utf-8") == previous
    assert len((tmp_path / "clinic_site.jsonl.partial").read_text(encoding="utf-8").splitlines()) == 1
    assert (stats.get("feedguard/kept_previous"), stats.get("feedguard/previous_lines")) == (1, 5)
    assert "Feed guard: kept the previous" in log
