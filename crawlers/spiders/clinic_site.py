"""clinic_site: what clinics say about themselves on their own websites.

What it crawls: the home page of every curated clinic that has a website (the clinic files of
data/curated/ with their changes, read by ``kad.curated_clinics``), or the URLs given with
``-a start_urls=url1,url2``, and on each site at most ``CLINIC_SITE_MAX_PAGES`` (8) further
pages of the same site whose address or link text suggests contact, locations, insurance,
prices, FAQ, services or conditions. It never follows a link or a redirect to another site (and
``allowed_domains`` holds only the start hosts).

What it reads: schema.org JSON-LD and microdata (clinic types, ``@graph``, lists, locations
nested under an organisation, every address of a node with several) for name, address, phone,
coordinates; the site's name from og:site_name, its title or its footer when structured data
gives none; the page text, statement by statement (a denial, a hedge or an open question adds
nothing), for insurers named in insurance sentences or lists, insurance status per treatment
(self-pay wording is "not covered"), Medicare / Medicaid / TRICARE / VA Community Care,
financing, labelled prices, conditions, treatments, clinician types, Spravato REMS
certification, and a phone number and postal address when there is no structured data, or on
a location page without it (``crawlers/extract/``).

What it yields: one record per clinic location per site (several when the structured data
lists several locations), after the site's last page has arrived or failed; ``sources`` lists
the pages that gave a fact. A name or state the site does not give is taken from the seed
list (and the seed's sources are added), and counted as ``clinic_site/seed_fallback/...``.

How politely: robots.txt obeyed, the project's user agent, one request at a time per site
with a delay of about 1.5 s stretched by AutoThrottle (crawlers/settings.py).

How often: monthly (``make crawl SPIDER=clinic_site``); clinic sites change slowly and each
run asks each site for at most nine pages (plus robots.txt and redirects).
"""

import logging
from dataclasses import dataclass, field

import scrapy
from scrapy.http import TextResponse
from scrapy.spidermiddlewares.httperror import HttpError

from kad import CURATED, normalise
from kad.curated_clinics import curated_lines
from kad.normalise import site_host, slug

from crawlers.extract import Place, follow_links, merge_facts, page_facts, same_site
from crawlers.items import new_clinic

DEFAULT_MAX_PAGES = 8
REDIRECTS = [301, 302, 303, 307, 308]
MAX_REDIRECTS = 5


def _place(street, city, state, zip5):
    return Place(street=street, city=city, state=state, postal_code=zip5)


@dataclass
class Seed:
    url: str
    name: str | None = None
    city: str | None = None
    state: str | None = None
    sources: list = field(default_factory=list)


def load_seeds(curated=CURATED):
    """One seed per distinct website of the curated clinic lines (kad/curated_clinics.py); a
    website shared by several lines (a chain) gives no fallback name or place, since we cannot
    tell which line a page is about."""
    by_url = {}
    for row in curated_lines(curated):
        try:
            website = normalise.website(row.get("website"))
        except ValueError:
            continue
        if website:
            by_url.setdefault(website, []).append(row)
    seeds = []
    for url, rows in by_url.items():
        if len(rows) == 1:
            row = rows[0]
            seeds.append(Seed(url, row.get("name"), row.get("city"), row.get("state"),
                              list(row.get("source_urls") or [])))
        else:
            seeds.append(Seed(url))
    return seeds


@dataclass
class SiteCrawl:
    """The pages of one site: requests still out, URLs asked for, and the facts of each page
    by its order (0 is the home page, then the followed links in the order chosen)."""

    seed: Seed
    home_url: str | None = None
    pending: int = 1
    requested: set = field(default_factory=set)
    pages: dict = field(default_factory=dict)  # order -> PageFacts
    done: bool = False

    def ordered_pages(self):
        return [self.pages[order] for order in sorted(self.pages)]


class ClinicSiteSpider(scrapy.Spider):
    name = "clinic_site"

    def __init__(self, start_urls=None, max_pages=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if start_urls:
            self.seeds = [Seed(url.strip()) for url in start_urls.split(",") if url.strip()]
        else:
            self.seeds = load_seeds()
        self.max_pages_arg = max_pages
        self.max_pages = int(max_pages) if max_pages is not None else DEFAULT_MAX_PAGES
        self.allowed_domains = sorted({site_host(seed.url) for seed in self.seeds})
        self.sites = []
        self.source_ids = set()

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        if spider.max_pages_arg is None:
            spider.max_pages = crawler.settings.getint("CLINIC_SITE_MAX_PAGES", DEFAULT_MAX_PAGES)
        return spider

    def count(self, key):
        if getattr(self, "crawler", None):
            self.crawler.stats.inc_value(f"clinic_site/{key}")

    async def start(self):
        for seed in self.seeds:
            site = SiteCrawl(seed)
            self.sites.append(site)
            self.count("sites")
            yield self.page_request(seed.url, site, 0, self.parse)

    # ---------------------------------------------------------------------------------------
    # requests and callbacks
    #
    # Every request of a site ends in exactly one call of page_done, which writes the site's
    # records after its last page. The spider follows redirects itself (same site only), so
    # that no request is dropped silently: dont_filter keeps the duplicate filter out (the
    # spider never asks for one URL twice on a site), and an off-site redirect is refused here
    # rather than in the offsite middleware, which would drop it without a callback.

    def page_request(self, url, site, order, callback, hops=0):
        site.requested.add(url)
        return scrapy.Request(
            url, callback=callback, errback=self.page_failed, dont_filter=True,
            cb_kwargs={"site": site, "order": order},
            meta={"dont_redirect": True, "handle_httpstatus_list": REDIRECTS, "hops": hops},
        )

    def follow_redirect(self, response, site, order):
        """The request for a same-site redirect target, or None (the page is then done)."""
        location = response.headers.get("Location")
        target = response.urljoin(location.decode("latin-1")) if location else None
        hops = response.meta.get("hops", 0)
        if not target or not same_site(target, site.seed.url) or hops >= MAX_REDIRECTS:
            self.count("pages/redirect_refused")
            self.logger.log(logging.WARNING if order == 0 else logging.INFO,
                            "Not following the redirect of %s to %s", response.url, target)
            return None
        if target in site.requested:
            self.count("pages/redirect_seen")
            return None
        return self.page_request(target, site, order, response.request.callback, hops + 1)

    def parse(self, response, site, order):
        """The home page: read it, then follow the useful same-site links."""
        if response.status in REDIRECTS:
            yield from self.redirected(response, site, order)
            return
        site.home_url = response.url
        if self.read_page(response, site, order):
            links = follow_links(response, self.max_pages, exclude=site.requested)
            for number, url in enumerate(links, start=1):
                site.pending += 1
                yield self.page_request(url, site, number, self.parse_page)
        yield from self.page_done(site)

    def parse_page(self, response, site, order):
        if response.status in REDIRECTS:
            yield from self.redirected(response, site, order)
            return
        self.read_page(response, site, order)
        yield from self.page_done(site)

    def redirected(self, response, site, order):
        request = self.follow_redirect(response, site, order)
        if request is not None:
            yield request  # the same page, still pending
        else:
            yield from self.page_done(site)

    def page_failed(self, failure):
        """A page that failed (HTTP error, robots.txt, timeout) costs its facts, not the site's."""
        request = failure.request
        site, order = request.cb_kwargs["site"], request.cb_kwargs["order"]
        if failure.check(HttpError):
            reason = f"http_{failure.value.response.status}"
        else:
            reason = type(failure.value).__name__
        self.count(f"pages/failed/{reason}")
        if order == 0:
            self.count("sites_failed")
        self.logger.info("Page failed (%s): %s", reason, request.url)
        yield from self.page_done(site)

    def read_page(self, response, site, order):
        if not isinstance(response, TextResponse):
            self.count("pages/not_text")
            return False
        site.pages[order] = page_facts(response)
        self.count("pages/read")
        return True

    def page_done(self, site):
        site.pending -= 1
        if site.pending <= 0 and not site.done:
            site.done = True
            yield from self.site_records(site)

    # ---------------------------------------------------------------------------------------
    # records

    def site_records(self, site):
        pages = site.ordered_pages()
        if not pages:
            return
        facts = merge_facts(pages)
        locations = self.locations(pages)
        organisation = next((p.organisation for p in pages if p.organisation), None)
        site_name = (organisation and organisation.name) or next(
            (p.site_name for p in pages if p.site_name), None)
        site_phone = next((p.phone for p in pages if p.phone), None)
        sources = list(dict.fromkeys(p.url for p in pages if p.has_facts()))
        for place in locations:
            record_sources = list(sources)
            name = place.name or site_name
            state, city = place.state, place.city
            if not name and site.seed.name:
                name = site.seed.name
                self.count("seed_fallback/name")
                record_sources += site.seed.sources
            if not state and len(locations) == 1 and site.seed.state:
                state, city = site.seed.state, city or site.seed.city
                self.count("seed_fallback/state")
                record_sources += [u for u in site.seed.sources if u not in record_sources]
            website = place.website if place.website and same_site(place.website, site.home_url) \
                else site.home_url
            yield new_clinic(
                source_id=self.source_id(name, city, place.street),
                name=name,
                operator=place.operator,
                street=place.street,
                city=city,
                state=state,
                postal_code=place.postal_code,
                phone=place.phone or (site_phone if len(locations) == 1 else None),
                website=website,
                latitude=place.latitude,
                longitude=place.longitude,
                sources=record_sources,
                **facts,
            )

    def locations(self, pages):
        """Structured-data locations, and the first address written on each location page that
        has no structured data (/locations/dallas: one page, one place); without structured
        data, every address written in the text; else one place without an address (the
        organisation). The same address seen twice is one place."""
        structured = [place for page in pages for place in page.locations]
        if structured:
            structured += [_place(*page.addresses[0]) for page in pages
                           if page.location_page and not page.locations and page.addresses]
        written = [_place(*address) for page in pages for address in page.addresses]
        for kind, found in (("structured_data", structured), ("text", written)):
            places = {}
            for place in found:
                places.setdefault(place.address_key(), place)
            if places:
                self.count(f"locations/{kind}")
                return list(places.values())
        self.count("locations/no_address")
        return [Place()]

    def source_id(self, name, city, street):
        """'site:<slug of name and city>', with the street added when one site has two
        locations in one city."""
        if not name:
            return None  # the validate pipeline drops it as missing_name
        base = "site:" + slug(name, city)
        source_id = base
        if source_id in self.source_ids:
            source_id = "site:" + slug(name, city, street) if street else base
            number = 2
            while source_id in self.source_ids:
                source_id, number = f"{base}-{number}", number + 1
        self.source_ids.add(source_id)
        return source_id
