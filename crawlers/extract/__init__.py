"""Reusable extraction for clinic web pages, so spiders stay small; one module per concern:

* ``structured``: every JSON-LD and microdata item of a page (``structured_items``) and the
  schema.org clinic places they describe (``structured_places``), including ``@graph``,
  top-level lists, locations nested under an organisation and nodes with a list of addresses.
* ``text``: the visible text as segments (paragraphs, list items, table rows, lines of an
  address), each with the heading or paragraph that introduces it; sentences; postal addresses
  and phone numbers written in the text.
* ``statements``: clauses with their scope (a denial, an exception, a plan for the future, a
  question and its answer), and the treatments and conditions a page states it offers.
* ``insurance``, ``prices``: insurers taken or refused and how each treatment is paid; prices.
* ``names``: the site's own name from og:site_name, its title or its footer.
* ``page``: everything one page says (``page_facts``) and one site's facts (``merge_facts``).
* ``links``: same-site links worth following (``follow_links``), ``same_site``.

Text is read conservatively: insurers only in statements about insurance, prices only with
words that say what they pay for, an insurance status only where the page names the treatment,
and never from a denial, a hedge or an open question. A fact that is not on the page stays
``None`` or ``[]``.
"""

from crawlers.extract.insurance import InsuranceFacts, best_status, insurance_facts
from crawlers.extract.links import follow_links, is_location_page, same_site, site_host
from crawlers.extract.names import footer_name, site_name, title_name
from crawlers.extract.page import PageFacts, clinician_types, financing, merge_facts, page_facts
from crawlers.extract.prices import price_facts
from crawlers.extract.statements import offered, statements
from crawlers.extract.structured import Place, schema_types, structured_items, structured_places
from crawlers.extract.text import Segment, first_phone, page_phone, parse_address, segments, sentences, text_addresses

__all__ = [
    "InsuranceFacts", "best_status", "insurance_facts", "follow_links", "is_location_page", "same_site",
    "site_host", "footer_name", "site_name", "title_name", "PageFacts", "clinician_types", "financing",
    "merge_facts", "page_facts", "price_facts", "offered", "statements", "Place", "schema_types",
    "structured_items", "structured_places", "Segment", "first_phone", "page_phone", "parse_address",
    "segments", "sentences", "text_addresses",
]
