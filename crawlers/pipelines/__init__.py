"""Item pipelines, one concern each, in the order of ITEM_PIPELINES:
clean (strings) -> normalise (state, phone, website, ZIP, NPI) -> vocabulary (free text to ids)
-> validate (required fields, coordinates). Each counts what it changes or drops in the crawl
stats: ``pipeline/cleaned/<what>``, ``pipeline/dropped/<reason>``, ``vocab/...``.
"""

from scrapy.exceptions import DropItem


class StatsPipeline:
    """Base: keeps the crawler (Scrapy 2.19 passes no spider to pipeline methods)."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def count(self, key, amount=1):
        self.stats.inc_value(key, amount)

    def cleaned(self, what):
        self.count(f"pipeline/cleaned/{what}")

    def drop(self, reason, item, detail=""):
        """Count the reason and drop the item (DropItem is logged by Scrapy)."""
        self.count(f"pipeline/dropped/{reason}")
        label = item.get("source_id") or item.get("name") or "record"
        raise DropItem(f"{reason}: {label}{' (' + detail + ')' if detail else ''}")
