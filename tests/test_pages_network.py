"""The network evidence on the pages: the clinic page says, insurer by insurer, what each kind of
evidence says and when; search filters by insurer with every kind of evidence, or only where the
insurer's own data confirms it; cards name the strongest evidence; the researcher query lists the
disagreements. Server-side, through Datasette's test client, on a synthetic database."""


import pytest
from test_build_network import DIRECTORY, payer_row
from test_pages import names, pages, text_of

from builds import build, synthetic

CLINICS = [
    synthetic("Agrees", npi="1234567893", insurers=["Aetna", "Humana"], postal_code="78701"),
    synthetic("Says Only", npi="1987654328", insurers=["Aetna"], postal_code="78701"),
    synthetic("Payer Lists", npi="1555010101", insurers=[], postal_code="78701"),
]
FEEDS = {
    "clinic_site": CLINICS,
    "plan_net": [payer_row("1234567893", "aetna"), payer_row("1555010101", "aetna")],
    "medicare_billers": [payer_row("1234567893", "medicare", evidence="medicare_claims", hcpcs_code="G2082",
                                   services=120, beneficiaries=14, data_year=2023)],
}


@pytest.fixture(scope="module")
def get(tmp_path_factory):
    with pages(build(tmp_path_factory.mktemp("network_pages"), feeds=FEEDS).db_path) as get:
        yield get


def network_of(get, slug):
    return {i["id"]: i for i in get(f"/clinic/site/synthetic-{slug}.json").json()["network"]["insurers"]}


def test_clinic_page_says_what_the_directory_says_and_when(get):
    says = [e["text"] for e in network_of(get, "agrees")["aetna"]["says"]]
    assert "Aetna's provider directory lists this provider in the Synthetic aetna network (plans H9999-001)." in says


def test_clinic_page_keeps_what_the_clinic_says(get):
    assert "The clinic's website says it takes Aetna." in [e["text"] for e in network_of(get, "agrees")["aetna"]["says"]]


def test_clinic_page_dates_the_directory(get):
    entry = next(e for e in network_of(get, "agrees")["aetna"]["says"] if e["evidence"] == "payer_directory")
    assert (entry["read"], entry["source_url"]) == ("November 25, 2026", DIRECTORY)


def test_clinic_page_says_the_directory_does_not_list_it(get):
    assert network_of(get, "says-only")["aetna"]["says"][-1]["text"] == (
        "Aetna's directory was read on November 25, 2026 and does not list it.")


def test_clinic_page_says_once_which_insurers_were_not_checked(get):
    page = get("/clinic/site/synthetic-agrees.json").json()
    assert (page["network"]["unchecked"], [e["evidence"] for e in network_of(get, "agrees")["humana"]["says"]]) == (
        ["Humana"], ["clinic_website"])


def test_clinic_page_names_the_unchecked_insurers(get):
    assert "We have not yet read these insurers’ own directories for Texas, so only the clinic’s word stands for them: Humana." in text_of(
        get("/clinic/site/synthetic-agrees"))


def test_clinic_page_medicare_claims_in_words(get):
    assert [e["text"] for e in network_of(get, "agrees")["medicare"]["says"]] == [
        "Original Medicare paid this provider for G2082 (120 services, 14 patients) in 2023."]


def test_clinic_page_explains_the_ladder(get):
    assert "From weakest to strongest" in text_of(get("/clinic/site/synthetic-agrees"))


def test_search_by_insurer_uses_every_kind_of_evidence(get):
    assert sorted(names(get("/search.json?zip=78701&insurer=aetna").json()["results"])) == [
        "Synthetic Agrees", "Synthetic Payer Lists", "Synthetic Says Only"]


def test_search_only_where_the_insurer_confirms(get):
    assert sorted(names(get("/search.json?zip=78701&insurer=aetna&confirmed=1").json()["results"])) == [
        "Synthetic Agrees", "Synthetic Payer Lists"]


def test_confirmed_without_an_insurer_means_nothing(get):
    page = get("/search.json?zip=78701&confirmed=1").json()
    assert (page["query"]["confirmed"], len(page["results"])) == ("", 3)


def test_search_form_offers_the_choice(get):
    assert "Only where the insurer\u2019s own data confirms it" in text_of(get("/?zip=78701&insurer=aetna"))


def test_card_names_the_strongest_evidence(get):
    card = next(c for c in get("/search.json?zip=78701&insurer=aetna").json()["results"] if c["name"] == "Synthetic Agrees")
    aetna = next(i for i in card["insurers"] if i["id"] == "aetna")
    assert (aetna["evidence_text"], aetna["status_text"]) == ("from the insurer's provider directory",
                                                              "confirmed by the insurer's own data")


def test_card_says_when_the_directory_does_not_list_it(get):
    card = next(c for c in get("/search.json?zip=78701").json()["results"] if c["name"] == "Synthetic Says Only")
    assert card["insurers"][0]["status_text"] == "not in the insurer's directory"


def test_near_zip_query_takes_confirmed(get):
    rows = get("/ketamine/clinics_near_zip.json?zip=78701&insurer=aetna&confirmed=1&condition=&treatment=&_shape=array").json()
    assert sorted(r["name"] for r in rows) == ["Synthetic Agrees", "Synthetic Payer Lists"]


def test_researcher_query_lists_disagreements(get):
    rows = get("/ketamine/network_disagreements.json?state=TX&insurer=aetna&_shape=array").json()
    assert [(r["clinic"], r["network_status"], r["clinic_says"], r["payer_says"]) for r in rows] == [
        ("Synthetic Payer Lists", "payer_only", None, "payer_directory"),
        ("Synthetic Says Only", "clinic_only", "clinic_website", None)]
