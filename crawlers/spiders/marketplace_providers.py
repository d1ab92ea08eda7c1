"""marketplace_providers: which NPIs an ACA marketplace issuer lists in its plans' networks.

What it crawls: an issuer's machine-readable index (``cms-data-index.json``, the CMS QHP
provider and formulary format: ``provider_urls``, ``plan_urls``, ``formulary_urls``), given as
``-a index_url=<URL>`` (also the way to point it at a mirror or a test server) with
``-a insurer=<insurer id>`` (whose index it is), then every file of its ``provider_urls``
(``providers.json``: a JSON array of providers, each with ``npi``, ``type`` INDIVIDUAL or
FACILITY, ``name`` or ``facility_name``, ``addresses``, ``specialty`` or ``facility_type``,
``accepting``, ``plans`` with ``plan_id`` (HIOS), ``network_tier`` and ``years``). The array is
read item by item with ijson, so a provider file of a million entries is never one Python list.

Which providers it keeps: those whose NPI is wanted (``-a npis=`` comma-separated, or
``-a npis_file=`` JSON lines with an ``npi``; by default every NPI in the nppes, nppes_match and
nppes_bulk feeds of FEED_DIR) or whose name says ketamine, esketamine or Spravato; the others are
counted (``marketplace_providers/skipped/not_wanted``).

What it yields: one record per (NPI, address) (``crawlers.items.NETWORK_FIELDS``, evidence
``marketplace_directory``): the plan ids, and in ``detail`` each plan with its network tier and
years, the HIOS issuer ids (the first five characters of a plan id), accepting new patients,
specialties or facility types, the provider type and the file's ``last_updated_on``.

How politely: one request at a time with the project's delay; one index and a few provider files
(each can be hundreds of megabytes, so this spider allows downloads up to 2 GB). A file that is
not the expected JSON is a counted error (``marketplace_providers/bad_files``) and the crawl goes
on; a provider entry that is not an object, or has no plans, is counted
(``/skipped/malformed``, ``/skipped/no_plans``).

How often: monthly; issuers must keep these files current during the plan year.

Stats: ``marketplace_providers/provider_files``, ``/providers``, ``/records``, and the counts above.
"""

import io
import json
import re
from pathlib import Path
from urllib.parse import urljoin

import ijson
import scrapy

from kad import vocab

from crawlers.feedguard import feed_dir
from crawlers.items import NETWORK, new_record

NPI_FEEDS = ("nppes", "nppes_match", "nppes_bulk")
KETAMINE_NAME = re.compile(r"ketamine|spravato", re.I)  # also matches esketamine


def provider_name(provider):
    if provider.get("facility_name"):
        return provider["facility_name"]
    name = provider.get("name") or {}
    if isinstance(name, dict):
        given = " ".join(p for p in (name.get("first"), name.get("middle")) if p)
        return ", ".join(p for p in (name.get("last"), given) if p) or None
    return None


def read_npis(path):
    npis = set()
    if Path(path).exists():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            try:
                npi = json.loads(line).get("npi") if line.strip() else None
            except (ValueError, AttributeError):
                continue
            if npi:
                npis.add(str(npi))
    return npis


class MarketplaceProvidersSpider(scrapy.Spider):
    name = "marketplace_providers"
    item_kind = NETWORK
    refresh_after = NPI_FEEDS  # keeps the NPIs those feeds found
    custom_settings = {"DOWNLOAD_MAXSIZE": 2 * 1024 ** 3, "DOWNLOAD_WARNSIZE": 512 * 1024 ** 2,
                       "DOWNLOAD_TIMEOUT": 600}

    def __init__(self, index_url=None, insurer=None, npis=None, npis_file=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not index_url or not insurer:
            raise ValueError("give -a index_url=<the issuer's cms-data-index.json> and -a insurer=<insurer id>")
        if insurer not in vocab.insurers().entries:
            raise ValueError(f"-a insurer={insurer}: not an id of data/curated/insurers.yml")
        self.index_url, self.insurer = index_url, insurer
        self.given_npis = {n.strip() for n in npis.split(",") if n.strip()} if npis is not None else None
        self.npis_file = npis_file

    def count(self, key, amount=1):
        if getattr(self, "crawler", None):
            self.crawler.stats.inc_value(f"marketplace_providers/{key}", amount)

    def wanted_npis(self):
        if self.given_npis is not None:
            return self.given_npis
        if self.npis_file:
            return read_npis(self.npis_file)
        folder = feed_dir(self.crawler.settings)
        return set().union(*(read_npis(folder / f"{name}.jsonl") for name in NPI_FEEDS))

    async def start(self):
        self.npis = self.wanted_npis()
        yield scrapy.Request(self.index_url, callback=self.parse_index)

    def parse_index(self, response):
        try:
            urls = json.loads(response.text).get("provider_urls")
        except (ValueError, AttributeError):
            urls = None
        if not isinstance(urls, list):
            self.count("bad_files")
            self.logger.error("No provider_urls in %s: %r", response.url, response.text[:200])
            return
        for url in urls:
            if isinstance(url, str):
                self.count("provider_files")
                yield scrapy.Request(urljoin(response.url, url), callback=self.parse_providers)

    def parse_providers(self, response):
        try:
            for provider in ijson.items(io.BytesIO(response.body), "item"):
                yield from self.records(provider, response.url)
        except ijson.JSONError as error:
            self.count("bad_files")
            self.logger.error("Not a JSON array of providers at %s: %s", response.url, error)

    def records(self, provider, url):
        self.count("providers")
        if not isinstance(provider, dict) or not provider.get("npi"):
            self.count("skipped/malformed")
            return
        npi, name = str(provider["npi"]).strip(), provider_name(provider)
        if npi not in self.npis and not KETAMINE_NAME.search(name or ""):
            self.count("skipped/not_wanted")
            return
        plans = [p for p in provider.get("plans") or [] if isinstance(p, dict) and p.get("plan_id")]
        if not plans:
            self.count("skipped/no_plans")
            return
        plan_ids = list(dict.fromkeys(p["plan_id"] for p in plans))
        detail = {
            "plans": [{"plan_id": p["plan_id"], "plan_id_type": p.get("plan_id_type"),
                       "network_tier": p.get("network_tier"), "years": p.get("years") or []} for p in plans],
            "issuer_hios_ids": sorted({plan_id[:5] for plan_id in plan_ids}),
            "accepting_new_patients": provider.get("accepting"),
            "specialties": provider.get("specialty") or provider.get("facility_type") or [],
            "provider_type": provider.get("type"),
            "last_updated_on": provider.get("last_updated_on"),
        }
        for address in [a for a in provider.get("addresses") or [] if isinstance(a, dict)] or [{}]:
            self.count("records")
            yield new_record(
                NETWORK, npi=npi, insurer_id=self.insurer, plan_ids=plan_ids, evidence="marketplace_directory",
                name=name, street=" ".join(filter(None, (address.get("address"), address.get("address_2")))) or None,
                city=address.get("city"), state=address.get("state"), postal_code=address.get("zip"),
                phone=address.get("phone"), detail=detail, source_url=url, sources=[url],
            )
