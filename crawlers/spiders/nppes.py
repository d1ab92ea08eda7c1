"""nppes: ketamine and esketamine clinics registered in the NPPES NPI Registry.

What it crawls: the NPI Registry API v2.1 (https://npiregistry.cms.hhs.gov/api/), organisations
only (``enumeration_type=NPI-2``), state by state (50 states and DC, ``address_purpose=LOCATION``
so the state is the practice location's), with these queries:

* ``organization_name`` = ``ketamine*``, ``esketamine*``, ``spravato*``. The API allows only a
  trailing wildcard (two characters or more before it), and matches it against the start of
  the legal name and of the other (DBA) names, so "Austin Ketamine Clinic" is found only when
  another of its names starts with "Ketamine"; the NPPES bulk file is the way to full coverage.
* ``taxonomy_description`` = ``Infusion Therapy`` (NUCC 261QI0500X, "Clinic/Center, Infusion
  Therapy"). Most infusion-therapy clinics give antibiotics, biologics or chemotherapy, not
  ketamine, so from this query an organisation is kept only when its legal name or one of its
  other names says ketamine, esketamine or Spravato (the others are counted as
  ``nppes/skipped/not_ketamine``).

Each page asks for ``limit=200``; the next page (``skip`` += 200) is asked for while a page is
full, up to the API's ``skip`` cap of 1000: a query that reaches the cap is logged and counted
(``nppes/truncated``) so it can be split further.

What it yields: one record per NPI (an NPI found by two queries is yielded once): the practice
LOCATION address (never the mailing address), its phone, the organisation name (a "Doing
Business As" name when there is one, with the legal name as ``operator``), the primary taxonomy
description, treatments named in the organisation's names ("Ketamine Infusion Center" ->
iv_ketamine; otherwise none), ``source_id`` ``nppes:<npi>`` and the API request URL as source.
Names are kept as NPPES spells them (usually capitals).

How politely: one request at a time with the project's delay (about 1.5 s), 204 requests or a
few more per run. An error body (``{"Errors": [...]}``) is logged and counted
(``nppes/api_errors``).

How often: monthly; NPPES publishes changes weekly, clinics open and close slowly.
"""

import json
import re
from urllib.parse import urlencode, urlsplit

import scrapy

from kad import vocab
from kad.normalise import JURISDICTIONS, clean_text

from crawlers.items import new_clinic

API_URL = "https://npiregistry.cms.hhs.gov/api/"
NAME_QUERIES = ("ketamine*", "esketamine*", "spravato*")
TAXONOMY_QUERY = "Infusion Therapy"
PAGE_LIMIT = 200  # the API's largest page
SKIP_CAP = 1000  # the API refuses a larger skip
KETAMINE_WORDS = re.compile(r"ketamine|spravato", re.I)  # also matches esketamine
DBA_CODES = {"3"}  # other_names code for "Doing Business As"


def api_url(params, base=API_URL):
    return base + "?" + urlencode(params, safe="*")


def location_address(result):
    for address in result.get("addresses") or []:
        if (address.get("address_purpose") or "").upper() == "LOCATION":
            return address
    return None


def primary_taxonomy(result):
    taxonomies = result.get("taxonomies") or []
    primary = next((t for t in taxonomies if t.get("primary")), taxonomies[0] if taxonomies else None)
    return primary.get("desc") if primary else None


def organisation_names(result):
    """(legal name, DBA names, every name) of an NPI-2 result."""
    legal = clean_text((result.get("basic") or {}).get("organization_name"))
    dba, others = [], []
    for other in result.get("other_names") or []:
        name = clean_text(other.get("organization_name"))
        if not name:
            continue
        others.append(name)
        if str(other.get("code")) in DBA_CODES or "doing business as" in (other.get("type") or "").lower():
            dba.append(name)
    return legal, dba, [n for n in [legal, *others] if n]


class NppesSpider(scrapy.Spider):
    name = "nppes"

    def __init__(self, states=None, limit=None, api_url=None, *args, **kwargs):
        """-a states=TX,CO limits the states; -a limit and -a api_url are for tests."""
        super().__init__(*args, **kwargs)
        self.api_url = api_url or API_URL
        self.allowed_domains = [urlsplit(self.api_url).hostname]
        self.states = [s.strip().upper() for s in states.split(",")] if states else sorted(JURISDICTIONS)
        self.limit = int(limit) if limit else PAGE_LIMIT
        self.seen = set()

    def count(self, key, amount=1):
        if getattr(self, "crawler", None):
            self.crawler.stats.inc_value(f"nppes/{key}", amount)

    def queries(self):
        for term in NAME_QUERIES:
            yield "name", {"organization_name": term}
        yield "taxonomy", {"taxonomy_description": TAXONOMY_QUERY}

    def request(self, kind, query, state, skip=0):
        params = {
            "version": "2.1",
            "enumeration_type": "NPI-2",
            **query,
            "state": state,
            "address_purpose": "LOCATION",
            "limit": self.limit,
            "skip": skip,
        }
        return scrapy.Request(
            api_url(params, self.api_url), callback=self.parse,
            cb_kwargs={"kind": kind, "query": query, "state": state, "skip": skip},
        )

    async def start(self):
        for state in self.states:
            for kind, query in self.queries():
                yield self.request(kind, query, state)

    def parse(self, response, kind, query, state, skip):
        try:
            data = json.loads(response.text)
        except ValueError:
            self.count("api_errors")
            self.logger.error("Not JSON from %s", response.url)
            return
        if not isinstance(data, dict) or data.get("Errors") or "results" not in data:
            errors = data.get("Errors") if isinstance(data, dict) else data
            self.count("api_errors")
            self.logger.error("NPPES error for %s: %s", response.url, errors)
            return
        results = data.get("results") or []
        self.count("results", len(results))
        for result in results:
            record = self.record(result, kind, response.url)
            if record:
                yield record
        if len(results) >= self.limit:
            next_skip = skip + self.limit
            if next_skip > SKIP_CAP:
                self.count("truncated")
                self.logger.warning(
                    "NPPES query %s in %s has more than %d results; the API's skip cap cut it off",
                    query, state, SKIP_CAP + self.limit)
            else:
                yield self.request(kind, query, state, next_skip)

    def record(self, result, kind, url):
        npi = str(result.get("number") or "")
        if (result.get("enumeration_type") or "NPI-2") != "NPI-2":
            self.count("skipped/not_organisation")
            return None
        if npi in self.seen:
            self.count("skipped/duplicate_npi")
            return None
        legal, dba, names = organisation_names(result)
        if kind == "taxonomy" and not any(KETAMINE_WORDS.search(n) for n in names):
            self.count("skipped/not_ketamine")
            return None
        self.seen.add(npi)
        dba_name = next((n for n in dba if KETAMINE_WORDS.search(n)), dba[0] if dba else None)
        address = location_address(result) or {}
        if not address:
            self.count("no_location_address")
        street = " ".join(filter(None, (clean_text(address.get("address_1")),
                                        clean_text(address.get("address_2")))))
        self.count("records")
        return new_clinic(
            source_id=f"nppes:{npi}",
            name=dba_name or legal,
            operator=legal if dba_name and dba_name != legal else None,
            street=street or None,
            city=address.get("city"),
            state=address.get("state"),
            postal_code=address.get("postal_code"),
            phone=address.get("telephone_number"),
            npi=npi,
            treatments=vocab.treatments().ids_in(" ; ".join(names)),
            taxonomy=primary_taxonomy(result),
            sources=[url],
        )
