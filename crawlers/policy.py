"""What an insurer's coverage-policy page states about itself, read machine-readably, and how
that compares with a curated insurer_policies row.

``policy_facts(response)`` returns the policy number, title, effective date and last-reviewed
date the page states, each from the first of:

1. meta tags (``<meta name="policy-number">``, ``effective-date``, ``last-reviewed``,
   ``dc.title``, ``citation_title``...),
2. schema.org JSON-LD or microdata of a page-like node (``identifier``, ``lastReviewed``,
   ``name`` / ``headline``),
3. labelled text: "Policy Number: 0938", "Effective Date: 01/01/2026", "Last Review: March 3,
   2025" in a line, a table row or a definition list ("Next Review", "Original Effective Date"
   and the like end a value and are never read as one),
4. for the title only: the first ``<h1>``, ``og:title``, then ``<title>``.

Dates become ISO dates (``2026-01-01``; ``2026-01`` when the page gives only a month). A fact the
page does not state is None, never a guess. ``differences(found, curated)`` lists the fields
whose found value is present and not the curated one.
"""

import re
from dataclasses import dataclass
from datetime import date

from kad.records import POLICY_PAGE_COMPARED
from kad.normalise import clean_text

from crawlers.extract import segments, structured_items

# -- dates ---------------------------------------------------------------------------------------

MONTHS = {name: number for number, names in enumerate((
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
    ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
    ("october", "oct"), ("november", "nov"), ("december", "dec")), start=1) for name in names}
_DATES = (  # (pattern at the start of the text, order of year, month, day in its groups)
    (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})\b"), "ymd"),
    (re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b"), "mdy"),
    (re.compile(r"([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b", re.I), "mdy"),
    (re.compile(r"(\d{1,2})\s+([a-z]{3,9})\.?,?\s+(\d{4})\b", re.I), "dmy"),
    (re.compile(r"([a-z]{3,9})\.?,?\s+(\d{4})\b", re.I), "my"),
    (re.compile(r"(\d{1,2})/(\d{4})\b"), "my"),
)


def _month(value):
    return int(value) if value.isdigit() else MONTHS.get(value.lower())


def parse_date(text):
    """The date at the start of `text` as 'YYYY-MM-DD' (or 'YYYY-MM'), else None."""
    text = (clean_text(text) or "").lstrip("(")
    for pattern, order in _DATES:
        match = pattern.match(text)
        if not match:
            continue
        parts = dict(zip(order, match.groups()))
        year, month = int(parts["y"]), _month(parts["m"])
        year += 2000 if year < 100 else 0
        if not month or not 1990 <= year <= 2100:
            continue
        if "d" not in parts:
            return f"{year:04d}-{month:02d}" if 1 <= month <= 12 else None
        try:
            return date(year, month, int(parts["d"])).isoformat()
        except ValueError:
            continue
    return None


# -- values --------------------------------------------------------------------------------------

_POLICY_ID = re.compile(r"(?:[A-Za-z]{1,8}[ -])?[A-Za-z0-9][A-Za-z0-9._/-]*")


def parse_policy_id(text):
    """'CPB 0938', '2024D0069P', 'II-271-00111' at the start of the text; it must hold a digit."""
    match = _POLICY_ID.match(clean_text(text) or "")
    value = match.group(0).rstrip("._/-") if match else ""
    return value if re.search(r"\d", value) and len(value) <= 32 else None


def parse_title(text):
    text = (clean_text(text) or "").strip(" :;|-–")
    return text if 3 <= len(text) <= 250 and re.search(r"[A-Za-z]{3}", text) else None


PARSERS = {"policy_id": parse_policy_id, "title": parse_title, "effective_date": parse_date,
           "last_reviewed": parse_date}

# -- meta tags and structured data ---------------------------------------------------------------

META_NAMES = {  # meta name / property / itemprop with everything but letters and digits removed
    "policy_id": {"policynumber", "policyid", "policyno", "documentnumber", "dcidentifier"},
    "title": {"dctitle", "dctermstitle", "citationtitle", "policytitle"},
    "effective_date": {"effectivedate", "policyeffectivedate"},
    "last_reviewed": {"lastreviewed", "lastreviewdate", "lastrevieweddate", "policylastreviewed"},
}
PAGE_TYPES = {"WebPage", "MedicalWebPage", "Article", "CreativeWork", "DigitalDocument", "Report",
              "MedicalGuideline", "Guideline", "Legislation", "TechArticle"}
STRUCTURED_KEYS = {"policy_id": ("identifier",), "title": ("name", "headline"),
                   "last_reviewed": ("lastReviewed",)}


def _meta(response):
    values = {}
    for tag in response.css("meta[content]"):
        name = tag.attrib.get("name") or tag.attrib.get("property") or tag.attrib.get("itemprop") or ""
        values.setdefault(re.sub(r"[^a-z0-9]", "", name.lower()), tag.attrib["content"])
    return values


def _nodes(item):
    if isinstance(item, list):
        for child in item:
            yield from _nodes(child)
    elif isinstance(item, dict):
        yield item
        for child in item.values():
            if isinstance(child, (list, dict)):
                yield from _nodes(child)


def _text_of(value):
    while isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("value") or value.get("@value") or value.get("name")
    return value if isinstance(value, str) else None


def _structured(response):
    found = {}
    for node in _nodes(structured_items(response)):
        types = node.get("@type") or []
        types = {types} if isinstance(types, str) else set(types)
        if not types & PAGE_TYPES:
            continue
        for field, keys in STRUCTURED_KEYS.items():
            for key in keys:
                value = PARSERS[field](_text_of(node.get(key)))
                if value and field not in found:
                    found[field] = value
    return found


# -- labelled text -------------------------------------------------------------------------------

_LABELS = (  # (group, pattern); "stop" labels end the value before them and are never read
    ("policy_id", r"(?:(?:medical|clinical|coverage|pharmacy|payment|reimbursement|drug)\s+)?policy\s*"
                  r"(?:number|no\.?|#|id)|(?:document|bulletin|guideline|cpb)\s*(?:number|no\.?|#)"),
    ("title", r"(?:policy|document|guideline)\s+(?:title|name)"),
    ("stop", r"next\s+review(?:\s+date)?|original\s+effective(?:\s+date)?|origination\s+date|"
             r"(?:date\s+)?(?:published|posted|created|issued)|publish(?:ed)?\s+date|revision\s+date|"
             r"last\s+revised|replaces|(?:policy\s+)?type|category|section|subject|page"),
    ("effective_date", r"(?:current\s+|revised\s+|policy\s+)?effective\s+date"),
    ("last_reviewed", r"date\s+of\s+last\s+review|last\s+review(?:ed)?(?:\s+date)?|review(?:ed)?\s+date"),
    # one-word labels count only with a colon or alone in their cell ("Number" only where a line starts)
    ("bare_policy_id", r"^number"),
    ("bare_title", r"title"),
    ("bare_effective_date", r"effective"),
    ("bare_last_reviewed", r"reviewed(?:\s+on)?|last\s+updated"),
)
_LABEL = re.compile(
    r"(?<![\w#])(?:" + "|".join(f"(?P<{group}>{pattern})" for group, pattern in _LABELS) + r")(?![\w])"
    r"(?P<sep>\s*[:#])?", re.I)
_GROUPS = [group for group, _ in _LABELS]


def _labels(text):
    """(field or 'stop', match) of the labels in a line that count."""
    found = []
    for match in _LABEL.finditer(text):
        group = next(g for g in _GROUPS if match.group(g))
        has_sep = bool(match.group("sep")) or match.group(group).endswith("#")
        whole = match.start() == 0 and not text[match.end():].strip()  # <dt>Title</dt>
        if group.startswith("bare_"):
            if not (has_sep or whole):
                continue
            group = group[5:]
        elif not (has_sep or match.start() == 0):
            continue  # "the policy number is..." in a sentence
        found.append((group, match))
    return found


def _labelled(segs):
    found = {}
    for index, segment in enumerate(segs):
        labels = _labels(segment.text)
        for number, (field, match) in enumerate(labels):
            end = labels[number + 1][1].start() if number + 1 < len(labels) else len(segment.text)
            value = segment.text[match.end():end].strip(" :;|-–")
            if not value and number + 1 == len(labels) and index + 1 < len(segs):
                value = segs[index + 1].text  # <dt>Policy Number</dt><dd>0938</dd>
            if field == "stop" or field in found:
                continue
            parsed = PARSERS[field](value)
            if parsed:
                found[field] = parsed
    return found


# -- one page ------------------------------------------------------------------------------------

def policy_facts(response):
    """{field: value or None} for the fields of POLICY_PAGE_COMPARED the page states."""
    meta = _meta(response)
    from_meta = {}
    for field, names in META_NAMES.items():
        value = next((meta[name] for name in names if meta.get(name)), None)
        if PARSERS[field](value):
            from_meta[field] = PARSERS[field](value)
    found = {**_labelled(segments(response)), **_structured(response), **from_meta}
    if "title" not in found:
        for candidate in (response.css("h1 ::text").getall(), meta.get("ogtitle"), response.css("title::text").get()):
            text = " ".join(candidate) if isinstance(candidate, list) else candidate
            if parse_title(text):
                found["title"] = parse_title(text)
                break
    return {field: found.get(field) for field in POLICY_PAGE_COMPARED}


# -- comparing with the curated row --------------------------------------------------------------

@dataclass
class CuratedPolicy:
    """The facts of a curated insurer_policies row that a page can confirm."""

    row_id: str
    url: str
    policy_id: str | None = None
    title: str | None = None
    effective_date: str | None = None
    last_reviewed: str | None = None

    @classmethod
    def from_row(cls, row_id, row):
        day = str(row["effective_date"]) if row.get("effective_date") else None
        kind = row.get("date_kind") or "effective"
        return cls(row_id, row["sources"][0], row.get("policy_id"), row.get("policy_title"),
                   day if kind == "effective" else None, day if kind == "last_reviewed" else None)

    @property
    def has_date(self):
        return bool(self.effective_date or self.last_reviewed)


def _words(text):
    return " ".join(re.findall(r"[a-z0-9]+", (text or "").lower()))


def same(field, found, curated):
    """Whether a found value says what the curated one says, allowing for how pages write it:
    'Number: 0938' is CPB 0938; a title with the site's name around it is the title; a month
    is any day of that month."""
    if field == "policy_id":
        a, b = _words(found).replace(" ", ""), _words(curated).replace(" ", "")
        return bool(a and b) and (a.endswith(b) or b.endswith(a))
    if field == "title":
        a, b = _words(found), _words(curated)
        return bool(a and b) and (a in b or b in a)
    return bool(curated) and (str(curated).startswith(found) or found.startswith(str(curated)))


def differences(found, curated):
    """The fields whose found value is present and is not the curated one. A date is compared
    with the curated date of the same kind; a curated row with no date at all differs from any
    date the page states (the page says something the row does not)."""
    differs = []
    for field in POLICY_PAGE_COMPARED:
        value, known = found.get(field), getattr(curated, field)
        if not value:
            continue
        if field in ("effective_date", "last_reviewed") and not known and curated.has_date:
            continue  # the row keeps the other kind of date: nothing to compare
        if not same(field, value, known):
            differs.append(field)
    return differs
