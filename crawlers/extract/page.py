"""Everything one page says about a clinic (``page_facts``), and the facts of one site from its
pages (``merge_facts``): financing, clinician types and Spravato REMS certification are read here;
the rest by the modules beside this one."""

import re
from dataclasses import dataclass, field

from kad import vocab

from crawlers.extract.insurance import InsuranceFacts, best_status, insurance_facts
from crawlers.extract.links import is_location_page
from crawlers.extract.names import site_name
from crawlers.extract.prices import price_facts
from crawlers.extract.statements import offered
from crawlers.extract.structured import Place, structured_places
from crawlers.extract.text import page_phone, segments, text_addresses

_FINANCING_CONTEXT = re.compile(
    r"\b(?:financ\w*|payment plans?|pay over time|monthly payments?|payment options?|credit|"
    r"loans?|installments?)\b", re.I)
FINANCING = (
    ("CareCredit", re.compile(r"\bcare\s?credit\b", re.I), False),
    ("Advance Care", re.compile(r"\badvance care(?: card)?\b", re.I), True),
    ("Cherry", re.compile(r"\bcherry\b", re.I), True),
    ("Affirm", re.compile(r"\baffirm\b", re.I), True),
    ("Klarna", re.compile(r"\bklarna\b", re.I), False),
    ("Sunbit", re.compile(r"\bsunbit\b", re.I), False),
    ("PayPal Credit", re.compile(r"\bpaypal credit\b", re.I), False),
    ("Prosper Healthcare Lending", re.compile(r"\bprosper healthcare lending\b", re.I), False),
    ("LendingClub", re.compile(r"\blending\s?club\b", re.I), False),
    ("Alphaeon Credit", re.compile(r"\balphaeon\b", re.I), False),
)
_REMS = re.compile(r"\bREMS\b[^.]{0,60}\bcertif|\bcertif\w*\b[^.]{0,60}\bREMS\b")
CLINICIANS = (
    ("anesthesiologist", re.compile(r"\banesthesiologists?\b", re.I)),
    ("psychiatrist", re.compile(r"\bpsychiatrists?\b", re.I)),
    ("emergency_physician", re.compile(
        r"\bemergency (?:medicine )?(?:physicians?|doctors?)\b|\bER (?:doctors?|physicians?)\b", re.I)),
    ("nurse_practitioner", re.compile(r"\bnurse practitioners?\b|\b(?:PMHNP|FNP|APRN)(?:-BC)?\b")),
    ("crna", re.compile(r"\bCRNAs?\b|\bnurse anesthetists?\b", re.I)),
)


def financing(segs):
    found = []
    for segment in segs:
        for name, pattern, needs_context in FINANCING:
            if name not in found and pattern.search(segment.text) and (
                    not needs_context or _FINANCING_CONTEXT.search(segment.text)):
                found.append(name)
    return found


def clinician_types(text):
    return [name for name, pattern in CLINICIANS if pattern.search(text)]


# One page, and one site

@dataclass
class PageFacts:
    url: str
    location_page: bool = False  # the page of one location (/locations/austin)
    locations: list = field(default_factory=list)  # Place objects with an address
    organisation: Place | None = None
    site_name: str | None = None  # og:site_name, title or footer (crawlers/extract/names.py)
    phone: str | None = None
    addresses: list = field(default_factory=list)  # (street, city, state, zip) from the text
    treatments: list = field(default_factory=list)
    conditions: list = field(default_factory=list)
    insurance: InsuranceFacts = field(default_factory=InsuranceFacts)
    prices: dict = field(default_factory=dict)
    financing: list = field(default_factory=list)
    rems_certified: bool = False
    clinician_types: list = field(default_factory=list)

    def has_facts(self):
        return any((
            self.locations, self.organisation and self.organisation.name, self.phone,
            self.addresses, self.treatments, self.conditions, self.insurance.accepted,
            self.insurance.refused, any(self.insurance.statuses.values()), self.prices,
            self.financing, self.rems_certified, self.clinician_types,
        ))


def page_facts(response):
    """Everything one HTML page says about the clinic."""
    locations, organisation = structured_places(response)
    segs = segments(response)
    text = " \n".join(s.text for s in segs)
    return PageFacts(
        url=response.url,
        location_page=is_location_page(response.url),
        locations=locations,
        organisation=organisation,
        site_name=site_name(response),
        phone=page_phone(response, segs),
        addresses=text_addresses(segs),
        treatments=offered(segs, vocab.treatments()),
        conditions=offered(segs, vocab.conditions()),
        insurance=insurance_facts(segs),
        prices=price_facts(segs),
        financing=financing(segs),
        rems_certified=bool(_REMS.search(text)),
        clinician_types=clinician_types(text),
    )


def _union(lists):
    out = []
    for values in lists:
        out.extend(v for v in values if v not in out)
    return out


def _insurer_kinds(names):
    insurers = vocab.insurers()
    ids, _ = insurers.map_names(names)
    return {insurers.entries[i].get("kind") for i in ids}


def _accepted_insurers(accepted, refused):
    """The names as the site wrote them (the vocabulary pipeline maps them), without an id
    the site's own names already give, nor one the site also says it does not take."""
    insurers = vocab.insurers()
    out, covered = [], set()
    for name in accepted:
        ids, _ = insurers.map_names([name])
        if ids and all(i in refused for i in ids):
            continue
        if name in insurers.entries and name in covered:
            continue
        out.append(name)
        covered.update(ids)
    return out


def merge_facts(pages):
    """The facts of one site from its pages (in crawl order: home page first)."""
    accepted = _union(p.insurance.accepted for p in pages)
    refused = _union(p.insurance.refused for p in pages)
    accepted_kinds, refused_kinds = _insurer_kinds(accepted), _insurer_kinds(refused)

    def flag(kind):  # pages that say both leave it unknown
        if kind in accepted_kinds:
            return None if kind in refused_kinds else True
        return False if kind in refused_kinds else None

    statuses = {"ketamine": set(), "spravato": set()}
    for page in pages:
        for treatment, found in page.insurance.statuses.items():
            statuses[treatment] |= found
    prices = {}
    for page in pages:
        for key, value in page.prices.items():
            prices.setdefault(key, value)
    if "price_series_usd" not in prices:
        prices.pop("series_count", None)
    return {
        "treatments": _union(p.treatments for p in pages),
        "conditions": _union(p.conditions for p in pages),
        "insurers": _accepted_insurers(accepted, refused),
        "ketamine_insurance": best_status(statuses["ketamine"]) or "unknown",
        "spravato_insurance": best_status(statuses["spravato"]) or "unknown",
        "accepts_medicare": flag("medicare"),
        "accepts_medicaid": flag("medicaid"),
        "accepts_tricare": flag("tricare"),
        "va_community_care": flag("va"),
        "financing": _union(p.financing for p in pages),
        "price_initial_usd": prices.get("price_initial_usd"),
        "price_subsequent_usd": prices.get("price_subsequent_usd"),
        "price_series_usd": prices.get("price_series_usd"),
        "series_count": prices.get("series_count"),
        "price_consultation_usd": prices.get("price_consultation_usd"),
        "spravato_rems_certified": True if any(p.rems_certified for p in pages) else None,
        "clinician_types": _union(p.clinician_types for p in pages),
    }

