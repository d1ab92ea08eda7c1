"""The rows the build's workers make (kad/parallel.py), and the columns they fill.

``stage_lines`` checks some lines of a clinic file and gives each record its merge keys, as rows
of the staging database; ``locations`` merges each location's staged records into its clinics
row and the rows of its link tables and of ``sources``, packed as one small SQLite database
(kad.bulk.packed), so that the process writing the database (build_db.py) only copies them in.
"""

import contextlib
import itertools
import sqlite3

import msgspec

from kad import checks, clinics, records
from kad.bulk import packed, values_of

SOURCE_KIND = {"curated": "web_page", "clinic_site": "clinic_website", "nppes": "registry_api"}

CLINIC_COLUMNS = {
    "id": str, "name": str, "operator": str, "street": str, "city": str, "state": str,
    "postal_code": str, "phone": str, "website": str, "npi": str, "latitude": float,
    "longitude": float, "geocode_precision": str, "treatments": str, "conditions": str,
    "insurers": str, "ketamine_insurance": str, "spravato_insurance": str,
    "accepts_medicare": int, "accepts_medicaid": int, "accepts_tricare": int,
    "va_community_care": int, "financing": str, "price_initial_usd": float,
    "price_subsequent_usd": float, "price_series_usd": float, "series_count": int,
    "price_consultation_usd": float, "spravato_rems_certified": int, "clinician_types": str,
    "unmapped_insurers": str, "notes": str, "reported_closed": int, "facility_kind": str,
    "conflicts": str, "source_ids": str, "sources": str, "retrieved_at": str, "first_seen": str,
    "last_seen": str, "needs_review": int, "review_reasons": str,
}
CLINIC_ORDER = tuple(CLINIC_COLUMNS)
INSURER_LINK_COLUMNS = ("clinic_id", "insurer_id", "evidence", "source_url", "retrieved_at")
LIST_LINKS = (("clinic_conditions", "conditions"), ("clinic_treatments", "treatments"))
SOURCE_COLUMNS = {"url": str, "kind": str, "fetched_by": str, "retrieved_at": str, **checks.SOURCE_CHECK_COLUMNS}
SOURCE_ORDER = tuple(SOURCE_COLUMNS)
# The tables `locations` fills, with their columns in order.
WRITTEN_COLUMNS = {"clinics": CLINIC_ORDER, "clinic_insurers": INSURER_LINK_COLUMNS,
                   **{table: ("clinic_id", column[:-1] + "_id") for table, column in LIST_LINKS}, "sources": SOURCE_ORDER}
# The keys records of one location share (kad.clinics.merge_keys).
MERGE_KEYS = ("source_key", "npi_key", "phone_key", "address_key", "site_key")
# The staging database's records: one per input record, its merge keys, its group once merged.
STAGING_COLUMNS = {"rid": int, "source_id": str, "npi": str, "state": str, "fetched_by": str, "rank": int,
                   **dict.fromkeys(MERGE_KEYS, str), "grp": int, "record": str}
STAGING_ORDER = tuple(STAGING_COLUMNS)
# Staged records are the build's own intermediate JSON: msgspec reads and writes it several
# times faster than the json module.
_encode, _decode = msgspec.json.encode, msgspec.json.decode


def stage_lines(name, fetched_by, to_record, lines):
    """Some numbered lines of one clinic file as staged records with their merge keys, the
    number of lines read and what was reported (a worker's part of build_db.Build.stage_clinics)."""
    report, rows, read = records.Report(), [], 0
    for _, record in clinics.records_of_lines(name, lines, to_record, report):
        read += 1
        if record is not None:
            record["fetched_by"] = fetched_by
            rows.append(values_of({"source_id": record["source_id"], "npi": record["npi"], "state": record["state"],
                                   "fetched_by": fetched_by, "rank": clinics.SOURCE_RANK.get(fetched_by, 9),
                                   **clinics.merge_keys(record), "record": _encode(record)}, STAGING_ORDER, "records"))
    return rows, read, report


def locations(staging_path, place, clinic_ids, group_range):
    """The rows of the locations whose group number is in `group_range` (their staged records read
    from the staging database, which nothing writes meanwhile), packed for the writing process
    (kad.bulk.packed): each location's clinics row, its rows of the link tables and of `sources`
    (the addresses its records cite, in order); and how many locations. A clinic's id is its best
    record's source id, or its group's entry in `clinic_ids` (build_db.Build.split_clinic_ids).
    Placed when `place` is given (a worker's part of build_db.Build.write_clinics)."""
    with contextlib.closing(sqlite3.connect(f"file:{staging_path}?mode=ro", uri=True)) as staging:
        rows = staging.execute("SELECT grp, record FROM records WHERE grp BETWEEN ? AND ? ORDER BY grp, rank, rid",
                               group_range).fetchall()
    tables = {table: [] for table in WRITTEN_COLUMNS}
    for grp, members in itertools.groupby(rows, key=lambda row: row[0]):
        group = [_decode(record) for _, record in members]
        tables["sources"].extend(
            values_of({"url": url, "kind": SOURCE_KIND.get(record["fetched_by"], "web_page"),
                       "fetched_by": record["fetched_by"],
                       "retrieved_at": record["source_dates"].get(url, record["retrieved_at"])}, SOURCE_ORDER, "sources")
            for record in group for url in record["sources"])
        row, insurer_links = clinics.merge_group(group)
        row["id"] = clinic_ids.get(grp, row["id"])
        if place:
            row["latitude"], row["longitude"], row["geocode_precision"] = place(row)
        tables["clinics"].append(values_of(row, CLINIC_ORDER, "clinics"))
        for link in insurer_links:
            link["clinic_id"] = row["id"]
            tables["clinic_insurers"].append(values_of(link, INSURER_LINK_COLUMNS, "clinic_insurers"))
        for table, column in LIST_LINKS:
            tables[table].extend([row["id"], value] for value in row[column])
    return packed({table: (WRITTEN_COLUMNS[table], rows) for table, rows in tables.items()}), len(tables["clinics"])
