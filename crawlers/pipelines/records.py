"""RecordPipeline: every record of every kind through ``kad.records``, the validation layer the
build uses too, so the crawl and the build accept and refuse the same values.

Every key of the record's kind present and in order (a key the spider left out is counted:
``pipeline/cleaned/missing_key``); text cleaned (whitespace, HTML entities, bidirectional
controls, NULs) and addresses kept exactly as given; state, phone, ZIP code, NPI and website
normalised (counted by field: ``pipeline/cleaned/phone``); a value its field cannot hold emptied,
logged and counted (``pipeline/cleaned/phone_invalid``, ``pipeline/cleaned/postal_code_other_state``,
``pipeline/cleaned/coordinates_outside_us``); a record without what identifies it dropped and
counted (``pipeline/dropped/missing_name``, ``pipeline/dropped/invalid_state``...).
"""

import logging

from scrapy.exceptions import DropItem

from kad.records import KINDS, Report

from crawlers.items import item_kind
from crawlers.pipelines import StatsPipeline

logger = logging.getLogger(__name__)


class StatsReport(Report):
    """A kad.records report that counts in the crawl stats and logs, and keeps the last drop."""

    def __init__(self, pipeline):
        super().__init__()
        self.pipeline = pipeline
        self.reported = set()
        self.dropped_for = None

    def field(self, where, key, message, what="invalid"):
        self.reported.add(key)
        self.pipeline.cleaned(f"{key}_{what}")
        logger.info("%s: %s", where, message)

    def drop(self, where, reason, message):
        self.dropped_for = (reason, message)


class RecordPipeline(StatsPipeline):
    kinds = tuple(KINDS)

    def __init__(self, crawler):
        super().__init__(crawler)
        self.schema = KINDS[item_kind(crawler.spidercls)]

    def process_item(self, item):
        report = StatsReport(self)
        where = self.label(item)
        record = self.schema.check(item, where, report)
        if record is None:
            reason, message = report.dropped_for
            self.count(f"pipeline/dropped/{reason}")
            raise DropItem(f"{reason}: {where} ({message})")
        for key, value in record.items():
            if key not in item:
                self.cleaned("missing_key")
            elif key not in report.reported and value != item[key]:
                self.cleaned(key)
        return record
