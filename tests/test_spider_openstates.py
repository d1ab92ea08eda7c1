"""openstates against saved Open States API v3 pages (tests/files/openstates/). The spider asks
for pages of 2 here; the queries run one after another, and the bills come out after the last."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.http import TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawlers.items import BILL_FIELDS
from crawlers.spiders.openstates import OpenStatesSpider, bill_status
from utils import FILES, file_response, start_requests

KEY = "synthetic-test-key"


def make_spider(key=KEY, settings=None, **args):
    crawler = get_crawler(OpenStatesSpider, settings)
    spider = OpenStatesSpider.from_crawler(crawler, per_page="2", **args)
    spider.api_key = key
    return spider


def params(url):
    return parse_qs(urlsplit(url).query)


def run(spider, request, name):
    output = list(request.callback(file_response(f"openstates/{name}", request.url, request), **request.cb_kwargs))
    return ([o for o in output if not isinstance(o, Request)], [o for o in output if isinstance(o, Request)])


spider = make_spider()
first, = start_requests(spider)
_, page2_requests = run(spider, first, "ketamine_page1.json")
_, esketamine_requests = run(spider, page2_requests[0], "ketamine_page2.json")
_, psilocybin_requests = run(spider, esketamine_requests[0], "esketamine.json")
_, psychedelic_requests = run(spider, psilocybin_requests[0], "empty.json")
ITEMS, last_requests = run(spider, psychedelic_requests[0], "empty.json")
BILLS = {item["identifier"]: item for item in ITEMS}
texas, colorado, nebraska, dc = BILLS["HB 9901"], BILLS["SB 25-9903"], BILLS["LB 9904"], BILLS["B26-9905"]


# --- requests ------------------------------------------------------------------------------

def test_first_request_parameters():
    assert params(first.url) == {"q": ["ketamine"], "sort": ["latest_action_desc"], "include": ["actions", "sources"],
                                 "page": ["1"], "per_page": ["2"]}


def test_key_in_the_header():
    assert first.headers.get("X-API-KEY") == KEY.encode()


def test_key_not_in_the_url():
    assert KEY not in first.url


def test_next_page_of_the_same_term():
    assert (params(page2_requests[0].url)["q"], params(page2_requests[0].url)["page"]) == (["ketamine"], ["2"])


def test_last_page_moves_to_the_next_term():
    assert (params(esketamine_requests[0].url)["q"], params(esketamine_requests[0].url)["page"]) == (["esketamine"], ["1"])


def test_empty_page_moves_to_the_next_term():
    assert params(psychedelic_requests[0].url)["q"] == ["psychedelic therapy"]


def test_no_request_after_the_last_term():
    assert last_requests == []


def test_default_page_is_the_api_maximum():
    crawler = get_crawler(OpenStatesSpider)
    default = OpenStatesSpider.from_crawler(crawler)
    default.api_key = KEY
    assert params(start_requests(default)[0].url)["per_page"] == ["20"]


def test_states_and_session_narrow_the_search():
    narrow = make_spider(states="TX,CO", session="2025")
    assert [(params(r.url)["jurisdiction"], params(r.url)["session"]) for r in start_requests(narrow)] == [
        (["tx"], ["2025"])]


def test_one_query_per_state_and_term():
    assert len(make_spider(states="TX,CO").queries) == 8


def test_session_without_a_state_is_refused():
    with pytest.raises(ValueError):
        make_spider(session="2025")


def test_without_a_key_no_request():
    keyless = make_spider(key="")
    assert (start_requests(keyless), keyless.crawler.stats.get_value("openstates/no_api_key")) == ([], 1)


def test_budget_stops_and_writes_what_it_has():
    budget = make_spider(settings={"OPENSTATES_MAX_REQUESTS": 1})
    items, requests = run(budget, start_requests(budget)[0], "ketamine_page1.json")
    assert ([i["identifier"] for i in items], requests, budget.crawler.stats.get_value("openstates/truncated")) == (
        ["HB 9901"], [], 1)


def test_error_answer_stops_the_crawl():
    failing = make_spider()
    with pytest.raises(CloseSpider):
        run(failing, start_requests(failing)[0], "error.json")


def test_refused_key_stops_the_crawl():
    failing = make_spider()
    request = start_requests(failing)[0]
    response = TextResponse(request.url, status=401, request=request, body=(FILES / "openstates" / "error.json").read_bytes())
    failure = Failure(HttpError(response))
    failure.request = request
    with pytest.raises(CloseSpider) as stopped:
        request.errback(failure)
    assert stopped.value.reason == "openstates_api_error"


# --- the Texas bill (found by two terms, enacted) -----------------------------------------------

def test_texas_id():
    assert texas["id"] == "ocd-bill/5e1a6c0d-0000-4000-8000-000000000001"


def test_texas_state():
    assert texas["state"] == "TX"


def test_texas_session():
    assert texas["session"] == "89"


def test_texas_title():
    assert texas["title"] == "Synthetic act relating to a study of ketamine treatment for veterans with PTSD"


def test_texas_status_from_the_signature():
    assert texas["status"] == "enacted"


def test_texas_latest_action():
    assert texas["latest_action"] == "Effective on 9/1/25"


def test_texas_latest_action_date():
    assert texas["latest_action_date"] == "2025-06-20"


def test_texas_subjects():
    assert texas["subjects"] == ["Health", "Veterans"]


def test_texas_matched_terms():
    assert texas["matched_terms"] == ["ketamine", "esketamine"]


def test_texas_url_is_the_open_states_page():
    assert texas["url"] == "https://openstates.org/tx/bills/89/HB9901/"


def test_texas_sources_are_the_api_pages():
    assert [params(url)["q"] for url in texas["sources"]] == [["ketamine"], ["esketamine"]]


def test_texas_retrieved_at():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", texas["retrieved_at"])


# --- the others ----------------------------------------------------------------------------------

def test_colorado_url_falls_back_to_the_legislature():
    assert colorado["url"] == "https://leg.synthetic-colorado.example.com/bills/sb25-9903"


def test_colorado_date_without_time():
    assert colorado["latest_action_date"] == "2025-02-03"


def test_colorado_in_committee():
    assert colorado["status"] == "in_committee"


def test_nebraska_one_chamber_passage_then_veto():
    assert nebraska["status"] == "vetoed"


def test_dc_is_a_jurisdiction():
    assert dc["state"] == "DC"


def test_dc_without_actions_is_introduced():
    assert dc["status"] == "introduced"


def test_puerto_rico_skipped_and_counted():
    assert ("PC 9902" not in BILLS, spider.crawler.stats.get_value("openstates/skipped/not_a_state")) == (True, 1)


def test_duplicate_counted():
    assert spider.crawler.stats.get_value("openstates/duplicates") == 1


def test_stable_order():
    assert [i["state"] for i in ITEMS] == ["CO", "DC", "NE", "TX"]


@pytest.mark.parametrize("item", ITEMS)
def test_every_key_in_order(item):
    assert list(item) == list(BILL_FIELDS)


@pytest.mark.parametrize("item", ITEMS)
def test_titles_are_synthetic(item):
    assert item["title"].startswith("Synthetic")


# --- statuses from actions -----------------------------------------------------------------------

def action(order, kinds, chamber="lower"):
    return {"order": order, "classification": kinds, "organization": {"classification": chamber}}


@pytest.mark.parametrize("actions, status", [
    ([action(1, ["introduction"]), action(2, ["passage"])], "passed_one_chamber"),
    ([action(1, ["passage"]), action(2, ["passage"], "upper")], "passed_legislature"),
    ([action(1, ["passage"]), action(2, ["executive-receipt"], "executive")], "passed_legislature"),
    ([action(1, ["introduction"]), action(2, ["committee-failure"])], "failed"),
    ([action(1, ["introduction"]), action(2, ["withdrawal"])], "withdrawn"),
    ([action(2, ["became-law"], "executive"), action(1, ["passage"])], "enacted"),
    ([action(1, ["executive-signature"], "executive"), action(2, ["referral-committee"])], "enacted"),
])
def test_status_from_actions(actions, status):
    assert bill_status({"actions": actions}) == status


def test_status_without_actions_or_dates_is_unknown():
    assert bill_status({"actions": []}) == "unknown"
