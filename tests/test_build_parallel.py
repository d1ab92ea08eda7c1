"""The build's records checked and merged on several processes (kad/parallel.py) give the same
database, the same reported problems in the same order and the same input counts as on one."""

import json
import sqlite3
from pathlib import Path

import pytest

import build_db
from builds import build, curated_line, synthetic
from kad import parallel
from test_build_bad_input import LINES

FEED = [*LINES,
        synthetic("Curated Twin", phone="512-555-0199"),  # merges with the curated line below
        *(synthetic(f"Many {number}", phone=f"512-555-{1000 + number:04d}") for number in range(12))]
SEED = [curated_line("Curated Twin", phone="(512) 555-0199", insurance={"insurers_accepted": ["Aetna"]}),
        curated_line("Curated Alone", insurance={"insurers_accepted": ["Cigna", "Nowhere Health"]})]


def _build(folder, monkeypatch, processes):
    monkeypatch.setenv("KAD_BUILD_PROCESSES", str(processes))
    monkeypatch.setattr(build_db, "CHUNK", 2)  # many chunks, so their order matters
    feeds = folder / "feeds"
    feeds.mkdir(parents=True)
    (feeds / "clinic_site.jsonl").write_bytes(
        b"\n".join(value if isinstance(value, bytes) else json.dumps(value).encode() for value in FEED) + b"\n")
    return build(folder, seed=SEED)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        one = _build(tmp_path_factory.mktemp("one"), monkeypatch, 1)
        parallel.worker_peak_kb = 0
        two = _build(tmp_path_factory.mktemp("two"), monkeypatch, 2)
    return one, two


def _tables(run):
    connection = sqlite3.connect(run.db_path)
    names = [name for name, in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'clinics_fts%' ORDER BY name")]
    return {name: sorted(map(repr, connection.execute(f"SELECT * FROM [{name}]")))
            for name in names if name != "build_info"}


def test_the_workers_did_the_work(runs):
    assert parallel.worker_peak_kb > 0


def test_every_table_is_the_same(runs):
    one, two = runs
    assert _tables(one) == _tables(two)


def test_the_problems_are_reported_in_the_same_order(runs):
    one, two = runs
    assert one.report.problems == two.report.problems


def test_the_drops_are_counted_the_same(runs):
    one, two = runs
    assert one.report.dropped == two.report.dropped


def test_the_inputs_are_counted_the_same(runs):
    counts = [[(Path(i["file"]).name, i["records_read"], i["records_loaded"]) for i in run.inputs] for run in runs]
    assert counts[0] == counts[1]


def test_the_curated_line_and_the_feed_line_merged(runs):
    _, two = runs
    assert two.merged >= 1


def test_a_split_source_id_gets_the_same_ids(runs):
    one, two = runs
    ids = [sorted(row[0] for row in sqlite3.connect(run.db_path).execute(
        "SELECT id FROM clinics WHERE id LIKE 'site:synthetic-twin%'")) for run in (one, two)]
    assert ids[0] == ids[1] and len(ids[0]) == 3
