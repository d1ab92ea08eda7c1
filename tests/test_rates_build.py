"""The build's side of negotiated rates (kad/rates/load.py): price_files, negotiated_rates with
clinic_id and state, network_evidence of kind price_transparency_file, bad feed lines."""

import json
import sqlite3

import pytest

from builds import build, synthetic
from kad.rates.run import reduce_to_feed, run_files
from kad.rates.toc import FileJob
from rates_site import RATES

CLINICS = [
    synthetic("Infusion Austin", npi="1234567893", postal_code="78701"),
    synthetic("Spravato Dallas", npi="1760511117", city="Dallas", postal_code="75201"),
]


def rows(db_path, sql, params=()):
    connection = sqlite3.connect(db_path)
    connection.row_factory = sqlite3.Row
    return [dict(row) for row in connection.execute(sql, params)]


def feed_from_fixtures(tmp_path):
    jobs = [FileJob(url=str(RATES / name), insurer_id="aetna", plans=[
        {"plan_name": "Synthetic PPO", "plan_id_type": "hios", "plan_id": "1234567890", "plan_market_type": "individual"}])
        for name in ("refs_first.json", "refs_last.json")]
    manifest = run_files([job.url for job in jobs], tmp_path / "out", report=lambda _: None)
    reduce_to_feed(manifest, jobs, tmp_path / "out", tmp_path / "negotiated_rates.jsonl")
    return (tmp_path / "negotiated_rates.jsonl").read_text().splitlines()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("rates_build")
    return build(tmp_path, feeds={"clinic_site": CLINICS, "negotiated_rates": feed_from_fixtures(tmp_path)})


def test_every_extracted_row_is_loaded(built):
    assert rows(built.db_path, "SELECT count(*) AS n FROM negotiated_rates")[0]["n"] == 12


def test_rate_matches_the_clinic_with_its_npi_and_takes_its_state(built):
    row = rows(built.db_path, "SELECT clinic_id, state FROM negotiated_rates WHERE billing_code = 'S0013'")[0]
    assert row == {"clinic_id": "site:synthetic-infusion-austin", "state": "TX"}


def test_rate_of_an_unknown_npi_is_kept_without_clinic(built):
    unmatched = rows(built.db_path, "SELECT DISTINCT npi FROM negotiated_rates WHERE clinic_id IS NULL ORDER BY npi")
    assert [r["npi"] for r in unmatched] == [None, "1548300213"]


def test_rate_carries_its_file_insurer_market_and_date(built):
    row = rows(built.db_path, "SELECT * FROM negotiated_rates WHERE billing_code = '96366'")[0]
    assert (row["insurer_id"], row["plan_market_type"], row["last_updated_on"]) == ("aetna", "individual", "2026-11-02")


def test_price_files_keep_their_plans(built):
    files = rows(built.db_path, "SELECT plans, version FROM price_files ORDER BY file_url")
    assert [f["version"] for f in files] == ["2.0.0", "2.1.0"]
    assert json.loads(files[0]["plans"])[0]["plan_id"] == "1234567890"


def test_network_evidence_per_matched_npi_and_payer(built):
    evidence = rows(built.db_path, "SELECT * FROM network_evidence WHERE evidence = 'price_transparency_file' ORDER BY npi")
    assert [(e["npi"], e["clinic_id"], e["insurer_id"], e["evidence"], e["state"]) for e in evidence] == [
        ("1234567893", "site:synthetic-infusion-austin", "aetna", "price_transparency_file", "TX"),
        ("1760511117", "site:synthetic-spravato-dallas", "aetna", "price_transparency_file", "TX")]
    detail = json.loads(evidence[0]["detail"])
    assert detail["billing_codes"] == ["G2082", "G2083", "J0013", "S0013"]
    assert json.loads(evidence[0]["plan_ids"]) == ["hios:1234567890"]


def test_price_files_are_cited_sources(built):
    kinds = {r["url"]: r["kind"] for r in rows(built.db_path, "SELECT url, kind FROM sources")}
    assert kinds[str(RATES / "refs_first.json")] == "price_transparency_file"


def test_bad_feed_lines_are_reported_and_skipped(tmp_path):
    good_file = {"kind": "price_file", "file_url": "https://synthetic.example/in-network.json.gz", "insurer_id": "aetna",
                 "plans": [], "last_updated_on": "2026-11-01", "retrieved_at": "2026-11-30"}
    good = {"kind": "negotiated_rate", "file_url": good_file["file_url"], "billing_code": "G2082",
            "negotiated_type": "negotiated", "negotiated_rate": 600.0, "npi": "1234567893"}
    run = build(tmp_path, feeds={"clinic_site": CLINICS, "negotiated_rates": [
        good_file, good, "{not json", {**good, "file_url": "https://synthetic.example/other.json.gz"},
        {**good, "negotiated_rate": "six hundred"}, "[1, 2]", {**good, "billing_code": ["G2082"]},
        {**good, "npi": 1234567893, "service_name": "Synthetic \u202eesiv"}]})
    assert rows(run.db_path, "SELECT npi, service_name FROM negotiated_rates") == [
        {"npi": "1234567893", "service_name": None}, {"npi": "1234567893", "service_name": "Synthetic esiv"}]
    assert run.report.dropped == {"malformed_json": 1, "rate of an undescribed file": 1, "invalid_negotiated_rate": 1,
                                  "not_a_rates_line": 1, "invalid_billing_code": 1}


def test_tables_exist_without_the_feed(tmp_path):
    run = build(tmp_path, feeds={"clinic_site": CLINICS})
    assert [rows(run.db_path, f"SELECT count(*) AS n FROM {t}")[0]["n"]
            for t in ("price_files", "negotiated_rates", "network_evidence WHERE evidence = 'price_transparency_file'")] == [0, 0, 0]
