"""RecordPipeline: the checks every record that is not a clinic passes (source checks, bills,
policy-page checks): every key of its kind present and in order; whitespace and HTML entities
cleaned in strings, but addresses kept exactly as given (a source check must name the address
as the curated rows cite it, and unescaping would turn "&copy=" into "©="); lists as
de-duplicated lists; the kind's required fields and at least one http(s) source present, or the
record is dropped with a counted reason (``pipeline/dropped/missing_url``,
``pipeline/dropped/missing_sources``...). A bill outside the 50 states and DC is dropped as
``invalid_state``; a bill status outside the vocabulary becomes ``unknown``
(``pipeline/cleaned/status_invalid``)."""

from kad import normalise
from kad.checks import BILL_STATUSES
from kad.normalise import is_web_address
from kad.normalise import clean_text

from crawlers.items import BILL, ITEM_FIELDS, POLICY_PAGE, SOURCE_CHECK, item_kind
from crawlers.pipelines import StatsPipeline
from crawlers.pipelines.clean import clean_list

REQUIRED = {
    SOURCE_CHECK: ("url",),
    BILL: ("id", "state", "identifier"),
    POLICY_PAGE: ("policy_row", "url"),
}
FLAGS = ("changed", "disappeared")
ADDRESSES = ("url", "final_url", "sources")  # never cleaned


class RecordPipeline(StatsPipeline):
    kinds = tuple(REQUIRED)

    def __init__(self, crawler):
        super().__init__(crawler)
        self.kind = item_kind(crawler.spidercls)

    def process_item(self, item):
        kind = self.kind
        fields = ITEM_FIELDS[kind]
        record = {}
        for key, empty in fields.items():
            if key not in item:
                self.cleaned("missing_key")
            value = item.get(key, list(empty) if isinstance(empty, list) else empty)
            if key in ADDRESSES:
                value = list(dict.fromkeys(value or [])) if isinstance(empty, list) else value
            elif isinstance(empty, list):
                value = clean_list(value)
            elif isinstance(value, str):
                value = clean_text(value)
            record[key] = value
        for field in REQUIRED[kind]:
            if not record.get(field):
                self.drop(f"missing_{field}", record)
        sources = [url for url in record["sources"] if is_web_address(url)]
        if len(sources) < len(record["sources"]):
            self.cleaned("source_invalid")
        record["sources"] = sources
        if not sources:
            self.drop("missing_sources", record)
        if kind == BILL:
            self.check_bill(record)
        if kind == SOURCE_CHECK:
            for flag in FLAGS:
                record[flag] = bool(record[flag])
        return record

    def check_bill(self, record):
        try:
            state = normalise.state_code(record["state"])
        except ValueError as error:
            self.drop("invalid_state", record, str(error))
        if state != record["state"]:
            record["state"] = state
            self.cleaned("state")
        if record["status"] not in BILL_STATUSES:
            record["status"] = "unknown"
            self.cleaned("status_invalid")
