"""RecordPipeline: the checks every record that is not a clinic passes (source checks, bills,
policy-page checks): every key of its kind present and in order; whitespace and HTML entities
cleaned in strings, but addresses kept exactly as given (a source check must name the address
as the curated rows cite it, and unescaping would turn "&copy=" into "©="); lists as
de-duplicated lists; the kind's required fields and at least one http(s) source present, or the
record is dropped with a counted reason (``pipeline/dropped/missing_url``,
``pipeline/dropped/missing_sources``...). A bill outside the 50 states and DC is dropped as
``invalid_state``; a bill status outside the vocabulary becomes ``unknown``
(``pipeline/cleaned/status_invalid``). NPI and network-evidence records need a valid NPI (check
digit; ``invalid_npi``); network evidence also an insurer of the vocabulary (``unknown_insurer``)
and an evidence kind of the ladder (``invalid_evidence``); their state is normalised (a bad one is
emptied: ``pipeline/cleaned/state_invalid``)."""

from kad import normalise, vocab
from kad.checks import BILL_STATUSES
from kad.normalise import clean_text, is_web_address

from crawlers.items import BILL, ITEM_FIELDS, NETWORK, NPI, POLICY_PAGE, SOURCE_CHECK, item_kind
from crawlers.pipelines import StatsPipeline
from crawlers.pipelines.clean import clean_list

REQUIRED = {
    SOURCE_CHECK: ("url",),
    BILL: ("id", "state", "identifier"),
    POLICY_PAGE: ("policy_row", "url"),
    NPI: ("npi",),
    NETWORK: ("npi", "insurer_id", "evidence"),
}
FLAGS = ("changed", "disappeared")
ADDRESSES = ("url", "final_url", "sources", "source_url")  # never cleaned
SPIDER_EVIDENCE = ("marketplace_directory", "payer_directory", "medicare_claims")


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
        if kind in (NPI, NETWORK):
            self.check_provider(record)
        return record

    def check_provider(self, record):
        try:
            record["npi"] = normalise.npi(record["npi"])
        except ValueError as error:
            self.drop("invalid_npi", record, str(error))
        if self.kind == NETWORK:
            if record["insurer_id"] not in vocab.insurers().entries:
                self.drop("unknown_insurer", record, record["insurer_id"])
            if record["evidence"] not in SPIDER_EVIDENCE:
                self.drop("invalid_evidence", record, record["evidence"])
            if not isinstance(record["detail"], dict):
                record["detail"] = {}
                self.cleaned("detail_invalid")
        try:
            record["state"] = normalise.state_code(record["state"])
        except ValueError:
            record["state"] = None
            self.cleaned("state_invalid")

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
