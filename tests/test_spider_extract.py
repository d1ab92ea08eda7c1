"""The shared extraction helpers of crawlers/extract/, on small pieces of HTML."""

import pytest
from scrapy.http import HtmlResponse

from crawlers import extract

URL = "https://synthetic.example.com/"


def page(body, head=""):
    html = f"<html><head>{head}</head><body>{body}</body></html>"
    return HtmlResponse(URL, body=html.encode(), encoding="utf-8")


def prices(body):
    return extract.price_facts(extract.segments(page(body)))


def insurance(body):
    return extract.merge_facts([extract.page_facts(page(body))])


@pytest.mark.parametrize("body, expected", [
    ("<p>Initial infusion: $550</p>", {"price_initial_usd": 550}),
    ("<p>Each additional infusion - $450.00</p>", {"price_subsequent_usd": 450}),
    ("<p>Booster infusions are $395.</p>", {"price_subsequent_usd": 395}),
    ("<p>Package of 6 infusions: $2,400 (save $300)</p>", {"price_series_usd": 2400, "series_count": 6}),
    ("<p>A series of six infusions costs $2,700.</p>", {"price_series_usd": 2700, "series_count": 6}),
    ("<p>$250 initial consultation</p>", {"price_consultation_usd": 250}),
    ("<p>Initial infusion $500 (includes consultation)</p>", {"price_initial_usd": 500}),
    ("<dl><dt>Single infusion</dt><dd>$480</dd></dl>", {"price_initial_usd": 480}),
    ("<p>Free consultation for new patients.</p>", {"price_consultation_usd": 0}),
    ("<p>Infusions cost $400 - $600.</p>", {}),
    ("<p>A $100 deposit holds your appointment.</p>", {}),
    ("<p>Spravato sessions: $900 without insurance.</p>", {}),
    ("<p>NAD+ infusions are $300.</p>", {}),
    ("<p>Our parking garage charges $5.</p>", {}),
])
def test_prices(body, expected):
    assert prices(body) == expected


@pytest.mark.parametrize("body, field, expected", [
    ("<p>We accept Medicare for ketamine infusions.</p>", "accepts_medicare", True),
    ("<p>We do not accept Medicare.</p>", "accepts_medicare", False),
    ("<p>We are not in-network with Medicaid or TRICARE.</p>", "accepts_tricare", False),
    ("<p>Insurance: our office is at 1 Main St, Richmond, VA 23219.</p>", "va_community_care", None),
    ("<p>We accept insurance through the VA Community Care Network.</p>", "va_community_care", True),
    ("<p>We accept Aetna but do not accept Medicaid.</p>", "insurers", ["aetna"]),
    ("<p>Aetna is mentioned here without any context.</p>", "insurers", []),
    ("<p>We are in-network with Aetna for Spravato.</p>", "spravato_insurance", "in_network"),
    ("<p>We are in-network with Aetna for Spravato.</p>", "ketamine_insurance", "unknown"),
    ("<p>Insurance does not cover ketamine infusions.</p>", "ketamine_insurance", "not_covered"),
    ("<p>We are not in-network for ketamine infusions.</p>", "ketamine_insurance", "unknown"),
    ("<p>Coverage for IV ketamine is reviewed case by case.</p>", "ketamine_insurance", "case_by_case"),
    ("<p>We accept most insurance plans.</p>", "ketamine_insurance", "unknown"),
    ("<h2>Spravato</h2><p>We bill your insurance directly.</p>", "spravato_insurance", "in_network"),
    ("<p>Pay over time with CareCredit or Affirm financing.</p>", "financing", ["CareCredit", "Affirm"]),
    ("<p>Visit our Cherry Creek office.</p>", "financing", []),
])
def test_insurance_and_payment(body, field, expected):
    assert insurance(body)[field] == expected


def test_insurer_list_needs_an_insurance_introduction():
    body = "<p>Our team</p><ul><li>Aetna</li><li>Dr. Synthetic</li></ul>"
    assert insurance(body)["insurers"] == []


def test_insurer_list_keeps_unknown_names():
    body = "<p>Insurance plans we accept:</p><ul><li>Cigna</li><li>Synthetic Health Co-op</li></ul>"
    assert insurance(body)["insurers"] == ["Cigna", "Synthetic Health Co-op"]


def test_refusing_list():
    body = "<p>We do not accept these plans:</p><ul><li>Medicaid</li><li>Medicare</li></ul>"
    facts = insurance(body)
    assert (facts["insurers"], facts["accepts_medicaid"], facts["accepts_medicare"]) == ([], False, False)


@pytest.mark.parametrize("text, expected", [
    ("1200 Main Street, Suite 4, Austin, TX 78701", ("1200 Main Street Suite 4", "Austin", "TX", "78701")),
    ("77 Elm Ave, Denver, Colorado 80202-1234", ("77 Elm Ave", "Denver", "CO", "80202")),
    ("Austin, TX 78701", None),
    ("1 Main St, Springfield, ZZ 00000", None),
])
def test_parse_address(text, expected):
    assert extract.parse_address(text) == expected


def test_address_in_text_skips_phone_numbers():
    segs = extract.segments(page("<p>Call 512 555 0100 or visit 77 Elm Ave, Denver, CO 80202.</p>"))
    assert extract.text_addresses(segs) == [("77 Elm Ave", "Denver", "CO", "80202")]


def test_phone_skips_fax():
    response = page("<p>Fax: 512-555-0143. Phone: 512-555-0142</p>")
    assert extract.page_phone(response, extract.segments(response)) == "(512) 555-0142"


def test_segments_keep_list_context():
    segs = extract.segments(page("<h2>Insurance</h2><p>We accept:</p><ul><li>Aetna</li></ul>"))
    assert [(s.text, s.tag, s.context, s.heading) for s in segs] == [
        ("Insurance", "h2", "", ""), ("We accept:", "p", "Insurance", "Insurance"),
        ("Aetna", "li", "We accept:", "Insurance")]


def test_segments_skip_scripts_and_navigation():
    segs = extract.segments(page("<nav>Insurance</nav><script>var x = 1;</script><p>Hello</p>"))
    assert [s.text for s in segs] == ["Hello"]


def test_follow_links_same_site_and_ranked():
    body = """<a href="/faq">FAQ</a><a href="https://other.example.org/pricing">Prices elsewhere</a>
      <a href="/contact">Contact</a><a href="/our-fees/">Fees</a><a href="/blog/pricing-news">News</a>
      <a href="/about">About</a><a href="mailto:x@synthetic.example.com">Mail</a>
      <a href="https://www.synthetic.example.com/locations#map">Our offices</a><a href="/files/prices.pdf">PDF</a>"""
    assert extract.follow_links(page(body), 8) == [
        URL + "our-fees/", URL + "contact", "https://www.synthetic.example.com/locations", URL + "faq"]


def test_follow_links_limit():
    body = "".join(f'<a href="/services/{n}">Service {n}</a>' for n in range(20))
    assert len(extract.follow_links(page(body), 8)) == 8


def test_structured_data_outside_the_us_is_not_a_location():
    script = ('<script type="application/ld+json">{"@type": "MedicalClinic", "name": "Synthetic Abroad",'
              ' "address": {"streetAddress": "1 Synthetic Rd", "addressLocality": "Toronto",'
              ' "addressRegion": "ON", "addressCountry": "CA"}}</script>')
    locations, organisation = extract.structured_places(page("", head=script))
    assert (locations, organisation.name) == ([], "Synthetic Abroad")


def test_broken_json_ld_does_not_hide_microdata():
    head = '<script type="application/ld+json">{"@type": "MedicalClinic", "name": </script>'
    body = ('<div itemscope itemtype="https://schema.org/MedicalClinic"><span itemprop="name">'
            'Synthetic Micro</span></div>')
    _, organisation = extract.structured_places(page(body, head=head))
    assert organisation.name == "Synthetic Micro"


def test_phone_prefers_a_local_number():
    response = page('<p>Crisis? Call 1-800-555-0199.</p><a href="tel:+15125550142">Call us</a>')
    assert extract.page_phone(response, extract.segments(response)) == "(512) 555-0142"


def json_ld(data):
    return page("", head=f'<script type="application/ld+json">{data}</script>')


def test_region_with_zip_and_tel_prefix():
    locations, _ = extract.structured_places(json_ld(
        '{"@type": "MedicalClinic", "name": "Synthetic Region", "telephone": "tel:+15125550142",'
        ' "address": {"streetAddress": "1 Synthetic Rd", "addressLocality": "Austin", "addressRegion": "TX 78701"}}'))
    assert [(p.state, p.postal_code, p.phone) for p in locations] == [("TX", "78701", "+15125550142")]


def test_same_address_written_twice_is_one_location():
    locations, _ = extract.structured_places(json_ld(
        '[{"@type": "MedicalClinic", "name": "Synthetic A", "address": {"streetAddress": "1 Synthetic Road, Suite 4",'
        ' "addressLocality": "Austin", "addressRegion": "TX", "postalCode": "78701"}},'
        ' {"@type": "LocalBusiness", "name": "Synthetic A", "address": {"streetAddress": "1 synthetic rd ste 4",'
        ' "addressLocality": "Austin", "addressRegion": "TX", "postalCode": "78701-1234"}}]'))
    assert len(locations) == 1
