"""medicare_billers against saved data.cms.gov data API answers (tests/files/medicare_billers/),
with pages of 2 rows so that a full page leads to the next."""

from urllib.parse import parse_qsl, urlsplit

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler

from crawlers.items import NETWORK_FIELDS
from crawlers.spiders.medicare_billers import DATASET_PATH, MedicareBillersSpider
from utils import file_response, start_requests

BASE = "http://127.0.0.1:8999/data-api/v1"


def make_spider(**args):
    return MedicareBillersSpider.from_crawler(get_crawler(MedicareBillersSpider), **args)


def run(spider, request, name):
    output = list(request.callback(file_response(f"medicare_billers/{name}", request.url, request), **request.cb_kwargs))
    return [o for o in output if not isinstance(o, Request)], [o for o in output if isinstance(o, Request)]


def query(request):
    return dict(parse_qsl(urlsplit(request.url).query))


spider = make_spider(base_url=BASE, size="2")
slug_request, = start_requests(spider)
_, code_requests = run(spider, slug_request, "slug.json")
page1, next_page = run(spider, code_requests[0], "g2082_page1.json")
page2, after = run(spider, next_page[0], "g2082_page2.json")
organisation, practitioner = page1
ALL_ITEMS = page1 + page2


def test_slug_request_names_the_dataset():
    assert query(slug_request) == {"path": DATASET_PATH}


def test_one_search_per_code():
    assert [query(r)["filter[HCPCS_Cd]"] for r in code_requests] == ["G2082", "G2083", "J0013", "S0013", "96365"]


def test_data_request_uses_the_current_dataset():
    assert urlsplit(code_requests[0].url).path == "/data-api/v1/dataset/00000000-synthetic-0000-000000000000/data"


def test_full_page_asks_for_the_next_offset():
    assert (query(next_page[0])["offset"], query(next_page[0])["size"]) == ("2", "2")


def test_short_page_stops():
    assert after == []


def test_dataset_argument_skips_the_slug():
    assert [query(r)["filter[HCPCS_Cd]"] for r in start_requests(make_spider(base_url=BASE, dataset="x", year="2022", codes="g2083"))] == ["G2083"]


def test_slug_without_dataset_is_a_counted_error():
    failing = make_spider(base_url=BASE)
    assert (run(failing, start_requests(failing)[0], "error.json"),
            failing.crawler.stats.get_value("medicare_billers/api_errors")) == (([], []), 1)


def test_page_that_is_not_rows_is_a_counted_error():
    failing = make_spider(base_url=BASE, dataset="x")
    assert (run(failing, start_requests(failing)[0], "error.json"),
            failing.crawler.stats.get_value("medicare_billers/api_errors")) == (([], []), 1)


def test_npi():
    assert organisation["npi"] == "1234567893"


def test_insurer_is_medicare():
    assert organisation["insurer_id"] == "medicare"


def test_evidence():
    assert organisation["evidence"] == "medicare_claims"


def test_network():
    assert organisation["network"] == "Original Medicare (Part B)"


def test_organisation_name():
    assert organisation["name"] == "SYNTHETIC KETAMINE CENTER OF AUSTIN"


def test_practitioner_name():
    assert practitioner["name"] == "SYNTHETIC, AVERY"


def test_street_joins_both_lines():
    assert organisation["street"] == "100 Congress Ave Ste 300"


def test_city_state_zip():
    assert (organisation["city"], organisation["state"], organisation["postal_code"]) == ("Austin", "TX", "78701")


def test_data_year_from_the_slug():
    assert organisation["detail"]["data_year"] == 2023


def test_code():
    assert organisation["detail"]["hcpcs_code"] == "G2082"


def test_place_of_service():
    assert organisation["detail"]["place_of_service"] == "O"


def test_beneficiaries_as_a_number():
    assert organisation["detail"]["beneficiaries"] == 14


def test_services_as_a_number():
    assert organisation["detail"]["services"] == 120


def test_average_allowed_amount():
    assert organisation["detail"]["average_allowed_usd"] == 130.55


def test_provider_type():
    assert organisation["detail"]["provider_type"] == "Psychiatry"


def test_entity_code():
    assert practitioner["detail"]["entity_code"] == "I"


def test_source_is_the_page():
    assert organisation["source_url"] == code_requests[0].url


@pytest.mark.parametrize("item", ALL_ITEMS)
def test_every_key_in_order(item):
    assert list(item) == list(NETWORK_FIELDS)


@pytest.mark.parametrize("item", ALL_ITEMS)
def test_names_are_synthetic(item):
    assert item["name"].startswith("SYNTHETIC")
