"""bench/: the synthetic generator and the benchmark functions work, at a tiny size. Correctness
only; speed targets live in the benchmarks (BENCHMARKS.md), never in tests."""

import asyncio
import re
import sqlite3

import pytest

from bench import run, synthetic
from kad import DATA, clinics

SIZE = 200


def test_every_generated_record_says_it_is_synthetic():
    records = list(synthetic.records(SIZE, seed=1))
    assert len(records) == SIZE
    for record in records:
        assert record["name"].startswith("Synthetic")
        assert record["synthetic"] is True
        assert record["sources"] and all(url.startswith("https://synthetic.example/") for url in record["sources"])
        assert record["website"].startswith("https://synthetic.example/")


def test_every_generated_record_passes_the_build_checks_unchanged():
    report = clinics.Report()
    for number, record in enumerate(synthetic.records(SIZE, seed=1)):
        assert clinics.clean_record(record, f"synthetic:{number}", report) is not None
    assert report.problems == []


def test_generated_phones_are_in_the_fictional_range():
    phones = [r["phone"] for r in synthetic.records(SIZE, seed=1) if r["phone"]]
    assert phones
    assert all(re.sub(r"\D", "", phone)[-7:-2] == "55501" for phone in phones)


def test_generator_is_deterministic():
    assert list(synthetic.records(50, seed=7)) == list(synthetic.records(50, seed=7))
    assert list(synthetic.records(50, seed=7)) != list(synthetic.records(50, seed=8))


def test_generator_makes_duplicates_and_city_only_records():
    records = list(synthetic.records(SIZE, seed=1))
    assert any("(listing" in r["name"] or r["name"].endswith("Directory Entry") for r in records)
    assert any(r["postal_code"] is None and r["city"] for r in records)


def test_synthetic_feed_is_never_written_under_data():
    with pytest.raises(ValueError):
        synthetic.write_feed(DATA / "feeds", 1)


def test_full_scan_drops_only_the_bounding_box():
    metadata = run.bench_metadata()
    queries = metadata["databases"][run.DATABASE]["queries"]
    box, scan = queries[run.QUERY]["sql"], queries[run.FULL_SCAN]["sql"]
    assert "between" in box and "between" not in scan
    assert "clinics.latitude is not null and clinics.longitude is not null" in scan
    assert scan.split("select round(")[1] == box.split("select round(")[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return run.build(SIZE, tmp_path_factory.mktemp("bench"), seed=1)


def test_bench_build_measures_a_build_of_synthetic_clinics(built):
    assert built["clinics"] > 0 and built["merged"] > 0
    assert built["peak_mb"] > 0 and built["seconds"] > 0
    assert built["problems"] == 0 and not built["dropped"]
    connection = sqlite3.connect(built["db"])
    names = [name for (name,) in connection.execute("SELECT name FROM clinics")]
    assert names and all(name.startswith("Synthetic") for name in names)


def test_near_zip_and_full_scan_return_the_same_ids_in_the_same_order(built):
    connection = sqlite3.connect(built["db"])
    zips = [z for (z,) in connection.execute(
        "SELECT DISTINCT postal_code FROM clinics WHERE postal_code IS NOT NULL ORDER BY postal_code LIMIT 4")]
    result = asyncio.run(run.bench_near_zip(built["db"], zips=zips, runs=1))
    assert all(z["rows"] > 0 for z in result["zips"])
    assert all(z["same"] == "same order" for z in result["zips"])


def test_page_bench_reports_every_page(built):
    result = asyncio.run(run.bench_pages(built["db"], runs=1))
    assert set(result) == set(run.PAGES)
    assert result[run.FACETED]["facets"] >= 4  # the four requested, plus any metadata.yml configures


def test_array_facet_forms_agree(built):
    assert all(t["same_counts"] for t in run.array_facet_sql(built["db"]).values())


def test_rates_bench_measures_a_small_synthetic_file(tmp_path):
    from bench import rates

    report = rates.run([1], files=2, file_mb=1, workers=[1, 2], work=tmp_path)
    size = report["sizes"][0]
    assert size["rows"] > 0 and size["backend"] == "yajl2_c" and size["throughput_ratio"] > 0
    assert [c["rows"] for c in report["cluster"]][0] == [c["rows"] for c in report["cluster"]][1] > 0


def test_rates_bench_files_say_they_are_synthetic(tmp_path):
    import gzip as _gzip
    import json as _json

    from bench import rates

    rates.write_synthetic(tmp_path / "f.json.gz", 1)
    document = _json.loads(_gzip.open(tmp_path / "f.json.gz").read())
    assert document["reporting_entity_name"].startswith("Synthetic")
    assert all(g["tin"]["business_name"].startswith("Synthetic")
               for ref in document["provider_references"] for g in ref["provider_groups"])


def test_nppes_bulk_bench_measures_both_passes_on_the_same_rows(tmp_path):
    from bench import nppes_bulk, synthetic_nppes
    result, = nppes_bulk.run([300], tmp_path)
    assert (result["baseline"]["rows"], result["loader"]["rows"], result["loader"]["kept"] > 0, result["ratio"] > 0) == (
        300, 300, True, True)
    with pytest.raises(ValueError):
        synthetic_nppes.write_zip(DATA / "feeds" / "synthetic.zip", 1)
