"""The build's side of the price-transparency feed (data/feeds/negotiated_rates.jsonl, written
by `python -m kad.rates`): tables `price_files` and `negotiated_rates`, and a `network_evidence`
row of kind `price_transparency_file` per payer for every NPI that matches a directory clinic
(added with kad.network.add_evidence).

A `negotiated_rate` line joins the `price_file` line of its file (which comes first in the
feed) for the insurer, the plans' market, the file's date and when it was read. Each line is
checked by the schema of its kind in kad/records.py, like every feed: a line that is not JSON,
of neither kind, or without a file, a billing code or a numeric rate is reported with its line
number and left out, a wrong field is emptied and reported; a rate of a file the feed did not
describe is left out too. The tables exist, empty, without the feed.
"""

import json

from kad import network
from kad.records import KINDS, NEGOTIATED_RATE, PRICE_FILE, read_jsonl, show

from . import FEED_NAME, ROW_FIELDS

EVIDENCE = "price_transparency_file"
PRICE_FILE_COLUMNS = {
    "file_url": str, "toc_url": str, "description": str, "insurer_id": str, "reporting_entity_name": str,
    "plans": str, "plan_market_type": str, "last_updated_on": str, "version": str, "size": int, "etag": str,
    "retrieved_at": str,
}
RATE_COLUMNS = {
    "insurer_id": str, "reporting_entity_name": str, "plan_market_type": str,
    **{name: float if kind == "float64" else str for name, kind in ROW_FIELDS.items() if name != "file_url"},
    "clinic_id": str, "state": str, "file_url": str, "last_updated_on": str, "retrieved_at": str,
}
RATE_INDEXES = (["clinic_id"], ["npi"], ["insurer_id"], ["billing_code"], ["state", "billing_code"], ["file_url"])
BATCH = 5000


def load(db, feeds_dir, report, record_source):
    """Load the feed if there is one; returns (lines read, rates loaded)."""
    db["price_files"].create(PRICE_FILE_COLUMNS, pk="file_url")
    db["negotiated_rates"].create({"id": int, **RATE_COLUMNS}, pk="id")
    path = feeds_dir / f"{FEED_NAME}.jsonl"
    read = loaded = 0
    if path.exists():
        files, batch = {}, []
        for number, value in read_jsonl(path, report):
            read += 1
            where = f"{path.name}:{number}"
            kind = value.get("kind") if isinstance(value, dict) else None
            if kind not in (PRICE_FILE, NEGOTIATED_RATE):
                report.drop(where, "not_a_rates_line",
                            f"kind {show(kind)} is neither {PRICE_FILE} nor {NEGOTIATED_RATE}")
                continue
            line = KINDS[kind].check(value, where, report)
            if line is None:
                continue
            if kind == PRICE_FILE:
                files[line["file_url"]] = _price_file(line, record_source)
                db["price_files"].insert(files[line["file_url"]], replace=True)
                continue
            row = _rate(line, files, where, report)
            if row:
                batch.append(row)
                loaded += 1
            if len(batch) >= BATCH:
                db["negotiated_rates"].insert_all(batch)
                batch.clear()
        db["negotiated_rates"].insert_all(batch)
    for columns in RATE_INDEXES:
        db["negotiated_rates"].create_index(columns)
    _match_clinics(db)
    _add_network_evidence(db, report)
    return read, loaded


def _price_file(line, record_source):
    plans = line["plans"]
    markets = sorted({p.get("plan_market_type") for p in plans if p.get("plan_market_type")})
    for url in (line["file_url"], line["toc_url"]):
        if url:
            record_source(url, EVIDENCE, "rates", line["retrieved_at"])
    return {**{key: line.get(key) for key in PRICE_FILE_COLUMNS}, "plans": json.dumps(plans),
            "plan_market_type": markets[0] if len(markets) == 1 else ("mixed" if markets else None)}


def _rate(line, files, where, report):
    file = files.get(line["file_url"])
    if file is None:
        report.problem(where, "a negotiated rate whose file the feed does not describe", "rate of an undescribed file")
        return None
    row = {key: line.get(key) for key in RATE_COLUMNS}
    row.update(insurer_id=file["insurer_id"], reporting_entity_name=file["reporting_entity_name"],
               plan_market_type=file["plan_market_type"], last_updated_on=file["last_updated_on"],
               retrieved_at=file["retrieved_at"], clinic_id=None, state=None)
    return row


def _match_clinics(db):
    """A rate whose NPI is a directory clinic's gets that clinic and its state."""
    db.execute("UPDATE negotiated_rates SET clinic_id = (SELECT min(clinics.id) FROM clinics "
               "WHERE clinics.npi = negotiated_rates.npi) WHERE npi IS NOT NULL")
    db.execute("UPDATE negotiated_rates SET state = (SELECT clinics.state FROM clinics "
               "WHERE clinics.id = negotiated_rates.clinic_id) WHERE clinic_id IS NOT NULL")
    db.conn.commit()


def _add_network_evidence(db, report):
    """One row per matched NPI and payer: the codes priced, the files and plans, the newest date."""
    groups = db.execute(
        "SELECT npi, clinic_id, state, insurer_id, reporting_entity_name, "
        "json_group_array(DISTINCT billing_code), json_group_array(DISTINCT file_url), "
        "max(last_updated_on), max(retrieved_at) FROM negotiated_rates WHERE clinic_id IS NOT NULL "
        "GROUP BY npi, clinic_id, state, insurer_id, reporting_entity_name ORDER BY npi, insurer_id").fetchall()
    rows = []
    for npi, clinic_id, state, insurer_id, entity, codes, file_urls, updated, retrieved in groups:
        file_urls = sorted(json.loads(file_urls))
        plans = [json.loads(plans) for (plans,) in db.execute(
            "SELECT plans FROM price_files WHERE file_url IN (SELECT value FROM json_each(?))", [json.dumps(file_urls)])]
        plan_ids = sorted({f"{p.get('plan_id_type')}:{p.get('plan_id')}" for group in plans for p in group if p.get("plan_id")})
        networks = sorted({name for (names,) in db.execute(
            "SELECT DISTINCT network_names FROM negotiated_rates WHERE npi = ? AND clinic_id = ? "
            "AND insurer_id IS ? AND reporting_entity_name IS ?", [npi, clinic_id, insurer_id, entity])
            for name in json.loads(names or "[]")})
        rows.append({"npi": npi, "clinic_id": clinic_id, "insurer_id": insurer_id,
                     "network": "; ".join(networks) or None, "plan_ids": plan_ids, "evidence": EVIDENCE,
                     "detail": {"billing_codes": sorted(json.loads(codes)), "reporting_entity_name": entity,
                                "last_updated_on": updated, "files": file_urls},
                     "state": state, "source_url": file_urls[0], "retrieved_at": retrieved})
    network.add_evidence(db, rows, report, FEED_NAME)
