"""Clinic records: checking each record (from the curated files, see kad/curated_clinics.py, or the
spiders' feeds) and merging the records that describe one physical location into one `clinics` row.

Every input line becomes a *record* shaped like a feed line (see crawlers/), checked by the one
validation layer the crawl uses too (kad/records.py). Bad input never stops the build: a line that
is not UTF-8 or not JSON, or a record without a source id, a name, a state or a source, is
dropped; a bad field (a name that is a list, a `javascript:` website, a ZIP code that does not
exist or lies in another state, coordinates outside the US, a price that is not a number) is
emptied. Both are reported with the file and line.

Merging never joins records of two states or two websites: every merge key (source id, NPI,
phone, street address) is scoped by state, and the source id by website too.
"""

import itertools

from kad import normalise, vocab
from kad.records import CLINIC, KINDS, UNREADABLE, numbered_lines, parse_line

ARRAY_FIELDS = ("treatments", "conditions", "insurers", "financing", "clinician_types")
FLAG_FIELDS = ("accepts_medicare", "accepts_medicaid", "accepts_tricare", "va_community_care",
               "spravato_rems_certified")
PRICE_FIELDS = ("price_initial_usd", "price_subsequent_usd", "price_series_usd", "series_count",
                "price_consultation_usd")
# Fields where two sources giving different values means a person should look.
CHECKED_FIELDS = ("phone", "street", "postal_code", "city", "state", "website", *PRICE_FIELDS)
# Source ranks: hand-checked data first, then the clinic's own site, then registries.
SOURCE_RANK = {"curated": 0, "clinic_site": 1, "nppes": 2}
EVIDENCE = {"curated": "curated", "clinic_site": "clinic_website"}
# Each programme flag and the insurer it names; the insurer's `kind` groups the plans that belong
# to the programme (a state's Medicaid plans are all of kind medicaid).
PROGRAMME_INSURERS = {"accepts_medicare": "medicare", "accepts_medicaid": "medicaid",
                      "accepts_tricare": "tricare", "va_community_care": "va-community-care"}


def feed_record(row, where, report):
    """A feed line is already a record."""
    return row


def clean_record(record, where, report):
    """Check and normalise one clinic record (kad.records) and map its treatments, conditions
    and insurers to the vocabularies. Returns the cleaned record, or None when it is dropped."""
    record = KINDS[CLINIC].check(record, where, report)
    if record is not None:
        _map_vocabularies(record)
    return record


def read_records(path, to_record, report):
    """(line number, clean record, or None when the line is dropped) for every line of a clinic
    file: a curated file (to_record=kad.curated_clinics.curated_record) or a feed (feed_record)."""
    return records_of_lines(path.name, numbered_lines(path), to_record, report)


def records_of_lines(name, lines, to_record, report):
    """read_records over some numbered lines (bytes) of the file `name` (a build worker's chunk)."""
    for number, raw in lines:
        where = f"{name}:{number}"
        value = parse_line(raw, where, report)
        if value is not UNREADABLE:
            yield number, clean_record(to_record(value, where, report), where, report)


def load_tables():
    """Load the tables clean_record reads (vocabularies, ZIP codes) once, before a build forks
    its workers (kad/parallel.py), so that each starts with them."""
    vocab.treatments(), vocab.conditions(), vocab.insurers(), normalise.zip_states()


def _map_vocabularies(record):
    unmapped = record["unmapped"]
    for key, vocabulary in (("treatments", vocab.treatments()), ("conditions", vocab.conditions()),
                            ("insurers", vocab.insurers())):
        ids, missing = vocabulary.map_names(record[key])
        record[key] = ids
        if missing:
            unmapped[key] = sorted(set(unmapped.get(key, [])) | set(missing))
    # Which page named which insurer, when not the record's first source (a curated change).
    record["insurer_sources"] = {insurer_id: url for name, url in record["insurer_sources"].items()
                                 for insurer_id in vocab.insurers().map_names([name])[0]}


def merge_keys(record):
    """The keys that identify one location, each scoped so that records of two states (or two
    websites) never join: the source id within one state and one website; the NPI within one
    state; the phone within one city; the street address with its ZIP code and state; the
    website within one city. A chain's shared call-centre number or website in another city
    does not merge two locations (nor, see build_db.py, one site's two addresses in one city)."""
    state, host = record["state"], normalise.site_host(record["website"])
    city = normalise.city_key(record["city"] or "")
    address = normalise.address_key(record["street"], record["postal_code"])
    return {
        "source_key": "|".join((record["source_id"], state, host)),
        "npi_key": f"{record['npi']}|{state}" if record["npi"] else None,
        "phone_key": "|".join((record["phone"], state, (record["city"] or "").lower())) if record["phone"] else None,
        "address_key": f"{address}|{state}" if address else None,
        "site_key": f"{host}|{state}|{city}" if host and city else None,
    }


def merge_group(records):
    """One `clinics` row (without coordinates) from the records of one location, best source
    first; its id is the best record's source id (build_db.Build.split_clinic_ids may give it another).
    Returns (row, insurer links)."""
    records = sorted(records, key=lambda r: SOURCE_RANK.get(r["fetched_by"], 9))
    row = {"id": records[0]["source_id"]}
    conflicts = []
    for key in ("name", "street", "city", "state", "postal_code", "phone", "website", "npi",
                "latitude", "longitude", *PRICE_FIELDS, *FLAG_FIELDS, "notes"):
        values = [(value, r) for r in records if (value := r.get(key)) is not None and value != ""]
        row[key] = values[0][0] if values else None
        # Only two values can disagree: a lone value skips _comparable (a street address parse).
        if key in CHECKED_FIELDS and len(values) > 1 and len({_comparable(key, v) for v, _ in values}) > 1:
            conflicts.append({"field": key, "values": [{"value": v, "sources": r["sources"]}
                                                       for v, r in values]})
    legal_names = [r["name"] for r in records if r["fetched_by"] == "nppes"]
    row["operator"] = next((r.get("operator") for r in records if r.get("operator")), None) or \
        next((n for n in legal_names if n.lower() != row["name"].lower()), None)
    for key in ("ketamine_insurance", "spravato_insurance"):
        stated = [r[key] for r in records if r[key] != "unknown"]
        row[key] = stated[0] if stated else "unknown"
    for key in ARRAY_FIELDS:
        row[key] = _union(records, key)
    row["unmapped_insurers"] = sorted({n for r in records for n in r["unmapped"].get("insurers", [])})
    row["reported_closed"] = int(any(r["reported_closed"] for r in records))
    # A registry or a site listing of a VA medical center does not unmake it.
    row["facility_kind"] = next((r["facility_kind"] for r in records if r["facility_kind"] != "clinic"), "clinic")
    row["sources"] = _union(records, "sources")
    row["source_ids"] = [r["source_id"] for r in records]
    read = sorted(r["retrieved_at"] for r in records if r["retrieved_at"])
    seen = sorted(day for r in records for day in (r["first_seen"], r["retrieved_at"]) if day)
    row["retrieved_at"] = read[-1] if read else None
    row["first_seen"], row["last_seen"] = (seen[0], seen[-1]) if seen else (None, None)
    links = insurer_links(row, records, conflicts)
    row["insurers"] = [vocab.insurers().name(i) for i in links]
    row["conflicts"] = conflicts
    row["needs_review"] = int(bool(conflicts) or any(r["needs_review"] for r in records))
    row["review_reasons"] = _union(records, "review_reasons")
    return row, list(links.values())


def _union(records, key):
    """The entries of the records' `key` lists, each once, in order."""
    return list(dict.fromkeys(itertools.chain.from_iterable(record[key] for record in records)))


def insurer_links(row, records, conflicts):
    """Every insurer the clinic says it takes, as {insurer id: clinic_insurers row}: the insurers
    it lists, and the programmes its flags name (accepts_medicare, accepts_tricare, ...). A flag
    and a listed insurer of the programme's kind say the same thing, so each completes the other:
    "TRICARE" in a list sets accepts_tricare, and accepts_tricare adds TRICARE. A flag saying no
    beside a listed insurer of that kind is a disagreement, kept as a conflict. The search, the
    near-ZIP query, the clinic page and the API all read these links, so they cannot disagree."""
    links = {}

    def link(insurer_id, record):
        if insurer_id in links:
            return
        # The page that named the insurer, when a curated change says which, with its date.
        url = record["insurer_sources"].get(insurer_id, record["sources"][0])
        links[insurer_id] = {
            "clinic_id": row["id"], "insurer_id": insurer_id,
            "evidence": EVIDENCE.get(record["fetched_by"], "clinic_website"),
            "source_url": url, "retrieved_at": record["source_dates"].get(url, record["retrieved_at"]),
        }

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
