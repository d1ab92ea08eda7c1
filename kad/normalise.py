"""Normalisers shared by the crawl pipelines and the build.

Each takes raw text and returns the canonical form, ``None`` for an empty value, or raises
``ValueError`` with a reason a person can act on. Callers decide whether a bad value drops the
field or the whole record, and count it.
"""

import functools
import html
import re
from urllib.parse import quote, urlsplit, urlunsplit

import phonenumbers
import us
import usaddress
import zipcodes

_SPACE = re.compile(r"\s+")
# NUL, and the bidirectional controls that can make text display in another order than it is
# read (LRM/RLM, embeddings and overrides, isolates): a name written with U+202E shows reversed.
_INVISIBLE = re.compile("[\u0000\u200e\u200f\u202a-\u202e\u2066-\u2069]")

JURISDICTIONS = {s.abbr: s for s in [*us.states.STATES, us.states.DC]}


# Addresses are never entity-decoded: "&copy=1" in a query string is not "©=1".
URL_FIELDS = frozenset({"website", "sources", "url", "final_url", "source_url"})


def clean_text(value, entities=True):
    """Collapse whitespace, remove NULs and bidirectional controls and decode HTML entities (in
    that order, so '&#x202E;' is removed too); '' and None become None. With entities=False the
    text is an address: nothing is decoded, and a NUL or bidirectional control is
    percent-encoded rather than removed, which is how a browser would send it anyway, so the
    address still names the same page."""
    if value is None:
        return None
    text = html.unescape(str(value)) if entities else str(value)
    if not text.isascii() or "\x00" in text:  # the controls are not ASCII: most text skips this
        text = _INVISIBLE.sub("", text) if entities else _INVISIBLE.sub(lambda m: quote(m.group(0)), text)
    text = _SPACE.sub(" ", text).strip()
    return text or None


def state_code(value):
    """'Texas', 'tx', 'TX.' -> 'TX'; only the 50 states and DC are accepted."""
    text = clean_text(value)
    if text is None:
        return None
    state = us.states.lookup(text.rstrip("."))
    if state is None or state.abbr not in JURISDICTIONS:
        raise ValueError(f"not a US state or DC: {text!r}")
    return state.abbr


def phone(value):
    """Any US phone notation -> '(512) 555-0100'."""
    text = clean_text(value)
    if text is None:
        return None
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        raise ValueError(f"not a phone number: {text!r}") from None
    if not phonenumbers.is_valid_number_for_region(number, "US"):
        raise ValueError(f"not a valid US phone number: {text!r}")
    digits = str(number.national_number)
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def website(value):
    """Home-page URL with an http(s) scheme; 'example.com' gains https://, other schemes are refused."""
    text = clean_text(value, entities=False)
    if text is None:
        return None
    if "://" not in text and ":" not in text.split("/")[0]:
        text = "https://" + text.lstrip("/")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"only http and https links are allowed: {text!r}")
    if not parts.hostname or "." not in parts.hostname:
        raise ValueError(f"no host name in URL: {text!r}")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def is_web_address(url):
    """An absolute http(s) address with a host: what a `sources` entry must be."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        return bool(parts and parts.scheme in ("http", "https") and parts.hostname)
    except ValueError:  # "http://[::1": an unbalanced IPv6 bracket
        return False


def site_host(url):
    """The host of an address without 'www.', lower case: 'https://WWW.Example.com/a' -> 'example.com'."""
    if not isinstance(url, str):
        return ""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
    return host.removeprefix("www.")


def postal_code(value):
    """'78701-1234' -> '78701'; a ZIP code that does not exist is refused."""
    text = clean_text(value)
    if text is None:
        return None
    match = re.fullmatch(r"(\d{5})(?:-?\d{4})?", text)
    if not match:
        raise ValueError(f"not a 5-digit ZIP code: {text!r}")
    code = match.group(1)
    if code not in zip_states():
        raise ValueError(f"ZIP code does not exist: {code}")
    return code


@functools.cache
def zip_states():
    """Every ZIP code the bundled table knows, with its state (one dict: a lookup per record
    must not scan the whole table)."""
    return {entry["zip_code"]: entry["state"] for entry in zipcodes.list_all()}


def npi(value):
    """A 10-digit National Provider Identifier with a valid Luhn check digit (prefix 80840)."""
    text = clean_text(value)
    if text is None:
        return None
    if not re.fullmatch(r"\d{10}", text):
        raise ValueError(f"an NPI has 10 digits: {text!r}")
    if text[-1] != npi_check_digit(text[:9]):
        raise ValueError(f"NPI check digit is wrong: {text}")
    return text


def npi_check_digit(first_nine):
    """The Luhn check digit of an NPI's first nine digits, over the card-issuer prefix 80840."""
    total = 0
    for position, digit in enumerate(int(d) for d in reversed("80840" + first_nine)):
        if position % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str((10 - total % 10) % 10)


_STREET_PARTS = (
    "AddressNumber", "StreetNamePreDirectional", "StreetName", "StreetNamePostType",
    "StreetNamePostDirectional", "OccupancyIdentifier",
)
_ABBREVIATIONS = {
    "street": "st", "avenue": "ave", "road": "rd", "boulevard": "blvd", "drive": "dr",
    "lane": "ln", "parkway": "pkwy", "highway": "hwy", "court": "ct", "place": "pl",
    "suite": "ste", "north": "n", "south": "s", "east": "e", "west": "w", "circle": "cir",
    "terrace": "ter", "trail": "trl", "square": "sq", "freeway": "fwy", "expressway": "expy",
}


def address_key(street, zip5):
    """A comparison key for one physical address: '1200 Main Street, Suite 4' and
    '1200 main st ste 4' give the same key. None when either part is missing."""
    if not street or not zip5:
        return None
    try:
        tagged, _ = usaddress.tag(street)
        words = " ".join(tagged[part] for part in _STREET_PARTS if part in tagged)
    except usaddress.RepeatedLabelError:
        words = street
    tokens = re.findall(r"[a-z0-9]+", words.lower())
    return " ".join(_ABBREVIATIONS.get(t, t) for t in tokens) + "|" + zip5


def city_key(city):
    """'St. Paul' and 'Saint Paul', 'McLean' and 'Mc Lean' give one key."""
    words = re.findall(r"[a-z]+", city.lower())
    return "".join("saint" if w == "st" else "fort" if w == "ft" else w for w in words)


def slug(*parts):
    """'Ketamine Clinic of Austin', 'Austin' -> 'ketamine-clinic-of-austin-austin'."""
    text = " ".join(p for p in parts if isinstance(p, str) and p)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
