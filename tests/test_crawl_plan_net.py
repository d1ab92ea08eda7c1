"""A real `scrapy crawl plan_net` in a subprocess against a small Plan-Net server on 127.0.0.1
(the saved answers of tests/files/plan_net/): several pages, a 429 with Retry-After, a 500, a
page that is not a Bundle, a malformed resource and an organisation without an NPI, through every
pipeline and the feed guard."""

import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from crawlers.items import NETWORK_FIELDS
from utils import FILES, LocalSite, crawl_stats, scrapy_crawl

SPECIALTY = "http://nucc.org/provider-taxonomy|261QI0500X"


class PlanNetServer:
    """Routes of the fake directory; the first spravato search is refused with a 429."""

    def __init__(self):
        self.port = None
        self.refused = False

    def answer(self, name, status=200, headers=None):
        body = (FILES / "plan_net" / name).read_text().replace("http://127.0.0.1:8999", f"http://127.0.0.1:{self.port}")
        return status, {"Content-Type": "application/fhir+json", **(headers or {})}, body

    def __call__(self, path):
        parts = urlsplit(path)
        if not parts.path.startswith("/fhir/"):
            return None
        kind = parts.path.removeprefix("/fhir/")
        query = dict(parse_qsl(parts.query))
        if kind == "metadata":
            return self.answer("metadata.json")
        if kind == "InsurancePlan":
            return self.answer("plans_page2.json" if query.get("page") == "2" else "plans_page1.json")
        if kind == "Organization" and query.get("name") == "ketamine":
            return self.answer("organizations_ketamine.json")
        if kind == "Organization" and query.get("name") == "spravato" and not self.refused:
            self.refused = True
            return self.answer("operation_outcome.json", 429, {"Retry-After": "1"})
        if kind == "HealthcareService" and query.get("name") == "esketamine":
            return self.answer("operation_outcome.json", 500)
        if kind == "HealthcareService" and query.get("name") == "spravato":
            return 200, {"Content-Type": "text/html"}, "<html>maintenance</html>"
        if kind == "OrganizationAffiliation" and query.get("specialty") == SPECIALTY:
            return self.answer("affiliations_page2.json" if query.get("page") == "2" else "affiliations_page1.json")
        if kind == "OrganizationAffiliation" and query.get("participating-organization") == "Organization/org-ketamine":
            return self.answer("affiliations_of_org.json")
        if kind == "PractitionerRole" and query.get("organization") == "Organization/org-ketamine":
            return self.answer("roles_of_org.json")
        return self.answer("empty.json")


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    feed_dir = tmp_path_factory.mktemp("feeds")
    server = PlanNetServer()
    with LocalSite(server) as site:
        server.port = site.port
        log = scrapy_crawl("plan_net", "-a", f"base_url=http://127.0.0.1:{site.port}/fhir", "-a", "insurer=humana",
                           "-a", "count=2", "-s", "RETRY_TIMES=1", feed_dir=feed_dir)
    records = [json.loads(line) for line in (feed_dir / "plan_net.jsonl").read_text().splitlines()]
    return {"records": records, "stats": crawl_stats(log), "requested": site.requested, "log": log}


def test_records(crawl):
    assert sorted((r["npi"], r["network"]) for r in crawl["records"]) == [
        ("1234567893", "Synthetic Choice PPO Network"), ("1234567893", "Synthetic Gold Plus HMO Network"),
        ("1666010206", "Synthetic Choice PPO Network"), ("1987654328", "Synthetic Gold Plus HMO Network")]


def test_record_keys(crawl):
    assert all(list(r) == list(NETWORK_FIELDS) for r in crawl["records"])


def test_every_page_read(crawl):
    assert [p for p in crawl["requested"] if "page=2" in p] == [
        "/fhir/InsurancePlan?_count=2&page=2",
        "/fhir/OrganizationAffiliation?specialty=http%3A%2F%2Fnucc.org%2Fprovider-taxonomy%7C261QI0500X&page=2"]


def test_429_asked_again_after_retry_after(crawl):
    assert len([p for p in crawl["requested"] if p.startswith("/fhir/Organization?name=spravato")]) == 2


def test_500_retried_then_left_out(crawl):
    assert len([p for p in crawl["requested"] if p.startswith("/fhir/HealthcareService?name=esketamine")]) == 2


def test_state_normalised_by_the_pipeline(crawl):
    assert {r["state"] for r in crawl["records"]} == {"TX"}


@pytest.mark.parametrize("key, value", [
    ("item_scraped_count", 4),
    ("plan_net/records", 4),
    ("plan_net/rate_limited", 1),
    ("plan_net/dropped/http_500", 1),
    ("plan_net/dropped/malformed_bundle", 1),
    ("plan_net/dropped/malformed_resource", 1),
    ("plan_net/dropped/no_npi", 1),
    ("plan_net/insurance_plans", 2),
    ("feedguard/replaced", 1),
])
def test_stats(crawl, key, value):
    assert crawl["stats"].get(key) == value
