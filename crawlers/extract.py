"""Reusable extraction for clinic web pages, so spiders stay small.

* ``structured_items(response)``: every JSON-LD and microdata item of a page;
  ``structured_places(response)``: schema.org clinic nodes from JSON-LD and microdata (extruct),
  including ``@graph``, top-level lists and locations nested under an organisation.
* ``segments(response)``: the visible text as blocks (paragraphs, list items, table rows, lines
  of an address), each with the heading or paragraph that introduces it.
* ``page_facts(response)``: everything one page says about the clinic, as a ``PageFacts``;
  ``merge_facts`` combines the pages of one site.
* ``follow_links(response, limit)``: same-site links that look like contact, locations,
  insurance, prices, FAQ, services or conditions pages.

Text is read conservatively: insurers only in sentences or lists about insurance, prices only
with words that say what they pay for, an insurance status only where the page names the
treatment. A fact that is not on the page stays ``None`` or ``[]``.
"""

import re
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin, urlsplit

import extruct
import usaddress
from w3lib.html import get_base_url

from kad import normalise, vocab

# --------------------------------------------------------------------------------------------
# Structured data (schema.org)

CLINIC_TYPES = {
    "MedicalClinic", "MedicalBusiness", "MedicalOrganization", "LocalBusiness",
    "HealthAndBeautyBusiness", "Hospital", "MedicalSpa", "DaySpa", "ProfessionalService",
}
# Tried in order; the first tier with nodes wins, so a team page's Physician nodes or a site's
# generic Organization do not become clinics when a MedicalClinic is described.
TYPE_TIERS = (CLINIC_TYPES, {"Physician"}, {"Organization", "Corporation", "NGO"})
# Keys under which a clinic node may hold further clinic nodes (its locations).
NESTING_KEYS = ("@graph", "location", "department", "subOrganization", "hasPart",
                "itemListElement", "item", "mainEntity", "containsPlace")


def schema_types(node):
    types = node.get("@type") or []
    if isinstance(types, str):
        types = [types]
    return {re.split(r"[/#]", str(t))[-1] for t in types}


def _first(value):
    while isinstance(value, list):
        value = value[0] if value else None
    return value


def _text(value):
    value = _first(value)
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value")
    return normalise.clean_text(value) if isinstance(value, (str, int, float)) else None


@dataclass
class Place:
    """One clinic location (or the organisation, when it has no address)."""

    name: str | None = None
    operator: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    phone: str | None = None
    website: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def has_address(self):
        return bool(self.street or self.postal_code or (self.city and self.state))

    def address_key(self):
        """The same address written two ways ('Suite 4' / 'Ste 4', ZIP+4) gives one key."""
        zip5 = (self.postal_code or "")[:5]
        return normalise.address_key(self.street, zip5) or (
            (self.street or "").lower(), zip5, (self.city or "").lower())


def structured_items(response):
    """The JSON-LD and microdata items of a page (extruct, uniform), one broken block skipped."""
    html = response.text
    base_url = get_base_url(html, response.url)
    found = []
    for syntax in ("json-ld", "microdata"):
        try:
            data = extruct.extract(html, base_url=base_url, syntaxes=[syntax], uniform=True)
        except Exception:  # one broken script must not hide the rest of the page
            continue
        found.extend(data.get(syntax) or [])
    return found


def _walk(node, parent, out):
    """Collect (node, nearest clinic-like ancestor) pairs for every typed node."""
    if isinstance(node, list):
        for child in node:
            _walk(child, parent, out)
        return
    if not isinstance(node, dict):
        return
    typed = bool(schema_types(node) & set().union(*TYPE_TIERS))
    if typed:
        out.append((node, parent))
    for key in NESTING_KEYS:
        if key in node:
            _walk(node[key], node if typed else parent, out)


def _address(node, place):
    address = _first(node.get("address"))
    if isinstance(address, str):
        parsed = parse_address(address)
        if parsed:
            place.street, place.city, place.state, place.postal_code = parsed
        return
    if not isinstance(address, dict):
        return
    place.street = _text(address.get("streetAddress"))
    place.city = _text(address.get("addressLocality"))
    place.state = _text(address.get("addressRegion"))
    place.postal_code = _text(address.get("postalCode"))
    place.country = _text(address.get("addressCountry"))
    region_zip = re.fullmatch(r"(.+?),?\s+(\d{5}(?:-\d{4})?)", place.state or "")
    if region_zip:  # "TX 78701" in addressRegion
        place.state = region_zip.group(1)
        place.postal_code = place.postal_code or region_zip.group(2)


def _geo(node, place):
    geo = _first(node.get("geo")) or node
    if isinstance(geo, dict):
        place.latitude = _number(geo.get("latitude"))
        place.longitude = _number(geo.get("longitude"))


def _number(value):
    value = _first(value)
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _place(node, parent):
    phone = _text(node.get("telephone"))
    place = Place(
        name=_text(node.get("name")) or _text(node.get("legalName")),
        phone=phone[4:] if phone and phone.lower().startswith("tel:") else phone,
        website=_text(node.get("url")),
    )
    parent_org = _text(node.get("parentOrganization"))
    parent_name = _text(parent.get("name")) if parent else None
    operator = parent_org or parent_name
    if operator and operator != place.name:
        place.operator = operator
    _address(node, place)
    _geo(node, place)
    return place


US_COUNTRIES = {"", "us", "usa", "u.s.", "u.s.a.", "united states", "united states of america"}


def structured_places(response):
    """(locations, organisation): clinic places with an address, one per location, and the
    first clinic-like node without one (the site's organisation), or None."""
    pairs = []
    for item in structured_items(response):
        _walk(item, None, pairs)
    for tier in TYPE_TIERS:
        in_tier = [(node, parent) for node, parent in pairs if schema_types(node) & tier]
        if in_tier:
            break
    else:
        return [], None
    places = [(node, parent, _place(node, parent)) for node, parent in in_tier]
    # A parent whose children carry addresses is the operator, not a location itself.
    parents_of_located = {id(parent) for _, parent, place in places if parent and place.has_address}
    locations, seen = [], set()
    for node, _, place in places:
        if not place.has_address or id(node) in parents_of_located:
            continue
        if (place.country or "").lower() not in US_COUNTRIES or place.address_key() in seen:
            continue
        seen.add(place.address_key())
        locations.append(place)
    organisation = next((place for _, _, place in places if not place.has_address), None)
    if organisation is None and places:
        organisation = places[0][2]
    return locations, organisation


# --------------------------------------------------------------------------------------------
# Visible text as segments

BLOCK_TAGS = {
    "p", "div", "li", "ul", "ol", "tr", "table", "thead", "tbody", "h1", "h2", "h3", "h4", "h5",
    "h6", "section", "article", "header", "footer", "main", "aside", "address", "dd", "dt", "dl",
    "blockquote", "figure", "figcaption", "details", "summary", "body", "html", "hr", "center",
}
SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "iframe", "nav", "select", "option",
             "button", "head", "form", "textarea"}
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6", "dt", "summary"}


@dataclass
class Segment:
    text: str
    tag: str  # the block element the text belongs to
    context: str = ""  # the heading or paragraph before it (what introduces a list)
    heading: str = ""  # the nearest heading before it
    group: int = 0  # list items of one list share a group


def segments(response):
    """The visible text of the page, block by block, in document order."""
    root = response.selector.root
    out, buf = [], []
    state = {"context": "", "heading": ""}

    def flush(tag, group=0):
        text = normalise.clean_text(" ".join(buf))
        buf.clear()
        if not text:
            return
        segment = Segment(text, tag, state["context"], state["heading"], group)
        out.append(segment)
        if tag in HEADINGS:
            state["heading"] = text
        if tag != "li":
            state["context"] = text

    def walk(element, tag, group):
        if element.text:
            buf.append(element.text)
        for child in element:
            name = child.tag if isinstance(child.tag, str) else ""
            if name in SKIP_TAGS or not name:
                pass
            elif name == "br":
                buf.append(", ")
            elif name in ("td", "th"):
                buf.append(" ")
                walk(child, tag, group)
                buf.append(" ")
            elif name in BLOCK_TAGS:
                flush(tag, group)
                if name in ("ul", "ol"):  # a list: its items share a group
                    child_tag, child_group = tag, id(child)
                else:  # a block inside a list item is still the list item
                    child_tag, child_group = ("li" if tag == "li" else name), group
                walk(child, child_tag, child_group)
                flush(child_tag, child_group)
            else:
                walk(child, tag, group)
            if child.tail:
                buf.append(child.tail)

    walk(root, "body", 0)
    flush("body")
    return out


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9$\"'(])")


def sentences(text):
    return [s for s in _SENTENCE.split(text) if s]


# --------------------------------------------------------------------------------------------
# Addresses and phone numbers in text

_STATE_NAMES = "|".join(sorted((s.name for s in normalise.JURISDICTIONS.values()), key=len, reverse=True))
_STATE_ZIP = re.compile(
    rf"\b(?:[A-Z]{{2}}|{_STATE_NAMES})\.?,?\s+\d{{5}}(?:-\d{{4}})?\b"
)
_HOUSE_NUMBER = re.compile(r"\b\d{1,6}[A-Za-z]?\s+(?=[A-Za-z])")
_STREET_TAGS_END = ("PlaceName", "StateName", "ZipCode", "CountryName")


def parse_address(text):
    """'1200 Main St, Suite 4, Austin, TX 78701' -> (street, city, state, zip) or None."""
    try:
        tagged, kind = usaddress.tag(text)
    except usaddress.RepeatedLabelError:
        return None
    if kind != "Street Address" or not {"AddressNumber", "StreetName", "PlaceName",
                                         "ZipCode"} <= set(tagged):
        return None
    if next(iter(tagged)) != "AddressNumber":
        return None
    street_name = tagged["StreetName"].split()
    if len(street_name) > 1 and any(word.isdigit() for word in street_name):
        return None  # "0100 or visit 77 Elm": a phone number's tail read as a house number
    street = []
    for key, value in tagged.items():
        if key in _STREET_TAGS_END:
            break
        street.append(value)
    state = tagged.get("StateName")
    if not street or not state:
        return None
    try:
        state = normalise.state_code(state)
        zip5 = normalise.postal_code(tagged["ZipCode"])
    except ValueError:
        return None
    return (normalise.clean_text(" ".join(street).strip(" ,")),
            normalise.clean_text(tagged["PlaceName"].strip(" ,")), state, zip5)


def text_addresses(segs):
    """Postal addresses written out in the text ('... Austin, TX 78701'), first seen first."""
    found = []
    for segment in segs:
        for anchor in _STATE_ZIP.finditer(segment.text):
            window_start = max(0, anchor.start() - 120)
            window = segment.text[window_start:anchor.end()]
            for number in _HOUSE_NUMBER.finditer(window):
                parsed = parse_address(window[number.start():])
                if parsed:
                    if parsed not in found:
                        found.append(parsed)
                    break
    return found


_PHONE = re.compile(r"(?<![\d-])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?![\d-])")


_TOLL_FREE = ("(800)", "(833)", "(844)", "(855)", "(866)", "(877)", "(888)")


def first_phone(candidates):
    """The first valid number, preferring a local one: a crisis line or a toll-free number
    in a banner is rarely the clinic's own."""
    numbers = []
    for candidate in candidates:
        try:
            number = normalise.phone(candidate)
        except ValueError:
            continue
        if number:
            numbers.append(number)
    local = [n for n in numbers if not n.startswith(_TOLL_FREE)]
    return (local or numbers or [None])[0]


def page_phone(response, segs):
    """The first valid phone number: tel: links first, then numbers in the text (not faxes)."""
    links = [href[4:] for href in response.css('a[href^="tel:"]::attr(href)').getall()]
    in_text = []
    for segment in segs:
        for match in _PHONE.finditer(segment.text):
            before = segment.text[max(0, match.start() - 12):match.start()].lower()
            if "fax" not in before:
                in_text.append(match.group(0))
    return first_phone(links + in_text)


# --------------------------------------------------------------------------------------------
# Insurance

_INSURANCE_WORDS = re.compile(
    r"\b(insurance|insurances|insurers?|in[- ]network|accept(?:s|ed|ing)?|participat\w*|"
    r"contracted|carriers?|health plans?|we take|we bill|billing|payers?|coverage|covered|"
    r"reimburs\w*|super[- ]?bills?)\b", re.I)
_NEGATIVE = re.compile(
    r"\b(?:not|no longer|don'?t|do not|does not|doesn'?t|cannot|can'?t|unable to|never)\b"
    r"[^.]{0,40}?\b(?:accept|take|bill|in[- ]network|participat\w*|contracted|covered|cover)|"
    r"\bout[- ]of[- ]network\b|\bno insurance\b|\b(?:self|cash|private)[- ]pay\b|"
    r"\bnot (?:currently )?(?:an? )?in[- ]network\b", re.I)
_CLAUSE = re.compile(r";|\(|\)|\s[-–—]\s|,?\s\bbut\b|,?\s\bhowever\b|,?\s\bexcept\b", re.I)
_PRICE_CLAUSE = re.compile(r";|,?\s\bbut\b|,?\s\bhowever\b", re.I)  # "Initial infusion - $550" stays whole
# An address or "City, VA office" is not the VA: remove such text before reading insurer names.
_ADDRESS_NOISE = re.compile(
    r"\b[A-Z]{2}\.?\s+\d{5}(?:-\d{4})?\b|(?<=[a-z]),\s+[A-Z]{2}\b(?=\s+(?:office|clinic|location|area)\b)")

_SPRAVATO = re.compile(r"\b(?:spravato|es-?ketamine)\b", re.I)
_KETAMINE = re.compile(r"(?<![-\w])(?:ketamine|infusions?)\b", re.I)
_STATUS_PATTERNS = (
    ("superbill", re.compile(r"\bsuper[- ]?bills?\b", re.I)),
    ("case_by_case", re.compile(r"\bcase[- ]by[- ]case\b", re.I)),
    ("not_covered", re.compile(
        r"\bnot (?:typically |usually |currently |yet )?covered\b|\b(?:insurance|insurers|plans?)"
        r" (?:does|do|will)(?: not|n't) (?:cover|pay)|\b(?:do|does|can)(?: not|n't) "
        r"(?:accept|take|bill)(?: any)? (?:health )?insurance|\b(?:self|cash|private)[- ]pay\b", re.I)),
    ("in_network", re.compile(
        r"\bin[- ]network\b|\baccept(?:s|ed)?\b[^.]{0,60}\b(?:insurance|plans?)\b|"
        r"\bwe (?:bill|take)\b[^.]{0,30}\binsurance\b|\binsurance (?:is )?accepted\b", re.I)),
)
_ACCEPTS = re.compile(r"\baccept|\bin[- ]network\b|\bparticipat|\bcontracted\b", re.I)
STATUS_ORDER = ("in_network", "case_by_case", "superbill", "not_covered")


def _clauses(text, splitter=_CLAUSE):
    for sentence in sentences(text):
        for clause in splitter.split(sentence):
            clause = clause.strip(" ,")
            if clause:
                yield sentence, clause


def _statuses(clause):
    found = {name for name, pattern in _STATUS_PATTERNS if pattern.search(clause)}
    if "in_network" in found and _NEGATIVE.search(clause):
        found.discard("in_network")
    return found


def _treatments_named(*texts):
    """Which of ('ketamine', 'spravato') the nearest text that names one names."""
    for text in texts:
        named = set()
        if _SPRAVATO.search(text):
            named.add("spravato")
        if _KETAMINE.search(_SPRAVATO.sub(" ", text)):
            named.add("ketamine")
        if named:
            return named
    return set()


@dataclass
class InsuranceFacts:
    accepted: list = field(default_factory=list)  # insurer names or ids the site says it takes
    refused: list = field(default_factory=list)  # insurer ids it says it does not take
    statuses: dict = field(default_factory=lambda: {"ketamine": set(), "spravato": set()})


def insurance_facts(segs):
    facts = InsuranceFacts()
    insurers = vocab.insurers()
    # Lists introduced by insurance words: every short item of a list in which at least one
    # item is a known insurer (so "Aetna / Cigna / Synthetic Mutual" keeps the unknown name).
    groups = {}
    for segment in segs:
        if segment.tag == "li" and segment.group:
            groups.setdefault(segment.group, []).append(segment)
    for items in groups.values():
        context = items[0].context
        if not _INSURANCE_WORDS.search(context) or _NEGATIVE.search(context):
            continue
        names = [s.text for s in items if len(s.text) <= 80]
        if any(insurers.ids_in(_ADDRESS_NOISE.sub(" ", name)) for name in names):
            facts.accepted.extend(n for n in names if n not in facts.accepted)
    # Sentences about insurance.
    for segment in segs:
        listed = segment.tag == "li" and bool(_INSURANCE_WORDS.search(segment.context))
        for sentence, clause in _clauses(segment.text):
            if not (_INSURANCE_WORDS.search(sentence) or listed):
                continue
            statuses = _statuses(clause)
            if _INSURANCE_WORDS.search(clause) or listed:
                ids = insurers.ids_in(_ADDRESS_NOISE.sub(" ", clause))
                negative = _NEGATIVE.search(clause) or (listed and _NEGATIVE.search(segment.context))
                target = facts.refused if negative else facts.accepted
                target.extend(i for i in ids if i not in target)
                if ids and not negative and _ACCEPTS.search(clause):
                    statuses.add("in_network")  # "we accept Medicare for ketamine infusions"
            if statuses:
                for treatment in _treatments_named(clause, sentence, segment.heading):
                    facts.statuses[treatment] |= statuses
    return facts


def best_status(statuses):
    return next((s for s in STATUS_ORDER if s in statuses), None)


# --------------------------------------------------------------------------------------------
# Prices

_PRICE = re.compile(
    r"\$\s?(\d{1,3}(?:,\d{3})+|\d+)(?!\d)(?!,\d)(?:\.(\d{2}))?(?!\d)(?!\.\d)"
    r"(?!\s*(?:[-–]|to)\s*\$?\d)")
_RANGE_END = re.compile(r"\d\s*(?:[-–]|to)\s*$")  # the "$600" of "$400 - $600"
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_COUNT = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_PRICE_KEYWORDS = (  # (category, pattern); earlier patterns consume their words first
    ("consultation", re.compile(
        r"\b(?:initial |new patient |medical |psychiatric )?(?:consult\w*|evaluations?|assessments?|"
        r"intake|screenings?)\b", re.I)),
    ("series", re.compile(
        rf"\b(?:series|package|bundle|course)\b|\bset of\b|\b{_COUNT}[- ](?:ketamine |iv )?"
        r"(?:infusions|treatments|sessions)\b", re.I)),
    ("subsequent", re.compile(
        r"\b(?:additional|subsequent|booster|maintenance|follow[- ]?up|thereafter|repeat|"
        r"top[- ]?up)\b", re.I)),
    ("initial", re.compile(r"\b(?:initial|first|single|one[- ]time)\b", re.I)),
    ("generic", re.compile(r"\b(?:infusions?|treatments?|sessions?)\b", re.I)),
)
_PRICE_SKIP = re.compile(
    r"\b(?:spravato|esketamine|deposit|cancell?\w*|no[- ]show|missed|late|gift|discounts?|save|"
    r"savings|off|membership|month|monthly|per month|copays?|co-pays?|deductibles?|nad\+?|"
    r"vitamins?|hydration|tms|lab|labs|ekg|refund\w*)\b", re.I)
_FREE_CONSULTATION = re.compile(
    r"\b(?:free|complimentary|no[- ]cost|no[- ]charge)\s+(?:\w+\s+){0,2}consult", re.I)
_SERIES_COUNT = re.compile(
    rf"\bseries of {_COUNT}\b|\b{_COUNT}[- ](?:ketamine |iv )?(?:infusions|treatments|sessions)\b"
    rf"|\b{_COUNT}[- ](?:infusion|treatment|session) (?:series|package)\b", re.I)
PRICE_LIMITS = {
    "price_consultation_usd": (0, 1500),
    "price_initial_usd": (50, 5000),
    "price_subsequent_usd": (50, 5000),
    "price_series_usd": (150, 30000),
}
CATEGORY_FIELD = {
    "consultation": "price_consultation_usd",
    "series": "price_series_usd",
    "subsequent": "price_subsequent_usd",
    "initial": "price_initial_usd",
    "generic": "price_initial_usd",
}


def _price_category(before, after):
    """The best category for a price from the labels around it: the nearest keyword wins,
    words before the price count more than words after it, and a generic word ('infusion')
    only when no specific word is there."""
    best = {}
    for label, text, weight, offset in (("before", before, 1, 0), ("after", after, 2, 10)):
        masked = text
        for category, pattern in _PRICE_KEYWORDS:
            for match in pattern.finditer(masked):
                gap = len(text) - match.end() if label == "before" else match.start()
                score = gap * weight + offset
                best[category] = min(best.get(category, score), score)
            masked = pattern.sub(lambda m: " " * len(m.group(0)), masked)
    specific = {k: v for k, v in best.items() if k != "generic"}
    pool = specific or best
    return min(pool, key=pool.get) if pool else None


def _series_count(text):
    match = _SERIES_COUNT.search(text)
    if not match:
        return None
    word = next(g for g in match.groups() if g)
    count = int(word) if word.isdigit() else _NUMBER_WORDS[word.lower()]
    return count if 2 <= count <= 20 else None


def price_facts(segs):
    """{field: amount} for the prices the text labels, plus series_count."""
    found = {}
    previous = ""
    for segment in segs:
        for _, clause in _clauses(segment.text, _PRICE_CLAUSE):
            matches = list(_PRICE.finditer(clause))
            for index, match in enumerate(matches):
                start = matches[index - 1].end() if index else 0
                end = matches[index + 1].start() if index + 1 < len(matches) else len(clause)
                before, after = clause[start:match.start()], clause[match.end():end]
                if _RANGE_END.search(before):
                    continue
                if len(before.strip(" :|-")) < 3 and start == 0:
                    before = previous + " " + before  # "$450" in a cell after its label
                # "(save $300)" after a package price is about the saving, not the package
                if _PRICE_SKIP.search(before[-40:] + " " + after.split("(")[0][:25]):
                    continue
                window = before[-70:] + " " + after[:50]
                category = _price_category(before[-70:], after[:50])
                if category is None:
                    continue
                amount = int(match.group(1).replace(",", "")) + int(match.group(2) or 0) / 100
                amount = int(amount) if float(amount).is_integer() else amount
                name = CATEGORY_FIELD[category]
                low, high = PRICE_LIMITS[name]
                if not low <= amount <= high or name in found:
                    continue
                found[name] = amount
                if category == "series" and "series_count" not in found:
                    count = _series_count(window)
                    if count:
                        found["series_count"] = count
        if _FREE_CONSULTATION.search(segment.text) and "price_consultation_usd" not in found:
            found["price_consultation_usd"] = 0
        previous = segment.text
    return found


# --------------------------------------------------------------------------------------------
# Other facts

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


# --------------------------------------------------------------------------------------------
# One page, and one site

@dataclass
class PageFacts:
    url: str
    locations: list = field(default_factory=list)  # Place objects with an address
    organisation: Place | None = None
    site_name: str | None = None
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
    site_name = response.css('meta[property="og:site_name"]::attr(content)').get()
    return PageFacts(
        url=response.url,
        locations=locations,
        organisation=organisation,
        site_name=normalise.clean_text(site_name),
        phone=page_phone(response, segs),
        addresses=text_addresses(segs),
        treatments=vocab.treatments().ids_in(text),
        conditions=vocab.conditions().ids_in(text),
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


# --------------------------------------------------------------------------------------------
# Links worth following

LINK_TOPICS = (  # (priority, pattern on the URL path or the anchor text)
    (0, re.compile(r"insurance|in-network|coverage|pricing|prices?\b|costs?\b|fees?\b|payment|"
                   r"financ|rates\b|self-pay", re.I)),
    (1, re.compile(r"contact|locations?\b|offices?\b|directions|find-us|visit", re.I)),
    (2, re.compile(r"\bfaqs?\b|questions", re.I)),
    (3, re.compile(r"services?|treatments?|conditions?|spravato|esketamine|ketamine|what-we-treat|"
                   r"therapy|infusion", re.I)),
)
_SKIP_PATHS = re.compile(
    r"/(?:blog|news|articles?|posts?|press|tag|category|author|wp-content|wp-json|feed|cart|"
    r"shop|login|account|careers?|jobs?)(?:/|$)|\.(?:pdf|jpe?g|png|gif|svg|webp|zip|docx?|mp4|mp3)$",
    re.I)


def site_host(url):
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def same_site(url, home_url):
    return urlsplit(url).scheme in ("http", "https") and site_host(url) == site_host(home_url)


def follow_links(response, limit, exclude=()):
    """Up to `limit` same-site URLs that look useful, most useful first."""
    chosen = {}
    seen = {urldefrag(u)[0].rstrip("/") for u in (response.url, *exclude)}
    for order, anchor in enumerate(response.css("a[href]")):
        href = anchor.attrib.get("href", "").strip()
        if not href or href.startswith(("mailto:", "tel:", "javascript:", "#")):
            continue
        url = urldefrag(urljoin(response.url, href))[0]
        if not same_site(url, response.url) or _SKIP_PATHS.search(urlsplit(url).path):
            continue
        key = url.rstrip("/")
        if key in seen:
            continue
        label = " ".join(anchor.css("::text").getall()) + " " + urlsplit(url).path
        priority = next((p for p, pattern in LINK_TOPICS if pattern.search(label)), None)
        if priority is None:
            continue
        seen.add(key)
        chosen[url] = (priority, order)
    return sorted(chosen, key=chosen.get)[:limit]
