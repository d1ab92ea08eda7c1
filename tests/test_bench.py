"""bench/: the synthetic generator and the benchmark functions work, at a tiny size. Correctness
only; speed targets live in the benchmarks (BENCHMARKS.md), never in tests."""

import asyncio
import re
import sqlite3

import pytest

from bench import builds, load, nppes_bulk, pages, run, synthetic, synthetic_nppes
from kad import DATA, clinics, parallel, records

SIZE = 200


def test_every_generated_record_says_it_is_synthetic():
    records = list(synthetic.records(SIZE, seed=1))
    assert len(records) == SIZE
    for record in records:
        assert record["name"].startswith("Synthetic")
        assert record["synthetic"] is True
        assert record["sources"] and all(url.startswith("https://synthetic.example/") for url in record["sources"])
        assert record["website"].startswith("https://clinic-") and record["website"].endswith(".synthetic.example/")


def test_every_generated_record_passes_the_build_checks_unchanged():
    report = records.Report()
    for number, record in enumerate(synthetic.records(SIZE, seed=1)):
        assert clinics.clean_record(record, f"synthetic:{number}", report) is not None
    assert report.problems == []


def test_every_payer_listing_says_it_is_synthetic_and_passes_the_build_checks():
    report, clinic_npis = records.Report(), {r["npi"] for r in synthetic.records(SIZE, seed=1) if r["npi"]}
    listings = list(synthetic.payer_records(SIZE, SIZE, seed=1))
    for number, listing in enumerate(listings):
        assert (listing["synthetic"], listing["name"].startswith("Synthetic"),
                listing["source_url"].startswith("https://synthetic.example/")) == (True, True, True)
        assert records.KINDS[records.NETWORK].check(listing, f"synthetic:{number}", report) is not None
    assert report.problems == []
    assert sum(listing["npi"] in clinic_npis for listing in listings) == SIZE // 2  # the rest name no clinic


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
    metadata = pages.bench_metadata()
    queries = metadata["databases"][pages.DATABASE]["queries"]
    box, scan = queries[pages.QUERY]["sql"], queries[pages.FULL_SCAN]["sql"]
    assert "between" in box and "between" not in scan
    assert "clinics.latitude is not null and clinics.longitude is not null" in scan
    assert scan.split("select round(")[1] == box.split("select round(")[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return builds.build(SIZE, tmp_path_factory.mktemp("bench"), seed=1)


def test_bench_build_measures_a_build_of_synthetic_clinics(built):
    assert built["clinics"] > 0 and built["merged"] > 0
    assert built["peak_mb"] > 0 and built["seconds"] > 0
    assert built["problems"] == 0 and not built["dropped"]
    connection = sqlite3.connect(built["db"])
    names = [name for (name,) in connection.execute("SELECT name FROM clinics")]
    assert names and all(name.startswith("Synthetic") for name in names)


def test_bench_build_reports_its_workers_memory(built):
    assert built["processes"] == parallel.process_count()
    assert (built["worker_peak_mb"] > 0) == (built["processes"] > 1)


def test_near_zip_and_full_scan_return_the_same_ids_in_the_same_order(built):
    connection = sqlite3.connect(built["db"])
    zips = [z for (z,) in connection.execute(
        "SELECT DISTINCT postal_code FROM clinics WHERE postal_code IS NOT NULL ORDER BY postal_code LIMIT 4")]
    result = asyncio.run(pages.bench_near_zip(built["db"], zips=zips, runs=1))
    assert all(z["rows"] > 0 for z in result["zips"])
    assert all(z["same"] == "same order" for z in result["zips"])


def test_page_bench_reports_every_page_repeated_and_first(built):
    result = asyncio.run(pages.bench_pages(built["db"], runs=1))
    assert set(result) == set(pages.PAGES)
    assert result[pages.FACETED]["facets"] >= 4  # the four requested, plus any metadata.yml configures
    assert all(r["ms"] > 0 and r["first_ms"] > 0 and r["timed_out"] == [] for r in result.values())


def test_patient_page_bench_measures_time_and_size(built):
    result = asyncio.run(pages.bench_patient_pages(built["db"], runs=1))
    assert set(result) == set(pages.PATIENT_PAGES)
    assert all(r["ms"] > 0 and r["bytes"] > 1000 for r in result.values())


def test_array_facet_forms_agree(built):
    assert all(t["same_counts"] for t in pages.array_facet_sql(built["db"]).values())


def test_raw_insert_baseline_inserts_every_feed_line(built, tmp_path):
    result = builds.raw_insert(built["feed"], tmp_path)
    assert result["rows"] == SIZE and result["rows_per_second"] > 0 and result["peak_mb"] > 0


def test_peak_memory_is_the_childs_own_not_its_parents(built, tmp_path):
    """Linux keeps a process's maximum RSS across exec, so a child's ru_maxrss is at least its
    parent's size at the fork; the bench reports the child's own peak whatever the parent holds."""
    ballast = bytearray(768 * 1024 * 1024)
    ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))  # touched, so resident
    result = builds.raw_insert(built["feed"], tmp_path)
    del ballast
    assert result["peak_mb"] < 512


def test_nppes_bulk_peak_memory_is_the_childs_own_too(tmp_path):
    zip_path = synthetic_nppes.write_zip(tmp_path / "synthetic.zip", 100)
    ballast = bytearray(768 * 1024 * 1024)
    ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))
    result = nppes_bulk.measure("loader", zip_path, tmp_path)
    del ballast
    assert result["peak_mb"] < 512


# -- serving under load --------------------------------------------------------------------------

def test_every_load_route_answers_200(built):
    async def statuses():
        ds = await pages.datasette(built["db"])
        return {route: {(await ds.client.get(path)).status_code for path in paths}
                for route, paths in load.request_paths(built["db"], count=5).items()}
    assert asyncio.run(statuses()) == {route: {200} for route in load.MIX}


def test_load_bench_runs_every_phase_and_stops_its_servers(built):
    result = load.run(built["db"], clients=[2], duration=2.0, warmup=1.0, workers=1, progress=lambda text: None)
    phases = [*result["by_clients"], result["scaling"]["one"], result["scaling"]["two"],
              result["revalidation"]["revalidating"]]
    assert [(p["clients"], p["workers"]) for p in phases] == [(2, 1), (2, 1), (2, 2), (2, 1)]
    assert all(p["requests"] > 0 and p["errors"] == 0 for p in phases), [p["statuses"] for p in phases]
    assert set(result["revalidation"]["revalidating"]["statuses"]) == {"304"}
    assert result["scaling"]["ratio"] > 0 and load._servers == {}
    text = "\n".join(load.report_lines(result, "a synthetic database"))
    assert all(route in text for route in load.MIX) and "Worker scaling at 2 clients" in text
    assert [met for _, _, met in load.target_rows(result)][1] == "measured"


RATES_SECTION = "## Negotiated rates\n\nSynthetic measurements the rates bench wrote.\n"


def test_run_writes_every_target_and_keeps_the_rates_section(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n## Targets\n\nan older run\n\n" + RATES_SECTION)
    run.main(["--sizes", "120", "--runs", "1", "--page-runs", "1", "--no-load", "--out", str(out)])
    text = out.read_text()
    targets = text.split("## Targets")[1].split("\n## ")[0]
    for target in ("`clinics_near_zip` at least", "Build peak memory flat", "raw sqlite-utils insert",
                   "every facet present", "repeated requests", "counting every facet afresh", "State page", "Checklist",
                   "With a payer directory of 120 listings"):
        assert target in targets, target
    assert ("an older run" not in text, text.endswith("\n" + RATES_SECTION)) == (True, True)
    assert ("worker processes' peak memory flat" in targets) == (parallel.process_count() > 1)


@pytest.fixture(scope="module")
def rates_report(tmp_path_factory):
    from bench import rates
    return rates.run([1], files=2, file_mb=1, workers=[1, 2], work=tmp_path_factory.mktemp("rates"))


def test_rates_bench_measures_a_small_synthetic_file(rates_report):
    size = rates_report["sizes"][0]
    assert size["rows"] > 0 and size["backend"] == "yajl2_c" and size["throughput_ratio"] > 0
    assert size["fast_share"] == 1 and size["task_ratio"] > 0
    assert [c["rows"] for c in rates_report["cluster"]][0] == [c["rows"] for c in rates_report["cluster"]][1] > 0
    assert [c["pool_rows"] for c in rates_report["cluster"]] == [c["rows"] for c in rates_report["cluster"]]
    assert rates_report["pool_speedup_2_vs_1"] > 0


def test_rates_bench_writes_its_section_in_place_of_the_last_one(rates_report, tmp_path):
    from bench import rates, report

    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n" + RATES_SECTION + "\n## Build\n\nkept\n")
    lines = rates.section_lines({**rates_report, "started": "2026-11-30 12:00", "loadavg": [0.5, 0.6],
                                 "command": "python -m bench.rates --sizes 1"})
    report.put_section(out, lines)
    report.put_section(out, lines)
    text = out.read_text()
    assert (text.count("## Negotiated rates"), "bench rates wrote" in text, text.endswith("## Build\n\nkept\n")) == \
        (1, False, True)
    assert "| 1 | 2 x 1 |" in text and "load average (1 min) at start / end: 0.50 / 0.60" in text.lower()


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
