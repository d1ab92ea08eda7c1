"""nppes_match: the NPI(s) of every clinic in the directory, from the NPPES NPI Registry API v2.1.

What it crawls: for each clinic of the directory without an NPI (the curated clinic files with
their changes, ``kad.curated_clinics``, and the clinic_site feed of FEED_DIR), one query of the
API (https://npiregistry.cms.hhs.gov/api/,
``-a api_url=`` for a mirror or a test server): organisations (``enumeration_type=NPI-2``) whose
legal or other name starts with the clinic name's first two words (``organization_name=<words>*``,
the API's trailing wildcard) with a practice location in the clinic's state
(``address_purpose=LOCATION``), ``limit=200``. ``-a states=TX,CO`` narrows the clinics.

What it yields: one record per plausible match (``crawlers.items.NPI_FIELDS``): the NPI, its
names, NUCC taxonomy codes (primary first), practice location, the clinic's source id and how
sure the match is (``kad.npi_match``: same street address, phone or city, and the name's
similarity; ``match_method`` name_address | name_phone | name_city | name_state, ``match_score``
0..1). Results whose score is under ``kad.npi_match.MIN_SCORE`` are counted (``nppes_match/skipped/weak``), not
yielded; the build keeps every match in ``clinic_npis`` and joins payer evidence to a clinic only
through a strong one (``kad.npi_match.STRONG``), so a weak match never merges records by itself.

How politely: as nppes (one request at a time, about 1.5 s apart): one request a clinic, about
200 a run. An error answer (``{"Errors": [...]}``) is logged and counted (``nppes_match/api_errors``).

How often: monthly, after the clinic_site crawl; and after the curated clinic lists grow.
"""

import functools
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import scrapy

from kad import clinics, curated_clinics
from kad.records import Report
from kad.npi_match import MIN_SCORE, score
from kad.normalise import clean_text

from crawlers.feedguard import feed_dir
from crawlers.items import NPI, new_record
from crawlers.spiders.nppes import API_URL, PAGE_LIMIT, api_url, location_address, organisation_names


def name_prefix(name):
    """The first two words of a clinic name as an NPPES wildcard query ('Ketamine Wellness*')."""
    words = re.sub(r"[^A-Za-z0-9 ]+", " ", name or "").split()
    prefix = " ".join(words[:2])
    return prefix + "*" if len(prefix) >= 2 else None


def directory_clinics(clinic_files, site_feed, changes=None):
    """Feed-shaped records of the directory's clinics: the curated clinic files with their changes,
    then the clinic_site feed."""
    report = Report()
    curated_record = functools.partial(curated_clinics.curated_record,
                                       changes=curated_clinics.Changes.load(changes, report))
    records = []
    for path, to_record in [*((path, curated_record) for path in clinic_files), (site_feed, clinics.feed_record)]:
        if path.exists():
            records.extend(record for _, record in clinics.read_records(path, to_record, report) if record)
    return records


class NppesMatchSpider(scrapy.Spider):
    name = "nppes_match"
    item_kind = NPI
    refresh_after = ("clinic_site",)  # matches the clinics of its feed too

    def __init__(self, states=None, api_url=None, seed=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.api_url = api_url or API_URL
        self.allowed_domains = [urlsplit(self.api_url).hostname]
        self.states = {s.strip().upper() for s in states.split(",")} if states else None
        self.seed = seed

    def count(self, key, amount=1):
        if getattr(self, "crawler", None):
            self.crawler.stats.inc_value(f"nppes_match/{key}", amount)

    def clinics(self):
        # -a seed=FILE: one curated clinic file, without changes, instead of data/curated/'s.
        files, changes = (([Path(self.seed)], None) if self.seed
                          else (curated_clinics.CLINIC_FILES, curated_clinics.CHANGES))
        site_feed = feed_dir(self.crawler.settings) / "clinic_site.jsonl"
        wanted = {}
        for record in directory_clinics(files, site_feed, changes):
            if record.get("npi") or (self.states and record["state"] not in self.states):
                continue
            wanted.setdefault(record["source_id"], record)
        return list(wanted.values())

    async def start(self):
        for clinic in self.clinics():
            prefix = name_prefix(clinic["name"])
            if not prefix:
                self.count("skipped/no_name_words")
                continue
            params = {"version": "2.1", "enumeration_type": "NPI-2", "organization_name": prefix,
                      "state": clinic["state"], "address_purpose": "LOCATION", "limit": PAGE_LIMIT, "skip": 0}
            self.count("clinics")
            yield scrapy.Request(api_url(params, self.api_url), callback=self.parse, cb_kwargs={"clinic": clinic})

    def parse(self, response, clinic):
        try:
            data = json.loads(response.text)
        except ValueError:
            data = None
        if not isinstance(data, dict) or data.get("Errors") or "results" not in data:
            self.count("api_errors")
            self.logger.error("NPPES error for %s: %s", response.url, (data or {}).get("Errors") if isinstance(data, dict) else data)
            return
        matched = False
        for result in data.get("results") or []:
            record = self.candidate(result, response.url)
            found = score(clinic, record)
            if not found or found[1] < MIN_SCORE:
                self.count("skipped/weak")
                continue
            matched = True
            record.update(clinic_source_id=clinic["source_id"], match_method=found[0], match_score=found[1])
            self.count(f"matched/{found[0]}")
            yield record
        if not matched:
            self.count("no_match")

    @staticmethod
    def candidate(result, url):
        legal, _, names = organisation_names(result)
        address = location_address(result) or {}
        taxonomies = sorted(result.get("taxonomies") or [], key=lambda t: not t.get("primary"))
        return new_record(
            NPI, npi=str(result.get("number") or ""), entity="organisation", name=legal,
            other_names=[n for n in names if n != legal], taxonomies=[t["code"] for t in taxonomies if t.get("code")],
            street=" ".join(filter(None, (clean_text(address.get("address_1")), clean_text(address.get("address_2"))))) or None,
            city=address.get("city"), state=address.get("state"), postal_code=address.get("postal_code"),
            phone=address.get("telephone_number"), sources=[url])
