"""openstates: bills in the state legislatures that mention ketamine, esketamine, psilocybin or
psychedelic therapy.

What it crawls: the Open States API v3 bill search (https://v3.openstates.org/bills), one full-text
query (``q``) per term, across every jurisdiction at once (or per state with
``-a states=TX,CO``, and one session with ``-a session=2025`` beside it), newest latest action
first, ``per_page=20`` (the API's largest page for bills), every page up to the ``max_page`` the
API reports, with ``include=actions`` (for the status) and ``include=sources`` (the
legislature's own page). The queries run one after another, so the bills found by several terms
are written once, with every term in ``matched_terms``.

The API key comes from the environment variable ``OPENSTATES_API_KEY`` and is sent in the
``X-API-KEY`` header, so it never appears in a URL, a log or the feed. Without a key the spider
says so and stops before any request; the feed guard then keeps the previous feed.

What it yields: one record per bill (``crawlers.items.BILL_FIELDS``), after the last query:
the Open States bill id, the state (bills of Puerto Rico, the federal Congress or a city are
skipped and counted), session, identifier, title, a status in the project's own words from the
bill's actions (``introduced``, ``in_committee``, ``passed_one_chamber``,
``passed_legislature``, ``enacted``, ``vetoed``, ``failed``, ``withdrawn``; ``unknown`` without
actions), the latest action and its date, the subjects, the matched terms, the Open States page
(or the legislature's) as ``url``, and the API pages it came from as ``sources``.

How politely: the free tier allows 10 requests a minute and 250 a day, so one request at a time,
7 s apart, and at most ``OPENSTATES_MAX_REQUESTS`` (200) pages a run; a run that reaches the
budget writes what it has and says so (``openstates/truncated``). An error answer (a refused
key, the rate limit after retries, a page that is not the API's JSON) stops the crawl
(finish reason ``openstates_api_error``), so the guard keeps the previous, complete feed.

How often: weekly while legislatures sit (January to June in most states), monthly otherwise.

Stats: ``openstates/no_api_key``, ``/requests``, ``/results``, ``/bills``, ``/duplicates``
(found again by another term), ``/skipped/not_a_state``, ``/api_errors``, ``/truncated``.
"""

import json
import os
import re
from urllib.parse import urlencode, urlsplit

import scrapy
from scrapy.exceptions import CloseSpider
from scrapy.spidermiddlewares.httperror import HttpError

from kad.normalise import clean_text

from crawlers.items import BILL, new_record

API_URL = "https://v3.openstates.org/bills"
TERMS = ("ketamine", "esketamine", "psilocybin", "psychedelic therapy")
PER_PAGE = 20  # the API refuses more for bills
DEFAULT_MAX_REQUESTS = 200  # under the free tier's 250 a day
KEY_VARIABLE = "OPENSTATES_API_KEY"
# ocd-jurisdiction/country:us/state:tx/government, .../district:dc/government
STATE_JURISDICTION = re.compile(r"^ocd-jurisdiction/country:us/(?:state|district):([a-z]{2})/government$")
ERROR_REASON = "openstates_api_error"


def bill_status(bill):
    """The bill's status in the project's words, from its actions in order (Open Data
    Civic action classifications), or from its dates when the actions were not included."""
    actions = bill.get("actions")
    if not actions:
        return "introduced" if bill.get("first_action_date") else "unknown"
    status, passed = "introduced", set()
    for action in sorted(actions, key=lambda a: (a.get("order") if a.get("order") is not None else 0,
                                                 a.get("date") or "")):
        kinds = set(action.get("classification") or [])
        chamber = (action.get("organization") or {}).get("classification")
        if status == "enacted":
            break
        if kinds & {"became-law", "executive-signature"}:
            status = "enacted"
        elif "executive-veto" in kinds:
            status = "vetoed"
        elif "executive-receipt" in kinds:
            status = "passed_legislature"
        elif "passage" in kinds:
            passed.add(chamber)
            both = {"upper", "lower"} <= passed or chamber == "legislature"  # Nebraska, DC: one chamber
            status = "passed_legislature" if both else "passed_one_chamber"
        elif kinds & {"failure", "committee-failure"}:
            status = "failed"
        elif "withdrawal" in kinds:
            status = "withdrawn"
        elif "referral-committee" in kinds and status == "introduced":
            status = "in_committee"
    return status


def bill_state(bill):
    match = STATE_JURISDICTION.match((bill.get("jurisdiction") or {}).get("id") or "")
    return match.group(1).upper() if match else None


def bill_url(bill):
    if bill.get("openstates_url"):
        return bill["openstates_url"]
    return next((s.get("url") for s in bill.get("sources") or [] if s.get("url")), None)


def action_date(value):
    """'2025-03-14T00:00:00+00:00' -> '2025-03-14'; other text as given."""
    text = clean_text(value)
    return text[:10] if text and re.match(r"\d{4}-\d{2}-\d{2}", text) else text


class OpenStatesSpider(scrapy.Spider):
    name = "openstates"
    item_kind = BILL
    needs_env = (KEY_VARIABLE,)
    custom_settings = {
        "DOWNLOAD_DELAY": 7,  # 10 requests a minute on the free tier
        "DOWNLOAD_DELAY_JITTER": 0,  # a random 0.5x delay would break that limit
        "CONCURRENT_REQUESTS": 1,
    }

    def __init__(self, states=None, session=None, terms=None, api_url=None, per_page=None, *args, **kwargs):
        """-a states=TX,CO and -a session=2025 narrow the search; -a terms, -a api_url and
        -a per_page are for tests and one-off runs."""
        super().__init__(*args, **kwargs)
        self.api_url = api_url or API_URL
        self.per_page = int(per_page) if per_page else PER_PAGE
        self.allowed_domains = [urlsplit(self.api_url).hostname]
        jurisdictions = [s.strip().lower() for s in states.split(",") if s.strip()] if states else [None]
        if session and jurisdictions == [None]:
            raise ValueError("-a session needs -a states: the API filters a session only within a jurisdiction")
        self.session = session
        term_list = [t.strip() for t in terms.split(",") if t.strip()] if terms else list(TERMS)
        self.queries = [(term, jurisdiction) for jurisdiction in jurisdictions for term in term_list]
        self.api_key = os.environ.get(KEY_VARIABLE, "").strip()
        self.max_requests = DEFAULT_MAX_REQUESTS
        self.requests_made = 0
        self.bills = {}

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.max_requests = crawler.settings.getint("OPENSTATES_MAX_REQUESTS", DEFAULT_MAX_REQUESTS)
        return spider

    def count(self, key, amount=1):
        if getattr(self, "crawler", None):
            self.crawler.stats.inc_value(f"openstates/{key}", amount)

    async def start(self):
        if not self.api_key:
            self.count("no_api_key")
            self.logger.warning(
                "%s is not set, so no request was made and the previous feed is kept. Get a free "
                "key at https://openstates.org/account/profile/ and run: %s=... scrapy crawl %s",
                KEY_VARIABLE, KEY_VARIABLE, self.name)
            return
        yield self.request(0, 1)

    def request(self, query, page):
        term, jurisdiction = self.queries[query]
        params = [("q", term)]
        if jurisdiction:
            params.append(("jurisdiction", jurisdiction))
            if self.session:
                params.append(("session", self.session))
        params += [("sort", "latest_action_desc"), ("include", "actions"), ("include", "sources"),
                   ("page", page), ("per_page", self.per_page)]
        self.requests_made += 1
        self.count("requests")
        return scrapy.Request(f"{self.api_url}?{urlencode(params)}", headers={"X-API-KEY": self.api_key},
                              callback=self.parse, errback=self.failed,
                              cb_kwargs={"query": query, "page": page})

    def parse(self, response, query, page):
        try:
            data = json.loads(response.text)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("results"), list) \
                or not isinstance(data.get("pagination"), dict):
            self.stop(f"not a page of bills from {response.url}: {response.text[:200]!r}")
        term = self.queries[query][0]
        self.count("results", len(data["results"]))
        for bill in data["results"]:
            self.add(bill, term, response.url)
        if page < (data["pagination"].get("max_page") or 1):
            yield from self.next_request(query, page + 1)
        elif query + 1 < len(self.queries):
            yield from self.next_request(query + 1, 1)
        else:
            yield from self.records()

    def next_request(self, query, page):
        if self.requests_made >= self.max_requests:
            self.count("truncated")
            self.logger.warning(
                "Stopped at the budget of %d requests (OPENSTATES_MAX_REQUESTS, under the free tier's "
                "250 a day) before %r page %d: the feed is incomplete", self.max_requests,
                self.queries[query][0], page)
            yield from self.records()
            return
        yield self.request(query, page)

    def failed(self, failure):
        if failure.check(HttpError):
            response = failure.value.response
            hint = {401: "the API key was refused", 403: "the API key was refused",
                    429: "the rate limit was reached"}.get(response.status, "an error answer")
            self.stop(f"HTTP {response.status} ({hint}) for {response.url}: {response.text[:200]!r}")
        self.stop(f"{type(failure.value).__name__} for {failure.request.url}")

    def stop(self, message):
        """An answer that is not a page of bills ends the crawl; the guard keeps the old feed."""
        self.count("api_errors")
        self.logger.error("Open States: %s; stopping so that the previous feed is kept", message)
        raise CloseSpider(ERROR_REASON)

    def add(self, bill, term, source):
        state = bill_state(bill)
        if state is None:
            self.count("skipped/not_a_state")
            return
        known = self.bills.get(bill.get("id"))
        if known:
            self.count("duplicates")
            for key, value in (("matched_terms", term), ("sources", source)):
                if value not in known[key]:
                    known[key].append(value)
            return
        self.bills[bill.get("id")] = new_record(
            BILL,
            id=bill.get("id"),
            state=state,
            session=bill.get("session"),
            identifier=bill.get("identifier"),
            title=bill.get("title"),
            status=bill_status(bill),
            latest_action=bill.get("latest_action_description"),
            latest_action_date=action_date(bill.get("latest_action_date")),
            subjects=list(bill.get("subject") or []),
            matched_terms=[term],
            url=bill_url(bill),
            sources=[source],
        )

    def records(self):
        """Every bill found, in a stable order (state, session, identifier)."""
        self.count("bills", len(self.bills))
        for record in sorted(self.bills.values(), key=lambda r: (r["state"], r["session"] or "", r["identifier"] or "")):
            yield record
