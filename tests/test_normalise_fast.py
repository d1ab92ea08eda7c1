"""The fast paths of kad.normalise give exactly what the slow paths give: text already clean,
a state code, a plain web address, a street's words as usaddress.tag labels them, and a phone number as
phonenumbers.parse reads it. Each test compares the two directly, over every street and phone of
the curated data, the bench's synthetic records and generated text."""

import json
from pathlib import Path
from urllib.parse import urlsplit

import phonenumbers
import pytest
import us
import usaddress
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import synthetic
from kad import DATA, normalise


def _values(value, key):
    """Every text value of `key` at any depth of a curated line (a change's "set" holds them too)."""
    if isinstance(value, dict):
        for inner_key, inner in value.items():
            if inner_key == key and isinstance(inner, str):
                yield inner
            elif inner_key == key and isinstance(inner, list):
                yield from (text for text in inner if isinstance(text, str))
            else:
                yield from _values(inner, key)
    elif isinstance(value, list):
        for inner in value:
            yield from _values(inner, key)


def _curated(*keys):
    return sorted({text for path in sorted(Path(DATA, "curated").glob("*.jsonl"))
                   for line in path.read_text().splitlines() if line.strip()
                   for key in keys for text in _values(json.loads(line), key)})


CURATED_STREETS = _curated("street")
CURATED_PHONES = _curated("phone")
CURATED_ADDRESSES = _curated("website", "sources", "source_urls", "add_source_urls")
SYNTHETIC = list(synthetic.records(3000, seed=5))


def tagged_words(street):
    """The slow path: usaddress.tag, as address_key read it before the shared tagging."""
    try:
        tagged, _ = usaddress.tag(street)
    except usaddress.RepeatedLabelError:
        return street
    return " ".join(tagged[part] for part in normalise._STREET_PARTS if part in tagged)


def test_the_corpora_are_not_empty():
    assert len(CURATED_STREETS) > 40 and len(CURATED_PHONES) > 50 and len(CURATED_ADDRESSES) > 400
    assert sum(1 for r in SYNTHETIC if r["street"]) > 2000


@pytest.mark.parametrize("street", CURATED_STREETS)
def test_curated_street_words_are_usaddress_tags(street):
    assert normalise._street_words(street) == tagged_words(street)


def test_synthetic_street_words_are_usaddress_tags():
    streets = [r["street"] for r in SYNTHETIC if r["street"]]
    assert [normalise._street_words(s) for s in streets] == [tagged_words(s) for s in streets]


# The tokenizer's punctuation, digits and a few letters: every kind of token usaddress makes.
_STREET_ALPHABET = "0123456789(),.;#&- \nNSEWnesStAvBlRdx½"


@settings(max_examples=300)
@given(text=st.text(_STREET_ALPHABET, max_size=30))
def test_a_number_shape_is_what_the_tagger_sees_of_the_number(text):
    """The proof of the shared tagging: usaddress's features of a street with its numbers
    replaced by their shapes are the features of the street itself, so the tagger (a function
    of the features) labels both alike."""
    tokens = usaddress.tokenize(text)
    if tokens:
        shapes = [normalise._number_shape(t) for t in tokens]
        assert usaddress.tokens2features(shapes) == usaddress.tokens2features(tokens)


def test_number_shapes_keep_length_and_trailing_zeros():
    assert [normalise._number_shape(t) for t in ("9053", "1200", "(40),", "7.", "B-38", "((12", "12).")] == \
        ["1111", "1100", "(10),", "1.", "B-38", "((12", "12)."]


_NUMBERS = st.integers(0, 99999).map(str) | st.from_regex(r"0[0-9]{1,4}", fullmatch=True)
_DIRECTIONS = st.sampled_from(["N", "S", "E", "W", "NE", "SW", "N.", "North", "South", "East", "West"])
_NAMES = st.sampled_from(["Main", "Oak", "Martin Luther King Jr", "Camp Bullis", "Pointe", "Broadway",
                          "Highland", "Saint Charles", "Park", "Lake", "Route 66", "Avenue of the Americas"])
_TYPES = st.sampled_from(["Street", "St", "St.", "Avenue", "Ave", "Ave.", "Road", "Rd", "Boulevard", "Blvd",
                          "Drive", "Dr", "Parkway", "Pkwy", "Lane", "Ln", "Highway", "Hwy", "Court", "Ct",
                          "Place", "Pl", "Circle", "Way", "Trail", "Terrace", "Square", "Freeway"])
_UNITS = st.sampled_from([", Suite ", " Suite ", " Ste ", " STE ", ", Ste. ", " # ", " #", ", Unit ", " Apt ",
                          ", Floor ", " Bldg "])


@settings(max_examples=400)
@given(number=_NUMBERS, pre=st.none() | _DIRECTIONS, name=_NAMES, kind=st.none() | _TYPES,
       post=st.none() | _DIRECTIONS, unit=st.none() | st.tuples(_UNITS, _NUMBERS | st.sampled_from(["B", "B-38", "240W"])),
       comma=st.booleans())
def test_generated_street_words_are_usaddress_tags(number, pre, name, kind, post, unit, comma):
    """Streets of the usual form, numbers drawn freely so that many share a shape and one
    tagging: each gives the words usaddress.tag gives it."""
    street = " ".join(part for part in (number, pre, name, kind, post) if part)
    if unit:
        street += ("," if comma and not unit[0].startswith(",") else "") + unit[0] + unit[1]
    assert normalise._street_words(street) == tagged_words(street)


@settings(max_examples=300)
@given(text=st.text(_STREET_ALPHABET, max_size=30))
def test_any_street_words_are_usaddress_tags(text):
    assert normalise._street_words(text) == tagged_words(text)


def test_address_key_reads_long_and_short_spellings_alike():
    assert normalise.address_key("1200 Main Street, Suite 4", "78701") == \
        normalise.address_key("1200 main st ste 4", "78701") == "1200 main st 4|78701"
    assert normalise.address_key("1300 Main Street, Suite 4", "78701") == "1300 main st 4|78701"


# -- text and states ---------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="ascii"), max_size=12) | st.text(" &a;#x2E0\t\u00a0\u202eé", max_size=8) | \
    st.text(st.characters(), max_size=8)


@settings(max_examples=1000)
@given(text=_TEXT, entities=st.booleans())
def test_clean_text_gives_what_cleaning_gives(text, entities):
    assert normalise.clean_text(text, entities) == normalise._cleaned(text, entities)


def test_most_text_is_already_clean():
    assert normalise._is_clean("Synthetic Harbor Wellness 0") and normalise._is_clean("")
    assert not any(normalise._is_clean(t) for t in ("a  b", " a", "a ", "a&amp;", "a\tb", "é", "a\x00", "a\x7f"))


@pytest.mark.parametrize("code", sorted(normalise.JURISDICTIONS))
def test_a_state_code_is_what_the_lookup_gives(code):
    assert normalise.state_code(code) == us.states.lookup(code).abbr == code


# -- web addresses -------------------------------------------------------------------------------

_LABELS = st.from_regex(r"[A-Za-z0-9-]{1,6}", fullmatch=True)
_URLS = st.builds(
    lambda scheme, labels, extra, path: f"{scheme}://{'.'.join(labels)}{extra}{path}",
    st.sampled_from(["http", "https", "HTTPS", "Http", "ftp", "https:"]), st.lists(_LABELS, min_size=1, max_size=4),
    st.sampled_from(["", "", "", ":8080", ".", "@x.com", "_", "[", "é"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12).map(lambda p: "/" + p if p else ""))


def _outcome(function, text):
    try:
        return function(text)
    except ValueError as error:
        return f"ValueError: {error}"


@settings(max_examples=1000)
@given(url=_URLS)
def test_generated_web_addresses_read_as_urlsplit_reads_them(url):
    _read_as_urlsplit_reads(url)


def test_curated_and_synthetic_web_addresses_read_as_urlsplit_reads_them():
    for url in [*CURATED_ADDRESSES, *(u for r in SYNTHETIC for u in (r["website"], *r["sources"]))]:
        _read_as_urlsplit_reads(url)


def _read_as_urlsplit_reads(url):
    assert _outcome(normalise.website, url) == _outcome(normalise._split_website, normalise.clean_text(url, False))
    try:
        parts = urlsplit(url)
        is_address, host = bool(parts.scheme in ("http", "https") and parts.hostname), parts.hostname or ""
    except ValueError:
        is_address, host = False, None
    assert normalise.is_web_address(url) == is_address
    if host is not None:
        assert normalise.site_host(url) == host.lower().removeprefix("www.")


def test_usual_web_addresses_skip_urlsplit():
    assert normalise._PLAIN_URL.fullmatch("https://clinic-0-1.synthetic.example/")
    assert normalise._PLAIN_URL.fullmatch("HTTP://WWW.Example.com/a/b.html")
    assert not any(normalise._PLAIN_URL.fullmatch(u) for u in (
        "https://example.com/?a=1", "https://example.com:8080/", "https://user@example.com/", "https://localhost/",
        "https://example.com/#top", "https://example.com/a b"))


# -- phones --------------------------------------------------------------------------------------

_PREFIXES = st.sampled_from(["", "1", "1 ", "1-", "1.", "+1", "+1 ", "+1-", "+1.", "+ 1 ", "01", "+2 "])
_SEPARATORS = st.sampled_from(["", " ", "-", ".", "  ", "/", " - "])


@settings(max_examples=500)
@given(prefix=_PREFIXES, area=st.from_regex(r"[0-9]{3}", fullmatch=True), brackets=st.booleans(),
       exchange=st.from_regex(r"[0-9]{3}", fullmatch=True), line=st.from_regex(r"[0-9]{4}", fullmatch=True),
       first=_SEPARATORS, second=_SEPARATORS)
def test_a_usual_notation_is_read_as_phonenumbers_reads_it(prefix, area, brackets, exchange, line, first, second):
    text = prefix + (f"({area})" if brackets else area) + first + exchange + second + line
    number = normalise._usual_us_number(text)
    usual = (prefix in ("", "1", "1 ", "1-", "1.", "+1", "+1 ", "+1-", "+1.") and area[0] not in "01"
             and first in ("", " ", "-", ".") and second in ("", " ", "-", ".") and not (brackets and first in ("-", ".")))
    assert (number is not None) == usual
    if number is not None:
        assert number == phonenumbers.parse(text, "US")


def _slow_phone(text):
    """The slow path: phonenumbers.parse for every notation."""
    try:
        number = phonenumbers.parse(normalise.clean_text(text), "US")
    except phonenumbers.NumberParseException:
        return "not a phone number"
    if not phonenumbers.is_valid_number_for_region(number, "US"):
        return "not a valid US phone number"
    digits = str(number.national_number)
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def _phone(text):
    try:
        return normalise.phone(text)
    except ValueError as error:
        return str(error).split(":")[0]


@pytest.mark.parametrize("text", CURATED_PHONES)
def test_curated_phones_read_as_the_slow_path_reads_them(text):
    assert _phone(text) == _slow_phone(text)


def test_synthetic_phones_read_as_the_slow_path_reads_them():
    phones = [r["phone"] for r in SYNTHETIC if r["phone"]]
    assert [_phone(p) for p in phones] == [_slow_phone(p) for p in phones]


@settings(max_examples=300)
@given(text=st.text("0123456789()+-. x#ext", min_size=1, max_size=20))
def test_any_phone_text_reads_as_the_slow_path_reads_it(text):
    if normalise.clean_text(text) is not None:
        assert _phone(text) == _slow_phone(text)


def _luhn_valid(number):
    """The Luhn test as usually written: from the right, every second digit doubled (minus 9 when
    over 9), and the sum a multiple of 10."""
    total = 0
    for position, digit in enumerate(int(character) for character in reversed(number)):
        total += (digit * 2 - 9 if digit > 4 else digit * 2) if position % 2 else digit
    return total % 10 == 0


@settings(max_examples=2000)
@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_npi_check_digit_is_the_only_digit_that_passes_luhn_over_the_80840_prefix(first_nine):
    assert [digit for digit in "0123456789" if _luhn_valid("80840" + first_nine + digit)] == \
        [normalise.npi_check_digit(first_nine)]


def test_npi_check_digit_of_the_cms_example():
    assert normalise.npi("1234567893") == "1234567893"  # CMS's worked example of the check digit
