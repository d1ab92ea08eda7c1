"""kad.rates: the fast reader (scan.py) proves its cuts and hands what it does not read to ijson,
so the rows are those of ijson alone; rows seen twice are written once (pending.py); a file's
Parquet partial and feed fragment hold the same rows (partial.py). Documents are synthetic,
written here in the CMS schema's shape."""

import gzip
import json

import pyarrow.parquet as pq

from kad.rates import extract as extractor
from kad.rates import partial, scan
from kad.rates.run import process_file
from kad.rates.source import open_source

WANTED = ("G2082", "J0013")


def reference(group_id, *npis):
    return {"provider_group_id": group_id, "network_name": ["Synthetic Network"],
            "provider_groups": [{"npi": list(npis), "tin": {"type": "ein", "value": f"{group_id:02d}-0000000",
                                                            "business_name": "Synthetic Group"}}]}


def item(code, rate, refs, **extra):
    return {"billing_code": code, "billing_code_type": "HCPCS", "name": "Synthetic service", **extra,
            "negotiated_rates": [{"provider_references": refs, "negotiated_prices": [
                {"negotiated_type": "negotiated", "negotiated_rate": rate, "billing_class": "professional"}]}]}


def write(path, items, **top):
    document = {"reporting_entity_name": "Synthetic Health Plan", "version": "2.0.0", **top,
                "provider_references": [reference(1, 1234567893, 1548300213), reference(2, 1760511117)],
                "in_network": items}
    path.write_bytes(gzip.compress(json.dumps(document).encode("utf-8")))
    return path


def extract_rows(path, work):
    rows = []
    with open_source(path) as (raw, _):
        outcome = extractor.extract(str(path), raw, WANTED,
                                    lambda fields, npis: rows.extend({**fields, "npi": npi} for npi in npis), work)
    return rows, outcome


class IjsonOnly(scan.FastReader):
    """Hands the whole document to ijson at once: the reference the fast path must equal."""

    def read(self):
        raise self._fallback("ijson only", b"")


def ijson_rows(path, work, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setattr(extractor, "FastReader", IjsonOnly)
        return extract_rows(path, work)


# Nested objects starting with the items' first key, and strings holding what a cut looks like
TRAPS = {"bundled_codes": [{"billing_code": "G2082", "billing_code_type": "HCPCS"},
                           {"billing_code": "J0013", "billing_code_type": "HCPCS"}],
         "description": '"},{"billing_code":"G2082","x":[{}]} ] } \\',
         "covered_services": []}


def test_braces_quotes_and_nested_items_do_not_fool_the_cuts(tmp_path, monkeypatch):
    items = [item("99213", 10.0 + n, [1], **TRAPS) if n % 3 else item("G2082", 100.0 + n, [n % 2 + 1], **TRAPS)
             for n in range(60)]
    path = write(tmp_path / "traps.json.gz", items)
    expected, _ = ijson_rows(path, tmp_path, monkeypatch)
    monkeypatch.setattr(scan, "CHUNK", 300)  # a cut guessed every few items, many inside them
    rows, outcome = extract_rows(path, tmp_path)
    assert (rows, outcome.handed_over, outcome.fast_items, len(rows)) == (expected, [], 60, 30)


def test_items_whose_first_key_changes_are_finished_by_ijson(tmp_path, monkeypatch):
    items = [item("G2082", 100.0, [1])] + [{"name": "Synthetic service", **item(code, 50.0 + n, [2])}
                                           for n, code in enumerate(["J0013", "99213"] * 40)]
    path = write(tmp_path / "reordered.json.gz", items)
    expected, _ = ijson_rows(path, tmp_path, monkeypatch)
    monkeypatch.setattr(scan, "CHUNK", 300)
    monkeypatch.setattr(scan, "MAX_WINDOW", 1200)
    rows, outcome = extract_rows(path, tmp_path)
    assert (rows, outcome.items_seen, len(outcome.handed_over)) == (expected, 81, 1)


def test_a_top_level_object_is_finished_by_ijson(tmp_path, monkeypatch):
    path = write(tmp_path / "object.json.gz", [item("G2082", 100.0, [1])], plan={"synthetic": {"nested": [1]}},
                 last_updated_on="2026-11-01")
    expected, _ = ijson_rows(path, tmp_path, monkeypatch)
    rows, outcome = extract_rows(path, tmp_path)
    assert (rows, outcome.header["last_updated_on"], "object" in outcome.handed_over[0]) == \
        (expected, "2026-11-01", True)


def test_broken_json_in_the_rates_is_reported_as_ijson_reports_it(tmp_path):
    whole = json.dumps({"version": "2.0.0", "in_network": [item("G2082", 100.0, [1])] * 3})
    path = tmp_path / "broken.json.gz"
    path.write_bytes(gzip.compress(whole.replace('"negotiated_rates"', '"negotiated_rates" x', 2).encode("utf-8")))
    try:
        extract_rows(path, tmp_path)
    except extractor.ijson.JSONError:
        return
    raise AssertionError("broken JSON was read")


def test_a_price_seen_again_writes_only_its_new_npis(tmp_path):
    again = item("G2082", 100.0, [1])
    again["negotiated_rates"][0]["provider_references"] = [1, 2]
    path = write(tmp_path / "repeated.json.gz", [item("G2082", 100.0, [1]), again, item("G2082", 100.0, [1])])
    rows, outcome = extract_rows(path, tmp_path)
    assert ([row["npi"] for row in rows], outcome.rows) == (["1234567893", "1548300213", "1760511117"], 3)


def test_the_partial_and_the_fragment_hold_the_same_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(partial, "BATCH", 2)  # several row groups
    items = [item("G2082", 100.0 + n, [1, 2]) for n in range(5)] + [item("J0013", 7.5, [2])]
    path = write(tmp_path / "file.json.gz", items)
    entry = process_file(str(path), tmp_path / "out")
    table = pq.read_table(tmp_path / "out" / entry["partial"])
    fragment = [json.loads(line) for line in (tmp_path / "out" / entry["fragment"]).read_text().splitlines()]
    assert [{"kind": "negotiated_rate", **row} for row in table.to_pylist()] == \
        [{name: line[name] for name in ["kind", *table.column_names]} for line in fragment]
    assert (table.num_rows, pq.ParquetFile(tmp_path / "out" / entry["partial"]).num_row_groups > 1) == (16, True)
