"""Item pipelines, one concern each, in the order of ITEM_PIPELINES:
clean (strings) -> normalise (state, phone, website, ZIP, NPI) -> vocabulary (free text to ids)
-> validate (required fields, coordinates) for clinic records, and records (keys, strings,
required fields, sources) for the other kinds. Each counts what it changes or drops in the crawl
stats: ``pipeline/cleaned/<what>``, ``pipeline/dropped/<reason>``, ``vocab/...``.

A pipeline names the kinds of record it is for (``kinds``); for a spider that yields another kind
(``item_kind``, see crawlers/items.py) it is not loaded at all, so a bill never meets the clinic
checks and a clinic never meets the bill checks.
"""

from scrapy.exceptions import DropItem, NotConfigured

from crawlers.items import CLINIC, item_kind


class StatsPipeline:
    """Base: keeps the crawler (Scrapy 2.19 passes no spider to pipeline methods)."""

    kinds = (CLINIC,)

    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        if item_kind(crawler.spidercls) not in cls.kinds:
            raise NotConfigured  # without a message: Scrapy leaves it out quietly
        return cls(crawler)

    def count(self, key, amount=1):
        self.stats.inc_value(key, amount)

    def cleaned(self, what):
        self.count(f"pipeline/cleaned/{what}")

    def drop(self, reason, item, detail=""):
        """Count the reason and drop the item (DropItem is logged by Scrapy)."""
        self.count(f"pipeline/dropped/{reason}")
        label = next((item.get(key) for key in ("source_id", "name", "url", "id") if item.get(key)), "record")
        raise DropItem(f"{reason}: {label}{' (' + detail + ')' if detail else ''}")
