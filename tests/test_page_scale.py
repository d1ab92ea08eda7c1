"""Pages that scale (issue 13): the state page lists its clinics a page at a time, and the
checklist's typical prices come from the build's price_stats table (kad/prices.py), not from a
scan of every clinic on each request."""

import asyncio
import shutil
import sqlite3
import statistics
from pathlib import Path

import pytest
import yaml
from datasette.app import Datasette

from builds import build, synthetic

ROOT = Path(__file__).resolve().parents[1]
METADATA = yaml.safe_load((ROOT / "metadata.yml").read_text())
TEXAS_CLINICS = 205


def _clinic(number, **fields):
    return synthetic(f"Clinic {number:03d}", postal_code="78701", website=f"https://c{number}.synthetic.example",
                     **fields)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    prices = {1: 300, 2: 500, 3: 400, 4: 800}  # Texas: median 450 of four
    records = [_clinic(n, price_initial_usd=prices.get(n)) for n in range(1, TEXAS_CLINICS + 1)]
    records += [
        synthetic("Vermont", state="VT", city="Burlington", postal_code="05401", price_initial_usd=1000,
                  price_series_usd=3000, series_count=6),
        synthetic("Vermont closed", state="VT", city="Burlington", postal_code="05402", price_initial_usd=99,
                  reported_closed=True),
        synthetic("Ohio", state="OH", city="Columbus", postal_code="43215", price_series_usd=2000, series_count=5),
    ]
    return build(tmp_path_factory.mktemp("scale"), feeds={"clinic_site": records}).db_path


def get(path, db_path, status=200):
    async def fetch():
        ds = Datasette(immutables=[str(db_path)], metadata=METADATA, plugins_dir=str(ROOT / "plugins"),
                       template_dir=str(ROOT / "templates"))
        return await ds.client.get(path)
    response = asyncio.run(fetch())
    assert response.status_code == status, response.text[:2000]
    return response


def changed_copy(db_path, folder, statement):
    """A copy of the database with one statement run on it."""
    copy = folder / "ketamine.db"
    shutil.copy(db_path, copy)
    connection = sqlite3.connect(copy)
    connection.execute(statement)
    connection.commit()
    connection.close()
    return copy


def table(db_path, sql):
    connection = sqlite3.connect(db_path)
    connection.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in connection.execute(sql)]
    finally:
        connection.close()


# -- the state page ------------------------------------------------------------------------------

def test_state_page_lists_the_first_hundred_clinics_by_name(db_path):
    page = get("/state/TX.json", db_path).json()
    assert [c["name"] for c in page["clinics"]] == [f"Synthetic Clinic {n:03d}" for n in range(1, 101)]
    pages = page["clinic_pages"]
    assert (pages["page"], pages["pages"], pages["total"], pages["first"], pages["last"]) == (1, 3, TEXAS_CLINICS, 1, 100)
    assert pages["previous"] is None and pages["next"] == "/state/TX?page=2#clinics"


def test_state_page_three_has_the_last_clinics(db_path):
    page = get("/state/TX.json?page=3", db_path).json()
    assert [c["name"] for c in page["clinics"]] == [f"Synthetic Clinic {n:03d}" for n in range(201, 206)]
    assert page["clinic_pages"]["previous"] == "/state/TX?page=2#clinics" and page["clinic_pages"]["next"] is None
    assert page["links"]["json"] == "/state/TX.json?page=3"


@pytest.mark.parametrize("asked, shown", [("99", 3), ("0", 1), ("two", 1), ("", 1), ("9" * 50, 1)])
def test_a_page_number_out_of_range_or_not_a_number_gives_a_real_page(db_path, asked, shown):
    assert get(f"/state/TX.json?page={asked}", db_path).json()["clinic_pages"]["page"] == shown


def test_state_page_html_says_which_clinics_it_shows_and_links_the_next(db_path):
    html = get("/state/TX?page=2", db_path).text
    assert "Clinics 101 to 200 of 205, by name." in html
    assert 'href="/state/TX#clinics" rel="prev"' in html and 'href="/state/TX?page=3#clinics" rel="next"' in html
    assert "Page 2 of 3" in html and html.count('class="clinic-list"') == 1


def test_a_small_state_has_no_pager(db_path):
    html = get("/state/VT", db_path).text
    assert "Synthetic Vermont" in html and 'class="pager"' not in html


# -- price_stats and the checklist ---------------------------------------------------------------

def test_price_stats_has_each_state_and_the_nation(db_path):
    rows = {(r["region"], r["price"]): r for r in table(db_path, "select * from price_stats")}
    texas = rows[("TX", "price_initial_usd")]
    assert (texas["clinics"], texas["median_usd"], texas["min_usd"], texas["max_usd"]) == (4, 450, 300, 800)
    vermont = rows[("VT", "price_initial_usd")]  # the closed clinic's price is left out
    assert (vermont["clinics"], vermont["median_usd"]) == (1, 1000)
    nation = rows[("US", "price_initial_usd")]
    assert (nation["clinics"], nation["median_usd"]) == (5, statistics.median([300, 500, 400, 800, 1000]))
    assert rows[("US", "price_series_usd")]["median_series_count"] == 5.5
    assert rows[("OH", "price_series_usd")]["median_series_count"] == 5
    assert rows[("TX", "price_initial_usd")]["median_series_count"] is None
    assert ("TX", "price_series_usd") not in rows  # no Texas clinic publishes one
    assert texas["oldest_retrieved_at"] == texas["newest_retrieved_at"] == "2026-11-20T00:00:00+00:00"


def test_checklist_reads_the_prices_from_price_stats(db_path, tmp_path):
    changed = changed_copy(db_path, tmp_path, "update price_stats set median_usd = 1234.5 "
                                              "where region = 'TX' and price = 'price_initial_usd'")
    page = get("/checklist.json?state=TX&insurer=aetna&condition=depression", changed).json()
    initial = next(p for p in page["prices"] if p["column"] == "price_initial_usd")
    assert initial["scope"] == "state" and initial["state"]["median"] == 1234.5
    assert initial["state"]["median_text"] == "$1,234.50"
    assert page["typical_series_count"] == 5.5


def test_checklist_without_price_stats_says_to_rebuild(db_path, tmp_path):
    changed = changed_copy(db_path, tmp_path, "drop table price_stats")
    response = get("/checklist.json?state=TX&insurer=aetna&condition=depression", changed, status=500)
    assert "rebuild it with build_db.py" in response.json()["error"]
