"""clinic_site against saved pages (tests/files/clinic_site/): one site of five pages with
JSON-LD, and single home pages with @graph, a JSON-LD list, microdata, no structured data and
no facts at all. Items are parsed once, at module level; each test checks one field."""

import pytest
from scrapy import Request

from crawlers.items import CLINIC_FIELDS, INSURANCE_STATUSES, LIST_FIELDS
from crawlers.spiders.clinic_site import ClinicSiteSpider, Seed, load_seeds
from utils import crawl_offline, start_requests

AUSTIN = "https://synthetic-austin.example.com/"
AUSTIN_PAGES = {
    AUSTIN: "clinic_site/austin_home.html",
    AUSTIN + "insurance/": "clinic_site/austin_insurance.html",
    AUSTIN + "pricing": "clinic_site/austin_pricing.html",
    AUSTIN + "contact-us/": "clinic_site/austin_contact.html",
    AUSTIN + "faq/": "clinic_site/austin_faq.html",
}


def crawl_home(name, **spider_args):
    url = f"https://{name.replace('_', '-')}.example.com/"
    return crawl_offline(ClinicSiteSpider(start_urls=url, **spider_args),
                         {url: f"clinic_site/{name}.html"})[0]


austin_items, austin_requested = crawl_offline(ClinicSiteSpider(start_urls=AUSTIN), AUSTIN_PAGES)
austin = austin_items[0]
graph_items = crawl_home("graph_home")
list_items = crawl_home("list_home")
microdata_items = crawl_home("microdata_home")
plain_items = crawl_home("plain_home")
empty_items = crawl_home("empty")
titled_items = crawl_home("titled_home")
footer_items = crawl_home("footer_home")
CHAIN = "https://synthetic-chain.example.com/"
chain_items, _ = crawl_offline(ClinicSiteSpider(start_urls=CHAIN), {
    CHAIN: "clinic_site/chain_home.html", CHAIN + "locations/dallas/": "clinic_site/chain_dallas.html"})
ALL_ITEMS = (austin_items + graph_items + list_items + microdata_items + plain_items + empty_items + titled_items
             + footer_items + chain_items)


# --- the Austin site: JSON-LD home page, insurance, pricing, contact and FAQ pages ---------

def test_austin_one_item():
    assert len(austin_items) == 1


def test_austin_follows_useful_same_site_links_only():
    assert austin_requested == [AUSTIN, AUSTIN + "insurance/", AUSTIN + "pricing",
                                AUSTIN + "contact-us/", AUSTIN + "faq/"]


def test_austin_source_id():
    assert austin["source_id"] == "site:synthetic-ketamine-clinic-of-austin-austin"


def test_austin_name():
    assert austin["name"] == "Synthetic Ketamine Clinic of Austin"


def test_austin_operator():
    assert austin["operator"] == "Synthetic Health Partners LLC"


def test_austin_street():
    assert austin["street"] == "100 Congress Ave, Suite 200"


def test_austin_city():
    assert austin["city"] == "Austin"


def test_austin_state_as_written():  # the normalise pipeline makes it TX
    assert austin["state"] == "Texas"


def test_austin_postal_code_as_written():
    assert austin["postal_code"] == "78701-4042"


def test_austin_phone():
    assert austin["phone"] == "+1-512-555-0142"


def test_austin_website():
    assert austin["website"] == AUSTIN


def test_austin_coordinates():
    assert (austin["latitude"], austin["longitude"]) == (30.265, -97.7445)


def test_austin_treatments():
    assert austin["treatments"] == ["iv_ketamine", "esketamine_spravato"]


def test_austin_conditions():
    assert austin["conditions"] == ["treatment_resistant_depression", "ptsd", "anxiety", "chronic_pain"]


def test_austin_insurers_from_the_in_network_list():
    assert austin["insurers"] == ["Aetna", "Blue Cross and Blue Shield of Texas",
                                  "United Healthcare/Optum", "TRICARE", "Synthetic Mutual Health Plan"]


def test_austin_spravato_in_network():
    assert austin["spravato_insurance"] == "in_network"


def test_austin_ketamine_superbill():
    assert austin["ketamine_insurance"] == "superbill"


def test_austin_medicaid_refused():
    assert austin["accepts_medicaid"] is False


def test_austin_medicare_unknown():  # only a menu link says "Medicare"
    assert austin["accepts_medicare"] is None


def test_austin_tricare():
    assert austin["accepts_tricare"] is True


def test_austin_virginia_address_is_not_the_va():
    assert austin["va_community_care"] is None


def test_austin_financing():
    assert austin["financing"] == ["CareCredit", "Cherry"]


def test_austin_price_initial():
    assert austin["price_initial_usd"] == 550


def test_austin_price_subsequent():
    assert austin["price_subsequent_usd"] == 450


def test_austin_price_series():
    assert austin["price_series_usd"] == 2400


def test_austin_series_count():
    assert austin["series_count"] == 6


def test_austin_price_consultation():
    assert austin["price_consultation_usd"] == 200


def test_austin_rems():
    assert austin["spravato_rems_certified"] is True


def test_austin_clinician_types():
    assert austin["clinician_types"] == ["anesthesiologist"]


def test_austin_sources_are_the_pages_with_facts():
    assert austin["sources"] == [AUSTIN, AUSTIN + "insurance/", AUSTIN + "pricing", AUSTIN + "contact-us/"]


# --- @graph with two locations under an organisation ----------------------------------------

def test_graph_one_item_per_location():
    assert [i["city"] for i in graph_items] == ["Denver", "Boulder"]


def test_graph_location_names():
    assert graph_items[0]["name"] == "Synthetic Ketamine Partners Denver"


def test_graph_operator_is_the_organisation():
    assert {i["operator"] for i in graph_items} == {"Synthetic Ketamine Partners"}


def test_graph_phone_per_location():
    assert [i["phone"] for i in graph_items] == ["(303) 555-0110", "303-555-0111"]


def test_graph_coordinates_numeric():
    assert graph_items[0]["latitude"] == 39.748


def test_graph_ids_differ():
    assert len({i["source_id"] for i in graph_items}) == 2


def test_graph_price_per_infusion():
    assert graph_items[0]["price_initial_usd"] == 400


def test_graph_free_consultation():
    assert graph_items[0]["price_consultation_usd"] == 0


def test_graph_conditions():
    assert graph_items[0]["conditions"] == ["depression", "ocd", "bipolar_depression"]


# --- a JSON-LD list: Organization, Physician and MedicalClinic ------------------------------

def test_list_clinic_wins_over_physician():
    assert [i["name"] for i in list_items] == ["Synthetic Desert Ketamine"]


def test_list_address_string_parsed():
    assert (list_items[0]["street"], list_items[0]["city"], list_items[0]["state"],
            list_items[0]["postal_code"]) == ("2200 N Central Ave", "Phoenix", "AZ", "85004")


def test_list_insurers_from_sentence():
    assert list_items[0]["insurers"] == ["cigna", "humana"]


def test_list_spravato_in_network():
    assert list_items[0]["spravato_insurance"] == "in_network"


def test_list_ketamine_case_by_case():
    assert list_items[0]["ketamine_insurance"] == "case_by_case"


def test_list_series():
    assert (list_items[0]["price_series_usd"], list_items[0]["series_count"]) == (1200, 3)


def test_list_treatments():
    assert list_items[0]["treatments"] == ["ketamine_assisted_psychotherapy", "oral_ketamine",
                                           "esketamine_spravato"]


# --- microdata -------------------------------------------------------------------------------

def test_microdata_name():
    assert microdata_items[0]["name"] == "Synthetic Sound Ketamine"


def test_microdata_address():
    assert (microdata_items[0]["street"], microdata_items[0]["postal_code"]) == ("700 Synthetic Pl", "98101")


def test_microdata_public_insurers():
    item = microdata_items[0]
    assert (item["accepts_medicare"], item["accepts_tricare"], item["va_community_care"]) == (True, True, True)


def test_microdata_ketamine_in_network():
    assert microdata_items[0]["ketamine_insurance"] == "in_network"


def test_microdata_prices_in_one_sentence():
    assert (microdata_items[0]["price_initial_usd"], microdata_items[0]["price_subsequent_usd"]) == (500, 400)


def test_microdata_clinicians():
    assert microdata_items[0]["clinician_types"] == ["emergency_physician", "crna"]


# --- no structured data ------------------------------------------------------------------------

def test_plain_name_from_og_site_name():
    assert plain_items[0]["name"] == "Synthetic Mind Clinic"


def test_plain_address_from_text():
    item = plain_items[0]
    assert (item["street"], item["city"], item["state"], item["postal_code"]) == (
        "2500 Synthetic Blvd Suite 10", "Portland", "OR", "97205")


def test_plain_phone_from_tel_link():
    assert plain_items[0]["phone"] == "(503) 555-0150"


def test_plain_not_covered():
    assert plain_items[0]["ketamine_insurance"] == "not_covered"


def test_plain_no_coordinates():
    assert (plain_items[0]["latitude"], plain_items[0]["longitude"]) == (None, None)


# --- a site named only in its title, or in its footer -----------------------------------------

def test_name_from_the_title():
    assert titled_items[0]["name"] == "Synthetic Titled Clinic"


def test_name_from_the_footer():
    assert footer_items[0]["name"] == "Synthetic Footer Clinic, PLLC"


# --- a location page without structured data beside a home page with it ----------------------

def test_chain_one_item_per_location_page():
    assert [item["city"] for item in chain_items] == ["Austin", "Dallas"]


def test_chain_location_page_street():
    assert chain_items[1]["street"] == "9 Synthetic Loop"


def test_chain_location_page_named_by_the_site():
    assert chain_items[1]["name"] == "Synthetic Chain Ketamine"


# --- a page with nothing on it: an empty record (the validate pipeline drops it) ----------

def test_empty_page_has_no_name():
    assert empty_items[0]["name"] is None


def test_empty_page_has_no_sources():
    assert empty_items[0]["sources"] == []


# --- invariants over every item --------------------------------------------------------------

@pytest.mark.parametrize("item", ALL_ITEMS)
def test_every_contract_key_in_order(item):
    assert list(item) == list(CLINIC_FIELDS)


@pytest.mark.parametrize("item", ALL_ITEMS)
def test_list_fields_are_lists(item):
    assert all(isinstance(item[key], list) for key in LIST_FIELDS)


@pytest.mark.parametrize("item", ALL_ITEMS)
def test_insurance_statuses_are_known(item):
    assert {item["ketamine_insurance"], item["spravato_insurance"]} <= set(INSURANCE_STATUSES)


@pytest.mark.parametrize("item", ALL_ITEMS)
def test_sources_are_on_the_clinic_site(item):
    assert all(url.startswith(item["website"]) for url in item["sources"])


@pytest.mark.parametrize("item", ALL_ITEMS)
def test_retrieved_at_is_utc(item):
    assert item["retrieved_at"].endswith("Z")


@pytest.mark.parametrize("item", ALL_ITEMS)
def test_no_npi_or_taxonomy_from_a_website(item):
    assert (item["npi"], item["taxonomy"]) == (None, None)


# --- crawling behaviour ------------------------------------------------------------------------

def test_broken_pages_do_not_lose_the_site():
    pages = {AUSTIN: "clinic_site/austin_home.html", AUSTIN + "insurance/": 500,
             AUSTIN + "pricing": "clinic_site/austin_pricing.html"}
    items, _ = crawl_offline(ClinicSiteSpider(start_urls=AUSTIN), pages)
    assert [(i["name"], i["price_initial_usd"], i["insurers"]) for i in items] == [
        ("Synthetic Ketamine Clinic of Austin", 550, [])]


def test_failed_home_page_yields_nothing():
    assert crawl_offline(ClinicSiteSpider(start_urls=AUSTIN), {AUSTIN: 503}) == ([], [AUSTIN])


def test_max_pages_bounds_the_links():
    _, requested = crawl_offline(ClinicSiteSpider(start_urls=AUSTIN, max_pages="2"), AUSTIN_PAGES)
    assert requested == [AUSTIN, AUSTIN + "insurance/", AUSTIN + "pricing"]


def test_start_urls_argument():
    spider = ClinicSiteSpider(start_urls=f"{AUSTIN}, https://www.synthetic-two.example.com/")
    assert [r.url for r in start_requests(spider)] == [AUSTIN, "https://www.synthetic-two.example.com/"]


def test_allowed_domains_are_the_start_hosts():
    spider = ClinicSiteSpider(start_urls=f"{AUSTIN},https://www.synthetic-two.example.com/")
    assert spider.allowed_domains == ["synthetic-austin.example.com", "synthetic-two.example.com"]


def test_followed_requests_keep_their_site():
    spider = ClinicSiteSpider(start_urls=AUSTIN)
    request = start_requests(spider)[0]
    assert isinstance(request, Request) and request.cb_kwargs["site"].seed.url == AUSTIN


def test_seed_fallback_for_name_and_state():
    spider = ClinicSiteSpider(start_urls="https://empty.example.com/")
    spider.seeds = [Seed("https://empty.example.com/", "Synthetic Seed Clinic", "Austin", "TX",
                         ["https://news.example.com/synthetic-story"])]
    items, _ = crawl_offline(spider, {"https://empty.example.com/": "clinic_site/empty.html"})
    assert [(i["name"], i["state"], i["city"], i["sources"]) for i in items] == [
        ("Synthetic Seed Clinic", "TX", "Austin", ["https://news.example.com/synthetic-story"])]


def test_seed_file_gives_one_seed_per_website():
    seeds = load_seeds()
    assert len({s.url for s in seeds}) == len(seeds) > 100


def test_shared_websites_give_no_fallback():
    shared = [s for s in load_seeds() if s.url == "https://ketamc.com/"]
    assert [(s.name, s.state) for s in shared] == [(None, None)]


moved_items, moved_requested = crawl_offline(ClinicSiteSpider(start_urls=AUSTIN), {
    **AUSTIN_PAGES, AUSTIN + "pricing": (301, "/prices/2025"),
    AUSTIN + "prices/2025": "clinic_site/austin_pricing.html"})


def test_same_site_redirect_followed():
    assert (AUSTIN + "prices/2025" in moved_requested, moved_items[0]["price_initial_usd"]) == (True, 550)


def test_redirected_page_is_the_source():
    assert AUSTIN + "prices/2025" in moved_items[0]["sources"]


def test_offsite_redirect_not_followed():
    pages = {**AUSTIN_PAGES, AUSTIN + "pricing": (302, "https://payments.example.org/prices")}
    items, requested = crawl_offline(ClinicSiteSpider(start_urls=AUSTIN), pages)
    assert ("https://payments.example.org/prices" in requested, len(items), items[0]["price_initial_usd"]) == (
        False, 1, None)


def test_redirect_to_a_page_already_asked_for_is_not_fetched_again():
    pages = {**AUSTIN_PAGES, AUSTIN + "faq/": (301, AUSTIN + "pricing")}
    _, requested = crawl_offline(ClinicSiteSpider(start_urls=AUSTIN), pages)
    assert requested.count(AUSTIN + "pricing") == 1


def test_home_page_redirect_to_www():
    www = "https://www.synthetic-austin.example.com/"
    pages = {AUSTIN: (301, www), www: "clinic_site/austin_home.html"}
    items, _ = crawl_offline(ClinicSiteSpider(start_urls=AUSTIN), pages)
    assert items[0]["sources"][0] == www  # the website stays the one its JSON-LD names


def test_redirect_loop_stops():
    pages = {AUSTIN: (302, AUSTIN + "a"), AUSTIN + "a": (302, AUSTIN + "b"), AUSTIN + "b": (302, AUSTIN + "a")}
    assert crawl_offline(ClinicSiteSpider(start_urls=AUSTIN), pages) == ([], [AUSTIN, AUSTIN + "a", AUSTIN + "b"])
