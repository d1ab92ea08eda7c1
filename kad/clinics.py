"""Clinic records: reading the curated seed and the spiders' feeds, checking each record, and
merging the records that describe one physical location into one `clinics` row.

Every input line becomes a *record* shaped like a feed line (see crawlers/). Bad input never stops
the build: a line that is not JSON, or a record without a name, a state or a source, is dropped;
a bad optional field (a `javascript:` website, a ZIP code that does not exist, coordinates outside
the US) is emptied. Both are reported with the file and line.
"""

import json
from dataclasses import dataclass, field

from kad import normalise, vocab
from kad.geocode import in_us

ARRAY_FIELDS = ("treatments", "conditions", "insurers", "financing", "clinician_types")
FLAG_FIELDS = ("accepts_medicare", "accepts_medicaid", "accepts_tricare", "va_community_care",
               "spravato_rems_certified")
PRICE_FIELDS = ("price_initial_usd", "price_subsequent_usd", "price_series_usd", "series_count",
                "price_consultation_usd")
INSURANCE_VALUES = {"in_network", "case_by_case", "superbill", "not_covered", "unknown"}
# Fields where two sources giving different values means a person should look.
CHECKED_FIELDS = ("phone", "street", "postal_code", "city", "state", "website", *PRICE_FIELDS)
_NORMALISERS = {
    "state": normalise.state_code,
    "phone": normalise.phone,
    "website": normalise.website,
    "postal_code": normalise.postal_code,
    "npi": normalise.npi,
}
# Source ranks: hand-checked data first, then the clinic's own site, then registries.
SOURCE_RANK = {"curated": 0, "clinic_site": 1, "nppes": 2}
EVIDENCE = {"curated": "curated", "clinic_site": "clinic_website"}
# Each programme flag and the insurer it names; the insurer's `kind` groups the plans that belong
# to the programme (a state's Medicaid plans are all of kind medicaid).
PROGRAMME_INSURERS = {"accepts_medicare": "medicare", "accepts_medicaid": "medicaid",
                      "accepts_tricare": "tricare", "va_community_care": "va-community-care"}


@dataclass
class Report:
    """What the build dropped or emptied, and where: printed in the summary, kept in build_info."""
    problems: list = field(default_factory=list)
    dropped: dict = field(default_factory=dict)

    def problem(self, where, message, drop_reason=None):
        self.problems.append(f"{where}: {message}")
        if drop_reason:
            self.dropped[drop_reason] = self.dropped.get(drop_reason, 0) + 1


def seed_record(row):
    """A line of data/curated/clinics_seed.jsonl (the gatherer's shape) as a feed-shaped record."""
    insurance, prices = row.get("insurance") or {}, row.get("prices_usd") or {}
    notes = row.get("notes") or ""
    return {
        "source_id": "site:" + normalise.slug(row.get("name"), row.get("city")),
        "name": row.get("name"), "operator": None,
        "street": row.get("street"), "city": row.get("city"), "state": row.get("state"),
        "postal_code": row.get("postal_code"), "phone": row.get("phone"),
        "website": row.get("website"), "npi": None, "latitude": None, "longitude": None,
        "treatments": row.get("treatments") or [], "conditions": row.get("conditions") or [],
        "insurers": insurance.get("insurers_accepted") or [],
        "ketamine_insurance": insurance.get("ketamine"), "spravato_insurance": insurance.get("spravato"),
        "accepts_medicare": insurance.get("medicare"), "accepts_medicaid": insurance.get("medicaid"),
        "accepts_tricare": insurance.get("tricare"), "va_community_care": insurance.get("va_community_care"),
        "financing": insurance.get("financing") or [],
        "price_initial_usd": prices.get("initial_infusion"),
        "price_subsequent_usd": prices.get("subsequent_infusion"),
        "price_series_usd": prices.get("series_total"), "series_count": prices.get("series_count"),
        "price_consultation_usd": prices.get("consultation"),
        "spravato_rems_certified": None,
        "clinician_types": row.get("clinician_types") or [],
        "notes": notes or None,
        "reported_closed": notes.startswith("CLOSED:"),
        # The gatherer marks facts inferred from a name, URL or area code: weaker, so flagged.
        "needs_review": "inferred" in notes.lower(),
        "sources": row.get("source_urls") or [],
        "retrieved_at": "2026-11",  # gathered in November 2026; the day was not recorded
    }


def clean_record(record, where, report):
    """Check and normalise one record. Returns the cleaned record, or None when it is dropped."""
    record = dict(record)
    for key, value in record.items():
        if isinstance(value, str):
            record[key] = normalise.clean_text(value, entities=key not in normalise.URL_FIELDS)
    if not record.get("name"):
        report.problem(where, "dropped: no name", "missing_name")
        return None
    try:
        record["state"] = normalise.state_code(record.get("state"))
    except ValueError as error:
        record["state"] = None
        report.problem(where, f"dropped: {error}", "bad_state")
        return None
    if not record["state"]:
        report.problem(where, "dropped: no state", "missing_state")
        return None
    sources = [url for url in record.get("sources") or [] if normalise.is_web_address(url)]
    if not sources:
        report.problem(where, "dropped: no http(s) source address", "missing_sources")
        return None
    record["sources"] = sources
    for key, normaliser in _NORMALISERS.items():
        if key == "state":
            continue
        try:
            record[key] = normaliser(record.get(key))
        except ValueError as error:
            report.problem(where, f"{key} emptied: {error}")
            record[key] = None
    _check_coordinates(record, where, report)
    _check_zip_state(record, where, report)
    for key in ARRAY_FIELDS:
        value = record.get(key)
        record[key] = [v for v in value if isinstance(v, str) and v.strip()] if isinstance(value, list) else []
    for key in ("ketamine_insurance", "spravato_insurance"):
        if record.get(key) not in INSURANCE_VALUES:
            if record.get(key) is not None:
                report.problem(where, f"{key} emptied: not in the vocabulary: {record[key]!r}")
            record[key] = "unknown"
    for key in PRICE_FIELDS:
        value = record.get(key)
        if value is not None and not (isinstance(value, (int, float)) and 0 <= value < 100_000):
            report.problem(where, f"{key} emptied: not a price: {value!r}")
            record[key] = None
    _map_vocabularies(record, where, report)
    return record


def _check_coordinates(record, where, report):
    lat, lon = record.get("latitude"), record.get("longitude")
    if lat is None and lon is None:
        return
    try:
        lat, lon = float(lat), float(lon)
        ok = in_us(lat, lon)
    except (TypeError, ValueError):
        ok = False
    if ok:
        record["latitude"], record["longitude"] = lat, lon
    else:
        report.problem(where, f"coordinates emptied: not in the US: {record.get('latitude')}, {record.get('longitude')}")
        record["latitude"] = record["longitude"] = None


def _check_zip_state(record, where, report):
    if record.get("postal_code"):
        zip_state = normalise.zip_states()[record["postal_code"]]
        if zip_state != record["state"]:
            report.problem(where, f"ZIP {record['postal_code']} is in {zip_state}, not {record['state']}: flagged for review")
            record["needs_review"] = True


def _map_vocabularies(record, where, report):
    unmapped = dict(record.get("unmapped") or {})
    for key, vocabulary in (("treatments", vocab.treatments()), ("conditions", vocab.conditions()),
                            ("insurers", vocab.insurers())):
        ids, missing = vocabulary.map_names(record[key])
        record[key] = ids
        if missing:
            unmapped[key] = sorted(set(unmapped.get(key, [])) | set(missing))
    record["unmapped"] = unmapped


def merge_keys(record):
    """The keys that identify one location: NPI; phone within one city; street address + ZIP.
    A chain's shared call-centre number in another city does not merge two locations."""
    phone_key = None
    if record.get("phone"):
        phone_key = "|".join([record["phone"], record["state"], (record.get("city") or "").lower()])
    return {
        "npi": record.get("npi"),
        "phone_key": phone_key,
        "address_key": normalise.address_key(record.get("street"), record.get("postal_code")),
    }


def merge_group(records):
    """One `clinics` row (without coordinates) from the records of one location, best source
    first. Returns (row, insurer links)."""
    records = sorted(records, key=lambda r: SOURCE_RANK.get(r["fetched_by"], 9))
    first = records[0]
    row = {"id": first["source_id"]}
    conflicts = []
    for key in ("name", "street", "city", "state", "postal_code", "phone", "website", "npi",
                "latitude", "longitude", *PRICE_FIELDS, *FLAG_FIELDS, "notes"):
        values = [(r.get(key), r) for r in records if r.get(key) is not None and r.get(key) != ""]
        row[key] = values[0][0] if values else None
        if key in CHECKED_FIELDS and len({_comparable(key, v) for v, _ in values}) > 1:
            conflicts.append({"field": key, "values": [{"value": v, "sources": r["sources"]}
                                                       for v, r in values]})
    legal_names = [r["name"] for r in records if r["fetched_by"] == "nppes"]
    row["operator"] = next((r.get("operator") for r in records if r.get("operator")), None) or \
        next((n for n in legal_names if n.lower() != row["name"].lower()), None)
    for key in ("ketamine_insurance", "spravato_insurance"):
        stated = [r[key] for r in records if r[key] != "unknown"]
        row[key] = stated[0] if stated else "unknown"
    for key in ARRAY_FIELDS:
        row[key] = list(dict.fromkeys(v for r in records for v in r[key]))
    row["unmapped_insurers"] = sorted({n for r in records for n in r["unmapped"].get("insurers", [])})
    row["reported_closed"] = int(any(r.get("reported_closed") for r in records))
    row["sources"] = list(dict.fromkeys(u for r in records for u in r["sources"]))
    row["source_ids"] = [r["source_id"] for r in records]
    dates = sorted(r["retrieved_at"] for r in records if r.get("retrieved_at"))
    row["retrieved_at"] = dates[-1] if dates else None
    row["first_seen"], row["last_seen"] = (dates[0], dates[-1]) if dates else (None, None)
    links = insurer_links(row, records, conflicts)
    row["insurers"] = [vocab.insurers().name(i) for i in links]
    row["conflicts"] = conflicts
    row["needs_review"] = int(bool(conflicts) or any(r.get("needs_review") for r in records))
    return row, list(links.values())


def insurer_links(row, records, conflicts):
    """Every insurer the clinic says it takes, as {insurer id: clinic_insurers row}: the insurers
    it lists, and the programmes its flags name (accepts_medicare, accepts_tricare, ...). A flag
    and a listed insurer of the programme's kind say the same thing, so each completes the other:
    "TRICARE" in a list sets accepts_tricare, and accepts_tricare adds TRICARE. A flag saying no
    beside a listed insurer of that kind is a disagreement, kept as a conflict. The search, the
    near-ZIP query, the clinic page and the API all read these links, so they cannot disagree."""
    links = {}

    def link(insurer_id, record):
        links.setdefault(insurer_id, {
            "clinic_id": row["id"], "insurer_id": insurer_id,
            "evidence": EVIDENCE.get(record["fetched_by"], "clinic_website"),
            "source_url": record["sources"][0], "retrieved_at": record.get("retrieved_at"),
        })

    for record in records:
        for insurer_id in record["insurers"]:
            link(insurer_id, record)
    insurers = vocab.insurers()
    for flag, programme in PROGRAMME_INSURERS.items():
        kind = insurers.entries[programme]["kind"]
        listed = [i for i in links if insurers.entries[i].get("kind") == kind]
        stated = [r for r in records if r.get(flag) is not None]
        if row[flag] is None and listed:
            row[flag] = 1
        elif row[flag] == 0 and listed:
            conflicts.append({"field": flag, "values": [
                {"value": 0, "sources": stated[0]["sources"]},
                {"value": f"lists {', '.join(insurers.name(i) for i in listed)}",
                 "sources": [links[i]["source_url"] for i in listed]}]})
        if row[flag] == 1:
            link(programme, stated[0] if stated and stated[0].get(flag) else
                 next(r for r in records if set(listed) & set(r["insurers"])))
    return links


def _comparable(key, value):
    if key == "website":
        return normalise.website(value).split("://", 1)[1].removeprefix("www.").rstrip("/")
    if key == "street":
        return normalise.address_key(value, "0") or value.lower()
    return str(value).lower() if isinstance(value, str) else value


def read_jsonl(path, report):
    """Yield (line number, object) for each JSON-object line; report the others."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                report.problem(f"{path.name}:{number}", f"dropped: not JSON ({error.msg})", "malformed_json")
                continue
            if not isinstance(value, dict):
                report.problem(f"{path.name}:{number}", "dropped: not a JSON object", "malformed_json")
                continue
            yield number, value
