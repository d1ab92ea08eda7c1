"""One validation layer for every kind of record: the crawl pipelines and the build call the same
checks, so a value the crawl would refuse is refused by the build too, and the other way round.

A kind (clinic, source_check, bill, policy_page, npi, network, and the price_file and
negotiated_rate lines of the negotiated-rates feed) is a schema: each field's type and empty value,
the fields that identify a record, and rules across fields. ``KINDS[kind].check(record, where,
report)`` returns a new record holding every field of the kind, in order:

* a value of the field's type is cleaned: whitespace, HTML entities, bidirectional controls and
  NULs in text (``kad.normalise.clean_text``); state, phone, ZIP code, NPI and website normalised;
  addresses (``url``, ``sources``...) kept exactly as given;
* a value of another type is coerced only where nothing is lost or guessed: ``"yes"``, ``"true"``
  or ``1`` for a flag, ``"2400"`` for a price, ``78701`` for a ZIP code; a bool is never a number;
* anything else empties the field, and the report says where (file:line), which field and why; a
  list keeps its good entries and reports the others, and a list given as a string is emptied;
* a record without what identifies it (a source id, a name, a state, a source...) is dropped and
  reported, with a reason counted by name (``missing_name``, ``invalid_state``...).

No JSON value makes ``check`` raise. Keys that are not fields of the kind are not read.

A new kind is a ``Kind`` with its fields (``KINDS`` below): the field types here cover text,
codes, numbers, flags, dates, lists and addresses; a type of its own is a function that returns
the clean value or raises ``Invalid``.
"""

import json
import math
import re
from dataclasses import dataclass, field

from kad import normalise, vocab
from kad.geocode import in_us

CLINIC = "clinic"
SOURCE_CHECK = "source_check"
BILL = "bill"
POLICY_PAGE = "policy_page"
PRICE_FILE = "price_file"
NEGOTIATED_RATE = "negotiated_rate"
NPI = "npi"
NETWORK = "network"

# What kind of place a clinic location is: a VA medical center treats veterans enrolled in VA care.
FACILITY_KINDS = ("clinic", "va_medical_center")
INSURANCE_STATUSES = ("in_network", "case_by_case", "superbill", "not_covered", "unknown")
BILL_STATUSES = ("introduced", "in_committee", "passed_one_chamber", "passed_legislature", "enacted",
                 "vetoed", "failed", "withdrawn", "unknown")
VOCAB_FIELDS = ("treatments", "conditions", "insurers")
# The evidence kinds of the network spiders (the rest of the ladder comes from other loaders).
NETWORK_EVIDENCE = ("marketplace_directory", "payer_directory", "medicare_claims")
# The fields insurer_policy compares, as named in its `differs` lists.
POLICY_PAGE_COMPARED = ("policy_id", "title", "effective_date", "last_reviewed")
MAX_PRICE_USD = 100_000
MAX_SERIES_COUNT = 100


class Report:
    """What was emptied or dropped, and where: the build prints it in its summary and keeps it in
    build_info; the crawl pipelines count it in the crawl stats (crawlers/pipelines/records.py)."""

    def __init__(self):
        self.problems = []
        self.dropped = {}

    def problem(self, where, message, drop_reason=None):
        self.problems.append(f"{where}: {message}")
        if drop_reason:
            self.dropped[drop_reason] = self.dropped.get(drop_reason, 0) + 1

    def field(self, where, key, message, what="invalid"):
        """A field emptied or corrected: `message` begins with the field's name, `what` says in
        a word why (the crawl stats count it as ``<key>_<what>``)."""
        self.problem(where, message)

    def drop(self, where, reason, message):
        self.problem(where, f"dropped: {message}", reason)

    def absorb(self, other):
        """Add another report's problems and drops after this one's (a build worker's)."""
        self.problems.extend(other.problems)
        for reason, count in other.dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + count


class Invalid(ValueError):
    """A value its field cannot hold; `keep` is what is left of it (a list's good entries)."""

    def __init__(self, reason, keep=None):
        super().__init__(reason)
        self.keep = keep


def show(value, limit=60):
    """A value as a report quotes it: repr (so invisible characters show), cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _type_name(value):
    return {bool: "true/false", dict: "an object", list: "a list", str: "text"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _not(what, value):
    return Invalid(f"{what} expected, got {_type_name(value)}: {show(value)}")


# -- field types: each returns the clean value (None when empty) or raises Invalid -----------------

def text(value):
    if isinstance(value, str):
        return normalise.clean_text(value)
    raise _not("text", value)


def _normalised(normaliser, numbers_allowed=False):
    """A text field through a kad.normalise function; a whole number is read as its digits
    where that loses nothing (a phone number, an NPI, a ZIP code: 02134 as a number is refused,
    since its digits are not the code)."""
    def check(value):
        if numbers_allowed and type(value) is int:
            value = str(value)
        if not isinstance(value, str):
            raise _not("text", value)
        try:
            return normaliser(value)
        except ValueError as error:
            raise Invalid(str(error)) from None
    return check


state = _normalised(normalise.state_code)
phone = _normalised(normalise.phone, numbers_allowed=True)
postal_code = _normalised(normalise.postal_code, numbers_allowed=True)
npi = _normalised(normalise.npi, numbers_allowed=True)
website = _normalised(normalise.website)


def web_address(value):
    """An http(s) address, kept as given (never entity-decoded or rewritten)."""
    if not isinstance(value, str):
        raise _not("an address", value)
    address = normalise.clean_text(value, entities=False)
    if address is None or normalise.is_web_address(address):
        return address
    raise Invalid(f"not an http(s) address: {show(address)}")


def location(value):
    """An address or a local path (a price file may be read from a mirror), kept as given."""
    if not isinstance(value, str):
        raise _not("an address or a path", value)
    return normalise.clean_text(value, entities=False)


_FLAGS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def flag(value):
    """true/false; "true", "yes", "1" and 1 (and their opposites) mean the same, nothing else does."""
    if value is True or value is False:
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        cleaned = value.strip().lower()
        if not cleaned:
            return None
        if cleaned in _FLAGS:
            return _FLAGS[cleaned]
    raise Invalid(f"not true or false: {show(value)}")


_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_MONEY = re.compile(r"\$?\s?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?")


def number(value):
    """A finite number; a number written as text ("30.27") is read."""
    if isinstance(value, str):
        cleaned = value.strip()
        if not cleaned:
            return None
        if not _DECIMAL.fullmatch(cleaned):
            raise Invalid(f"not a number: {show(value)}")
        value = float(cleaned)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _not("a number", value)
    if isinstance(value, int):
        return value
    if not math.isfinite(value):
        raise Invalid(f"not a finite number: {show(value)}")
    return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value


def price(value):
    """US dollars, 0 up to MAX_PRICE_USD; "2400", "$2,400" and "450.00" are read as numbers."""
    if isinstance(value, str):
        if not value.strip():
            return None
        match = _MONEY.fullmatch(value.strip())
        if not match:
            raise Invalid(f"not a price: {show(value)}")
        value = match.group(1).replace(",", "") + (match.group(2) or "")
    amount = number(value)
    if not 0 <= amount < MAX_PRICE_USD:
        raise Invalid(f"not a price: {show(value)}")
    return amount


def whole_number(low, high, what):
    """A whole number from `low` to `high` ("6" and 6.0 are 6)."""
    def check(value):
        amount = number(value)
        if amount is None:
            return None
        if not (isinstance(amount, int) and low <= amount <= high):
            raise Invalid(f"not {what}: {show(value)}")
        return amount
    return check


def fraction(value):
    """A number from 0 to 1 (a match score)."""
    amount = number(value)
    if amount is not None and not 0 <= amount <= 1:
        raise Invalid(f"not a number from 0 to 1: {show(value)}")
    return amount


count = whole_number(1, MAX_SERIES_COUNT, f"a count from 1 to {MAX_SERIES_COUNT}")
http_status = whole_number(100, 599, "an HTTP status")


_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?)?)?")


def date(value):
    """An ISO 8601 date or time, as precise as the source was: '2026', '2026-11', '2026-11-20',
    '2026-11-20T08:00:00Z'."""
    if not isinstance(value, str):
        raise _not("a date", value)
    cleaned = value.strip()
    if not cleaned or _DATE.fullmatch(cleaned):
        return cleaned or None
    raise Invalid(f"not an ISO date: {show(value)}")


_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def sha256(value):
    if not isinstance(value, str):
        raise _not("a SHA-256 hex digest", value)
    cleaned = value.strip()
    if not cleaned or _HEX64.fullmatch(cleaned):
        return cleaned.lower() or None
    raise Invalid(f"not a SHA-256 hex digest: {show(value)}")


def list_of(entry, what):
    """A list whose entries pass `entry`: empties (null, blank text) and repeats left out
    quietly, entries of the wrong kind left out and reported. A single value where a list
    belongs is refused whole."""
    def check(value):
        if not isinstance(value, list):
            raise _not("a list", value)
        if not value:
            return []
        kept, bad = [], []
        for item in value:
            if item is None:
                continue
            try:
                cleaned = entry(item)
            except Invalid:
                bad.append(item)
                continue
            if cleaned is not None and cleaned not in kept:
                kept.append(cleaned)
        if bad:
            raise Invalid(f"left out {what}: {show(bad)}", keep=kept)
        return kept
    return check


def one_of(values):
    allowed = frozenset(values)

    def check(value):
        cleaned = text(value)
        if cleaned is None or cleaned in allowed:
            return cleaned
        raise Invalid(f"not in the vocabulary: {show(cleaned)}")
    return check


def insurer_id(value):
    """An insurer id of the vocabulary (data/curated/insurers.yml)."""
    cleaned = text(value)
    if cleaned is None or cleaned in vocab.insurers().entries:
        return cleaned
    raise Invalid(f"not an insurer of the vocabulary: {show(cleaned)}")


names = list_of(text, "entries that are not text")
sources = list_of(web_address, "entries that are not http(s) addresses")


def text_object(value):
    """An object of text values (a plan: its name, id, market...), each cleaned like text."""
    if not isinstance(value, dict):
        raise _not("an object", value)
    kept, bad = {}, []
    for key, item in value.items():
        try:
            kept[key] = None if item is None else text(item)
        except Invalid:
            bad.append(key)
    if bad:
        raise Invalid(f"left out values that are not text: {show(bad)}", keep=kept)
    return kept


def object_of(entry, what):
    """An object of text keys whose values pass `entry`; bad values are left out and reported."""
    def check(value):
        if not isinstance(value, dict):
            raise _not("an object", value)
        kept, bad = {}, []
        for key, item in value.items():
            try:
                cleaned = entry(item)
            except Invalid:
                bad.append(key)
                continue
            if cleaned is not None:
                kept[key] = cleaned
        if bad:
            raise Invalid(f"left out {what}: {show(bad)}", keep=kept)
        return kept
    return check


def json_object(value):
    """An object of any JSON (a record's details), its text cleaned like text at any depth; a
    number that is not finite (NaN) is emptied and reported."""
    if not isinstance(value, dict):
        raise _not("an object", value)
    emptied = []

    def clean(item):
        if isinstance(item, str):
            return normalise.clean_text(item)
        if isinstance(item, dict):
            return {key: clean(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [clean(inner) for inner in item]
        if isinstance(item, float) and not math.isfinite(item):
            emptied.append(item)
            return None
        return item

    try:
        kept = clean(value)
    except RecursionError:
        raise Invalid("nested too deeply") from None
    if emptied:
        raise Invalid(f"emptied numbers that are not finite: {show(emptied)}", keep=kept)
    return kept


def unmapped(value):
    """{field: [names the vocabulary did not know]} for the vocabulary fields."""
    if not isinstance(value, dict):
        raise _not("an object", value)
    kept, problems = {}, []
    for key, listed in value.items():
        if key not in VOCAB_FIELDS:
            problems.append(f"{show(key)} is not a vocabulary field")
            continue
        try:
            kept[key] = names(listed)
        except Invalid as bad:
            kept[key] = bad.keep or []
            problems.append(f"{key}: {bad}")
    if problems:
        raise Invalid("; ".join(problems), keep=kept)
    return kept


# -- kinds -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    check: object  # value -> clean value or None; raises Invalid
    empty: object = None  # lists and dicts are copied for each record


TEXT = Field(text)
LOCATION = Field(location)
ADDRESS = Field(web_address)
DATE = Field(date)
FLAG = Field(flag)
NAMES = Field(names, [])
SOURCES = Field(sources, [])


@dataclass
class Kind:
    """A kind of record: its fields in feed order; the fields that identify one (the record is
    dropped without them); the strict fields, whose wrong value drops the record because their
    empty value would say something else (an emptied `changed` would say "not changed"); fills,
    which complete an empty field from another before the identity is checked; and rules across
    fields (each may change the record and report)."""

    name: str
    fields: dict
    identity: tuple
    strict: tuple = ()
    fills: tuple = ()
    rules: tuple = ()
    _plan: tuple = field(init=False, repr=False)

    def __post_init__(self):
        unknown = {*self.identity, *self.strict} - set(self.fields)
        if unknown:
            raise KeyError(f"{self.name}: identity or strict fields that are not fields: {sorted(unknown)}")
        self._plan = tuple((key, spec.check, spec.empty, isinstance(spec.empty, (list, dict)))
                           for key, spec in self.fields.items())

    def empty_record(self):
        return {key: (type(empty)(empty) if copied else empty) for key, _, empty, copied in self._plan}

    def check(self, record, where, report):
        """The clean record, or None when it is dropped (both reported to `report`)."""
        if not isinstance(record, dict):
            report.drop(where, "not_an_object", "not a JSON object")
            return None
        out, invalid = {}, {}
        for key, check, empty, copied in self._plan:
            value = record.get(key)
            if value is not None:
                try:
                    value = check(value)
                except Invalid as bad:
                    value = bad.keep
                    if key in self.strict or (key in self.identity and not value):
                        invalid[key] = bad
                    else:
                        if value:  # a list that kept its good entries
                            done = ""
                        else:
                            done = " emptied" if empty in (None, [], {}) else " set to " + show(empty)
                        report.field(where, key, f"{key}{done}: {bad}")
            out[key] = (type(empty)(empty) if copied else empty) if value is None else value
        if invalid:
            key, bad = next(iter(invalid.items()))
            report.drop(where, f"invalid_{key}", f"{key}: {bad}")
            return None
        for fill in self.fills:
            fill(out)
        for key in self.identity:
            if out[key] in (None, "", [], {}):  # 0 and false are values
                report.drop(where, f"missing_{key}", f"no {key.replace('_', ' ')}")
                return None
        for rule in self.rules:
            rule(out, where, report)
        return out


def flag_for_review(record, reason):
    record["needs_review"] = True
    if reason not in record["review_reasons"]:
        record["review_reasons"].append(reason)


def review_when_reasons(record):
    """A record that gives reasons for review needs review."""
    record["needs_review"] = bool(record["needs_review"] or record["review_reasons"])


def dates_of_own_sources(record, where, report):
    """A curated change dates and names only pages among the record's sources."""
    own = set(record["sources"])
    dates = {url: day for url, day in record["source_dates"].items() if url in own}
    named = {name: url for name, url in record["insurer_sources"].items() if url in own}
    if len(dates) < len(record["source_dates"]) or len(named) < len(record["insurer_sources"]):
        report.field(where, "sources", "source_dates or insurer_sources: left out pages that are not sources")
    record["source_dates"], record["insurer_sources"] = dates, named


def coordinates_in_us(record, where, report):
    """Both coordinates or neither, and inside the United States (kad.geocode.in_us)."""
    latitude, longitude = record["latitude"], record["longitude"]
    if latitude is None and longitude is None:
        return
    if latitude is None or longitude is None:
        report.field(where, "coordinates", f"coordinates emptied: only one of the two: {latitude}, {longitude}")
    elif not in_us(latitude, longitude):
        report.field(where, "coordinates", f"coordinates emptied: not in the US: {latitude}, {longitude}",
                     "outside_us")
    else:
        return
    record["latitude"] = record["longitude"] = None


def checked_address_is_the_source(record):
    """A source check read the address it names: that address is its source when none is given."""
    if not record["sources"] and record["url"]:
        record["sources"] = [record["url"]]


def zip_in_state(record, where, report):
    """The one rule for a ZIP code of another state: the state is what the record says, so the
    ZIP code is left out (the clinic is then placed by its city in that state, or not at all),
    and the row is flagged with a reason that keeps the ZIP code for a person to check."""
    code, stated = record["postal_code"], record["state"]
    if not code or not stated:
        return
    zip_state = normalise.zip_states()[code]
    if zip_state != stated:
        reason = (f"The ZIP code {code} given by {record['sources'][0]} is in {zip_state}, not {stated}: "
                  f"left out (the clinic is placed by its city in {stated}, where that is known).")
        record["postal_code"] = None
        flag_for_review(record, reason)
        report.field(where, "postal_code", f"postal_code emptied: ZIP {code} is in {zip_state}, not {stated}: "
                                           "flagged for review", "other_state")


KINDS = {
    # One clinic location (the clinic_site and nppes spiders, the curated seed).
    CLINIC: Kind(CLINIC, {
        "source_id": TEXT,  # "site:<slug>", "nppes:<npi>": one source's id for the location
        "name": TEXT,
        "operator": TEXT,
        "street": TEXT,
        "city": TEXT,
        "state": Field(state),
        "postal_code": Field(postal_code),
        "phone": Field(phone),
        "website": Field(website),
        "npi": Field(npi),
        "latitude": Field(number),
        "longitude": Field(number),
        "treatments": NAMES,  # names or vocabulary ids
        "conditions": NAMES,
        "insurers": NAMES,
        "unmapped": Field(unmapped, {}),  # {field: names the vocabulary did not know}
        "ketamine_insurance": Field(one_of(INSURANCE_STATUSES), "unknown"),
        "spravato_insurance": Field(one_of(INSURANCE_STATUSES), "unknown"),
        "accepts_medicare": FLAG,
        "accepts_medicaid": FLAG,
        "accepts_tricare": FLAG,
        "va_community_care": FLAG,
        "financing": NAMES,
        "price_initial_usd": Field(price),
        "price_subsequent_usd": Field(price),
        "price_series_usd": Field(price),
        "series_count": Field(count),
        "price_consultation_usd": Field(price),
        "spravato_rems_certified": FLAG,
        "clinician_types": NAMES,
        "taxonomy": TEXT,  # NPPES primary taxonomy description
        "notes": TEXT,
        "reported_closed": Field(flag, False),
        "facility_kind": Field(one_of(FACILITY_KINDS), "clinic"),
        "needs_review": Field(flag, False),  # a person should look (review_reasons says why)
        "review_reasons": NAMES,
        "sources": SOURCES,
        "retrieved_at": DATE,
        # A curated change: the line's first date, the date each page was read, the page naming each insurer.
        "first_seen": DATE,
        "source_dates": Field(object_of(date, "dates that are not ISO dates"), {}),
        "insurer_sources": Field(object_of(web_address, "pages that are not http(s) addresses"), {}),
    }, identity=("source_id", "name", "state", "sources"), fills=(review_when_reasons,),
        rules=(coordinates_in_us, zip_in_state, dates_of_own_sources)),
    # source_check: one re-fetch of one address cited by curated data.
    SOURCE_CHECK: Kind(SOURCE_CHECK, {
        "url": ADDRESS,  # the address exactly as the curated rows cite it
        "final_url": ADDRESS,  # where it led after redirects
        "http_status": Field(http_status),  # None when no answer came (DNS, refused, timeout, robots.txt)
        "content_sha256": Field(sha256),  # of the visible text (HTML) or of the bytes (PDF and others)
        "previous_sha256": Field(sha256),  # the last hash known before this check
        "changed": Field(flag, False),  # the hash differs from the last hash known
        "changed_at": DATE,  # the check at which the hash last changed, carried forward
        "disappeared": Field(flag, False),
        "error": TEXT,  # why there is no hash: http_404, robots_txt_disallowed, CannotResolveHostError ...
        "checked_at": DATE,
        "sources": SOURCES,
    }, identity=("url", "sources"), strict=("changed", "disappeared"), fills=(checked_address_is_the_source,)),
    # openstates: one bill of a state legislature.
    BILL: Kind(BILL, {
        "id": TEXT,  # the Open States bill id (ocd-bill/...)
        "state": Field(state),
        "session": TEXT,
        "identifier": TEXT,  # "HB 1234"
        "title": TEXT,
        "status": Field(one_of(BILL_STATUSES), "unknown"),
        "latest_action": TEXT,
        "latest_action_date": DATE,
        "subjects": NAMES,
        "matched_terms": NAMES,
        "url": ADDRESS,
        "sources": SOURCES,
        "retrieved_at": DATE,
    }, identity=("id", "state", "identifier", "sources")),
    # insurer_policy: what one policy page states, compared with one curated insurer_policies row.
    POLICY_PAGE: Kind(POLICY_PAGE, {
        "policy_row": TEXT,  # insurer_policies.id of the curated row
        "url": ADDRESS,  # the curated row's first source
        "found_policy_id": TEXT,  # the found_* values as the page states them
        "found_title": TEXT,
        "found_effective_date": TEXT,
        "found_last_reviewed": TEXT,
        "differs": Field(list_of(one_of(POLICY_PAGE_COMPARED), "fields that are not compared"), []),
        "error": TEXT,  # why nothing was read: http_404, pdf_not_read ...
        "sources": SOURCES,
        "retrieved_at": DATE,
    }, identity=("policy_row", "url", "sources"), strict=("differs",)),
    # python -m kad.rates: one in-network price file (kad/rates/run.py), then its rates.
    PRICE_FILE: Kind(PRICE_FILE, {
        "kind": TEXT,
        "file_url": LOCATION,
        "toc_url": LOCATION,
        "description": TEXT,
        "insurer_id": TEXT,
        "reporting_entity_name": TEXT,
        "plans": Field(list_of(text_object, "plans that are not objects"), []),
        "last_updated_on": DATE,
        "version": TEXT,
        "size": Field(whole_number(0, 2 ** 53, "a size in bytes")),
        "etag": TEXT,
        "retrieved_at": DATE,
    }, identity=("file_url",)),
    # One negotiated rate of a price file (the CMS schema's fields; JSON arrays kept as text).
    NEGOTIATED_RATE: Kind(NEGOTIATED_RATE, {
        "kind": TEXT,
        "file_url": LOCATION,
        "billing_code": TEXT,
        "billing_code_type": TEXT,
        "billing_code_type_version": TEXT,
        "service_name": TEXT,
        "negotiation_arrangement": TEXT,
        "bundled_codes": TEXT,
        "modifiers": TEXT,
        "negotiated_type": TEXT,
        "negotiated_rate": Field(number),
        "billing_class": TEXT,
        "setting": TEXT,
        "service_codes": TEXT,
        "expiration_date": TEXT,
        "additional_information": TEXT,
        "npi": Field(npi),
        "tin": TEXT,
        "tin_type": TEXT,
        "tin_business_name": TEXT,
        "network_names": TEXT,
    }, identity=("file_url", "billing_code", "negotiated_rate")),
    # nppes_match and the NPPES bulk loader: one NPI as the registry gives it (identity, never
    # network membership), with the directory clinic it was matched to when the matcher found one.
    # Its place is kept as the registry writes it: kad.npi_match compares places itself.
    NPI: Kind(NPI, {
        "npi": Field(npi),
        "entity": Field(one_of(("organisation", "practitioner"))),
        "name": TEXT,  # organisation name, or "LAST, FIRST" of a practitioner
        "other_names": NAMES,
        "taxonomies": NAMES,  # NUCC codes, primary first
        "street": TEXT,  # the primary practice location
        "city": TEXT,
        "state": Field(state),
        "postal_code": TEXT,
        "phone": TEXT,
        "locations": Field(list_of(text_object, "locations that are not objects"), []),  # other practice locations
        "clinic_source_id": TEXT,  # the directory record matched (nppes_match only)
        "match_method": TEXT,  # name_address | name_phone | name_city | name_state (nppes_match only)
        "match_score": Field(fraction),
        "sources": SOURCES,
        "retrieved_at": DATE,
    }, identity=("npi", "sources")),
    # plan_net, marketplace_providers, medicare_billers: one piece of network evidence, one record
    # per (NPI, location, network or plan).
    NETWORK: Kind(NETWORK, {
        "npi": Field(npi),
        "insurer_id": Field(insurer_id),
        "network": TEXT,  # the network or plan name as the payer gives it
        "plan_ids": NAMES,  # plan identifiers (HIOS plan ids, InsurancePlan ids)
        "evidence": Field(one_of(NETWORK_EVIDENCE)),
        "name": TEXT,  # the provider as the payer names it
        "street": TEXT,
        "city": TEXT,
        "state": Field(state),
        "postal_code": TEXT,
        "phone": TEXT,
        "detail": Field(json_object, {}),  # codes, counts, tier, years, accepting new patients ...
        "source_url": ADDRESS,  # the response the fact was read from
        "sources": SOURCES,
        "retrieved_at": DATE,
    }, identity=("npi", "insurer_id", "evidence", "sources")),
}


def read_jsonl(path, report):
    """Yield (line number, value) for each JSON line of a file; report the others and go on.

    Lines are split on \\n only (a carriage return inside a line does not shift the numbers),
    read as bytes and decoded one by one, so a line that is not UTF-8 is reported and skipped
    without losing the lines around it."""
    for number, raw in numbered_lines(path):
        value = parse_line(raw, f"{path.name}:{number}", report)
        if value is not UNREADABLE:
            yield number, value


def numbered_lines(path):
    """(line number, bytes) of every line of a file that is not blank."""
    with open(path, "rb") as lines:
        for number, raw in enumerate(lines, 1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark is not part of the JSON
            if raw.strip():
                yield number, raw


UNREADABLE = object()  # what parse_line returns for a line it reported ("null" is a value)


def parse_line(raw, where, report):
    """The JSON value of one line (bytes), or UNREADABLE when it is not UTF-8 or not JSON."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        report.drop(where, "not_utf8", f"not UTF-8 (byte {error.start + 1})")
        return UNREADABLE
    try:
        return json.loads(line)
    except ValueError as error:
        report.drop(where, "malformed_json", f"not JSON ({getattr(error, 'msg', error)})")
    except RecursionError:
        report.drop(where, "malformed_json", "not JSON (nested too deeply)")
    return UNREADABLE