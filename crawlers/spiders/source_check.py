"""source_check: are the pages the curated data cites still there, and still saying the same?

What it crawls: every address cited by a curated row (``kad.checks.cited_urls``: the sources of
data/curated/state_laws/*.yml, federal_rules.yml, insurer_policies.yml and states.yml, and the
source_urls of the curated clinic files with their changes), each once, or the addresses given with ``-a urls=u1,u2``.
Redirects are followed (Scrapy's own middleware, robots.txt asked again for the new host).

What it yields: one record per address, whatever happened (``crawlers.items.SOURCE_CHECK_FIELDS``):
the HTTP status, the final URL after redirects and the SHA-256 of the content: of the page's
normalised visible text for HTML (scripts, styles, forms, navigation and markup left out, so a
rotating token or a new ad does not count as a change), of the bytes for PDFs and everything
else. It compares with the previous check, read at the start from
``<FEED_DIR>/source_check.jsonl``: ``changed`` when the hash differs from the last hash known
(and ``changed_at``, the check that last saw a change, carried forward from check to check),
``disappeared`` when the address now fails (4xx/5xx, DNS, refused, timeout) after an earlier
check had read it. An address that fails still yields a record (from the errback) with the
reason in ``error``; an address robots.txt forbids is not fetched and says
``error = "robots_txt_disallowed"``, keeping the last known hash as ``previous_sha256``.
The build (kad/checks.py) writes the results into ``sources`` and flags for review every row
citing a vanished address, and every row read (``retrieved_at``) before its source last changed,
until a person re-reads it and updates that date.

How politely: robots.txt obeyed, the project's user agent, one request at a time per site with a
delay of about 1.5 s stretched by AutoThrottle (crawlers/settings.py); each address once (plus
robots.txt and redirects), about 1,390 addresses on about 920 sites.

How often: weekly (``make crawl SPIDER=source_check``).

Stats: ``source_check/urls``, ``/ok``, ``/changed``, ``/disappeared``, ``/first_check`` (no
previous record), ``/redirected``, ``/hashed/text`` or ``/hashed/bytes``, ``/failed/<reason>``,
``/not_asked/<reason>``, ``/invalid_url``, ``/unanswered`` (should stay 0) and
``/previous_bad_lines``.
"""

import json

import scrapy

from kad.checks import cited_urls

from crawlers.feedguard import feed_dir
from crawlers.fetch import content_sha256, failure_outcome
from crawlers.items import SOURCE_CHECK, new_record, utc_now
from crawlers.spiders import EVERY_OTHER


def read_previous(path):
    """{url: record} of the previous feed, and how many of its lines could not be read."""
    previous, bad = {}, 0
    if not path.exists():
        return previous, bad
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            previous[record["url"]] = record
        except (ValueError, KeyError, TypeError):
            bad += 1
    return previous, bad


class SourceCheckSpider(scrapy.Spider):
    name = "source_check"
    item_kind = SOURCE_CHECK
    refresh_after = EVERY_OTHER  # checks what the others' feeds cite
    custom_settings = {
        "DOWNLOAD_MAXSIZE": 64 * 1024 * 1024,  # regulations and rule PDFs are bigger than clinic pages
        "DOWNLOAD_WARNSIZE": 32 * 1024 * 1024,
    }

    def __init__(self, urls=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.urls = [u.strip() for u in urls.split(",") if u.strip()] if urls else cited_urls()
        self.previous = {}
        self.answered, self.invalid = set(), set()

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.previous, bad = read_previous(feed_dir(crawler.settings) / f"{cls.name}.jsonl")
        if bad:
            spider.count("previous_bad_lines", bad)
            spider.logger.warning("%d lines of the previous %s feed could not be read", bad, cls.name)
        return spider

    def count(self, key, amount=1):
        if getattr(self, "crawler", None):
            self.crawler.stats.inc_value(f"source_check/{key}", amount)

    async def start(self):
        for url in self.urls:
            self.count("urls")
            try:
                request = scrapy.Request(url, callback=self.parse, errback=self.failed, dont_filter=True,
                                         cb_kwargs={"url": url})
            except ValueError as error:
                self.invalid.add(url)
                self.count("invalid_url")
                self.logger.error("Not a URL Scrapy can fetch, not checked: %r (%s)", url, error)
                continue
            yield request

    def parse(self, response, url):
        digest, how = content_sha256(response)
        self.count(f"hashed/{how}")
        if response.meta.get("redirect_times"):
            self.count("redirected")
        yield self.record(url, final_url=response.url, http_status=response.status, content_sha256=digest)

    def failed(self, failure):
        url = failure.request.cb_kwargs["url"]
        outcome = failure_outcome(failure)
        self.count(f"{'failed' if outcome.unreachable else 'not_asked'}/{outcome.reason}")
        self.logger.info("Not read (%s): %s", outcome.reason, url)
        yield self.record(url, final_url=outcome.final_url, http_status=outcome.http_status,
                          error=outcome.reason, unreachable=outcome.unreachable)

    def record(self, url, final_url, http_status, content_sha256=None, error=None, unreachable=False):
        """The record of one address, compared with its previous check."""
        self.answered.add(url)
        checked_at = utc_now()
        previous = self.previous.get(url)
        if previous is None:
            self.count("first_check")
            baseline, was_read = None, False
        else:
            baseline = previous.get("content_sha256") or previous.get("previous_sha256")
            status = previous.get("http_status")
            was_read = baseline is not None or (isinstance(status, int) and status < 400)
        changed = bool(content_sha256 and baseline and content_sha256 != baseline)
        disappeared = unreachable and was_read
        # When the text last changed, carried forward, so a row read before it stays flagged
        # until someone re-reads it, however many checks run in between.
        changed_at = checked_at if changed else (previous or {}).get("changed_at")
        for flag, value in (("ok", content_sha256 is not None), ("changed", changed), ("disappeared", disappeared)):
            if value:
                self.count(flag)
        return new_record(SOURCE_CHECK, url=url, final_url=final_url, http_status=http_status,
                          content_sha256=content_sha256, previous_sha256=baseline, changed=changed,
                          changed_at=changed_at, disappeared=disappeared, error=error,
                          checked_at=checked_at, sources=[url])

    def closed(self, reason):
        unanswered = [url for url in self.urls if url not in self.answered | self.invalid]
        if unanswered and reason == "finished":
            self.count("unanswered", len(unanswered))
            self.logger.warning("%d addresses got neither an answer nor an error, e.g. %s",
                                len(unanswered), unanswered[:3])
