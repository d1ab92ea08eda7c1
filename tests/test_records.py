"""kad/records.py, the one validation layer of the crawl and the build: property-based tests
(Hypothesis) that feed arbitrary JSON values into every field of every kind, and assert that
nothing raises, every good record is kept, and every problem is reported."""

import json
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from kad import clinics, curated_clinics, normalise, records
from kad.records import KINDS, Report

settings.register_profile("kad", database=None, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kad")

# -- strategies ----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8)
# Text a hostile page might hold: whitespace, entities, bidirectional controls, NULs, any letter.
HOSTILE = "\u202e\u2066\u200f\x00\r\n\t &;#<>\"'/:.x1é"
hostile_text = st.text(alphabet=st.sampled_from(HOSTILE) | st.characters(), max_size=30)

ZIPS_BY_STATE = defaultdict(list)
for _zip, _state in normalise.zip_states().items():
    ZIPS_BY_STATE[_state].append(_zip)
STATES = sorted(normalise.JURISDICTIONS)
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=1, max_size=20).map(str.strip).filter(bool)
address = st.integers(0, 999).map(lambda n: f"https://synthetic-{n}.example.com/page?a={n}&copy=1")
dates = st.sampled_from(["2026", "2026-11", "2026-11-20", "2026-11-20T08:00:00Z", "2026-11-20T08:00:00+00:00"])


def good(kind):
    """A strategy of good records of a kind (every value one its field holds as it is)."""
    common = {"sources": st.lists(address, min_size=1, max_size=3, unique=True), "retrieved_at": dates}
    if kind == records.CLINIC:
        return st.sampled_from(STATES).flatmap(lambda state: st.fixed_dictionaries({
            "source_id": words.map(lambda w: "site:synthetic-" + w.replace(" ", "-")),
            "name": words.map(lambda w: "Synthetic " + w),
            "state": st.just(state),
            "postal_code": st.sampled_from(ZIPS_BY_STATE[state]) | st.none(),
            "city": words | st.none(),
            "phone": st.sampled_from(["512-555-0100", "(303) 555-0142", "+1 212 555 0123", 5125550199]) | st.none(),
            "website": address | st.none(),
            "npi": st.sampled_from(["1000001002", "1000001010", 1000001028]) | st.none(),
            "treatments": st.lists(words, max_size=3),
            "insurers": st.lists(words, max_size=3),
            "ketamine_insurance": st.sampled_from(records.INSURANCE_STATUSES),
            "accepts_medicare": st.sampled_from([True, False, None, "yes", "no", 1, 0, "true", "FALSE"]),
            "price_initial_usd": st.integers(0, 99_999) | st.floats(0, 99_999) | st.sampled_from(["450", "$2,400"]),
            "series_count": st.integers(1, 100) | st.sampled_from(["6", 6.0]),
            "latitude": st.just(30.27), "longitude": st.sampled_from([-97.74, "-97.74"]),
            **common}))
    if kind == records.SOURCE_CHECK:
        return st.fixed_dictionaries({
            "url": address, "final_url": address | st.none(), "http_status": st.integers(100, 599) | st.none(),
            "content_sha256": st.sampled_from(["a" * 64, "B" * 64, None]), "changed": st.booleans(),
            "disappeared": st.booleans(), "error": words | st.none(), "checked_at": dates,
            "sources": common["sources"]})
    if kind == records.BILL:
        return st.fixed_dictionaries({
            "id": words.map(lambda w: "ocd-bill/synthetic-" + w), "state": st.sampled_from(STATES),
            "identifier": st.sampled_from(["HB 1", "SB 22"]), "title": words,
            "status": st.sampled_from(records.BILL_STATUSES), "subjects": st.lists(words, max_size=3), **common})
    if kind == records.POLICY_PAGE:
        return st.fixed_dictionaries({
            "policy_row": words, "url": address, "found_title": words | st.none(),
            "differs": st.lists(st.sampled_from(records.POLICY_PAGE_COMPARED), unique=True), **common})
    file_url = address | st.sampled_from(["/srv/mirror/synthetic-in-network.json.gz"])
    if kind == records.PRICE_FILE:
        return st.fixed_dictionaries({
            "kind": st.just(kind), "file_url": file_url, "insurer_id": st.sampled_from(["aetna", "cigna"]),
            "plans": st.lists(st.fixed_dictionaries({"plan_name": words, "plan_market_type": st.sampled_from(
                ["group", "individual"]), "plan_id": st.none() | words}), max_size=2),
            "last_updated_on": dates, "size": st.integers(0, 10 ** 12), "retrieved_at": dates})
    npi = st.sampled_from(["1000001002", "1000001010", 1000001028])
    if kind == records.NPI:
        return st.fixed_dictionaries({
            "npi": npi, "entity": st.sampled_from(["organisation", "practitioner"]), "name": words,
            "other_names": st.lists(words, max_size=2), "taxonomies": st.lists(st.sampled_from(["261QI0500X"])),
            "state": st.sampled_from(STATES) | st.none(), "postal_code": st.sampled_from(["787014042", None]),
            "locations": st.lists(st.fixed_dictionaries({"city": words, "state": st.sampled_from(STATES)}), max_size=2),
            "match_score": st.floats(0, 1) | st.none(), **common})
    if kind == records.NETWORK:
        return st.fixed_dictionaries({
            "npi": npi, "insurer_id": st.sampled_from(["aetna", "humana", "medicare"]),
            "evidence": st.sampled_from(records.NETWORK_EVIDENCE), "plan_ids": st.lists(words, max_size=2),
            "detail": st.fixed_dictionaries({"active": st.booleans(), "codes": st.lists(words, max_size=2),
                                             "count": st.integers(0, 99) | st.none()}),
            "source_url": address, **common})
    return st.fixed_dictionaries({
        "kind": st.just(kind), "file_url": file_url, "billing_code": st.sampled_from(["G2082", "J0013", "96365"]),
        "negotiated_rate": st.integers(0, 5000) | st.floats(0, 5000), "npi": st.sampled_from(["1000001002", None]),
        "network_names": st.just('["Synthetic PPO"]')})


def with_hostile_fields(kind):
    """(good record, the fields replaced) with some fields replaced by any JSON value."""
    fields = list(KINDS[kind].fields)
    return st.tuples(good(kind), st.dictionaries(st.sampled_from(fields), json_values | hostile_text, max_size=4))


# -- what the properties look at -----------------------------------------------------------------

def meaningful(value):
    """Whether a value says something (so that emptying it loses something)."""
    if value is None:
        return False
    if isinstance(value, str):
        return normalise.clean_text(value) is not None
    if isinstance(value, (list, dict)):
        return any(meaningful(v) for v in (value.values() if isinstance(value, dict) else value))
    return True


def emptied(value):
    return value is None or value == [] or value == {}


def reported(report, key):
    """A problem names the field (or, for coordinates, the pair; for a drop, the record)."""
    names = {key, "coordinates"} if key in ("latitude", "longitude") else {key}
    return any(problem.split(": ", 1)[1].startswith(tuple(f"{n}" for n in names))
               or "dropped:" in problem for problem in report.problems)


def check(kind, record):
    report = Report()
    return KINDS[kind].check(record, "feed.jsonl:1", report), report


# -- properties --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
@settings(max_examples=60)
@given(data=st.data())
def test_every_good_record_is_kept_unreported_and_stable(kind, data):
    record = data.draw(good(kind))
    out, report = check(kind, record)
    assert (out is not None, report.problems) == (True, [])
    again, second = check(kind, out)  # cleaning a clean record changes nothing
    assert (again, second.problems, list(out)) == (out, [], list(KINDS[kind].fields))


@pytest.mark.parametrize("kind", list(KINDS))
@settings(max_examples=100)
@given(data=st.data())
def test_any_value_in_any_field_never_raises_and_every_loss_is_reported(kind, data):
    record, hostile = data.draw(with_hostile_fields(kind))
    record = {**record, **hostile}
    out, report = check(kind, record)
    if out is None:
        assert any("dropped:" in p for p in report.problems)
        return
    for key, value in hostile.items():
        if meaningful(value) and emptied(out[key]):
            assert reported(report, key), (key, value, report.problems)
        try:
            if value is not None:  # None is every field's empty value, never checked
                KINDS[kind].fields[key].check(value)
        except records.Invalid:  # every value a field refuses is reported (or, above, dropped)
            assert reported(report, key), (key, value, report.problems)
        if isinstance(value, list) and any(v is not None and not isinstance(v, str) for v in value):
            assert reported(report, key), (key, value, report.problems)
    # What is kept is clean: a second pass keeps it as it is, without a problem.
    again, second = check(kind, out)
    assert (again, second.problems) == (out, [])


@settings(max_examples=100)
@given(record=st.dictionaries(st.sampled_from(list(KINDS[records.CLINIC].fields)), json_values | hostile_text))
def test_a_record_of_anything_is_kept_or_dropped_with_a_reason(record):
    out, report = check(records.CLINIC, record)
    assert out is not None or report.dropped


@settings(max_examples=100)
@given(value=json_values | hostile_text)
def test_a_feed_line_that_is_not_an_object_is_dropped_and_reported(value):
    if isinstance(value, dict):
        return
    out, report = check(records.BILL, value)
    assert (out, report.dropped) == (None, {"not_an_object": 1})


@settings(max_examples=100)
@given(data=st.data())
def test_the_build_path_of_a_clinic_never_raises(data):
    """Curated-line conversion, checks, vocabularies, merge keys and the merge of one location."""
    record, hostile = data.draw(with_hostile_fields(records.CLINIC))
    seed_row = data.draw(st.dictionaries(st.sampled_from(["name", "city", "state", "insurance", "prices_usd",
                                                          "notes", "source_urls", "treatments"]),
                                         json_values | hostile_text))
    report = Report()
    curated = curated_clinics.curated_record(seed_row, "seed:1", report)
    for raw, where in ((curated, "seed:1"), ({**record, **hostile}, "feed:1")):
        cleaned = clinics.clean_record(raw, where, report)
        if cleaned is not None:
            cleaned["fetched_by"] = "clinic_site"
            keys = clinics.merge_keys(cleaned)
            row, _ = clinics.merge_group([cleaned])
            json.dumps([keys, row], allow_nan=False)


@settings(max_examples=100)
@given(item=st.dictionaries(st.sampled_from(list(KINDS[records.CLINIC].fields)), json_values | hostile_text))
def test_the_record_pipeline_keeps_or_drops_but_never_raises_anything_else(item):
    from crawlers.pipelines.records import RecordPipeline
    pipeline = RecordPipeline.from_crawler(get_crawler())
    try:
        out = pipeline.process_item(dict(item))
    except DropItem:
        return
    assert list(out) == list(KINDS[records.CLINIC].fields)


# -- reading lines ---------------------------------------------------------------------------------

line_bytes = st.one_of(
    st.builds(lambda r: json.dumps(r).encode(), good(records.BILL)),
    st.binary(max_size=40).filter(lambda b: b"\n" not in b),
    st.text(max_size=20).map(lambda t: t.replace("\n", "").encode("utf-8") + b"\r"),
)


@settings(max_examples=100)
@given(lines=st.lists(line_bytes, max_size=8))
def test_every_line_is_read_or_reported_at_its_own_number(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("lines") / "feed.jsonl"
    path.write_bytes(b"\n".join(lines))
    report = Report()
    read = dict(records.read_jsonl(path, report))
    problems = {int(p.split(":")[1]) for p in report.problems}
    bom = b"\xef\xbb\xbf"  # a byte-order mark on the first line is not part of it
    expected = {n for n, line in enumerate(lines, 1) if (line.removeprefix(bom) if n == 1 else line).strip()}
    assert (set(read) | problems, set(read) & problems) == (expected, set())
    for number, value in read.items():
        assert value == json.loads(lines[number - 1].decode("utf-8-sig" if number == 1 else "utf-8"))


# -- single cases the issue named ------------------------------------------------------------------

CLINIC = {"source_id": "site:synthetic-a", "name": "Synthetic A", "state": "TX", "city": "Austin",
          "sources": ["https://synthetic.example/a"]}


@pytest.mark.parametrize("field, value, kept, problem", [
    ("name", ["Synthetic A"], None, "dropped: name: text expected, got a list: ['Synthetic A']"),
    ("name", 42, None, "dropped: name: text expected, got a number: 42"),
    ("name", {"text": "Synthetic A"}, None, "dropped: name: text expected, got an object: {'text': 'Synthetic A'}"),
    ("source_id", None, None, "dropped: no source id"),
    ("source_id", "  ", None, "dropped: no source id"),
    ("unmapped", "Aetna", {}, "unmapped emptied: an object expected, got text: 'Aetna'"),
    ("insurers", "Aetna", [], "insurers emptied: a list expected, got text: 'Aetna'"),
    ("price_subsequent_usd", True, None, "price_subsequent_usd emptied: a number expected, got true/false: True"),
    ("price_initial_usd", float("nan"), None, "price_initial_usd emptied: not a finite number: nan"),
    ("price_initial_usd", "call us", None, "price_initial_usd emptied: not a price: 'call us'"),
    ("accepts_medicaid", "maybe", None, "accepts_medicaid emptied: not true or false: 'maybe'"),
    ("retrieved_at", 20261120, None, "retrieved_at emptied: a date expected, got a number: 20261120"),
    ("postal_code", 2134, None, "postal_code emptied: not a 5-digit ZIP code: '2134'"),
])
def test_a_wrong_field_is_emptied_and_reported(field, value, kept, problem):
    out, report = check(records.CLINIC, {**CLINIC, field: value})
    assert ((out or {}).get(field, kept), report.problems) == (kept, [f"feed.jsonl:1: {problem}"])


@pytest.mark.parametrize("field, value, expected", [
    ("accepts_medicare", "yes", True), ("accepts_medicare", "False", False), ("accepts_medicare", 1, True),
    ("accepts_medicare", 0, False), ("price_series_usd", "2400", 2400), ("price_series_usd", "$2,400.50", 2400.5),
    ("price_initial_usd", 450.0, 450), ("series_count", "6", 6), ("npi", 1000001002, "1000001002"),
    ("phone", 5125550100, "(512) 555-0100"), ("latitude", "30.27", 30.27),
])
def test_lossless_coercions(field, value, expected):
    record = {**CLINIC, field: value}
    if field == "latitude":
        record["longitude"] = -97.74
    out, report = check(records.CLINIC, record)
    assert (out[field], report.problems) == (expected, [])


def test_a_bool_is_never_a_price():
    out, _ = check(records.CLINIC, {**CLINIC, "price_initial_usd": False})
    assert out["price_initial_usd"] is None


def test_a_list_keeps_its_good_entries_and_reports_the_others():
    out, report = check(records.CLINIC, {**CLINIC, "insurers": ["Aetna", 7, None, "", {"x": 1}, "Cigna"]})
    assert (out["insurers"], report.problems) == (
        ["Aetna", "Cigna"], ["feed.jsonl:1: insurers: left out entries that are not text: [7, {'x': 1}]"])


@pytest.mark.parametrize("value, expected", [
    ("Synthetic \u202eCinilC\u202c A", "Synthetic CinilC A"),
    ("Synthetic\x00 A", "Synthetic A"),
    ("Synthetic &#x202E;A", "Synthetic A"),
    ("\u2067Synthetic A\u2069\u200f", "Synthetic A"),
])
def test_bidirectional_controls_and_nuls_are_removed_from_text(value, expected):
    assert check(records.CLINIC, {**CLINIC, "name": value})[0]["name"] == expected


def test_bidirectional_controls_in_an_address_are_percent_encoded_not_removed():
    out, _ = check(records.SOURCE_CHECK, {"url": "https://synthetic.example/a\u202eb?x=1&copy=2",
                                          "sources": ["https://synthetic.example/\x00"]})
    assert (out["url"], out["sources"]) == ("https://synthetic.example/a%E2%80%AEb?x=1&copy=2",
                                            ["https://synthetic.example/%00"])


@pytest.mark.parametrize("kind", [records.BILL, records.POLICY_PAGE, records.SOURCE_CHECK])
def test_every_string_field_of_every_kind_is_cleaned(kind):
    text_fields = [key for key, spec in KINDS[kind].fields.items() if spec.check is records.text]
    record = dict(good_example(kind))
    record.update({key: "Synthetic\u202e \x00value" for key in text_fields})
    out, _ = check(kind, record)
    assert {out[key] for key in text_fields} == {"Synthetic value"}


def good_example(kind):
    return {records.BILL: {"id": "ocd-bill/synthetic", "state": "TX", "identifier": "HB 1",
                           "sources": ["https://synthetic.example/"]},
            records.POLICY_PAGE: {"policy_row": "synthetic", "url": "https://synthetic.example/",
                                  "sources": ["https://synthetic.example/"]},
            records.SOURCE_CHECK: {"url": "https://synthetic.example/",
                                   "sources": ["https://synthetic.example/"]}}[kind]


@pytest.mark.parametrize("kind, field, value", [
    (records.SOURCE_CHECK, "changed", "perhaps"),
    (records.POLICY_PAGE, "differs", ["colour"]),
])
def test_a_strict_field_drops_the_record_rather_than_say_something_else(kind, field, value):
    out, report = check(kind, {**good_example(kind), field: value})
    assert (out, report.dropped) == (None, {f"invalid_{field}": 1})


def test_a_zip_code_of_another_state_is_left_out_and_flagged():
    out, report = check(records.CLINIC, {**CLINIC, "postal_code": "90210"})
    assert (out["state"], out["postal_code"], out["needs_review"], len(out["review_reasons"])) == ("TX", None, True, 1)
    assert report.problems == ["feed.jsonl:1: postal_code emptied: ZIP 90210 is in CA, not TX: flagged for review"]


def test_coordinates_outside_the_us_are_emptied():
    out, report = check(records.CLINIC, {**CLINIC, "latitude": 48.85, "longitude": 2.35})
    assert (out["latitude"], out["longitude"], len(report.problems)) == (None, None, 1)


def test_a_huge_number_is_refused_without_an_error():
    out, report = check(records.CLINIC, {**CLINIC, "latitude": 10 ** 400, "longitude": -97.7})
    assert (out["latitude"], len(report.problems)) == (None, 1)


def test_a_source_check_without_sources_is_sourced_by_the_address_it_checked():
    out, report = check(records.SOURCE_CHECK, {"url": "https://synthetic.example/a", "sources": []})
    assert (out["sources"], report.problems) == (["https://synthetic.example/a"], [])
