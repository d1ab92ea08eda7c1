"""The network tables of a build with every kind of network input are exactly the rows recorded in
tests/files/network/reference.json (ids, order, links, statuses, strongest evidence), written by
the build before kad/network.py moved the clinic side and the statuses into SQL: ids are public.

Regenerate the reference only when the rows are meant to change:
``PYTHONPATH=. .venv/bin/python tests/test_build_network_reference.py`` (it writes what the current code builds)."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from builds import build, curated_line, synthetic
from kad import network

REFERENCE = Path(__file__).parent / "files" / "network" / "reference.json"
DIRECTORY = "https://synthetic.example/fhir/OrganizationAffiliation?page=1"
MARKETPLACE = "https://synthetic.example/marketplace/providers.json"
CLAIMS = "https://synthetic.example/medicare/by-provider-and-service"
NPPES = "https://npiregistry.cms.hhs.gov/api/?version=2.1&organization_name=Synthetic*"


def payer_row(npi, insurer, evidence="payer_directory", state="TX", source=DIRECTORY,
              retrieved_at="2026-11-25T00:00:00Z", **detail):
    return {"npi": npi, "insurer_id": insurer, "network": f"Synthetic {insurer} network", "plan_ids": ["H9999-001"],
            "evidence": evidence, "name": "Synthetic listed name", "street": "100 Congress Ave", "city": "Austin",
            "state": state, "postal_code": "78701", "phone": None, "detail": detail, "source_url": source,
            "sources": [source], "retrieved_at": retrieved_at}


def npi_record(npi, clinic, score):
    return {"npi": npi, "entity": "organisation", "name": "SYNTHETIC MIND CLINIC PLLC", "other_names": [],
            "taxonomies": ["261QI0500X"], "street": None, "city": "AUSTIN", "state": "TX", "postal_code": None,
            "phone": None, "locations": [], "clinic_source_id": f"site:synthetic-{clinic}",
            "match_method": "name_address", "match_score": score, "sources": [NPPES],
            "retrieved_at": "2026-11-25T00:00:00Z"}


FEEDS = {
    "clinic_site": [
        synthetic("Agrees", npi="1234567893", insurers=["Aetna", "Cigna"], postal_code="78701"),
        synthetic("Clinic Only", npi="1987654328", insurers=["Humana"], postal_code="78701"),
        synthetic("Unchecked", npi="1666010206", insurers=["Cigna"], accepts_medicare=True),
        synthetic("Payer Only", npi="1555010101", postal_code="78701"),
        synthetic("Conflict", npi="1245319599", insurers=["UnitedHealthcare", "Aetna"], postal_code="78701"),
        # Non-ASCII and a quote in the addresses an id hashes.
        synthetic("Cafe", insurers=["Aetna"], sources=['https://synthetic.example/café/seguro?plan="ppo"']),
        synthetic("Mind Clinic", insurers=["Aetna"]),  # no NPI of its own: a strong NPPES match
        synthetic("Weak Match", insurers=["Aetna"]),
    ],
    "plan_net": [
        payer_row("1234567893", "aetna"),
        payer_row("1234567893", "aetna", retrieved_at="2026-11-26T00:00:00Z",
                  source="https://synthetic.example/fhir/OrganizationAffiliation?page=2"),
        payer_row("1555010101", "aetna"),
        payer_row("1245319599", "unitedhealthcare", accepting_new_patients="nopt"),
        payer_row("1245319599", "aetna", active=False),
        payer_row("1174597033", "humana"),  # no directory clinic has this NPI
        payer_row("1528060647", "aetna"),  # the strong match's NPI
        payer_row("1881697878", "aetna"),  # the weak match's NPI: kept without a clinic
        payer_row("1111111112", "cigna", state="CA"),
    ],
    "marketplace_providers": [
        payer_row("1234567893", "cigna", evidence="marketplace_directory", source=MARKETPLACE),
        payer_row("1234567893", "aetna", evidence="marketplace_directory", source=MARKETPLACE),
    ],
    "medicare_billers": [payer_row("1234567893", "medicare", evidence="medicare_claims", source=CLAIMS,
                                   hcpcs_code="G2082"),
                         payer_row("1666010206", "medicare", evidence="medicare_claims", source=CLAIMS)],
    "nppes_match": [npi_record("1528060647", "mind-clinic", 0.97), npi_record("1881697878", "weak-match", 0.42)],
}
SEED = [curated_line("Curated Place", npi="1316250707",
                     insurance={"insurers_accepted": ["Aetna", "Humana"], "medicare": True})]


def network_tables(db_path):
    connection = sqlite3.connect(db_path)
    connection.row_factory = sqlite3.Row
    # network_evidence by id, as Datasette lists it: the build writes it in id order for speed.
    tables = {table: [dict(row) for row in connection.execute(f"SELECT * FROM {table} ORDER BY {order}")]
              for table, order in (("network_evidence", "id"), ("clinic_insurers", "rowid"), ("clinic_npis", "rowid"))}
    connection.close()
    return tables


@pytest.fixture(scope="module")
def built_path(tmp_path_factory):
    return build(tmp_path_factory.mktemp("reference"), seed=SEED, feeds=FEEDS).db_path


@pytest.fixture(scope="module")
def built(built_path):
    return network_tables(built_path)


@pytest.fixture(scope="module")
def reference():
    rows = json.loads(REFERENCE.read_text())
    rows["network_evidence"].sort(key=lambda row: row["id"])  # written by code that wrote them in another order
    return rows


def test_inputs_reach_every_status_and_link(reference):
    statuses = {row["network_status"] for row in reference["clinic_insurers"]}
    evidence = {row["evidence"] for row in reference["network_evidence"]}
    assert (statuses, evidence, any(row["clinic_id"] is None for row in reference["network_evidence"])) == (
        {"agrees", "clinic_only", "clinic_only_unchecked", "conflict", "payer_only"},
        {"clinic_website", "curated", "payer_directory", "marketplace_directory", "medicare_claims"}, True)


@pytest.mark.parametrize("table", ["network_evidence", "clinic_insurers", "clinic_npis"])
def test_rows_are_the_reference_rows(built, reference, table):
    assert built[table] == reference[table]


def test_status_computed_again_changes_nothing(built_path, reference, tmp_path):
    again = tmp_path / "again.db"
    shutil.copy(built_path, again)
    db = sqlite_utils.Database(again)
    network.compute_status(db)
    db.close()
    assert network_tables(again)["clinic_insurers"] == reference["clinic_insurers"]


if __name__ == "__main__":  # writes the reference from what the current code builds
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        REFERENCE.parent.mkdir(exist_ok=True)
        tables = network_tables(build(Path(folder), seed=SEED, feeds=FEEDS).db_path)
        REFERENCE.write_text(json.dumps(tables, indent=1, ensure_ascii=False) + "\n")
