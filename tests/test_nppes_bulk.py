"""The NPPES bulk loader on a small ZIP in the dissemination file's layout (bench/synthetic_nppes.py
writes the 330 main-file columns; the rows here are written for these tests)."""

import json
import zipfile

import pytest

from bench.synthetic_nppes import main_header, main_row, npi_with_check_digit, write_archive
from kad import normalise, nppes_bulk
from utils import LocalSite

INDEX = {title: i for i, title in enumerate(main_header())}
PRACTICE = "Provider {} Business Practice Location Address"


def provider(npi, entity="2", name=None, last=None, taxonomy=None, deactivated="", reactivated="", other=""):
    return main_row(INDEX, **{
        "NPI": npi, "Entity Type Code": entity,
        "Provider Organization Name (Legal Business Name)": name or "",
        "Provider Last Name (Legal Name)": last or "", "Provider First Name": "JO" if last else "",
        "Provider Other Organization Name": other,
        "Healthcare Provider Taxonomy Code_1": taxonomy or "", "Healthcare Provider Primary Taxonomy Switch_1": "Y",
        "Healthcare Provider Taxonomy Code_2": "2084P0800X" if taxonomy else "",
        "Provider First Line Business Practice Location Address": "100 CONGRESS AVE",
        "Provider Second Line Business Practice Location Address": "STE 300",
        "Provider Business Practice Location Address City Name": "AUSTIN",
        "Provider Business Practice Location Address State Name": "TX",
        "Provider Business Practice Location Address Postal Code": "787014042",
        "Provider Business Practice Location Address Telephone Number": "5125550160",
        "NPI Deactivation Date": deactivated, "NPI Reactivation Date": reactivated})


NPIS = {label: npi_with_check_digit(f"10000000{n}") for n, label in enumerate(
    ["named", "infusion", "plain_infusion", "psychiatrist", "deactivated", "reactivated", "other_name"])}
ROWS = [
    provider(NPIS["named"], name="SYNTHETIC KETAMINE CENTER LLC"),
    provider(NPIS["infusion"], name="SYNTHETIC INFUSION ASSOCIATES", taxonomy="261QI0500X"),
    provider(NPIS["plain_infusion"], name="SYNTHETIC HOME HEALTH", taxonomy="261QI0500X"),
    provider(NPIS["psychiatrist"], entity="1", last="SYNTHETIC", taxonomy="2084P0800X"),
    provider(NPIS["deactivated"], name="SYNTHETIC SPRAVATO CLINIC", deactivated="05/01/2025"),
    provider(NPIS["reactivated"], name="SYNTHETIC ESKETAMINE CARE", deactivated="05/01/2025", reactivated="06/01/2025"),
    provider(NPIS["other_name"], name="SYNTHETIC MIND HOLDINGS PLLC", taxonomy="261QM0801X"),
]
LOCATIONS = [[NPIS["named"], "9 RIVER RD", "", "ROUND ROCK", "TX", "786640000", "US", "5125550170", "", ""],
             [NPIS["psychiatrist"], "1 ELSEWHERE", "", "DALLAS", "TX", "75201", "US", "", "", ""]]
OTHER_NAMES = [[NPIS["other_name"], "SYNTHETIC KETAMINE OF AUSTIN", "3"]]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return write_archive(tmp_path_factory.mktemp("nppes") / "NPPES_Data_Dissemination_November_2026.zip",
                         ROWS, LOCATIONS, OTHER_NAMES)


@pytest.fixture(scope="module")
def loaded(archive, tmp_path_factory):
    out = tmp_path_factory.mktemp("feeds") / "nppes_bulk.jsonl"
    counts = nppes_bulk.load(str(archive), out)
    return {"records": {r["npi"]: r for r in map(json.loads, out.read_text().splitlines())}, "counts": counts}


def test_made_up_npis_are_valid():
    assert all(normalise.npi(npi) == npi for npi in NPIS.values())


def test_kept_providers(loaded):
    assert sorted(loaded["records"]) == sorted(NPIS[k] for k in ("named", "infusion", "reactivated", "other_name"))


def test_taxonomy_without_a_name_term_left_out(loaded):
    assert NPIS["plain_infusion"] not in loaded["records"]


def test_deactivated_left_out_and_counted(loaded):
    assert (NPIS["deactivated"] not in loaded["records"], loaded["counts"]["skipped_deactivated"]) == (True, 1)


def test_name(loaded):
    assert loaded["records"][NPIS["named"]]["name"] == "SYNTHETIC KETAMINE CENTER LLC"


def test_entity(loaded):
    assert loaded["records"][NPIS["named"]]["entity"] == "organisation"


def test_practice_location_not_mailing(loaded):
    record = loaded["records"][NPIS["named"]]
    assert (record["street"], record["city"], record["state"], record["postal_code"], record["phone"]) == (
        "100 CONGRESS AVE STE 300", "AUSTIN", "TX", "787014042", "5125550160")


def test_other_practice_location(loaded):
    assert loaded["records"][NPIS["named"]]["locations"] == [
        {"street": "9 RIVER RD", "city": "ROUND ROCK", "state": "TX", "postal_code": "786640000", "phone": "5125550170"}]


def test_taxonomies_primary_first(loaded):
    assert loaded["records"][NPIS["infusion"]]["taxonomies"] == ["261QI0500X", "2084P0800X"]


def test_other_name_file_read(loaded):
    assert loaded["records"][NPIS["other_name"]]["other_names"] == ["SYNTHETIC KETAMINE OF AUSTIN"]


def test_source_is_the_download_page_for_a_local_copy(loaded):
    assert loaded["records"][NPIS["named"]]["sources"] == ["https://download.cms.gov/nppes/NPI_Files.html"]


def test_counts(loaded):
    assert (loaded["counts"]["rows"], loaded["counts"]["kept"], loaded["counts"]["other_locations"]) == (7, 4, 1)


def test_read_from_an_address(archive, tmp_path):
    body = archive.read_bytes()
    with LocalSite({"/nppes.zip": (200, {"Content-Type": "application/zip"}, body)}) as site:
        url = f"http://127.0.0.1:{site.port}/nppes.zip"
        nppes_bulk.load(url, tmp_path / "out.jsonl")
    assert json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])["sources"] == [url]


def test_never_unpacked(archive, tmp_path, monkeypatch):
    monkeypatch.setattr(zipfile.ZipFile, "extract", lambda *a, **k: pytest.fail("extracted"))
    monkeypatch.setattr(zipfile.ZipFile, "extractall", lambda *a, **k: pytest.fail("extracted"))
    assert nppes_bulk.load(str(archive), tmp_path / "out.jsonl")["kept"] == 4


def test_missing_columns_stop_with_a_clear_error_and_keep_the_feed(tmp_path):
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as handle:
        handle.writestr("npidata_pfile_1-2.csv", '"NPI","Entity Type Code"\n"1234567893","2"\n')
    out = tmp_path / "nppes_bulk.jsonl"
    out.write_text("previous\n")
    assert (nppes_bulk.main([str(broken), "--out", str(out)]), out.read_text()) == (1, "previous\n")


def test_not_an_nppes_zip_is_refused(tmp_path):
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as handle:
        handle.writestr("readme.txt", "synthetic")
    with pytest.raises(nppes_bulk.BulkFileError, match="npidata_pfile"):
        nppes_bulk.load(str(other), tmp_path / "out.jsonl")
