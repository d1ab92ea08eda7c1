"""plan_net against saved Plan-Net answers (tests/files/plan_net/): the capability statement, two
pages of InsurancePlans, two pages of OrganizationAffiliations found by specialty, the roles of an
organisation found by name."""

from urllib.parse import parse_qsl, urlsplit

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler

from crawlers.items import NETWORK_FIELDS
from crawlers.spiders.plan_net import PlanNetSpider, retry_after_seconds
from utils import file_response, start_requests

BASE = "http://127.0.0.1:8999/fhir"


def make_spider(**args):
    return PlanNetSpider.from_crawler(get_crawler(PlanNetSpider), **args)


def read(spider, name, url, purpose="search"):
    output = list(spider.read(file_response(f"plan_net/{name}", url), purpose))
    return ([o for o in output if not isinstance(o, Request)], [o for o in output if isinstance(o, Request)])


def search_of(request):
    parts = urlsplit(request.url)
    return parts.path.rsplit("/", 1)[1], [(k, v) for k, v in parse_qsl(parts.query) if k not in ("_include", "_count")]


spider = make_spider(base_url=BASE + "/", insurer="humana", count="2")
first_request, = start_requests(spider)
_, plan_requests = read(spider, "metadata.json", first_request.url, "metadata")
_, next_plans = read(spider, "plans_page1.json", plan_requests[0].url, "plans")
_, searches = read(spider, "plans_page2.json", next_plans[0].url, "plans")
affiliation_search = next(r for r in searches if search_of(r)[0] == "OrganizationAffiliation")
page1_items, page1_requests = read(spider, "affiliations_page1.json", affiliation_search.url)
page2_items, page2_requests = read(spider, "affiliations_page2.json", page1_requests[0].url)
organisation_search = next(r for r in searches if search_of(r) == ("Organization", [("name", "ketamine")]))
_, followed = read(spider, "organizations_ketamine.json", organisation_search.url)
role_items, _ = read(spider, "roles_of_org.json", followed[1].url)
duplicate_items, _ = read(spider, "affiliations_of_org.json", followed[0].url)
hmo, ppo = page1_items
dallas, = page2_items
psychiatrist, = role_items
ALL_ITEMS = page1_items + page2_items + role_items
stats = spider.crawler.stats


# --- requests ------------------------------------------------------------------------------

def test_first_asks_for_the_capability_statement():
    assert first_request.url == BASE + "/metadata"


def test_then_every_insurance_plan_page():
    assert [r.url for r in plan_requests + next_plans] == [BASE + "/InsurancePlan?_count=2",
                                                          BASE + "/InsurancePlan?_count=2&page=2"]


def test_searches_after_the_last_plan_page():
    assert [search_of(r) for r in searches] == [
        ("Organization", [("name", "ketamine")]), ("HealthcareService", [("name", "ketamine")]),
        ("Organization", [("name", "esketamine")]), ("HealthcareService", [("name", "esketamine")]),
        ("Organization", [("name", "spravato")]), ("HealthcareService", [("name", "spravato")]),
        ("OrganizationAffiliation", [("specialty", "http://nucc.org/provider-taxonomy|261QI0500X")])]


def test_role_searches_include_network_location_and_provider():
    assert [v for k, v in parse_qsl(urlsplit(affiliation_search.url).query) if k == "_include"] == [
        "OrganizationAffiliation:participating-organization", "OrganizationAffiliation:location",
        "OrganizationAffiliation:network"]


def test_bundle_next_link_followed():
    assert page1_requests[0].url.endswith("&page=2")


def test_last_page_asks_for_nothing_more():
    assert page2_requests == []


def test_organisation_found_by_name_leads_to_its_roles():
    assert [search_of(r) for r in followed] == [
        ("OrganizationAffiliation", [("participating-organization", "Organization/org-ketamine")]),
        ("PractitionerRole", [("organization", "Organization/org-ketamine")])]


def test_npi_search_only_where_supported():
    by_npi = make_spider(base_url=BASE, insurer="humana", npis="1234567893")
    _, plans = read(by_npi, "metadata.json", BASE + "/metadata", "metadata")
    _, asked = read(by_npi, "plans_page2.json", plans[0].url, "plans")
    assert ([search_of(r) for r in asked][-1], by_npi.crawler.stats.get_value("plan_net/skipped/unsupported_search")) == (
        ("Organization", [("identifier", "http://hl7.org/fhir/sid/us-npi|1234567893")]), 1)


def test_state_search_needs_location_name_support():
    by_state = make_spider(base_url=BASE, insurer="humana", states="TX")
    _, plans = read(by_state, "metadata.json", BASE + "/metadata", "metadata")
    read(by_state, "plans_page2.json", plans[0].url, "plans")
    assert by_state.crawler.stats.get_value("plan_net/skipped/unsupported_search") == 3


def test_without_capability_statement_plan_net_searches_assumed():
    bare = make_spider(base_url=BASE, insurer="humana")
    _, asked = read(bare, "empty.json", BASE + "/metadata", "metadata")
    assert (asked[0].url, bare.crawler.stats.get_value("plan_net/no_capability_statement")) == (
        BASE + "/InsurancePlan?_count=100", 1)


def test_payer_from_the_curated_list():
    assert (make_spider(payer="humana").base_url, make_spider(payer="humana").insurer) == (
        "https://fhir.humana.com/api", "humana")


def test_payer_without_a_known_address_is_refused():
    with pytest.raises(ValueError, match="no endpoint address"):
        make_spider(payer="unitedhealthcare")


def test_unknown_insurer_is_refused():
    with pytest.raises(ValueError, match="insurers.yml"):
        make_spider(base_url=BASE, insurer="no-such-insurer")


def test_not_a_bundle_is_a_counted_drop():
    broken = make_spider(base_url=BASE, insurer="humana")
    assert (read(broken, "operation_outcome.json", BASE + "/Organization?name=x"),
            broken.crawler.stats.get_value("plan_net/dropped/malformed_bundle")) == (([], []), 1)


@pytest.mark.parametrize("header, seconds", [("7", 7), (b"12", 12), ("Wed, 21 Oct 2026 07:28:30 GMT", 30), ("soon", None), (None, None)])
def test_retry_after(header, seconds):
    now = 1792567680  # 2026-10-21 07:28:00 UTC
    assert retry_after_seconds(header, now=now) == seconds


# --- records -------------------------------------------------------------------------------

def test_one_record_per_network():
    assert [r["network"] for r in page1_items] == ["Synthetic Gold Plus HMO Network", "Synthetic Choice PPO Network"]


def test_npi_of_the_participating_organisation():
    assert hmo["npi"] == "1234567893"


def test_insurer():
    assert hmo["insurer_id"] == "humana"


def test_evidence():
    assert hmo["evidence"] == "payer_directory"


def test_plan_ids_from_insurance_plan_network():
    assert hmo["plan_ids"] == ["H9999-001"]


def test_plan_ids_from_plan_network():
    assert ppo["plan_ids"] == ["H9999-002"]


def test_name():
    assert hmo["name"] == "Synthetic Ketamine Center of Austin"


def test_street_from_location_lines():
    assert hmo["street"] == "100 Congress Ave Ste 300"


def test_city_state_zip():
    assert (hmo["city"], hmo["state"], hmo["postal_code"]) == ("Austin", "TX", "78701")


def test_phone_of_the_location():
    assert hmo["phone"] == "512-555-0160"


def test_detail_resource():
    assert hmo["detail"]["resource"] == "OrganizationAffiliation/aff-austin"


def test_detail_network_id():
    assert hmo["detail"]["network_id"] == "Organization/net-hmo"


def test_detail_network_manager():
    assert hmo["detail"]["network_managed_by"] == "Synthetic Health Plan Inc"


def test_detail_plans():
    assert hmo["detail"]["plans"] == [{"id": "H9999-001", "name": "Synthetic Gold Plus HMO"}]


def test_detail_specialties():
    assert hmo["detail"]["specialties"] == ["261QI0500X"]


def test_detail_accepting_new_patients():
    assert hmo["detail"]["accepting_new_patients"] == "newpt"


def test_source_url_is_the_bundle_page():
    assert (hmo["source_url"], hmo["sources"]) == (affiliation_search.url, [affiliation_search.url])


def test_absolute_reference_resolved():
    assert (dallas["npi"], dallas["name"], dallas["city"]) == ("1666010206", "Synthetic Infusion Associates", "Dallas")


def test_practitioner_npi_from_the_role():
    assert psychiatrist["npi"] == "1987654328"


def test_practitioner_name():
    assert psychiatrist["name"] == "Synthetic, Avery"


def test_practitioner_network_from_the_extension():
    assert (psychiatrist["network"], psychiatrist["plan_ids"]) == ("Synthetic Gold Plus HMO Network", ["H9999-001"])


def test_practitioner_specialty():
    assert psychiatrist["detail"]["specialties"] == ["2084P0800X"]


def test_role_found_twice_yielded_once():
    assert (duplicate_items, stats.get_value("plan_net/skipped/duplicate")) == ([], 2)


def test_organisation_without_npi_is_a_counted_drop():
    assert stats.get_value("plan_net/dropped/no_npi") == 1


def test_resource_without_id_is_a_counted_drop():
    assert stats.get_value("plan_net/dropped/malformed_resource") == 1


def test_insurance_plans_counted():
    assert stats.get_value("plan_net/insurance_plans") == 2


def test_other_states_skipped():
    texas = make_spider(base_url=BASE, insurer="humana", states="CO")
    _, plans = read(texas, "metadata.json", BASE + "/metadata", "metadata")
    items, _ = read(texas, "affiliations_page2.json", affiliation_search.url)
    assert (items, texas.crawler.stats.get_value("plan_net/skipped/other_state")) == ([], 1)


@pytest.mark.parametrize("item", ALL_ITEMS)
def test_every_key_in_order(item):
    assert list(item) == list(NETWORK_FIELDS)


@pytest.mark.parametrize("item", ALL_ITEMS)
def test_names_are_synthetic(item):
    assert item["name"].startswith("Synthetic")
