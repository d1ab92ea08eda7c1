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

import hashlib
import json

from kad import npi_match, normalise, vocab
from kad.bulk import insert_rows
from kad.records import KINDS, NETWORK, NPI, read_jsonl

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
    insert_rows(db, "network_evidence", _good_evidence(rows, report, where), "OR IGNORE")
    link_clinics(db)
    return db["network_evidence"].count - before


def _good_evidence(rows, report, where):
    """The rows add_evidence stores, one at a time (a generator keeps the build's memory flat)."""
    for number, row in enumerate(rows, 1):
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
        out["id"] = row["evidence"] + ":" + hashlib.sha1(_sorted_json(out).encode()).hexdigest()[:16]
        yield out


_ROW_KEYS = tuple(key for key in EVIDENCE_COLUMNS if key != "id")
_json = json.JSONEncoder().encode
_sorted_json = json.JSONEncoder(sort_keys=True).encode


def link_clinics(db):
    """clinic_id for evidence rows that have none: the clinic with that NPI, or with a strong match."""
    db.execute("""UPDATE network_evidence SET clinic_id = coalesce(
                    (SELECT id FROM clinics WHERE clinics.npi = network_evidence.npi ORDER BY id LIMIT 1),
                    (SELECT clinic_id FROM clinic_npis WHERE clinic_npis.npi = network_evidence.npi
                       AND match_score >= ? ORDER BY match_score DESC, clinic_id LIMIT 1))
                  WHERE clinic_id IS NULL AND npi IS NOT NULL""", [npi_match.STRONG])
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


def clinic_side_evidence(db):
    """What the clinics say (clinic_insurers from their own pages or hand-checked research)."""
    for row in db.query(
            "SELECT ci.clinic_id, ci.insurer_id, ci.evidence, ci.source_url, ci.retrieved_at, c.npi, c.state "
            "FROM clinic_insurers ci JOIN clinics c ON c.id = ci.clinic_id ORDER BY ci.clinic_id, ci.insurer_id"):
        yield {**row, "network": None, "plan_ids": [], "detail": {}}


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
    """network_evidence from the clinic side and the payer feeds."""
    add_evidence(db, clinic_side_evidence(db), report, "clinic_insurers")
    for name in NETWORK_FEEDS:
        path = feeds_dir / f"{name}.jsonl"
        if not path.exists():
            continue
        rows, read = [], 0
        for number, value in read_jsonl(path, report):
            read += 1
            record = KINDS[NETWORK].check(value, f"{path.name}:{number}", report)
            if record is not None:
                rows.append(feed_evidence(record))
        added = add_evidence(db, rows, report, path.name)
        for row in rows:
            if normalise.is_web_address(row["source_url"]):
                record_source(row["source_url"], row["evidence"], name, row["retrieved_at"])
        note_input(path, read, added)


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

    Each is read from small keyed tables made once (what the clinics say, what the payers list,
    which directories were read for which state), never by scanning network_evidence per row, so
    the cost grows with the rows, not with their square.
    """
    payer_side, clinic_side = json.dumps(PAYER_SIDE), json.dumps(CLINIC_SIDE)
    directories = json.dumps(DIRECTORIES)
    db.executescript(f"""
        DROP TABLE IF EXISTS temp.clinic_says;
        DROP TABLE IF EXISTS temp.payer_lists;
        DROP TABLE IF EXISTS temp.directory_read;
        CREATE TEMP TABLE clinic_says (clinic_id, insurer_id, PRIMARY KEY (clinic_id, insurer_id)) WITHOUT ROWID;
        INSERT OR IGNORE INTO clinic_says SELECT clinic_id, insurer_id FROM network_evidence
          WHERE clinic_id IS NOT NULL AND evidence IN (SELECT value FROM json_each('{clinic_side}'));
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
        INSERT OR IGNORE INTO clinic_insurers (clinic_id, insurer_id) SELECT clinic_id, insurer_id FROM payer_lists;
        UPDATE clinic_insurers SET network_status = CASE
          WHEN NOT EXISTS (SELECT 1 FROM clinic_says s WHERE s.clinic_id = clinic_insurers.clinic_id
                             AND s.insurer_id = clinic_insurers.insurer_id) THEN 'payer_only'
          WHEN (SELECT active FROM payer_lists p WHERE p.clinic_id = clinic_insurers.clinic_id
                  AND p.insurer_id = clinic_insurers.insurer_id) = 1 THEN 'agrees'
          WHEN (SELECT active FROM payer_lists p WHERE p.clinic_id = clinic_insurers.clinic_id
                  AND p.insurer_id = clinic_insurers.insurer_id) = 0 THEN 'conflict'
          WHEN EXISTS (SELECT 1 FROM directory_read d, clinics c WHERE c.id = clinic_insurers.clinic_id
                         AND d.insurer_id = clinic_insurers.insurer_id AND d.state = c.state) THEN 'clinic_only'
          ELSE 'clinic_only_unchecked' END;
        DROP TABLE temp.clinic_says;
        DROP TABLE temp.payer_lists;
        DROP TABLE temp.directory_read;
    """)
    # The strongest evidence of each pair, with its source and date: one sort of every row.
    ladder = json.dumps(LADDER)
    db.execute(f"""UPDATE clinic_insurers SET (evidence, source_url, retrieved_at) =
        (strongest.evidence, strongest.source_url, strongest.retrieved_at)
        FROM (SELECT clinic_id, insurer_id, evidence, source_url, retrieved_at,
                     row_number() OVER (PARTITION BY clinic_id, insurer_id ORDER BY
                       json_extract('{ladder}', '$.' || evidence) DESC, retrieved_at DESC, id) AS place
              FROM network_evidence WHERE clinic_id IS NOT NULL) AS strongest
        WHERE strongest.place = 1 AND strongest.clinic_id = clinic_insurers.clinic_id
          AND strongest.insurer_id = clinic_insurers.insurer_id""")
    db.conn.commit()


def load(db, feeds_dir, report, note_input, record_source):
    """NPI matches, then the clinic-side and payer-feed evidence (other loaders add theirs next)."""
    load_npi_matches(db, feeds_dir, report, note_input, record_source)
    load_evidence(db, feeds_dir, report, note_input, record_source)


def finish(db):
    """Once every loader has added its evidence: the status of each clinic x insurer, indexes."""
    compute_status(db)
    for columns in (["npi"], ["clinic_id"], ["insurer_id"], ["evidence"], ["state"]):
        db["network_evidence"].create_index(columns, if_not_exists=True)
    db["clinic_npis"].create_index(["npi"], if_not_exists=True)
    db["clinic_insurers"].create_index(["network_status"], if_not_exists=True)
