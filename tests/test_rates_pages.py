"""Negotiated rates on the patient pages: the clinic page's "what insurers have agreed to pay this
clinic" per code, and the checklist's median and range in the state beside the cash prices."""

import asyncio

import pytest
import yaml
from datasette.app import Datasette

from builds import build, synthetic

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
FILE = "https://synthetic.example/2026-11-01_synthetic_in-network.json.gz"
CLINICS = [synthetic("Austin", npi="1234567893", postal_code="78701", price_initial_usd=450),
           synthetic("Dallas", npi="1548300213", city="Dallas", postal_code="75201"),
           synthetic("Houston", city="Houston", postal_code="77002")]


def rate(npi, code, amount, insurer_file=FILE, negotiated_type="negotiated"):
    return {"kind": "negotiated_rate", "file_url": insurer_file, "billing_code": code, "billing_code_type": "HCPCS",
            "negotiated_type": negotiated_type, "negotiated_rate": amount, "billing_class": "professional",
            "modifiers": "[]", "service_codes": "[\"11\"]", "expiration_date": "9999-12-31", "npi": npi}


FEED = [
    {"kind": "price_file", "file_url": FILE, "insurer_id": "aetna", "reporting_entity_name": "Synthetic Aetna Entity",
     "plans": [], "last_updated_on": "2026-11-01", "retrieved_at": "2026-11-30"},
    {"kind": "price_file", "file_url": FILE + "?cigna", "insurer_id": "cigna", "plans": [],
     "last_updated_on": "2026-10-01", "retrieved_at": "2026-11-30"},
    rate("1234567893", "G2082", 600.0), rate("1548300213", "G2082", 500.0),
    rate("1234567893", "G2082", 700.0, FILE + "?cigna"),
    rate("1234567893", "96365", 70.0, negotiated_type="percentage"),
]


@pytest.fixture(scope="module")
def get(tmp_path_factory):
    db = build(tmp_path_factory.mktemp("rates_pages"), feeds={"clinic_site": CLINICS, "negotiated_rates": FEED}).db_path
    loop = asyncio.new_event_loop()
    ds = Datasette(immutables=[str(db)], metadata=yaml.safe_load((ROOT / "metadata.yml").read_text()),
                   plugins_dir=str(ROOT / "plugins"), template_dir=str(ROOT / "templates"))
    loop.run_until_complete(ds.invoke_startup())

    def get(path):
        response = loop.run_until_complete(ds.client.get(path))
        assert response.status_code == 200, response.text[:2000]
        return response
    yield get
    loop.close()


def test_clinic_page_lists_each_payers_rate_per_code(get):
    page = get("/clinic/site/synthetic-austin.json").json()
    g2082 = next(c for c in page["negotiated_rates"] if c["code"] == "G2082")
    assert [(r["payer"], r["rate_text"], r["date"], r["source"]) for r in g2082["rates"]] == [
        ("Aetna", "$600", "2026-11-01", FILE), ("Cigna", "$700", "2026-10-01", FILE + "?cigna")]


def test_clinic_page_shows_a_percentage_as_a_percentage(get):
    page = get("/clinic/site/synthetic-austin.json").json()
    assert next(c for c in page["negotiated_rates"] if c["code"] == "96365")["rates"][0]["rate_text"] == "70% of billed charges"


def test_clinic_page_says_it_is_what_the_insurer_pays(get):
    html = get("/clinic/site/synthetic-austin").text
    assert "What insurers have agreed to pay this clinic" in html and "not what you pay" in html


def test_clinic_without_rates_says_so(get):
    assert "not found this clinic" in get("/clinic/site/synthetic-houston").text


def test_checklist_gives_median_and_range_in_the_state(get):
    page = get("/checklist.json?state=TX&insurer=aetna&condition=depression").json()
    stats = {r["code"]: r for r in page["negotiated_rates"]}
    assert list(stats) == ["G2082"]  # a percentage is not a price in dollars
    assert (stats["G2082"]["all"]["median_text"], stats["G2082"]["all"]["min_text"], stats["G2082"]["all"]["max_text"]) == (
        "$600", "$500", "$700")
    assert (stats["G2082"]["insurer"]["median_text"], stats["G2082"]["insurer"]["count"]) == ("$550", 2)


def test_checklist_labels_them_beside_the_cash_prices(get):
    html = get("/checklist?state=TX&insurer=aetna&condition=depression").text
    assert html.index("What paying yourself typically costs") < html.index("What insurers pay clinics in Texas (not what you pay)")
