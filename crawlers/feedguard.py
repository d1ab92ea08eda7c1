"""The feed guard: a crawl replaces ``<FEED_DIR>/<spider>.jsonl`` only when it went well.

The FEEDS setting writes every crawl to ``<FEED_DIR>/<spider>.jsonl.partial``. When the spider
has closed and the feed exporter has finished writing, the guard renames the partial file over
the feed if

* the crawl finished normally (finish reason ``finished``, not a shutdown, a timeout or an error),
* it wrote at least one item, and
* it wrote at least ``FEED_GUARD_MIN_RATIO`` (default 0.5) times the lines of the previous feed.

Otherwise the previous feed stays as it was, the partial file is left beside it for inspection,
and the reason is logged and set in the stats (``feedguard/kept_previous``, ``feedguard/reason``).
``FEED_DIR`` is a setting, so tests and one-off runs can write elsewhere
(``scrapy crawl nppes -s FEED_DIR=/tmp/feeds``). With ``FEED_GUARD_REPORT`` set to a file name,
the guard also writes there, as JSON, what it decided and the crawl's counters, for
``make refresh`` (kad/refresh.py) to summarise.
"""

import json
import logging
import os
from pathlib import Path

from scrapy import signals
from scrapy.exceptions import NotConfigured

logger = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial"


def feed_dir(settings):
    return Path(settings.get("FEED_DIR")).resolve()


def feed_uri_params(params, spider):
    """FEEDS ``uri_params`` hook: makes ``%(feed_dir)s`` the FEED_DIR setting."""
    return {**params, "feed_dir": str(feed_dir(spider.crawler.settings))}


def count_lines(path):
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


class FeedGuard:
    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.min_ratio = crawler.settings.getfloat("FEED_GUARD_MIN_RATIO", 0.5)
        self.directory = feed_dir(crawler.settings)
        self.reason = None
        self.feed_closed = False
        self.done = False

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.get("FEED_DIR"):
            raise NotConfigured("FEED_DIR is not set")
        guard = cls(crawler)
        crawler.signals.connect(guard.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(guard.feed_exporter_closed, signal=signals.feed_exporter_closed)
        return guard

    # The two signals can arrive in either order; the guard acts once it has both.
    def spider_closed(self, reason):
        self.reason = reason
        self._maybe_finish()

    def feed_exporter_closed(self):
        self.feed_closed = True
        self._maybe_finish()

    def _maybe_finish(self):
        if self.done or self.reason is None or not self.feed_closed:
            return
        self.done = True
        self.finish(self.crawler.spidercls.name, self.reason)
        self.write_report(self.crawler.spidercls.name, self.reason)

    def write_report(self, name, reason):
        path = self.crawler.settings.get("FEED_GUARD_REPORT")
        if not path:
            return
        stats = self.stats.get_stats()
        report = {"spider": name, "finish_reason": reason, "replaced": bool(stats.get("feedguard/replaced")),
                  "reason": stats.get("feedguard/reason"), "new_lines": stats.get("feedguard/new_lines"),
                  "previous_lines": stats.get("feedguard/previous_lines"),
                  "stats": {k: v for k, v in stats.items() if isinstance(v, (int, float, str))}}
        Path(path).write_text(json.dumps(report, indent=1, sort_keys=True), encoding="utf-8")

    def paths(self, name):
        feed = self.directory / f"{name}.jsonl"
        return feed, feed.with_name(feed.name + PARTIAL_SUFFIX)

    def finish(self, name, reason):
        """Replace the feed or keep the previous one; returns True when it was replaced."""
        feed, partial = self.paths(name)
        if not partial.exists():
            logger.info("Feed guard: no %s was written (FEEDS overridden?); nothing to do", partial)
            self.stats.set_value("feedguard/reason", "no_partial_feed")
            return False
        new_lines = count_lines(partial)
        old_lines = count_lines(feed) if feed.exists() else 0
        self.stats.set_value("feedguard/new_lines", new_lines)
        self.stats.set_value("feedguard/previous_lines", old_lines)
        refusal = self.refusal(reason, new_lines, old_lines)
        if refusal:
            logger.warning(
                "Feed guard: kept the previous %s (%d lines) and left the new feed at %s: %s",
                feed, old_lines, partial, refusal,
            )
            self.stats.set_value("feedguard/kept_previous", 1)
            self.stats.set_value("feedguard/reason", refusal)
            return False
        os.replace(partial, feed)
        logger.info("Feed guard: wrote %s (%d lines; previously %d)", feed, new_lines, old_lines)
        self.stats.set_value("feedguard/replaced", 1)
        return True

    def refusal(self, reason, new_lines, old_lines):
        """Why the new feed must not replace the old one, or None when it may."""
        if reason != "finished":
            return f"the crawl did not finish normally (finish_reason={reason})"
        if new_lines == 0:
            return "the crawl wrote no items"
        if old_lines and new_lines < self.min_ratio * old_lines:
            return (
                f"the crawl wrote {new_lines} items, under {self.min_ratio:.0%} of the "
                f"previous feed's {old_lines}"
            )
        return None
