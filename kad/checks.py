"""Bills, source checks and policy-page checks: what the openstates, source_check and
insurer_policy spiders wrote to data/feeds/, loaded beside the curated rows they concern.

* ``bills`` holds the hand-curated bills of ``data/curated/bills.yml`` and the ``openstates.jsonl``
  feed; a bill in both (same state, session and bill number) is the feed's row, once. Without the
  feed (no API key yet) the curated bills stand alone.
* ``source_check.jsonl`` fills the check columns of ``sources`` (http_status, content_sha256,
  final_url, checked_at, changed, changed_at, disappeared, check_error); every state_laws,
  federal_rules, insurer_policies, appeal_paths, clinics and states row citing an address that
  now fails, or that changed after the row was read (its ``retrieved_at``; for a state's phone
  lines, ``contact_sources`` and ``contact_retrieved_at``), gets ``needs_review = 1`` and a
  sentence in ``review_reasons`` saying which and why.
* ``insurer_policy.jsonl`` becomes ``policy_page_checks`` (what each policy page states); an
  insurer_policies row whose page states another number, title or date is flagged the same way.

Each feed is read with the schema of its kind in kad/records.py, the checks the crawl uses too: a
line that is not JSON, or lacks what identifies its record, is reported with its file and line
and left out, and a wrong field is emptied and reported; nothing here needs the network.

The source_check spider uses ``cited_urls`` (every address the curated rows cite), so that the
crawl and the build agree on them.
"""

import json
import re

from kad import CURATED, curated_clinics, normalise, read_yaml, records
from kad.records import BILL_STATUSES

FLAGGED_TABLES = ("state_laws", "federal_rules", "insurer_policies", "appeal_paths", "clinics", "states")
BILL_COLUMNS = {
    "id": str, "state": str, "session": str, "identifier": str, "title": str, "status": str,
    "latest_action": str, "latest_action_date": str, "subjects": str, "matched_terms": str,
    "url": str, "sources": str, "retrieved_at": str, "fetched_by": str,
}
# What a curated bill is about (its `subjects`); the feed's bills carry Open States' own subjects.
BILL_TOPICS = ("ketamine_coverage", "psychedelic_therapy", "prior_authorization", "step_therapy",
               "mental_health_parity")
CURATED_BILLS = CURATED / "bills.yml"
POLICY_CHECK_COLUMNS = {
    "policy_row": str, "url": str, "found_policy_id": str, "found_title": str,
    "found_effective_date": str, "found_last_reviewed": str, "differs": str, "error": str,
    "sources": str, "retrieved_at": str,
}
# The columns source_check fills in `sources` (its other columns are in build_db.py).
SOURCE_CHECK_COLUMNS = {
    "http_status": int, "content_sha256": str, "final_url": str, "checked_at": str,
    "changed": int, "changed_at": str, "disappeared": int, "check_error": str,
}


# -- what the curated rows cite ------------------------------------------------------------------

def cited_urls(curated=CURATED):
    """Every address cited by the curated rows (state laws, federal rules, insurer policies,
    appeal paths, states and their contacts, curated bills, insurers, the curated clinic files with
    their changes), each once, sorted."""
    rows = []
    for path in sorted((curated / "state_laws").glob("*.yml")):
        rows.extend((read_yaml(path) or {}).get("rows") or [])
    for name in ("federal_rules.yml", "insurer_policies.yml", "states.yml", "bills.yml"):
        rows.extend(read_yaml(curated / name) or [])
    appeal_paths = read_yaml(curated / "appeal_paths.yml") or {}
    rows.extend([*(appeal_paths.get("programs") or []), *(appeal_paths.get("rows") or [])])
    rows.extend((read_yaml(curated / "insurers.yml") or {}).get("insurers") or [])
    urls = {url for row in rows for key in ("sources", "contact_sources") for url in row.get(key) or []}
    for line in curated_clinics.curated_lines(curated):
        if isinstance(line.get("source_urls"), list):
            urls.update(line["source_urls"])
    return sorted(url for url in urls if isinstance(url, str))


# -- reading a feed ------------------------------------------------------------------------------

def good_lines(path, report, kind):
    """(where, record) of the feed's records of `kind` that kad.records keeps (cleaned), `where`
    being 'file:line'; what it empties or drops is reported there. Returns (records, lines read)."""
    found, read = [], 0
    if not path.exists():
        return found, read
    schema = records.KINDS[kind]
    for number, value in records.read_jsonl(path, report):
        read += 1
        where = f"{path.name}:{number}"
        record = schema.check(value, where, report)
        if record is not None:
            found.append((where, record))
    return found, read


# -- review flags --------------------------------------------------------------------------------

def add_review_columns(db):
    """`review_reasons` (a JSON array of sentences, [] when none) on every flagged table."""
    for table in FLAGGED_TABLES:
        if "review_reasons" not in db[table].columns_dict:
            db[table].add_column("review_reasons", str, not_null_default="[]")


def flag_rows(db, table, reasons_by_key, column="sources", listed=True, since_by_key=None,
              read_column="retrieved_at"):
    """needs_review = 1 and the reasons added for every row of `table` whose `column` (a JSON
    array of keys such as `sources`, or one key when not `listed`) has a key in
    `reasons_by_key`. A key with a date in `since_by_key` counts only for rows read
    (`read_column`) before that date: re-reading the row clears the flag. Returns how many rows
    were flagged."""
    if not reasons_by_key:
        return 0
    since_by_key = since_by_key or {}
    # Only the rows citing a flagged key are read: the table may hold 100k clinics.
    cites = (f"EXISTS (SELECT 1 FROM json_each({table}.{column}) WHERE value IN (SELECT value FROM json_each(:keys)))"
             if listed else f"{column} IN (SELECT value FROM json_each(:keys))")
    matching = db.execute(f"SELECT rowid, {column}, review_reasons, {read_column} FROM {table} WHERE {cites}",
                          {"keys": json.dumps(list(reasons_by_key))}).fetchall()
    flagged = 0
    for rowid, keys, existing, read_at in matching:
        keys = json.loads(keys or "[]") if listed else [keys]
        keys = [k for k in keys if not (since_by_key.get(k) and read_at and read_at >= since_by_key[k])]
        reasons = list(dict.fromkeys(r for key in keys for r in reasons_by_key.get(key, ())))
        if not reasons:
            continue
        merged = json.loads(existing or "[]")
        merged.extend(r for r in reasons if r not in merged)
        db.execute(f"UPDATE {table} SET needs_review = 1, review_reasons = ? WHERE rowid = ?",
                   [json.dumps(merged), rowid])
        flagged += 1
    db.conn.commit()
    return flagged


# -- bills ---------------------------------------------------------------------------------------

def bill_key(state, session, identifier):
    """(state, session, bill number) with the number's spaces, dots, hyphens and leading zeros
    ignored: "SF 3971", "S.F. 3971" and "SF03971" are one bill."""
    compact = re.sub(r"[^A-Z0-9]", "", str(identifier).upper())
    number = re.sub(r"^([A-Z]*)0+(?=\d)", r"\1", compact)
    return state, str(session).strip(), number


def _string_list(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _sources_problem(row):
    sources = row.get("sources")
    if not _string_list(sources) or not any(normalise.is_web_address(url) for url in sources):
        return "no http(s) source address"
    return None


def _curated_bill_problem(row):
    """A hand-curated bill (YAML, where dates may be dates) is held to more than a feed's:
    an exact state code, a status and subjects of the vocabularies, a date it was read."""
    if not isinstance(row, dict):
        return "not a mapping"
    for key in ("session", "identifier", "title"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            return f"no {key}"
    if row.get("state") not in normalise.JURISDICTIONS:
        return f"state {row.get('state')!r} is not one of the 50 states and DC"
    if row.get("status") not in BILL_STATUSES:
        return f"status {row.get('status')!r} is not in the bills vocabulary"
    date = row.get("latest_action_date")
    if date is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(date)):
        return f"latest_action_date {date!r} is not YYYY-MM-DD"
    if not (_string_list(row.get("subjects")) and row["subjects"] and set(row["subjects"]) <= set(BILL_TOPICS)):
        return f"subjects must name one or more of {', '.join(BILL_TOPICS)}"
    if not row.get("retrieved_at"):
        return "no retrieved_at"
    return _sources_problem(row)


def curated_bills(path, report):
    """The rows of data/curated/bills.yml that pass their checks, keyed by bill_key; the others
    are reported with their row number and left out."""
    rows = {}
    for number, row in enumerate(read_yaml(path) or [], 1):
        problem = _curated_bill_problem(row)
        if problem:
            report.problem(f"{path.relative_to(path.parents[1])} row {number}", f"left out: {problem}", "bill_invalid")
            continue
        key = bill_key(row["state"], row["session"], row["identifier"])
        rows[key] = {**{column: row.get(column) for column in BILL_COLUMNS},
                     "id": "curated:" + ":".join(key), "session": key[1], "matched_terms": [],
                     "latest_action_date": row.get("latest_action_date") and str(row["latest_action_date"]),
                     "retrieved_at": str(row["retrieved_at"]), "fetched_by": "curated"}
    return rows


def load_bills(db, path, report, record_source, curated=CURATED_BILLS):
    """The bills table: the curated bills, then the openstates feed, whose row replaces a curated
    row of the same bill. Returns (feed lines read, feed rows loaded)."""
    db["bills"].create(BILL_COLUMNS, pk="id", if_not_exists=True)
    rows = curated_bills(curated, report)
    for row in rows.values():
        for url in row["sources"]:
            record_source(url, "legislature", "curated", row["retrieved_at"])
    found, read = good_lines(path, report, records.BILL)
    loaded = set()
    for _, record in found:
        row = {**{key: record.get(key) for key in BILL_COLUMNS}, "fetched_by": "openstates"}
        for url in row["sources"]:
            record_source(url, "legislative_api", "openstates", row.get("retrieved_at"))
        key = bill_key(row["state"], row.get("session") or "", row["identifier"])
        rows[key] = row
        loaded.add(row["id"])
    db["bills"].insert_all(rows.values(), pk="id", replace=True)
    for columns in (["state"], ["status"], ["latest_action_date"], ["fetched_by"]):
        db["bills"].create_index(columns, if_not_exists=True)
    return read, len(loaded)


# -- policy pages --------------------------------------------------------------------------------

def _policy_reason(record, policy):
    curated = {"policy_id": policy["policy_id"], "title": policy["policy_title"],
               "effective_date": policy["effective_date"] if policy["date_kind"] != "last_reviewed" else None,
               "last_reviewed": policy["effective_date"] if policy["date_kind"] == "last_reviewed" else None}
    parts = [f"{field.replace('_', ' ')} {record.get('found_' + field)!r} (curated: "
             f"{repr(curated[field]) if curated[field] else 'none'})" for field in record["differs"]]
    return (f"The policy page {record['url']} stated {'; '.join(parts)} when read on "
            f"{record.get('retrieved_at') or 'an unknown date'}.")


def load_policy_checks(db, path, report, record_source):
    """policy_page_checks from the insurer_policy feed, and the insurer_policies rows whose page
    states something else flagged. Returns (lines read, rows loaded)."""
    db["policy_page_checks"].create(POLICY_CHECK_COLUMNS, pk="policy_row", if_not_exists=True,
                                    foreign_keys=[("policy_row", "insurer_policies", "id")])
    found, read = good_lines(path, report, records.POLICY_PAGE)
    policies = {row["id"]: row for row in db["insurer_policies"].rows}
    rows, reasons = {}, {}
    for where, record in found:
        policy = policies.get(record["policy_row"])
        if policy is None:
            report.problem(where, f"left out: no insurer_policies row {record['policy_row']} "
                                  "(the curated data changed since the check?)")
            continue
        row = {key: record[key] for key in POLICY_CHECK_COLUMNS}
        for url in row["sources"]:
            record_source(url, "insurer_policy", "insurer_policy", row.get("retrieved_at"))
        rows[row["policy_row"]] = row
        if row["differs"]:
            reasons[row["policy_row"]] = [_policy_reason(row, policy)]
    db["policy_page_checks"].insert_all(rows.values(), pk="policy_row", replace=True)
    flag_rows(db, "insurer_policies", reasons, "id", listed=False)
    return read, len(rows)


# -- source checks -------------------------------------------------------------------------------

def _changed_at(record):
    """When the address's text last changed: the spider carries it forward from check to check."""
    return record.get("changed_at") or (record.get("checked_at") if record.get("changed") else None)


def _source_reason(record):
    when = record.get("checked_at") or "the last check"
    if record.get("disappeared"):
        why = f"HTTP {record['http_status']}" if record.get("http_status") else (record.get("error") or "no answer")
        return f"A cited source stopped answering ({why}) at the check of {when}: {record['url']}"
    return f"A cited source's text changed before the check of {_changed_at(record)}: {record['url']}"


def apply_source_checks(db, path, report):
    """The check columns of `sources`, and the rows citing a changed or vanished address
    flagged. Returns (lines read, sources rows updated)."""
    found, read = good_lines(path, report, records.SOURCE_CHECK)
    latest = {record["url"]: record for _, record in found}  # a later line wins
    updated = 0
    for url, record in latest.items():
        updated += db.execute(
            "UPDATE sources SET http_status = ?, content_sha256 = ?, final_url = ?, checked_at = ?, "
            "changed = ?, changed_at = ?, disappeared = ?, check_error = ? WHERE url = ?",
            [record.get("http_status"), record.get("content_sha256"), record.get("final_url"),
             record.get("checked_at"), int(bool(record.get("changed"))), _changed_at(record),
             int(bool(record.get("disappeared"))), record.get("error"), url]).rowcount
    db.conn.commit()
    reasons = {url: [_source_reason(record)] for url, record in latest.items()
               if _changed_at(record) or record.get("disappeared")}
    # A changed text flags the rows read before the change until a person re-reads them (and
    # updates their retrieved_at); an address that stopped answering flags them while it fails.
    since = {url: _changed_at(record) for url, record in latest.items() if not record.get("disappeared")}
    for table in FLAGGED_TABLES:
        flag_rows(db, table, reasons, since_by_key=since)
    # A state's phone lines were read from other pages, on another day.
    flag_rows(db, "states", reasons, column="contact_sources", since_by_key=since, read_column="contact_retrieved_at")
    return read, updated


def check(db):
    """Failures of the new tables and columns (JSON arrays that must be arrays)."""
    failures = []
    for table, column in (("bills", "subjects"), ("bills", "matched_terms"), ("bills", "sources"),
                          ("policy_page_checks", "differs"),
                          *((table, "review_reasons") for table in FLAGGED_TABLES)):
        bad = db.execute(f"SELECT count(*) FROM {table} WHERE json_type({column}) IS NOT 'array'").fetchone()[0]
        if bad:
            failures.append(f"{bad} {table} rows have a {column} value that is not a JSON array")
    return failures
