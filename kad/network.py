"""Which clinic is in which network: the evidence ladder as tables (docs/data-contract.md, "The evidence ladder").

* ``clinic_npis``: which NPIs are which directory clinic, and how sure: the clinic's own NPI
  (``record``, 1.0), the nppes_match feed (API answers scored by ``kad.npi_match``) and the
  nppes_bulk feed (NPPES bulk file, scored here the same way). A weak match is kept for a person
  to confirm; only a strong one (``npi_match.STRONG``) joins evidence to a clinic.
* ``network_evidence``: one row per (npi, insurer, network or plan, evidence kind, source): the
  clinic side (``clinic_website`` and ``curated``, from ``clinic_insurers``) and the payer side
  (``payer_directory`` from plan_net, ``marketplace_directory`` from marketplace_providers,
  ``medicare_claims`` from medicare_billers, and ``price_transparency_file`` rows another loader
  adds with ``add_evidence``). A payer row whose NPI matches no clinic is kept (``clinic_id``
  NULL) and stays queryable.
* ``clinic_insurers`` gains the strongest evidence of each clinic x insurer and its
  ``network_status`` (``agrees``, ``clinic_only``, ``payer_only``, ``conflict``,
  ``clinic_only_unchecked``; see ``compute_status``), and a row for every insurer whose own data
  lists a clinic that does not name it (``payer_only``).

With none of these feeds the tables exist, empty, and ``clinic_insurers`` says
``clinic_only_unchecked`` everywhere: the default build is otherwise unchanged.
"""

import functools
import hashlib
import json

from kad import npi_match, normalise, parallel, vocab
from kad.bulk import copy_packed, insert_rows, packed, values_of
from kad.records import KINDS, NETWORK, NPI, UNREADABLE, Report, numbered_lines, parse_line, read_jsonl

# Weakest to strongest (docs/data-contract.md); the two payer directories weigh the same.
LADDER = {"clinic_website": 0, "curated": 1, "marketplace_directory": 2, "payer_directory": 2,
          "medicare_claims": 3, "price_transparency_file": 4}
CLINIC_SIDE = ("clinic_website", "curated")
PAYER_SIDE = ("marketplace_directory", "payer_directory", "medicare_claims", "price_transparency_file")
# A payer's directory that was read and does not list a clinic says something; a claims file or a
# rate file that lacks it does not (CMS hides small counts; rates are not a network list).
DIRECTORIES = ("marketplace_directory", "payer_directory")
STATUSES = ("agrees", "clinic_only", "payer_only", "conflict", "clinic_only_unchecked")
NETWORK_FEEDS = ("plan_net", "marketplace_providers", "medicare_billers")
NPI_FEEDS = ("nppes_match", "nppes_bulk")
EVIDENCE_COLUMNS = {"id": str, "npi": str, "clinic_id": str, "insurer_id": str, "network": str, "plan_ids": str,
                    "evidence": str, "detail": str, "state": str, "source_url": str, "retrieved_at": str}
NPI_COLUMNS = {"clinic_id": str, "npi": str, "match_method": str, "match_score": float, "source_url": str,
               "retrieved_at": str}


def create_tables(db):
    db["clinic_npis"].create(NPI_COLUMNS, pk=("clinic_id", "npi"), if_not_exists=True,
                             foreign_keys=[("clinic_id", "clinics", "id")])
    db["network_evidence"].create(EVIDENCE_COLUMNS, pk="id", if_not_exists=True,
                                  foreign_keys=[("insurer_id", "insurers", "id")])
    for column in ("network_status",):
        if column not in db["clinic_insurers"].columns_dict:
            db["clinic_insurers"].add_column(column, str)


# -- evidence ----------------------------------------------------------------------------------

def evidence_problem(row):
    """Why a network_evidence row cannot be loaded, or None."""
    if row.get("evidence") not in LADDER:
        return f"evidence {row.get('evidence')!r} is not on the ladder"
    if row.get("insurer_id") not in vocab.insurers().entries:
        return f"insurer {row.get('insurer_id')!r} is not in the vocabulary"
    if row["evidence"] in PAYER_SIDE:
        try:
            if not normalise.npi(row.get("npi")):
                return "no NPI"
        except ValueError as error:
            return str(error)
    if not isinstance(row.get("source_url"), str) or not row["source_url"].strip():
        return "no source_url"
    if not isinstance(row.get("plan_ids") or [], list) or not isinstance(row.get("detail") or {}, dict):
        return "plan_ids must be a list and detail an object"
    return None


def add_evidence(db, rows, report=None, where="network evidence"):
    """Add network_evidence rows (dicts with npi, insurer_id, evidence, source_url and optionally
    clinic_id, network, plan_ids, detail, state, retrieved_at), for any loader: the same fact from
    the same source is stored once; a row that fails `evidence_problem` is reported and left out.
    Rows without a clinic_id are joined to clinics by NPI. Returns how many rows were added."""
    create_tables(db)
    before = db["network_evidence"].count
    insert_rows(db, "network_evidence", _good_evidence(enumerate(rows, 1), report, where), "OR IGNORE")
    link_clinics(db)
    return db["network_evidence"].count - before


def _good_evidence(numbered_rows, report, where):
    """The rows add_evidence stores, one at a time (a generator keeps the build's memory flat)."""
    for number, row in numbered_rows:
        problem = evidence_problem(row)
        if problem:
            if report:
                report.problem(f"{where} {number}", f"dropped: {problem}", "network_evidence_invalid")
            continue
        out = {key: row.get(key) for key in _ROW_KEYS}
        # Most rows (every clinic-side one) have neither: their JSON is known without encoding.
        plan_ids, detail = row.get("plan_ids"), row.get("detail")
        out["plan_ids"] = _json(list(plan_ids)) if plan_ids else "[]"
        out["detail"] = _sorted_json(detail) if detail else "{}"
        out["id"] = row["evidence"] + ":" + _digest(_sorted_json(out))
        yield out


_ROW_KEYS = tuple(key for key in EVIDENCE_COLUMNS if key != "id")
_json = json.JSONEncoder().encode
_sorted_json = json.JSONEncoder(sort_keys=True).encode


def _digest(row_json):
    """The hash in a row's id: ids are public, so this and the JSON it hashes never change."""
    return hashlib.sha1(row_json.encode()).hexdigest()[:16]


def _digest_of_sqlite_json(row_json):
    """`_digest` of a row's JSON as SQLite writes it (key-sorted, built with json_quote). For
    printable ASCII without escapes SQLite writes what Python writes; otherwise (non-ASCII, DEL,
    an escaped character) the JSON is written again as Python writes it."""
    if "\\" in row_json or not (row_json.isascii() and row_json.isprintable()):
        row_json = _sorted_json(json.loads(row_json))
    return _digest(row_json)


def link_clinics(db):
    """clinic_id for evidence rows that have none: the clinic with that NPI (the first by id), or
    the strongest match (then the first by id) in clinic_npis. Read from one keyed table of every
    NPI made here: the build indexes clinics.npi only at its end, and a lookup per row without
    an index would read every clinic for every payer row."""
    db.executescript("""
        DROP TABLE IF EXISTS temp.npi_clinic;
        CREATE TEMP TABLE npi_clinic (npi PRIMARY KEY, clinic_id) WITHOUT ROWID;
        INSERT INTO npi_clinic SELECT npi, min(id) FROM clinics WHERE npi IS NOT NULL GROUP BY npi;
    """)
    db.execute("""INSERT OR IGNORE INTO npi_clinic SELECT npi, clinic_id FROM (
                    SELECT npi, clinic_id, row_number() OVER (PARTITION BY npi ORDER BY match_score DESC, clinic_id) AS place
                    FROM clinic_npis WHERE match_score >= ?) WHERE place = 1""", [npi_match.STRONG])
    db.executescript("""
        UPDATE network_evidence SET clinic_id = npi_clinic.clinic_id FROM npi_clinic
          WHERE network_evidence.clinic_id IS NULL AND npi_clinic.npi = network_evidence.npi;
        DROP TABLE temp.npi_clinic;
    """)
    db.conn.commit()


def feed_evidence(record):
    """A network_evidence row from a plan_net / marketplace_providers / medicare_billers line that
    kad.records checked (its NPI, insurer, evidence kind and state are sound)."""
    detail = {**record["detail"],
              "listed_as": {k: record[k] for k in ("name", "street", "city", "state", "postal_code", "phone")}}
    return {"npi": record["npi"], "insurer_id": record["insurer_id"], "network": record["network"],
            "plan_ids": record["plan_ids"], "evidence": record["evidence"], "detail": detail,
            "state": record["state"], "source_url": record["source_url"] or record["sources"][0],
            "retrieved_at": record["retrieved_at"]}


# Each network_evidence column of a clinic-side row, as SQL over clinic_insurers (ci) and clinics (c).
_CLINIC_SIDE_SQL = {"npi": "c.npi", "clinic_id": "ci.clinic_id", "insurer_id": "ci.insurer_id", "network": "NULL",
                    "plan_ids": "'[]'", "evidence": "ci.evidence", "detail": "'{}'", "state": "c.state",
                    "source_url": "ci.source_url", "retrieved_at": "ci.retrieved_at"}


def add_clinic_side_evidence(db, report):
    """What the clinics say (clinic_insurers, from their own pages or hand-checked research), as
    network_evidence rows: one INSERT ... SELECT in SQLite, with the ids
    `add_evidence` gives. A row it cannot be sure `evidence_problem` accepts (none, as the clinics'
    records were checked) goes through `add_evidence`'s checks instead, and is reported there."""
    create_tables(db)
    db.conn.create_function("evidence_digest", 1, _digest_of_sqlite_json, deterministic=True)
    keys = sorted(_CLINIC_SIDE_SQL)  # the JSON an id hashes has its keys sorted
    row_json = "printf('{%s}', %s)" % (", ".join(f"{_json(key)}: %s" for key in keys),
                                      ", ".join(f"json_quote({_CLINIC_SIDE_SQL[key]})" for key in keys))
    sound = ("ci.evidence IN (SELECT value FROM json_each(:clinic_side)) "
             "AND ci.insurer_id IN (SELECT value FROM json_each(:insurers)) "
             "AND typeof(ci.source_url) = 'text' AND ci.source_url GLOB '*[!-~]*'")  # a visible character
    rows = "FROM clinic_insurers ci JOIN clinics c ON c.id = ci.clinic_id"
    parameters = {"clinic_side": _json(CLINIC_SIDE), "insurers": _json(list(vocab.insurers().entries))}
    # Inserted in id order, so the id index is appended to rather than written all over (a
    # quarter of this step's time at 100,000 clinics); Datasette lists the table by id too.
    added = db.execute(f"""
        INSERT OR IGNORE INTO network_evidence (id, {', '.join(_ROW_KEYS)})
        SELECT ci.evidence || ':' || evidence_digest({row_json}) AS evidence_id, {', '.join(_CLINIC_SIDE_SQL[key] for key in _ROW_KEYS)}
        {rows} WHERE {sound} ORDER BY evidence_id""", parameters).rowcount
    db.conn.commit()
    if added == db["clinic_insurers"].count:
        return
    unsure = db.execute_returning_dicts(
        f"SELECT {', '.join(f'{sql} AS {key}' for key, sql in _CLINIC_SIDE_SQL.items())} {rows} WHERE NOT ({sound}) "
        "ORDER BY ci.clinic_id, ci.insurer_id", parameters)
    numbered = ((f"{row['clinic_id']} {row['insurer_id']}", {**row, "plan_ids": [], "detail": {}}) for row in unsure)
    insert_rows(db, "network_evidence", _good_evidence(numbered, report, "clinic_insurers"), "OR IGNORE")


# -- NPI matches -------------------------------------------------------------------------------

def load_npi_matches(db, feeds_dir, report, note_input, record_source):
    """clinic_npis from the clinics' own NPIs and the NPPES feeds."""
    create_tables(db)
    db.execute("INSERT OR IGNORE INTO clinic_npis SELECT id, npi, 'record', 1.0, "
               "(SELECT value FROM json_each(clinics.sources) LIMIT 1), retrieved_at FROM clinics WHERE npi IS NOT NULL")
    feeds = [feeds_dir / f"{name}.jsonl" for name in NPI_FEEDS]
    if not any(path.exists() for path in feeds):  # every clinic in memory only to match NPPES lines
        return
    by_source = {source_id: clinic_id for clinic_id, source_id in db.execute(
        "SELECT clinics.id, each.value FROM clinics, json_each(clinics.source_ids) AS each")}
    by_state = {}
    for row in db.execute_returning_dicts("SELECT id, name, street, city, state, postal_code, phone FROM clinics"):
        by_state.setdefault(row["state"], []).append(row)
    best = {}
    for name, path in zip(NPI_FEEDS, feeds):
        if not path.exists():
            continue
        read = loaded = 0
        for number, value in read_jsonl(path, report):
            read += 1
            record = KINDS[NPI].check(value, f"{path.name}:{number}", report)
            if record is None:
                continue
            npi = record["npi"]
            for clinic_id, method, score in _matches(record, by_source, by_state):
                loaded += 1
                key = (clinic_id, npi)
                if key not in best or score > best[key]["match_score"]:
                    best[key] = {"clinic_id": clinic_id, "npi": npi, "match_method": method, "match_score": score,
                                 "source_url": record["sources"][0], "retrieved_at": record["retrieved_at"]}
                    if normalise.is_web_address(best[key]["source_url"]):
                        record_source(best[key]["source_url"], "registry_api", name, record.get("retrieved_at"))
        note_input(path, read, loaded)
    db["clinic_npis"].insert_all(best.values(), ignore=True)


def _matches(record, by_source, by_state):
    if record["clinic_source_id"]:
        clinic_id = by_source.get(record["clinic_source_id"])
        if clinic_id and record["match_score"] is not None:
            yield clinic_id, record["match_method"] or "name_state", float(record["match_score"])
        return
    for clinic in by_state.get(record["state"], ()):
        found = npi_match.score(clinic, record)
        if found and found[1] >= npi_match.MIN_SCORE:
            yield clinic["id"], found[0], found[1]


def load_evidence(db, feeds_dir, report, note_input, record_source):
    """network_evidence from the clinic side and the payer feeds. A payer directory can list
    millions: its lines are checked and made rows by the build's workers (kad/parallel.py), a
    chunk at a time, and written as they come, so memory stays flat."""
    add_clinic_side_evidence(db, report)
    for name in NETWORK_FEEDS:
        path = feeds_dir / f"{name}.jsonl"
        if not path.exists():
            continue
        before, read = db["network_evidence"].count, 0
        chunks = parallel.chunked(numbered_lines(path), FEED_CHUNK)
        for image, chunk_read, chunk_report, cited in parallel.ordered_map(
                functools.partial(_evidence_of_lines, path.name), chunks):
            copy_packed(db, image, {"network_evidence": "OR IGNORE"})
            report.absorb(chunk_report)
            read += chunk_read
            for url, (evidence, retrieved_at) in cited.items():
                record_source(url, evidence, name, retrieved_at)
        link_clinics(db)
        note_input(path, read, db["network_evidence"].count - before)


FEED_CHUNK = 2000  # payer feed lines a worker checks at a time
_EVIDENCE_ORDER = tuple(EVIDENCE_COLUMNS)


def _evidence_of_lines(filename, lines):
    """Some numbered lines of a payer feed as network_evidence rows packed for the writing process
    (kad.bulk.packed), with how many lines were read, what was reported, and the pages the rows
    cite ({address: (evidence, retrieved_at)} of each one's first citation): a worker's part of
    load_evidence."""
    report, checked, cited, read = Report(), [], {}, 0
    for number, raw in lines:
        where = f"{filename}:{number}"
        value = parse_line(raw, where, report)
        if value is UNREADABLE:
            continue
        read += 1
        record = KINDS[NETWORK].check(value, where, report)
        if record is None:
            continue
        row = feed_evidence(record)
        if normalise.is_web_address(row["source_url"]):
            cited.setdefault(row["source_url"], (row["evidence"], row["retrieved_at"]))
        checked.append((number, row))
    rows = [values_of(row, _EVIDENCE_ORDER, "network_evidence") for row in _good_evidence(checked, report, filename)]
    return packed({"network_evidence": (_EVIDENCE_ORDER, rows)}), read, report, cited


# -- network status ----------------------------------------------------------------------------

def compute_status(db):
    """clinic_insurers.network_status (and the strongest evidence) for every clinic x insurer:

    * agrees: the clinic names the insurer and the insurer's own data lists the clinic;
    * conflict: the clinic names the insurer, the insurer's data lists the clinic only as inactive
      or not accepting patients;
    * clinic_only: the clinic names the insurer; the insurer's directory was read for the clinic's
      state and does not list it;
    * clinic_only_unchecked: the clinic names the insurer; no directory of that insurer was read
      for that state;
    * payer_only: the insurer's data lists the clinic, the clinic does not name the insurer (a row
      is added to clinic_insurers).

    What a clinic says is its own clinic_insurers row (network_evidence's clinic-side rows are
    copies of it, with its evidence, source and date), so only a pair that payer data names can be
    agrees, conflict or payer_only or have stronger evidence than the clinic's. Each status is read
    from small keyed tables made once (what the payers list, which directories were read for which
    state), and only those pairs' evidence is sorted: the cost grows with the payer-side rows, and
    with none of them the step only marks every pair clinic_only_unchecked.
    """
    payer_side, directories, ladder = json.dumps(PAYER_SIDE), json.dumps(DIRECTORIES), json.dumps(LADDER)
    db.executescript(f"""
        DROP TABLE IF EXISTS temp.payer_lists;
        DROP TABLE IF EXISTS temp.directory_read;
        CREATE TEMP TABLE payer_lists (clinic_id, insurer_id, active,
                                       PRIMARY KEY (clinic_id, insurer_id)) WITHOUT ROWID;
        INSERT INTO payer_lists SELECT clinic_id, insurer_id,
            max(CASE WHEN coalesce(json_extract(detail, '$.active'), 1) != 0
                      AND coalesce(json_extract(detail, '$.accepting_new_patients'), '') != 'nopt'
                     THEN 1 ELSE 0 END)
          FROM network_evidence WHERE clinic_id IS NOT NULL
            AND evidence IN (SELECT value FROM json_each('{payer_side}')) GROUP BY clinic_id, insurer_id;
        CREATE TEMP TABLE directory_read (insurer_id, state, PRIMARY KEY (insurer_id, state)) WITHOUT ROWID;
        INSERT OR IGNORE INTO directory_read SELECT insurer_id, state FROM network_evidence
          WHERE evidence IN (SELECT value FROM json_each('{directories}')) AND state IS NOT NULL;
        -- The pairs the clinics name (a payer_only row of an earlier run is not one of them).
        UPDATE clinic_insurers SET network_status = 'clinic_only_unchecked' WHERE network_status IS NOT 'payer_only';
        UPDATE clinic_insurers SET network_status = CASE p.active WHEN 1 THEN 'agrees' ELSE 'conflict' END
          FROM payer_lists p WHERE p.clinic_id = clinic_insurers.clinic_id AND p.insurer_id = clinic_insurers.insurer_id
            AND clinic_insurers.network_status = 'clinic_only_unchecked';
        UPDATE clinic_insurers SET network_status = 'clinic_only' FROM directory_read d, clinics c
          WHERE c.id = clinic_insurers.clinic_id AND d.insurer_id = clinic_insurers.insurer_id AND d.state = c.state
            AND clinic_insurers.network_status = 'clinic_only_unchecked'
            AND EXISTS (SELECT 1 FROM directory_read);  -- checked once: no directory read, no scan
        INSERT OR IGNORE INTO clinic_insurers (clinic_id, insurer_id, network_status)
          SELECT clinic_id, insurer_id, 'payer_only' FROM payer_lists;
        -- The strongest evidence of each pair payer data names, with its source and date.
        UPDATE clinic_insurers SET (evidence, source_url, retrieved_at) =
          (strongest.evidence, strongest.source_url, strongest.retrieved_at)
          FROM (SELECT clinic_id, insurer_id, evidence, source_url, retrieved_at,
                       row_number() OVER (PARTITION BY clinic_id, insurer_id ORDER BY
                         json_extract('{ladder}', '$.' || evidence) DESC, retrieved_at DESC, id) AS place
                FROM network_evidence WHERE (clinic_id, insurer_id) IN (SELECT clinic_id, insurer_id FROM payer_lists))
            AS strongest
          WHERE strongest.place = 1 AND strongest.clinic_id = clinic_insurers.clinic_id
            AND strongest.insurer_id = clinic_insurers.insurer_id;
        DROP TABLE temp.payer_lists;
        DROP TABLE temp.directory_read;
    """)
    db.conn.commit()


def load(db, feeds_dir, report, note_input, record_source):
    """NPI matches, then the clinic-side and payer-feed evidence (other loaders add theirs next)."""
    load_npi_matches(db, feeds_dir, report, note_input, record_source)
    load_evidence(db, feeds_dir, report, note_input, record_source)


def finish(db):
    """Once every loader has added its evidence: indexes, then the status of each clinic x insurer
    (which reads the payer-side rows and their pairs' evidence through them)."""
    for columns in (["npi"], ["clinic_id"], ["insurer_id"], ["evidence"], ["state"]):
        db["network_evidence"].create_index(columns, if_not_exists=True)
    compute_status(db)
    db["clinic_npis"].create_index(["npi"], if_not_exists=True)
    db["clinic_insurers"].create_index(["network_status"], if_not_exists=True)
