"""plugins/facets.py: array facets counted through the link tables give exactly Datasette's own
array facet on the real data; a timed-out facet is reported in JSON; no suggestions where
metadata.yml chooses the facets; a repeated facet query on the immutable database is not run again."""

import asyncio
import itertools
import sqlite3
from pathlib import Path

import pytest
import yaml
from datasette.app import Datasette
from datasette.database import Database
from datasette.facets import ArrayFacet
from datasette.plugins import pm
from datasette.utils.asgi import Request

from builds import build, synthetic


ROOT = Path(__file__).resolve().parents[1]
METADATA = yaml.safe_load((ROOT / "metadata.yml").read_text())
CLINICS = METADATA["databases"]["ketamine"]["tables"]["clinics"]


def datasette(path, metadata=METADATA, **settings):
    return Datasette(immutables=[str(path)], metadata=metadata, plugins_dir=str(ROOT / "plugins"),
                     template_dir=str(ROOT / "templates"), settings=settings or None)


def get(ds, path):
    async def fetch():
        return await ds.client.get(path)
    return asyncio.run(fetch())


@pytest.fixture(scope="module")
def ds(real_db):
    return datasette(real_db)


def array_facet_class(ds):
    """The array facet class Datasette uses once the project's plugins are loaded."""
    classes = itertools.chain.from_iterable(pm.hook.register_facet_classes())
    return next(c for c in classes if c.type == "array")


# What the table view passes facets for each request below: its SQL without order or limit.
REQUESTS = {
    "all clinics": ("", "select * from clinics", {}),
    "one state": ("state=CO&", "select * from clinics where state = :p0", {"p0": "CO"}),
    "listing an insurer": ("insurers__arraycontains=Aetna&",
                           "select * from clinics where :p0 in (select value from json_each(insurers))", {"p0": "Aetna"}),
    "a search": ("_search=ketamine&", "select * from clinics where rowid in (select rowid from clinics_fts "
                                      "where clinics_fts match :search)", {"search": "ketamine"}),
}


@pytest.mark.parametrize("size", ["", "_facet_size=max&"])
@pytest.mark.parametrize("request_name", REQUESTS)
@pytest.mark.parametrize("column", ["insurers", "conditions", "treatments"])
def test_link_table_facet_is_datasettes_array_facet(ds, column, request_name, size, monkeypatch):
    query, sql, params = REQUESTS[request_name]
    run = []
    execute = Database.execute

    async def recording(self, sql, *args, **kwargs):
        run.append(sql)
        return await execute(self, sql, *args, **kwargs)

    request = Request.fake(f"/ketamine/clinics.json?{query}{size}_facet_array={column}",
                           url_vars={"database": "ketamine", "table": "clinics", "format": "json"})
    only_requested = {k: v for k, v in CLINICS.items() if k != "facets"}

    def results(facet_class):
        facet = facet_class(ds, request, "ketamine", sql=sql, params=params, table="clinics", metadata=only_requested)
        return asyncio.run(facet.facet_results())

    monkeypatch.setattr(Database, "execute", recording)
    linked = results(array_facet_class(ds))
    monkeypatch.undo()
    # Counted through the link table, no row's JSON unpacked (beyond the request's own filter).
    assert any(f"from clinic_{column}" in ran for ran in run)
    assert not any("json_each" in ran.replace(sql, "") for ran in run)
    assert linked == results(ArrayFacet)
    assert linked[0][0]["results"], "the real data has values in every array column"


# An insurer's own directory lists a clinic that does not name it: clinic_insurers has the pair
# (network_status payer_only), clinics.insurers does not.
PAYER_DIRECTORY = "https://synthetic.example/fhir/OrganizationAffiliation"


@pytest.fixture(scope="module")
def payer_only_db(tmp_path_factory):
    clinics = [synthetic("Names Aetna", npi="1234567893", insurers=["Aetna"], postal_code="78701"),
               synthetic("Names nobody", npi="1555010101", insurers=[], postal_code="78701")]
    listing = [{"npi": npi, "insurer_id": "aetna", "network": "Synthetic Aetna network", "plan_ids": [],
                "evidence": "payer_directory", "name": "Synthetic listed name", "street": None, "city": "Austin",
                "state": "TX", "postal_code": "78701", "phone": None, "detail": {}, "source_url": PAYER_DIRECTORY,
                "sources": [PAYER_DIRECTORY], "retrieved_at": "2026-11-25T00:00:00Z"} for npi in ("1234567893", "1555010101")]
    return build(tmp_path_factory.mktemp("payer"), feeds={"clinic_site": clinics, "plan_net": listing}).db_path


def test_insurers_an_insurer_alone_lists_are_not_counted(payer_only_db):
    connection = sqlite3.connect(payer_only_db)
    statuses = dict(connection.execute("select clinic_id, network_status from clinic_insurers where insurer_id = 'aetna'"))
    connection.close()
    assert statuses == {"site:synthetic-names-aetna": "agrees", "site:synthetic-names-nobody": "payer_only"}
    results = get(datasette(payer_only_db), "/ketamine/clinics.json?_facet_array=insurers").json()["facet_results"]
    assert [(v["value"], v["count"]) for v in results["insurers"]["results"]] == [("Aetna", 1)]


def test_the_faceted_clinics_page_has_every_facet_once_per_request(ds):
    data = get(ds, "/ketamine/clinics.json?_facet=state&_facet_array=insurers&_facet_array=conditions"
                   "&_facet_array=treatments").json()
    # metadata.yml's seven, and the request's four again (Datasette keys a repeat "name_2").
    assert sorted(data["facet_results"]) == sorted(["state", "insurers", "conditions", "treatments",
                                                    "ketamine_insurance", "spravato_insurance", "geocode_precision",
                                                    "state_2", "insurers_2", "conditions_2", "treatments_2"])
    assert data["facet_results"]["insurers"]["results"] == data["facet_results"]["insurers_2"]["results"]
    assert not data["facet_results"]["insurers"]["hideable"] and data["facet_results"]["insurers_2"]["hideable"]


def test_no_facet_suggestions_where_metadata_chooses_the_facets(ds):
    assert get(ds, "/ketamine/clinics.json").json()["suggested_facets"] == []


def test_facet_suggestions_stay_on_tables_without_chosen_facets(ds):
    suggested = get(ds, "/ketamine/clinic_conditions.json").json()["suggested_facets"]
    assert "condition_id" in [s["name"] for s in suggested]


@pytest.fixture
def facet_queries(monkeypatch):
    """The facet count queries run from now on."""
    counted = []
    execute = Database.execute

    async def counting(self, sql, *args, **kwargs):
        if "count(*) as count" in sql:
            counted.append(sql)
        return await execute(self, sql, *args, **kwargs)

    monkeypatch.setattr(Database, "execute", counting)
    return counted


def test_a_repeated_facet_query_is_not_run_again(real_db, facet_queries):
    fresh = datasette(real_db)
    first = get(fresh, "/ketamine/clinics.json?_facet_array=insurers").json()
    queries = len(facet_queries)
    second = get(fresh, "/ketamine/clinics.json?_facet_array=insurers").json()
    assert queries >= 7 and len(facet_queries) == queries
    assert first["facet_results"] == second["facet_results"]


def test_a_long_facet_answer_is_not_kept(real_db, facet_queries):
    fresh = datasette(real_db)
    path = "/ketamine/clinics.json?_facet=id&_facet_size=max&_size=0"
    assert len(get(fresh, path).json()["facet_results"]["id"]["results"]) > 200
    asked = sum("select id as value" in sql for sql in facet_queries)
    get(fresh, path)
    assert sum("select id as value" in sql for sql in facet_queries) == 2 * asked == 2


# -- a facet that runs out of time -----------------------------------------------------------------

@pytest.fixture(scope="module")
def big_db(tmp_path_factory):
    """300,000 synthetic rows: too many to facet in a millisecond."""
    path = tmp_path_factory.mktemp("big") / "big.db"
    connection = sqlite3.connect(path)
    connection.execute("create table things (id integer primary key, name text, kind text, tags text)")
    connection.execute("""insert into things with recursive n(i) as (select 1 union all select i + 1 from n where i < 300000)
                          select i, 'Synthetic thing ' || i, 'kind ' || (i % 7), json_array('tag ' || (i % 5)) from n""")
    connection.commit()
    connection.close()
    return path


def test_a_timed_out_facet_is_reported_in_json(big_db):
    slow = datasette(big_db, metadata={}, facet_time_limit_ms=1)
    data = get(slow, "/big/things.json?_facet=kind&_facet_array=tags&_size=1").json()
    assert data["facet_results"] == {
        "kind": {"name": "kind", "type": "column", "timed_out": True, "results": [], "truncated": False},
        "tags": {"name": "tags", "type": "array", "timed_out": True, "results": [], "truncated": False},
    }


def test_a_timed_out_facet_is_named_once_on_the_html_page(big_db):
    slow = datasette(big_db, metadata={}, facet_time_limit_ms=1)
    html = get(slow, "/big/things?_facet=kind&_size=1").text
    assert "These facets timed out: kind" in html
    assert 'id="facet-kind"' not in html  # no empty facet box beside the message
