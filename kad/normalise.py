"""Normalisers shared by the crawl pipelines and the build.

Each takes raw text and returns the canonical form, ``None`` for an empty value, or raises
``ValueError`` with a reason a person can act on. Callers decide whether a bad value drops the
field or the whole record, and count it.
"""

import functools
import html
import re
import sys
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
    text = str(value)
    if _is_clean(text):  # most text: cleaning it would give it back unchanged
        return text or None
    return _cleaned(text, entities)


def _is_clean(text):
    """Printable ASCII (no NUL, no control, no whitespace but the space) with no entity to
    decode, no run of spaces and none at either end."""
    return (text.isascii() and text.isprintable() and "&" not in text and "  " not in text
            and text[:1] != " " and text[-1:] != " ")


def _cleaned(text, entities):
    text = html.unescape(text) if entities else text
    if not text.isascii() or "\x00" in text:  # the controls are not ASCII: most text skips this
        text = _INVISIBLE.sub("", text) if entities else _INVISIBLE.sub(lambda m: quote(m.group(0)), text)
    text = _SPACE.sub(" ", text).strip()
    return text or None


def state_code(value):
    """'Texas', 'tx', 'TX.' -> 'TX'; only the 50 states and DC are accepted."""
    text = clean_text(value)
    if text in JURISDICTIONS:  # 'TX': the lookup would give it back
        return text
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
    number = _usual_us_number(text)
    if number is None:
        try:
            number = phonenumbers.parse(text, "US")
        except phonenumbers.NumberParseException:
            raise ValueError(f"not a phone number: {text!r}") from None
    if not phonenumbers.is_valid_number_for_region(number, "US"):
        raise ValueError(f"not a valid US phone number: {text!r}")
    digits = str(number.national_number)
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


# The usual notations of a US number: '(512) 555-0100', '512-555-0100', '512.555.0100',
# '+1 512 555 0100', '15125550100'. The area code never begins with 0 or 1, so a leading 1 is
# always the country code.
_USUAL_US_NUMBER = re.compile(
    r"(?:\+?1[ .-]?)?(?:\(([2-9][0-9]{2})\) ?|([2-9][0-9]{2})[ .-]?)([0-9]{3})[ .-]?([0-9]{4})")


def _usual_us_number(text):
    """The PhoneNumber phonenumbers.parse(text, "US") gives for a usual notation (without its
    cost, about 0.04 ms), or None for any other text."""
    match = _USUAL_US_NUMBER.fullmatch(text)
    if not match:
        return None
    area_in_brackets, area, exchange, line = match.groups()
    return phonenumbers.PhoneNumber(country_code=1, national_number=int((area_in_brackets or area) + exchange + line))


# The usual address: http(s), a host name with a dot, and a path without a query or fragment
# (no user, port or brackets). For it, urlsplit gives back the scheme, host and path as written.
_PLAIN_URL = re.compile(r"(https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)+)(/[\x21\x22\x24-\x3e\x40-\x7e]*)?",
                        re.ASCII | re.IGNORECASE)


def website(value):
    """Home-page URL with an http(s) scheme; 'example.com' gains https://, other schemes are refused."""
    text = clean_text(value, entities=False)
    if text is None:
        return None
    plain = _PLAIN_URL.fullmatch(text)
    if plain:
        scheme, host, path = plain.groups()
        return f"{scheme.lower()}://{host.lower()}{path or '/'}"
    return _split_website(text)


def _split_website(text):
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
    if isinstance(url, str) and _PLAIN_URL.fullmatch(url):
        return True
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        return bool(parts and parts.scheme in ("http", "https") and parts.hostname)
    except ValueError:  # "http://[::1": an unbalanced IPv6 bracket
        return False


def site_host(url):
    """The host of an address without 'www.', lower case: 'https://WWW.Example.com/a' -> 'example.com'."""
    if not isinstance(url, str):
        return ""
    plain = _PLAIN_URL.fullmatch(url)
    try:
        host = plain.group(2) if plain else urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.lower().removeprefix("www.")


_ZIP = re.compile(r"(\d{5})(?:-?\d{4})?")


def postal_code(value):
    """'78701-1234' -> '78701'; a ZIP code that does not exist is refused."""
    text = clean_text(value)
    if text is None:
        return None
    match = _ZIP.fullmatch(text)
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
    """The Luhn check digit of an NPI's first nine digits, over the card-issuer prefix 80840:
    from the right, every other digit doubled (its digits summed), then the rest added."""
    digits = "80840" + first_nine
    total = sum(map(_LUHN_DOUBLED.__getitem__, digits[::-2])) + sum(map(_DIGIT.__getitem__, digits[-2::-2]))
    return str((10 - total % 10) % 10)


_DIGIT = {str(digit): digit for digit in range(10)}
_LUHN_DOUBLED = {str(digit): sum(divmod(2 * digit, 10)) for digit in range(10)}  # 2 x digit, its digits summed


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
    tokens = re.findall(r"[a-z0-9]+", _street_words(street).lower())
    return " ".join(_ABBREVIATIONS.get(t, t) for t in tokens) + "|" + zip5


def _street_words(street):
    """The street's number, directions, name, type and unit as usaddress.tag gives them (the
    whole street when it labels a part twice), its tagging shared by streets of one shape."""
    tokens = usaddress.tokenize(street)
    parts, last, intersection = {}, None, False
    for token, label in zip(tokens, _street_labels(tuple(_number_shape(t) for t in tokens))):
        # usaddress.tag's reading of the labels: a street after an "&" is the second street.
        if label == "IntersectionSeparator":
            intersection = True
        if intersection and "StreetName" in label:
            label = "Second" + label
        if label != last and label in parts:
            return street
        parts.setdefault(label, []).append(token)
        last = label
    return " ".join(" ".join(parts[part]).strip(" ,;") for part in _STREET_PARTS if part in parts)


# A token that usaddress reads as a number: digits, with the punctuation its tokenizer keeps
# around them. Not "((12" (it would be described by its last digit) nor "12)." (read as a word).
_NUMBER_TOKEN = re.compile(r"(\(?)([0-9]+)(\.*[,;)\n]*)")


def _number_shape(token):
    """'1200' -> '1100', '9053' -> '1111': usaddress describes a number to its tagger by its
    length and trailing zeros only, so numbers of one shape are labelled alike in the same
    street, and streets that differ only in their numbers share one tagging."""
    match = _NUMBER_TOKEN.fullmatch(token)
    if not match:
        return token
    before, digits, after = match.groups()
    zeros = len(digits) - len(digits.rstrip("0"))
    return before + "1" * (len(digits) - zeros) + "0" * zeros + after


@functools.lru_cache(maxsize=2 ** 14)
def _street_labels(tokens):
    """usaddress's labels for a tokenized street (its CRF tagging: about 0.1 ms a street)."""
    if not tokens:
        return ()
    return tuple(sys.intern(label) for label in usaddress.TAGGER.tag(usaddress.tokens2features(list(tokens))))


def city_key(city):
    """'St. Paul' and 'Saint Paul', 'McLean' and 'Mc Lean' give one key."""
    words = re.findall(r"[a-z]+", city.lower())
    return "".join("saint" if w == "st" else "fort" if w == "ft" else w for w in words)


def slug(*parts):
    """'Ketamine Clinic of Austin', 'Austin' -> 'ketamine-clinic-of-austin-austin'."""
    text = " ".join(p for p in parts if isinstance(p, str) and p)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
