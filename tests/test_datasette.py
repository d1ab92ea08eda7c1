"""The directory as Datasette serves it: facets, full-text search, JSON arrays, canned queries."""

import asyncio
import collections
import html
import json
import re
import sqlite3
from urllib.parse import urlencode

import pytest
import yaml
from datasette.app import Datasette

from builds import build, synthetic
from kad import ROOT

METADATA = yaml.safe_load((ROOT / "metadata.yml").read_text())


def get_json(db_path, path):
    async def fetch():
        datasette = Datasette(immutables=[str(db_path)], metadata=METADATA)
        response = await datasette.client.get(path)
        assert response.status_code == 200, response.text
        return response.json()
    return asyncio.run(fetch())


# -- the checked-in data -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_clinics(real_db):
    connection = sqlite3.connect(real_db)
    connection.row_factory = sqlite3.Row
    return [dict(row) for row in connection.execute("SELECT * FROM clinics")]


def facet(db_path, name, array=False):
    kind = "_facet_array" if array else "_facet"
    data = get_json(db_path, f"/ketamine/clinics.json?{kind}={name}&_facet_size=max&_size=0")
    return {item["value"]: item["count"] for item in data["facet_results"][name]["results"]}


def test_state_facet_matches_the_data(real_db, real_clinics):
    assert facet(real_db, "state") == collections.Counter(c["state"] for c in real_clinics)


@pytest.mark.parametrize("column", ["insurers", "conditions", "treatments"])
def test_array_facets_match_the_data(real_db, real_clinics, column):
    expected = collections.Counter(v for c in real_clinics for v in json.loads(c[column]))
    assert facet(real_db, column, array=True) == expected


def test_array_filter_by_insurer(real_db, real_clinics):
    rows = get_json(real_db, "/ketamine/clinics.json?insurers__arraycontains=Aetna&_shape=array&_size=max")
    assert len(rows) == sum("Aetna" in json.loads(c["insurers"]) for c in real_clinics)


def test_json_arrays_come_back_as_arrays(real_db):
    rows = get_json(real_db, "/ketamine/clinics.json?_shape=array&_json=insurers&_json=treatments&_size=5")
    assert all(isinstance(r["insurers"], list) and isinstance(r["treatments"], list) for r in rows)


def test_full_text_search_finds_cities(real_db, real_clinics):
    rows = get_json(real_db, "/ketamine/clinics.json?_search=Denver&_shape=array&_size=max")
    assert {r["id"] for r in rows} == {c["id"] for c in real_clinics if (c["city"] or "") == "Denver" or "Denver" in c["name"]}


def test_every_state_is_listed(real_db):
    rows = get_json(real_db, "/ketamine/states.json?_shape=array&_size=max")
    assert len(rows) == 51


def test_the_database_page_opens_on_an_example_query(real_db, real_clinics):
    async def page():
        datasette = Datasette(immutables=[str(real_db)], metadata=METADATA, template_dir="templates")
        return (await datasette.client.get("/ketamine")).text
    sql = html.unescape(re.search(r'<textarea id="sql-editor" name="sql">(.*?)</textarea>', asyncio.run(page()), re.S)[1])
    rows = get_json(real_db, "/ketamine.json?" + urlencode({"sql": sql, "_shape": "array"}))
    assert {r["state"]: r["clinics"] for r in rows} == collections.Counter(c["state"] for c in real_clinics)


def test_map_is_configured_on_clinics(real_db):
    async def page():
        datasette = Datasette(immutables=[str(real_db)], metadata=METADATA)
        return (await datasette.client.get("/ketamine/clinics")).text
    assert "datasette-cluster-map" in asyncio.run(page())


# -- clinics_near_zip on synthetic clinics at known places -------------------------------------

PLACES = {  # ZIP -> distance from 78701 (downtown Austin) is known roughly
    "Downtown": "78701", "Hyde Park": "78751", "Round Rock": "78664",
    "San Marcos": "78666", "San Antonio": "78205", "Dallas": "75201",
}


@pytest.fixture(scope="module")
def near_db(tmp_path_factory):
    records = [synthetic(label, postal_code=code, insurers=["Aetna"] if label != "Hyde Park" else ["Cigna"],
                         conditions=["ptsd"] if label in ("Round Rock", "Dallas") else ["depression"])
               for label, code in PLACES.items()]
    records.append(synthetic("Nowhere", city=None, postal_code=None))  # no coordinates: never breaks haversine
    return build(tmp_path_factory.mktemp("near"), feeds={"clinic_site": records}).db_path


def near(db, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return get_json(db, f"/ketamine/clinics_near_zip.json?{query}&_shape=array")


def test_near_zip_is_sorted_by_distance(near_db):
    distances = [r["distance_miles"] for r in near(near_db, zip="78701", miles=100)]
    assert distances == sorted(distances)


def test_near_zip_stays_within_the_radius(near_db):
    names = {r["name"] for r in near(near_db, zip="78701", miles=40)}
    assert names == {"Synthetic Downtown", "Synthetic Hyde Park", "Synthetic Round Rock", "Synthetic San Marcos"}


def test_near_zip_defaults_to_25_miles(near_db):
    assert max(r["distance_miles"] for r in near(near_db, zip="78701")) <= 25


def test_near_zip_filters_by_insurer_name_or_id(near_db):
    by_name = {r["name"] for r in near(near_db, zip="78701", miles=40, insurer="Cigna")}
    by_id = {r["name"] for r in near(near_db, zip="78701", miles=40, insurer="cigna")}
    assert by_name == by_id == {"Synthetic Hyde Park"}


def test_near_zip_filters_by_condition(near_db):
    assert {r["name"] for r in near(near_db, zip="78701", miles=300, condition="ptsd")} == \
        {"Synthetic Round Rock", "Synthetic Dallas"}


def test_near_unknown_zip_returns_nothing(near_db):
    assert near(near_db, zip="00000") == []


# -- coverage_guide --------------------------------------------------------------------------------

def guide(db, state, insurer, condition):
    return get_json(db, f"/ketamine/coverage_guide.json?state={state}&insurer={insurer}"
                        f"&condition={condition}&_shape=array")


def test_coverage_guide_gives_the_insurer_policy(real_db):
    rows = guide(real_db, "TX", "Aetna", "depression")
    policies = [r for r in rows if r["section"] == "Insurer policy"]
    assert policies and all(r["value"] in ("experimental", "covered_with_criteria", "no_policy_found",
                                           "not_medically_necessary", "covered", "not_covered")
                            for r in policies)


def test_coverage_guide_accepts_an_alias(real_db):
    assert guide(real_db, "TX", "UHC", "treatment_resistant_depression") == \
        guide(real_db, "TX", "UnitedHealthcare", "treatment_resistant_depression")


def test_coverage_guide_gives_state_and_federal_appeal_rules(real_db):
    items = [r["item"] for r in guide(real_db, "NY", "Cigna", "ptsd") if r["section"] == "State rule"]
    assert any(i.startswith("NY: ") for i in items) and any(i.startswith("Federal floor: ") for i in items)


def test_coverage_guide_counts_clinics_listing_the_insurer(real_db, real_clinics):
    counted, = [r for r in guide(real_db, "UT", "Select Health", "depression") if r["section"] == "Clinics"]
    assert counted["value"] == sum(1 for c in real_clinics if c["state"] == "UT" and not c["reported_closed"]
                                   and "Select Health" in json.loads(c["insurers"]))


def built_columns(db_path):
    """{table: [column]} of a built database (the full-text index's own tables left out)."""
    connection = sqlite3.connect(db_path)
    tables = [r[0] for r in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'clinics_fts%' ORDER BY name")]
    return {table: [c[1] for c in connection.execute(f"PRAGMA table_info([{table}])")] for table in tables}


def missing(columns, described):
    """'table.column' of `columns` not in `described` ('table' alone when the whole table is)."""
    return sorted({table if table not in described else f"{table}.{column}"
                   for table, names in columns.items() for column in names
                   if table not in described or column not in described[table]})


def contract_columns():
    """{table: {column}} as docs/data-contract.md documents them: a level-3 heading naming the
    table in backticks, then a table row per column whose first cell is its name in backticks."""
    documented, table = {}, None
    for line in (ROOT / "docs" / "data-contract.md").read_text().splitlines():
        if line.startswith("#"):
            heading = re.fullmatch(r"### `(\w+)`", line)
            table = heading[1] if heading else None
            if table:
                documented[table] = set()
        elif table and (row := re.match(r"\| `(\w+)` \|", line)):
            documented[table].add(row[1])
    return documented


def test_metadata_describes_every_table_and_column(real_db):
    described = {table: (meta.get("columns") or {}) for table, meta in METADATA["databases"]["ketamine"]["tables"].items()}
    gaps = missing(built_columns(real_db), described)
    assert not gaps, "built but not described in metadata.yml: " + ", ".join(gaps)


def test_the_contract_documents_every_table_and_column(real_db):
    gaps = missing(built_columns(real_db), contract_columns())
    assert not gaps, "built but not documented in docs/data-contract.md: " + ", ".join(gaps)


def test_the_contract_documents_nothing_the_build_does_not_make(real_db):
    built = {table: set(columns) for table, columns in built_columns(real_db).items()}
    stale = missing(contract_columns(), built)
    assert not stale, "documented in docs/data-contract.md but not built: " + ", ".join(stale)


def test_metadata_links_to_the_contract():
    assert "docs/data-contract.md" in METADATA["description_html"]


def test_near_zip_filters_by_treatment(tmp_path):
    db = build(tmp_path, feeds={"clinic_site": [
        synthetic("Infusions", postal_code="78701", treatments=["iv_ketamine"]),
        synthetic("Spray", postal_code="78701", treatments=["esketamine_spravato"])]}).db_path
    assert [r["name"] for r in near(db, zip="78701", treatment="esketamine_spravato")] == ["Synthetic Spray"]
