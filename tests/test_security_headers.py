"""plugins/security_headers.py through Datasette's test client: every kind of response carries
nosniff, a Referrer-Policy and a Content-Security-Policy; the patient pages' policy allows no
inline script or style, Datasette's own HTML pages' policy does (they need it). That the pages
and the map satisfy their policy in a real browser is in test_browser.py."""

import asyncio
from pathlib import Path

import pytest
import yaml
from datasette.app import Datasette

from builds import build, synthetic

ROOT = Path(__file__).resolve().parents[1]
METADATA = yaml.safe_load((ROOT / "metadata.yml").read_text())

PATIENT = ["/", "/?zip=78701", "/search.json?zip=78701", "/clinic/site/synthetic-a", "/clinic/site/synthetic-a.json",
           "/states", "/state/TX", "/checklist", "/-/kad/static/site.css", "/-/kad/static/map.js",
           "/clinic/site/no-such-clinic"]
DATASETTE_HTML = ["/ketamine", "/ketamine/clinics", "/ketamine/clinics/site~3Asynthetic-a",
                  "/ketamine?sql=select+1", "/-/versions", "/no-such-page"]
OTHER = ["/ketamine/clinics.json", "/ketamine/clinics.csv", "/-/static/app.css",
         "/-/static-plugins/datasette-leaflet/leaflet-v1.7.1.min.js", "/ketamine.db", "/state"]


@pytest.fixture(scope="module")
def responses(tmp_path_factory):
    db_path = build(tmp_path_factory.mktemp("headers"), feeds={"clinic_site": [
        synthetic("A", postal_code="78701", insurers=["Aetna"])]}).db_path

    async def fetch_all():
        ds = Datasette(immutables=[str(db_path)], metadata=METADATA, plugins_dir=str(ROOT / "plugins"),
                       template_dir=str(ROOT / "templates"))
        await ds.invoke_startup()
        return {path: await ds.client.get(path) for path in PATIENT + DATASETTE_HTML + OTHER}

    return asyncio.run(fetch_all())


@pytest.mark.parametrize("path", PATIENT + DATASETTE_HTML + OTHER)
def test_every_response_says_nosniff(responses, path):
    assert responses[path].headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", PATIENT + DATASETTE_HTML + OTHER)
def test_every_response_keeps_search_addresses_on_the_site(responses, path):
    assert responses[path].headers["referrer-policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("path", PATIENT + OTHER)
def test_patient_pages_and_files_allow_no_inline_script_or_style(responses, path):
    policy = responses[path].headers["content-security-policy"]
    assert ("script-src 'self';" in policy, "style-src 'self';" in policy, "unsafe" in policy) == (True, True, False)


@pytest.mark.parametrize("path", DATASETTE_HTML)
def test_datasettes_own_pages_allow_the_inline_script_they_write(responses, path):
    assert "script-src 'self' 'unsafe-inline';" in responses[path].headers["content-security-policy"]


@pytest.mark.parametrize("path", PATIENT + DATASETTE_HTML + OTHER)
def test_every_policy_forbids_framing_plugins_and_other_origins(responses, path):
    policy = responses[path].headers["content-security-policy"]
    assert ("default-src 'none'" in policy, "frame-ancestors 'none'" in policy, "base-uri 'none'" in policy,
            "form-action 'self'" in policy) == (True, True, True, True)


def test_map_tiles_are_the_only_images_from_elsewhere(responses):
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in responses["/"].headers["content-security-policy"]


def test_one_header_of_each(responses):
    names = [name.lower() for name, _ in responses["/"].headers.multi_items()]
    headers = ("content-security-policy", "x-content-type-options", "referrer-policy")
    assert [names.count(header) for header in headers] == [1, 1, 1]
