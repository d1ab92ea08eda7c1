"""Extraction that reads statements, not words (crawlers/extract/): each behaviour with the
sentence that triggers it. Denials, hedges and open questions add nothing; self-pay wording is
"not covered"; a JSON-LD node with a list of addresses gives every location; a site's name comes
from og:site_name, its title or its footer; `same_site` compares the port."""

import pytest
from scrapy.http import HtmlResponse

from crawlers import extract

URL = "https://synthetic.example.com/"


def page(body, head="", url=URL):
    html = f"<html><head>{head}</head><body>{body}</body></html>"
    return HtmlResponse(url, body=html.encode(), encoding="utf-8")


def facts(body, head=""):
    return extract.page_facts(page(body, head))


def site(body):
    return extract.merge_facts([facts(body)])


# -- treatments and conditions: denials, exceptions, plans, questions -----------------------------

@pytest.mark.parametrize("body, expected", [
    ("<p>We treat depression and anxiety. We do not treat bipolar disorder or eating disorders.</p>",
     ["depression", "anxiety"]),
    ("<p>We treat depression, but not bipolar depression.</p>", ["depression"]),
    ("<p>We treat all mood disorders except bipolar disorder.</p>", []),
    ("<p>Ketamine is not recommended for people with bipolar disorder.</p>", []),
    ("<p>Conditions we do not treat:</p><ul><li>Bipolar disorder</li><li>Eating disorders</li></ul>", []),
    ("<h3>Do you treat OCD?</h3><p>No, our clinic focuses on depression.</p>", ["depression"]),
    ("<h3>Can ketamine help with OCD?</h3><p>Research on this is still early.</p>", []),
])
def test_conditions_read_from_statements(body, expected):
    assert facts(body).conditions == expected


@pytest.mark.parametrize("body, expected", [
    ("<h3>Do you treat OCD?</h3><p>Yes, and PTSD as well.</p>", ["ocd", "ptsd"]),
    ("<p>It is for depression that has not been treated successfully with medicines.</p>", ["depression"]),
])
def test_conditions_stated_or_described_still_count(body, expected):
    """Guards against reading too much as a denial: a question answered "yes", a patient's history."""
    assert facts(body).conditions == expected


@pytest.mark.parametrize("body, expected", [
    ("<h3>Do you offer Spravato?</h3><p>No, we only offer IV ketamine infusions.</p>", ["iv_ketamine"]),
    ("<p>Do you offer Spravato? No, we only offer IV ketamine infusions.</p>", ["iv_ketamine"]),
    ("<p>Spravato (esketamine) treatment is coming soon.</p>", []),
    ("<p>We plan to offer Spravato next year.</p>", []),
    ("<p>We no longer offer IM ketamine.</p>", []),
])
def test_treatments_read_from_statements(body, expected):
    assert facts(body).treatments == expected


# -- insurers: hedges, exceptions and answers -----------------------------------------------------

@pytest.mark.parametrize("body, field, expected", [
    ("<p>Insurance plans such as Aetna may cover Spravato.</p>", "insurers", []),
    ("<p>Depending on your plan, we accept Cigna for Spravato.</p>", "insurers", []),
    ("<p>We accept all major insurance plans except Medicaid.</p>", "accepts_medicaid", False),
    ("<h3>Do you accept Medicaid?</h3><p>No. Medicaid does not pay for this treatment.</p>", "accepts_medicaid",
     False),
    ("<h3>Do you accept Medicare?</h3><p>Please call us to ask.</p>", "accepts_medicare", None),
    ("<h3>Is IV ketamine covered by insurance?</h3><p>No, insurers treat it as off-label.</p>",
     "ketamine_insurance", "not_covered"),
])
def test_insurers_read_from_statements(body, field, expected):
    assert site(body)[field] == expected


@pytest.mark.parametrize("body, field, expected", [
    ("<p>Insurance plans such as Aetna may cover Spravato.</p>", "spravato_insurance", "unknown"),
    ("<p>We accept Aetna, but not Cigna.</p>", "insurers", ["aetna"]),
    ("<h3>Do you accept Medicare?</h3><p>Yes, for Spravato.</p>", "accepts_medicare", True),
])
def test_insurers_stated_still_count(body, field, expected):
    """Guards: a hedge is not "in network", a "but not" refuses only what follows it, a "yes" states."""
    assert site(body)[field] == expected


@pytest.mark.parametrize("sentence", [
    "Ketamine infusions are self-pay.",
    "IV ketamine is cash pay only.",
    "Ketamine therapy is private pay.",
    "Our ketamine infusions are a cash-only service.",
])
def test_self_pay_wording_is_not_covered(sentence):
    assert site(f"<p>{sentence}</p>")["ketamine_insurance"] == "not_covered"


def test_self_pay_rates_for_the_uninsured_are_not_a_refusal():
    assert site("<p>Ketamine infusions: self-pay rates for patients without insurance.</p>")[
        "ketamine_insurance"] == "unknown"


# -- locations: every address of a node ------------------------------------------------------------

ADDRESS_LIST = """<script type="application/ld+json">{"@type": "MedicalClinic", "name": "Synthetic Two Sites",
 "telephone": "512-555-0180", "address": [
  {"@type": "PostalAddress", "streetAddress": "1 Synthetic Way", "addressLocality": "Austin",
   "addressRegion": "TX", "postalCode": "78701"},
  {"@type": "PostalAddress", "streetAddress": "9 Synthetic Loop", "addressLocality": "Dallas",
   "addressRegion": "TX", "postalCode": "75201"}]}</script>"""


def test_every_address_of_a_node_is_a_location():
    locations, _ = extract.structured_places(page("", head=ADDRESS_LIST))
    assert [(p.name, p.street, p.city, p.phone) for p in locations] == [
        ("Synthetic Two Sites", "1 Synthetic Way", "Austin", "512-555-0180"),
        ("Synthetic Two Sites", "9 Synthetic Loop", "Dallas", "512-555-0180")]


@pytest.mark.parametrize("url, expected", [
    ("https://synthetic.example.com/locations/dallas", True),
    ("https://synthetic.example.com/office/fort-worth-tx/", True),
    ("https://synthetic.example.com/locations/", False),
    ("https://synthetic.example.com/contact", False),
])
def test_location_pages(url, expected):
    assert extract.is_location_page(url) is expected


# -- the site's own name -------------------------------------------------------------------------------

@pytest.mark.parametrize("head, body, expected", [
    ('<meta property="og:site_name" content="Synthetic Open Graph Clinic"><title>Home</title>', "",
     "Synthetic Open Graph Clinic"),
    ("<title>Synthetic Mind Clinic</title>", "", "Synthetic Mind Clinic"),
    ("<title>FAQ | Synthetic Mind Clinic</title>", "", "Synthetic Mind Clinic"),
    ("<title>Home - Synthetic Mind Clinic</title>", "", "Synthetic Mind Clinic"),
    ("<title>Synthetic Mind Clinic – Ketamine in Austin</title>", "", None),
    ("<title>Coming soon</title>", "", None),
    ("<title>Contact us</title>",
     "<footer><p>© 2025 Synthetic Footer Clinic, LLC. All rights reserved.</p></footer>",
     "Synthetic Footer Clinic, LLC"),
    ("", '<div class="site-footer">Copyright © 2019-2025 Synthetic Div Clinic | Privacy</div>',
     "Synthetic Div Clinic"),
    ("", "<footer><p>© 2025. All rights reserved.</p></footer>", None),
])
def test_site_name(head, body, expected):
    assert extract.site_name(page(body, head)) == expected


# -- same site: host and port ---------------------------------------------------------------------------

@pytest.mark.parametrize("url, home", [
    ("http://synthetic.example.com:8080/a", "http://synthetic.example.com/"),
    ("http://127.0.0.1:8001/faq", "http://127.0.0.1:8002/"),
    ("http://synthetic.example.com:notaport/a", "http://synthetic.example.com/"),
])
def test_another_port_is_another_site(url, home):
    assert extract.same_site(url, home) is False


@pytest.mark.parametrize("url, home", [
    ("http://127.0.0.1:8001/faq", "http://127.0.0.1:8001/"),
    ("https://www.synthetic.example.com/a", "http://synthetic.example.com/"),
    ("https://synthetic.example.com:443/a", "https://synthetic.example.com/"),
])
def test_the_same_host_and_port_is_the_same_site(url, home):
    """Guards: the scheme's own port, www. and a move to https stay on the site."""
    assert extract.same_site(url, home) is True
