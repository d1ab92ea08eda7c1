"""Item pipelines, in the order of ITEM_PIPELINES: records (kad.records, the validation layer
the build uses too: keys, types, text, normalised codes, identity), then, for clinic records,
vocabulary (free text to vocabulary ids). Each counts what it changes or drops in the crawl
stats: ``pipeline/cleaned/<what>``, ``pipeline/dropped/<reason>``, ``vocab/...``.

A pipeline names the kinds of record it is for (``kinds``); for a spider that yields another kind
(``item_kind``, see crawlers/items.py) it is not loaded at all, so a bill never meets the
vocabulary pipeline.
"""

from scrapy.exceptions import NotConfigured

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

    @staticmethod
    def label(item):
        """What names the item in a log line: its source id, name, address or id."""
        if isinstance(item, dict):
            for key in ("source_id", "name", "url", "id"):
                if isinstance(item.get(key), str) and item[key].strip():
                    return item[key]
        return "record"
