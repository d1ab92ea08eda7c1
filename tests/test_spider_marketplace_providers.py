"""marketplace_providers against an issuer's saved files (tests/files/marketplace_providers/)."""

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler

from crawlers.items import NETWORK_FIELDS
from crawlers.spiders.marketplace_providers import MarketplaceProvidersSpider
from utils import file_response, start_requests

INDEX = "http://127.0.0.1:8999/issuer/cms-data-index.json"


def make_spider(**args):
    return MarketplaceProvidersSpider.from_crawler(get_crawler(MarketplaceProvidersSpider), **args)


def run(request, name):
    output = list(request.callback(file_response(f"marketplace_providers/{name}", request.url, request)))
    return [o for o in output if not isinstance(o, Request)], [o for o in output if isinstance(o, Request)]


spider = make_spider(index_url=INDEX, insurer="oscar-health", npis="1987654328")
index_request, = start_requests(spider)
_, provider_requests = run(index_request, "cms-data-index.json")
items, _ = run(provider_requests[0], "providers.json")
facility, austin, dallas = items
stats = spider.crawler.stats


def test_starts_at_the_index():
    assert index_request.url == INDEX


def test_provider_file_relative_to_the_index():
    assert [r.url for r in provider_requests] == ["http://127.0.0.1:8999/issuer/providers.json"]


def test_facility_kept_for_its_name():
    assert facility["npi"] == "1234567893"


def test_facility_name():
    assert facility["name"] == "Synthetic Ketamine Center of Austin"


def test_insurer():
    assert facility["insurer_id"] == "oscar-health"


def test_evidence():
    assert facility["evidence"] == "marketplace_directory"


def test_plan_ids_once_each():
    assert facility["plan_ids"] == ["99999TX0010001", "99999TX0010002"]


def test_tiers_in_detail():
    assert [p["network_tier"] for p in facility["detail"]["plans"]] == ["PREFERRED", "NON-PREFERRED"]


def test_years_in_detail():
    assert facility["detail"]["plans"][0]["years"] == [2026]


def test_issuer_hios_id():
    assert facility["detail"]["issuer_hios_ids"] == ["99999"]


def test_facility_type_as_specialty():
    assert facility["detail"]["specialties"] == ["Infusion Therapy Clinic"]


def test_street_joins_both_lines():
    assert facility["street"] == "100 Congress Ave Ste 300"


def test_city_state_zip_phone():
    assert (facility["city"], facility["state"], facility["postal_code"], facility["phone"]) == (
        "Austin", "TX", "78701", "5125550160")


def test_wanted_practitioner_name():
    assert austin["name"] == "Synthetic, Avery Q"


def test_one_record_per_address():
    assert [r["city"] for r in (austin, dallas)] == ["Austin", "Dallas"]


def test_accepting_new_patients():
    assert austin["detail"]["accepting_new_patients"] == "accepting"


def test_last_updated():
    assert austin["detail"]["last_updated_on"] == "2026-11-01"


def test_source_is_the_provider_file():
    assert austin["source_url"] == "http://127.0.0.1:8999/issuer/providers.json"


@pytest.mark.parametrize("key, value", [("providers", 5), ("skipped/not_wanted", 1), ("skipped/no_plans", 1),
                                        ("skipped/malformed", 1), ("records", 3)])
def test_counts(key, value):
    assert stats.get_value(f"marketplace_providers/{key}") == value


def test_wanted_npis_default_to_the_nppes_feeds(tmp_path):
    (tmp_path / "nppes_match.jsonl").write_text('{"npi": "1555010101"}\n')
    crawler = get_crawler(MarketplaceProvidersSpider, {"FEED_DIR": str(tmp_path)})
    assert MarketplaceProvidersSpider.from_crawler(crawler, index_url=INDEX, insurer="aetna").wanted_npis() == {"1555010101"}


def test_not_an_index_is_a_counted_error():
    broken = make_spider(index_url=INDEX, insurer="aetna", npis="")
    request, = start_requests(broken)
    assert (run(request, "providers.json"), broken.crawler.stats.get_value("marketplace_providers/bad_files")) == (([], []), 1)


def test_arguments_required():
    with pytest.raises(ValueError, match="index_url"):
        make_spider(insurer="aetna")


@pytest.mark.parametrize("item", items)
def test_every_key_in_order(item):
    assert list(item) == list(NETWORK_FIELDS)
