"""medicare_billers: which NPIs billed Original Medicare for Spravato visits, esketamine or IV infusions.

What it crawls: the CMS dataset "Medicare Physician & Other Practitioners - by Provider and
Service" through the data.cms.gov data API (https://data.cms.gov/data-api/v1, a base URL argument
``-a base_url=`` for a mirror or a test server). First ``slug?path=<the dataset's path>`` gives the
current version's dataset id and year (or ``-a dataset=<uuid> -a year=<YYYY>`` names an older
version), then, for each HCPCS code (G2082 and G2083, esketamine visits with observation up to and
over 56 mg; J0013, esketamine 1 mg, and S0013, its code before 2026; 96365, the first hour of an
IV infusion; ``-a codes=`` replaces them), ``dataset/<id>/data?filter[HCPCS_Cd]=<code>`` in pages
of ``size`` rows (5000, the API's largest), asking for the next page (``offset``) while a page is
full.

What it yields: one record per row (``crawlers.items.NETWORK_FIELDS``, insurer ``medicare``,
evidence ``medicare_claims``): the rendering NPI (``Rndrng_NPI``), its name, street, city, state
and ZIP as CMS gives them, and in ``detail`` the data year, the code and its description, the
place of service (F facility, O office), beneficiaries, services, average submitted charge,
average Medicare allowed and paid amounts, the provider type, the entity code (I individual,
O organisation) and whether the provider participates in Medicare. CMS leaves out every row of
fewer than 11 beneficiaries, so an NPI that is absent may still bill these codes; and 96365 is
any IV infusion (antibiotics, biologics ...), not ketamine as such. Original Medicare only: no
Medicare Advantage, Medicaid or commercial claims.

How politely: one request at a time with the project's delay; about a dozen requests a year's
data. A page that is not a JSON array, or a slug answer without a dataset id, is a counted error
(``medicare_billers/api_errors``) and the crawl goes on with the other codes; rows without a
valid NPI are dropped by the pipeline (``pipeline/dropped/invalid_npi``).

How often: yearly, when CMS publishes a new data year (usually in the spring, about two years
after the services).

Stats: ``medicare_billers/requests``, ``/rows``, ``/records``, ``/api_errors``.
"""

import json
from urllib.parse import urlencode, urlsplit

import scrapy

from crawlers.items import NETWORK, new_record

API_URL = "https://data.cms.gov/data-api/v1"
DATASET_PATH = ("/provider-summary-by-type-of-service/medicare-physician-other-practitioners/"
                "medicare-physician-other-practitioners-by-provider-and-service")
CODES = ("G2082", "G2083", "J0013", "S0013", "96365")
PAGE_SIZE = 5000
NETWORK_NAME = "Original Medicare (Part B)"
DETAIL_COLUMNS = {  # detail key -> data API column
    "hcpcs_code": "HCPCS_Cd", "hcpcs_description": "HCPCS_Desc", "place_of_service": "Place_Of_Srvc",
    "beneficiaries": "Tot_Benes", "services": "Tot_Srvcs", "average_submitted_charge_usd": "Avg_Sbmtd_Chrg",
    "average_allowed_usd": "Avg_Mdcr_Alowd_Amt", "average_paid_usd": "Avg_Mdcr_Pymt_Amt",
    "provider_type": "Rndrng_Prvdr_Type", "entity_code": "Rndrng_Prvdr_Ent_Cd",
    "participates_in_medicare": "Rndrng_Prvdr_Mdcr_Prtcptg_Ind",
}
NUMBERS = {"beneficiaries", "services", "average_submitted_charge_usd", "average_allowed_usd", "average_paid_usd"}


def number(value):
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return int(result) if result.is_integer() else result


def provider_name(row):
    last, first = row.get("Rndrng_Prvdr_Last_Org_Name"), row.get("Rndrng_Prvdr_First_Name")
    return ", ".join(p for p in (last, first) if p) or None


class MedicareBillersSpider(scrapy.Spider):
    name = "medicare_billers"
    item_kind = NETWORK

    def __init__(self, base_url=None, dataset=None, year=None, codes=None, size=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.base_url = (base_url or API_URL).rstrip("/")
        self.allowed_domains = [urlsplit(self.base_url).hostname]
        self.dataset, self.year = dataset, int(year) if year else None
        self.codes = [c.strip().upper() for c in codes.split(",") if c.strip()] if codes else list(CODES)
        self.size = int(size) if size else PAGE_SIZE

    def count(self, key, amount=1):
        if getattr(self, "crawler", None):
            self.crawler.stats.inc_value(f"medicare_billers/{key}", amount)

    def request(self, url, callback, **cb_kwargs):
        self.count("requests")
        return scrapy.Request(url, callback=callback, cb_kwargs=cb_kwargs, dont_filter=True)

    async def start(self):
        if self.dataset:
            for request in self.code_requests():
                yield request
        else:
            yield self.request(f"{self.base_url}/slug?{urlencode({'path': DATASET_PATH})}", self.parse_slug)

    def parse_slug(self, response):
        try:
            current = json.loads(response.text)["data"]["current_dataset"]
            self.dataset = current["uuid"]
        except (ValueError, KeyError, TypeError):
            self.error(f"no current dataset id in {response.url}: {response.text[:200]!r}")
            return
        version = str(current.get("version") or current.get("name") or "")
        self.year = int(version[:4]) if version[:4].isdigit() else None
        yield from self.code_requests()

    def code_requests(self):
        for code in self.codes:
            yield self.page_request(code, 0)

    def page_request(self, code, offset):
        params = {"filter[HCPCS_Cd]": code, "size": self.size, "offset": offset}
        return self.request(f"{self.base_url}/dataset/{self.dataset}/data?{urlencode(params)}", self.parse,
                            code=code, offset=offset)

    def parse(self, response, code, offset):
        try:
            rows = json.loads(response.text)
        except ValueError:
            rows = None
        if not isinstance(rows, list):
            self.error(f"not a page of rows for {code} at {response.url}: {response.text[:200]!r}")
            return
        self.count("rows", len(rows))
        for row in rows:
            if isinstance(row, dict):
                yield self.record(row, response.url)
        if len(rows) >= self.size:
            yield self.page_request(code, offset + self.size)

    def record(self, row, url):
        detail = {"data_year": self.year}
        for key, column in DETAIL_COLUMNS.items():
            value = row.get(column)
            detail[key] = number(value) if key in NUMBERS else (value or None)
        self.count("records")
        return new_record(
            NETWORK, npi=row.get("Rndrng_NPI"), insurer_id="medicare", network=NETWORK_NAME,
            evidence="medicare_claims", name=provider_name(row),
            street=" ".join(filter(None, (row.get("Rndrng_Prvdr_St1"), row.get("Rndrng_Prvdr_St2")))) or None,
            city=row.get("Rndrng_Prvdr_City"), state=row.get("Rndrng_Prvdr_State_Abrvtn"),
            postal_code=row.get("Rndrng_Prvdr_Zip5"), detail=detail, source_url=url, sources=[url],
        )

    def error(self, message):
        self.count("api_errors")
        self.logger.error("data.cms.gov: %s", message)
