"""What search engines and shared links read (plugins/kad_pages/seo.py): canonical addresses, meta
descriptions, Open Graph tags, schema.org JSON-LD on clinic pages (read back with extruct),
/sitemap.xml and /robots.txt, on a synthetic database through Datasette's test client."""

import sqlite3
import urllib.robotparser
from xml.etree import ElementTree

import extruct
import lxml.html
import pytest
from datasette.utils import tilde_encode
from test_pages import loop, make_datasette, page_getter  # noqa: F401 (loop is a fixture)

from builds import build, synthetic
XSS_NAME = "</script><script>alert(1)</script>"

CLINICS = [
    # Placed where its source says, with every fact a card shows.
    synthetic("A", postal_code="78701", street="100 Congress Ave", phone="512-555-0101",
              website="https://a.synthetic.example/", npi="1234567893", latitude=30.2672, longitude=-97.7431,
              insurers=["Aetna", "Cigna"], treatments=["iv_ketamine", "esketamine_spravato"]),
    # Placed at its ZIP code's centre only.
    synthetic("B", postal_code="78745", insurers=[]),
    # Two records of one place that disagree about the website.
    synthetic("G", phone="512-555-0199", website="https://g-one.synthetic.example"),
    synthetic("G two", phone="(512) 555-0199", website="https://g-two.synthetic.example"),
    synthetic(XSS_NAME, postal_code="78702"),
]
PAGES = ["/", "/states", "/state/TX", "/checklist", "/checklist?state=TX&insurer=aetna&condition=ptsd",
         "/clinic/site/synthetic-a", "/clinic/site/synthetic-b"]


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    return build(tmp_path_factory.mktemp("seo"), feeds={"clinic_site": CLINICS}).db_path


@pytest.fixture(scope="module")
def get(loop, db_path):
    return page_getter(loop, make_datasette(loop, db_path))


def metadata_of(response):
    """(JSON-LD items, Open Graph {property: value}, {meta name: content}, canonical) of a page."""
    data = extruct.extract(response.text, base_url=str(response.url), syntaxes=["json-ld", "opengraph"])
    graph = {k: v for og in data["opengraph"] for k, v in og["properties"]}
    tree = lxml.html.fromstring(response.text)
    names = {m.get("name"): m.get("content") for m in tree.xpath("//meta[@name]")}
    canonical = tree.xpath("//link[@rel='canonical']/@href")
    return data["json-ld"], graph, names, canonical[0] if canonical else None


def clinic_ld(get, path):
    items, *_ = metadata_of(get(path))
    clinic, = [i for i in items if i.get("@type") == "MedicalClinic"]
    return clinic


# -- JSON-LD -----------------------------------------------------------------------------------

def test_clinic_is_a_medical_clinic_with_its_address_phone_and_position(get):
    clinic = clinic_ld(get, "/clinic/site/synthetic-a")
    assert clinic["name"] == "Synthetic A"
    assert clinic["address"] == {"@type": "PostalAddress", "streetAddress": "100 Congress Ave",
                                 "addressLocality": "Austin", "addressRegion": "TX", "postalCode": "78701",
                                 "addressCountry": "US"}
    assert clinic["telephone"] == "+15125550101"
    assert clinic["geo"] == {"@type": "GeoCoordinates", "latitude": 30.2672, "longitude": -97.7431}
    assert clinic["url"] == "https://a.synthetic.example/"
    assert clinic["identifier"] == {"@type": "PropertyValue", "propertyID": "NPI", "value": "1234567893"}


def test_clinic_services_are_its_treatments(get):
    services = clinic_ld(get, "/clinic/site/synthetic-a")["availableService"]
    assert [(s["@type"], s["name"]) for s in services] == [("MedicalTherapy", "IV ketamine infusion"),
                                                            ("MedicalTherapy", "Spravato (esketamine) nasal spray")]


def test_insurers_are_listings_with_their_evidence_not_network_claims(get):
    listings = clinic_ld(get, "/clinic/site/synthetic-a")["additionalProperty"]
    assert [(p["value"], p["measurementTechnique"], p["url"]) for p in listings] == [
        ("Aetna", "clinic_website", "https://synthetic.example/a"),
        ("Cigna", "clinic_website", "https://synthetic.example/a")]
    assert listings[0]["description"] == ("Listed from the clinic's website, read November 20, 2026; "
                                          "not confirmed with the insurer.")


def test_a_zip_centre_is_not_given_as_the_clinics_position(get):
    clinic = clinic_ld(get, "/clinic/site/synthetic-b")
    assert "geo" not in clinic and clinic["address"]["postalCode"] == "78745"


def test_a_disputed_fact_is_left_out(get):
    clinic = clinic_ld(get, "/clinic/site/synthetic-g")
    assert "url" not in clinic and clinic["telephone"] == "+15125550199"


def test_json_ld_cannot_be_broken_out_of(get, db_path):
    with sqlite3.connect(db_path) as connection:
        clinic_id, = connection.execute("select id from clinics where name = ?", [f"Synthetic {XSS_NAME}"]).fetchone()
    path = "/clinic/site/" + tilde_encode(clinic_id.removeprefix("site:"))
    assert "<script>alert(1)" not in get(path).text
    assert clinic_ld(get, path)["name"] == f"Synthetic {XSS_NAME}"


def test_only_clinic_pages_carry_json_ld(get):
    assert all(metadata_of(get(path))[0] == [] for path in PAGES if not path.startswith("/clinic/"))


# -- canonical, description, Open Graph ----------------------------------------------------------

@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_a_canonical_address_a_description_and_open_graph(get, path):
    _, graph, names, canonical = metadata_of(get(path))
    assert canonical.startswith("http://localhost/") and graph["og:url"] == canonical
    assert len(names["description"]) > 60 and graph["og:description"] == names["description"]
    assert graph["og:title"] and graph["og:site_name"] == "Ketamine Access Directory"


def test_descriptions_differ_from_page_to_page(get):
    descriptions = [metadata_of(get(path))[2]["description"] for path in PAGES]
    assert len(set(descriptions)) == len(PAGES)


def test_a_shared_clinic_link_shows_its_name_and_city(get):
    _, graph, names, _ = metadata_of(get("/clinic/site/synthetic-a"))
    assert graph["og:title"] == "Synthetic A — Austin, TX"
    assert names["description"].startswith("Synthetic A in Austin, TX: IV ketamine infusion and Spravato")
    assert "Insurers it lists: Aetna and Cigna." in names["description"]


def test_a_clinic_with_an_insurer_chosen_has_the_plain_clinic_address_as_canonical(get):
    assert metadata_of(get("/clinic/site/synthetic-a?insurer=aetna"))[3] == "http://localhost/clinic/site/synthetic-a"


def test_search_results_are_followed_but_not_listed(get):
    assert metadata_of(get("/?zip=78701"))[2]["robots"] == "noindex, follow"
    assert "robots" not in metadata_of(get("/"))[2]


def test_a_missing_page_is_not_listed(get):
    _, graph, names, canonical = metadata_of(get("/clinic/site/no-such-clinic", status=404))
    assert (names["robots"], canonical, graph) == ("noindex", None, {})


def test_the_public_address_comes_from_the_setting(get, monkeypatch):
    monkeypatch.setenv("KAD_PUBLIC_URL", "https://directory.synthetic.example/")
    _, graph, _, canonical = metadata_of(get("/state/TX"))
    assert canonical == graph["og:url"] == "https://directory.synthetic.example/state/TX"
    assert "Sitemap: https://directory.synthetic.example/sitemap.xml" in get("/robots.txt").text


# -- sitemap and robots.txt ----------------------------------------------------------------------

def test_the_sitemap_lists_the_patient_pages_and_every_clinic(get, db_path):
    root = ElementTree.fromstring(get("/sitemap.xml").content)
    namespace = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locations = [loc.text for loc in root.findall("s:url/s:loc", namespace)]
    with sqlite3.connect(db_path) as connection:
        clinic_ids = [r[0] for r in connection.execute("select id from clinics order by id")]
    assert len(locations) == len(set(locations)) == 3 + 51 + len(clinic_ids)
    assert {"http://localhost/", "http://localhost/states", "http://localhost/checklist",
            "http://localhost/state/TX", "http://localhost/state/DC",
            "http://localhost/clinic/site/synthetic-a"} <= set(locations)
    assert all(get(loc.removeprefix("http://localhost")).status_code == 200 for loc in locations)


def test_robots_txt_keeps_crawlers_off_sql_and_searches_and_points_to_the_sitemap(get):
    text = get("/robots.txt").text
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(text.splitlines())
    robots.modified()  # parse() alone leaves the parser answering no to everything
    allowed = {path: robots.can_fetch("SomeBot", "http://localhost" + path) for path in (
        "/", "/states", "/state/TX", "/checklist", "/clinic/site/synthetic-a", "/sitemap.xml",
        "/ketamine", "/ketamine?sql=select+1", "/ketamine.json?sql=select+1", "/ketamine/clinics",
        "/ketamine/clinics_near_zip?zip=78701", "/ketamine.db", "/search?zip=78701", "/?zip=78701",
        "/?state=TX&insurer=aetna", "/?insurer=aetna&zip=78701")}
    assert [path for path, ok in allowed.items() if ok] == [
        "/", "/states", "/state/TX", "/checklist", "/clinic/site/synthetic-a", "/sitemap.xml"]
    assert robots.site_maps() == ["http://localhost/sitemap.xml"]
