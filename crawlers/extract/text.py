"""The visible text of a page as segments (paragraphs, list items, table rows, lines of an
address), each with the heading or paragraph that introduces it; sentences; postal addresses and
phone numbers written in the text."""

import re
from dataclasses import dataclass

import usaddress

from kad import normalise

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

