"""insurer_policy against saved policy pages (tests/files/insurer_policy/) and a synthetic
curated-policies file that points at them: labelled fields, meta tags and JSON-LD, a definition
list, a page stating nothing, a PDF and a page that is gone. Items are made once, at module
level; each test checks one field."""

import pytest
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawlers.items import POLICY_PAGE_FIELDS
from crawlers.policy import CuratedPolicy, differences, parse_date, parse_policy_id, policy_facts
from crawlers.spiders.insurer_policy import InsurerPolicySpider, policy_pages
from utils import FILES, crawl_offline

POLICIES = FILES / "insurer_policy" / "policies.yml"
BASE = "https://synthetic-plan.example.com/policies/"
PAGES = {BASE + name: f"insurer_policy/{name}" + ("" if name.endswith(".pdf") else ".html")
         for name in ("labelled", "structured", "definitions", "none", "policy.pdf")}

spider = InsurerPolicySpider.from_crawler(get_crawler(InsurerPolicySpider), policies=str(POLICIES))
ITEMS, REQUESTED = crawl_offline(spider, PAGES)
BY_ROW = {item["policy_row"]: item for item in ITEMS}
agrees = BY_ROW["cigna:commercial:US:esketamine_spravato:treatment_resistant_depression"]
reviewed = BY_ROW["cigna:commercial:US:esketamine_spravato:suicidal_ideation"]
structured = BY_ROW["aetna:commercial:US:iv_ketamine:chronic_pain"]
definitions = BY_ROW["unitedhealthcare:commercial:US:esketamine_spravato:depression"]
nothing = BY_ROW["humana:commercial:US:iv_ketamine:ptsd"]
pdf = BY_ROW["molina-healthcare:medicaid:TX:esketamine_spravato:depression"]
gone = BY_ROW["kaiser-permanente:commercial:US:iv_ketamine:depression"]


# --- which pages and rows ------------------------------------------------------------------

def test_one_request_per_page():
    assert REQUESTED == [BASE + name for name in ("labelled", "structured", "definitions", "none", "policy.pdf", "gone")]


def test_one_item_per_named_row():
    assert len(ITEMS) == 7


def test_row_without_number_or_title_not_fetched():
    assert BASE + "unnamed" not in REQUESTED


def test_row_the_build_leaves_out_counted():
    assert (policy_pages(POLICIES)[1], spider.crawler.stats.get_value("insurer_policy/rows_left_out")) == (1, 1)


def test_shared_page_gives_one_item_per_row():
    assert [i["url"] for i in ITEMS].count(BASE + "labelled") == 2


# --- labelled text (a header table) ----------------------------------------------------------

def test_labelled_policy_id():
    assert agrees["found_policy_id"] == "SYN-0042"


def test_labelled_title_from_the_heading():
    assert agrees["found_title"] == "Esketamine Nasal Spray (Spravato) - Synthetic Medical Policy"


def test_labelled_effective_date_not_the_original():
    assert agrees["found_effective_date"] == "2026-01-01"


def test_labelled_last_review_not_the_next():
    assert agrees["found_last_reviewed"] == "2025-03-03"


def test_agreeing_page_differs_in_nothing():
    assert agrees["differs"] == []


def test_new_review_date_differs():
    assert reviewed["differs"] == ["last_reviewed"]


def test_labelled_sources():
    assert agrees["sources"] == [BASE + "labelled"]


def test_labelled_no_error():
    assert agrees["error"] is None


# --- meta tags and JSON-LD win over labelled text --------------------------------------------

def test_meta_policy_id():
    assert structured["found_policy_id"] == "SYN.9907.B"


def test_json_ld_title():
    assert structured["found_title"] == "Ketamine Infusion for Depression and Chronic Pain"


def test_meta_effective_date():
    assert structured["found_effective_date"] == "2025-07-01"


def test_json_ld_last_reviewed():
    assert structured["found_last_reviewed"] == "2025-06-15"


def test_other_title_and_dates_the_row_lacks_differ():
    assert structured["differs"] == ["title", "effective_date", "last_reviewed"]


# --- a definition list ------------------------------------------------------------------------

def test_definition_policy_id():
    assert definitions["found_policy_id"] == "9908-A"


def test_definition_bare_title():
    assert definitions["found_title"] == "Spravato (esketamine) for major depressive disorder with suicidal ideation"


def test_definition_abbreviated_month():
    assert definitions["found_effective_date"] == "2026-01-05"


def test_definition_month_only():
    assert definitions["found_last_reviewed"] == "2025-05"


def test_definition_agrees():
    assert definitions["differs"] == []


# --- nothing stated, a PDF, a page that is gone ------------------------------------------------

@pytest.mark.parametrize("field", ["found_policy_id", "found_title", "found_effective_date", "found_last_reviewed"])
def test_page_stating_nothing(field):
    assert nothing[field] is None


def test_page_stating_nothing_differs_in_nothing():
    assert nothing["differs"] == []


def test_pdf_not_read():
    assert (pdf["error"], pdf["found_policy_id"]) == ("pdf_not_read", None)


@pytest.mark.parametrize("key, value", [
    ("pages", 6), ("rows", 7), ("read", 4), ("skipped/pdf", 1), ("failed/http_404", 1), ("differs", 2),
    ("found/policy_id", 3), ("found/last_reviewed", 3),
])
def test_stats(key, value):
    assert spider.crawler.stats.get_value(f"insurer_policy/{key}") == value


def test_gone_page_still_yields_its_row():
    assert (gone["error"], gone["differs"], gone["sources"]) == ("http_404", [], [BASE + "gone"])


@pytest.mark.parametrize("item", ITEMS)
def test_every_key_in_order(item):
    assert list(item) == list(POLICY_PAGE_FIELDS)


# --- single labels ----------------------------------------------------------------------------

def facts(html):
    return policy_facts(HtmlResponse("https://synthetic-plan.example.com/p", body=html.encode(), encoding="utf-8"))


@pytest.mark.parametrize("html, field, value", [
    ("<p>Number: 0938</p>", "policy_id", "0938"),
    ("<p>Member phone number: 512-555-0100</p>", "policy_id", None),
    ("<p>Clinical Policy No. MP-12.3</p>", "policy_id", "MP-12.3"),
    ("<p>The policy number is 12 and the effective date is 2025-01-01.</p>", "policy_id", None),
    ("<p>The policy number is 12 and the effective date is 2025-01-01.</p>", "effective_date", None),
    ("<tr><th>Effective Date</th><td>2025-02-01</td></tr>", "effective_date", "2025-02-01"),
    ("<p>Date of Last Review: 7/4/25</p>", "last_reviewed", "2025-07-04"),
    ("<p>Next Review Date: 01/01/2027</p>", "last_reviewed", None),
    ("<p>Original Effective Date: 01/01/2015</p>", "effective_date", None),
    ('<meta name="last-reviewed" content="2024-12-01">', "last_reviewed", "2024-12-01"),
    ('<meta name="dc.title" content="Synthetic Ketamine Policy"><h1>Other</h1>', "title", "Synthetic Ketamine Policy"),
    ("<title>Synthetic Policy Page</title>", "title", "Synthetic Policy Page"),
])
def test_label(html, field, value):
    assert facts(html)[field] == value


@pytest.mark.parametrize("text, value", [
    ("2025-03-14", "2025-03-14"), ("3/14/2025", "2025-03-14"), ("March 14, 2025", "2025-03-14"),
    ("Mar. 14 2025", "2025-03-14"), ("14 March 2025", "2025-03-14"), ("March 2025", "2025-03"),
    ("03/2025", "2025-03"), ("02/30/2025", None), ("soon", None), ("13/2025", None),
])
def test_parse_date(text, value):
    assert parse_date(text) == value


@pytest.mark.parametrize("text, value", [("CPB 0938 (revised)", "CPB 0938"), ("II-271-00111", "II-271-00111"),
                                         ("Medical Necessity", None)])
def test_parse_policy_id(text, value):
    assert parse_policy_id(text) == value


# --- comparing -------------------------------------------------------------------------------

ROW = CuratedPolicy("aetna:commercial:US:iv_ketamine:depression", BASE, policy_id="CPB 0938",
                    title="Ketamine for the Treatment of Depression", effective_date="2025-01-01")


@pytest.mark.parametrize("found, differs", [
    ({"policy_id": "0938"}, []),
    ({"policy_id": "0939"}, ["policy_id"]),
    ({"title": "Ketamine for the Treatment of Depression | Synthetic Plan"}, []),
    ({"title": "Esketamine"}, ["title"]),
    ({"effective_date": "2025-01"}, []),
    ({"effective_date": "2026-01-01"}, ["effective_date"]),
    ({"last_reviewed": "2026-01-01"}, []),  # the row keeps an effective date: nothing to compare
    ({}, []),
])
def test_differences(found, differs):
    assert differences(found, ROW) == differs
