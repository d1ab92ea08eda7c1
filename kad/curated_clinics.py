"""The hand-gathered clinic files in data/curated/, read one way by the build and the spiders.

* ``clinics_seed.jsonl``: the seed list, kept as it was copied (clinics_seed.README.md);
* ``clinics_gathered.jsonl``: locations gathered on 2026-11-30, in the same shape;
* ``clinics_enrich.jsonl``: changes to lines of those files. A change names its lines exactly
  (``match``: name and website), replaces whole fields (``set``), adds the pages it rests on
  (``add_source_urls``) and may add ``review_reasons``. Changes are applied as the lines are read,
  so the files stay as gathered and every build gives the same result.

A line becomes a feed-shaped record (see crawlers/). Its id comes from the line as gathered, so a
change that sets a city does not move the clinic's address in the directory. Weaker facts go to
review with a reason: a clause of the notes saying a fact was inferred (from a name, a web
address, an area code, a dateline), and any ``review_reasons`` the line or a change carries.
"""

import re
from dataclasses import dataclass, field

from kad import CURATED, normalise
from kad.records import Report, read_jsonl, show

SEED = CURATED / "clinics_seed.jsonl"
GATHERED = CURATED / "clinics_gathered.jsonl"
CHANGES = CURATED / "clinics_enrich.jsonl"
CLINIC_FILES = (SEED, GATHERED)
SEED_GATHERED = "2026-11"  # the seed was gathered in November 2026; the day was not recorded
# Fields of a curated line a change may replace (the match keys, name and website, stay).
CHANGEABLE = frozenset({"street", "city", "state", "postal_code", "phone", "treatments", "conditions",
                        "insurance", "prices_usd", "clinician_types", "notes", "facility_kind"})
# A clause of the notes that says a fact was inferred rather than stated: "city inferred from the
# practice name", "state from the 859 area code", "city from news dateline", "name from the domain".
_INFERRED = re.compile(r"\b(?:inferred|implied)\b"
                       r"|\bfrom\b[^;]{0,40}?\b(?:domain|name|dateline|area code|url|web address)s?\b", re.IGNORECASE)
_CLAUSES = re.compile(r"(?<=[.;])\s+")
_DATE = re.compile(r"\d{4}-\d{2}(?:-\d{2})?")


def inferred_reasons(notes):
    """One review reason per clause of the notes that says a fact was inferred."""
    return [f"Weaker fact (inferred, not stated): {clause.strip().rstrip('.;')}."
            for clause in _CLAUSES.split(notes or "") if _INFERRED.search(clause)]


@dataclass
class Change:
    where: str
    name: str
    website: str | None
    set: dict
    add_source_urls: list
    review_reasons: list
    gathered: str
    applied: int = 0


@dataclass
class Changes:
    """The change lines of clinics_enrich.jsonl, by the (name, website) they match."""
    by_key: dict = field(default_factory=dict)
    read: int = 0

    @classmethod
    def load(cls, path, report):
        changes = cls()
        if path is None or not path.exists():
            return changes
        for number, line in read_jsonl(path, report):
            changes.read += 1
            where = f"{path.name}:{number}"
            problem = _change_problem(line)
            if problem:
                report.problem(where, f"dropped: {problem}", "bad_change")
                continue
            change = Change(where, line["match"]["name"], line["match"]["website"], line.get("set") or {},
                            line.get("add_source_urls") or [], line.get("review_reasons") or [], line["gathered"])
            changes.by_key.setdefault((change.name, change.website), []).append(change)
        return changes

    def apply(self, line):
        """The line with every change matching it applied, and those changes."""
        key = (line.get("name"), line.get("website"))
        matching = self.by_key.get(key, []) if all(isinstance(v, (str, type(None))) for v in key) else []
        if not matching:
            return line, []
        line = dict(line)
        for change in matching:
            change.applied += 1
            line.update(change.set)
            line["source_urls"] = list(dict.fromkeys([*(line.get("source_urls") or []), *change.add_source_urls]))
            line["review_reasons"] = list(dict.fromkeys([*(line.get("review_reasons") or []), *change.review_reasons]))
        return line, matching

    def report_unused(self, report):
        for changes in self.by_key.values():
            for change in changes:
                if not change.applied:
                    report.problem(change.where, f"left out: no curated line is named {change.name!r} with "
                                                 f"website {change.website!r}", "change_matched_nothing")

    def applied(self):
        return sum(1 for changes in self.by_key.values() for change in changes if change.applied)


def _change_problem(line):
    if not isinstance(line, dict):
        return "not a JSON object"
    match = line.get("match")
    if not (isinstance(match, dict) and isinstance(match.get("name"), str) and "website" in match):
        return "match must give the name and website of the lines it changes"
    changed = line.get("set") or {}
    if not isinstance(changed, dict) or set(changed) - CHANGEABLE:
        return f"set may change only {', '.join(sorted(CHANGEABLE))}"
    urls = line.get("add_source_urls") or []
    if not (isinstance(urls, list) and all(normalise.is_web_address(url) for url in urls)):
        return "add_source_urls must be http(s) addresses"
    reasons = line.get("review_reasons") or []
    if not (isinstance(reasons, list) and all(isinstance(r, str) and r.strip() for r in reasons)):
        return "review_reasons must be sentences"
    if not (changed or urls or reasons):
        return "it changes nothing"
    if not (isinstance(line.get("gathered"), str) and _DATE.fullmatch(line["gathered"])):
        return "gathered must be the date the change was read (YYYY-MM-DD)"
    return None


NO_CHANGES = Changes()


def curated_record(line, where, report, changes=NO_CHANGES):
    """A curated line (the gatherer's shape), with its changes applied, as a feed-shaped record.
    Its values are passed on as they are, for kad.records to check; a nested object that is not
    one is reported and read as empty."""
    if not isinstance(line, dict):
        return line
    gathered = line.get("gathered") or SEED_GATHERED
    changed, applied = changes.apply(line)
    insurance, prices = _object(changed, "insurance", where, report), _object(changed, "prices_usd", where, report)
    notes = changed.get("notes") if isinstance(changed.get("notes"), str) else ""
    reasons = changed.get("review_reasons") if isinstance(changed.get("review_reasons"), list) else []
    record = {
        "source_id": "site:" + normalise.slug(line.get("name"), line.get("city")),
        "name": changed.get("name"), "operator": None,
        "street": changed.get("street"), "city": changed.get("city"), "state": changed.get("state"),
        "postal_code": changed.get("postal_code"), "phone": changed.get("phone"),
        "website": changed.get("website"), "npi": None, "latitude": None, "longitude": None,
        "facility_kind": changed.get("facility_kind"),
        "treatments": changed.get("treatments"), "conditions": changed.get("conditions"),
        "insurers": insurance.get("insurers_accepted"),
        "ketamine_insurance": insurance.get("ketamine"), "spravato_insurance": insurance.get("spravato"),
        "accepts_medicare": insurance.get("medicare"), "accepts_medicaid": insurance.get("medicaid"),
        "accepts_tricare": insurance.get("tricare"), "va_community_care": insurance.get("va_community_care"),
        "financing": insurance.get("financing"),
        "price_initial_usd": prices.get("initial_infusion"),
        "price_subsequent_usd": prices.get("subsequent_infusion"),
        "price_series_usd": prices.get("series_total"), "series_count": prices.get("series_count"),
        "price_consultation_usd": prices.get("consultation"),
        "spravato_rems_certified": None,
        "clinician_types": changed.get("clinician_types"),
        "notes": notes or None,
        "reported_closed": notes.startswith("CLOSED:"),
        "review_reasons": list(dict.fromkeys([*reasons, *inferred_reasons(notes)])),
        "sources": changed.get("source_urls"),
        "retrieved_at": gathered,
    }
    if applied:
        # The changed facts were read when the change was; the line's own pages keep their date.
        record["retrieved_at"] = max(change.gathered for change in applied)
        record["first_seen"] = gathered
        own = line.get("source_urls") if isinstance(line.get("source_urls"), list) else []
        record["source_dates"] = {url: gathered for url in own if isinstance(url, str)}
        named_before = set(_object(line, "insurance", where, report).get("insurers_accepted") or [])
        naming = next((c for c in reversed(applied) if "insurance" in c.set and c.add_source_urls), None)
        listed = insurance.get("insurers_accepted")
        if naming and isinstance(listed, list):
            record["insurer_sources"] = {name: naming.add_source_urls[0] for name in listed
                                         if isinstance(name, str) and name not in named_before}
    return record


def _object(row, key, where, report):
    value = row.get(key)
    if value is None or isinstance(value, dict):
        return value or {}
    report.field(where, key, f"{key} emptied: {show(value)} is not an object")
    return {}


def curated_lines(curated=CURATED, report=None):
    """Every curated clinic line of the folder with its changes applied, for the spiders (which
    need the websites, places and cited pages). Bad lines are left out (the build reports them)."""
    report = report or Report()
    changes = Changes.load(curated / CHANGES.name, report)
    for path in (curated / p.name for p in CLINIC_FILES):
        if path.exists():
            for _, line in read_jsonl(path, report):
                if isinstance(line, dict):
                    yield changes.apply(line)[0]
