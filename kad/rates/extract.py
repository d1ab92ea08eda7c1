"""Streaming one in-network rate file: gzip -> only the wanted billing codes, in flat memory.

The file is read by scan.FastReader, which decodes chunks of `in_network` items into their
billing codes alone (msgspec, in C) and builds an item only when its code is wanted; whatever
it does not read itself (see scan.py) it hands over, from where it stopped, to ijson's C
backend (yajl2_c), which reads the rest item by item. Both paths give the same rows.
Providers are found in one of three places, and the file's key order is not assumed:

* `provider_groups` inside a negotiated rate (schema 1.x): resolved at once;
* `provider_references` ids pointing at the file's top-level `provider_references` array, which
  may come before or after `in_network`: the first pass spills each wanted price with its ids
  to disk and records the ids (pending.py); a second pass reads only `provider_references`
  (decoded to their ids, an item built only when wanted), stores the groups with those ids on
  disk and stops once it has them all; then the spill is replayed;
* a provider reference with a `location` (1.x): a separate provider-reference file, fetched
  once per address and read the same way.

Rows go to `emit(fields, npis)` in runs (one price and provider group, its NPIs) and are never
held: a run seen before gives only the NPIs it had not given (pending.py de-duplicates on disk).
The top-level fields (version, last_updated_on, plan) are read wherever they are; a file whose
version comes first and is not a supported major version is refused before its rates are read.
A remote file is copied to disk while the first pass reads it, so the second pass never
downloads it again.
"""

import io
import json
import math
import os
import re
import sys
import warnings
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import ijson
import msgspec

from . import CODE_TYPES
from .pending import Pending
from .scan import Array, Fallback, FastReader
from .source import Checked, SourceError, is_remote, json_stream, open_source

HEADER_KEYS = ("reporting_entity_name", "reporting_entity_type", "plan_name", "issuer_name",
               "plan_id_type", "plan_id", "plan_sponsor_name", "plan_market_type",
               "last_updated_on", "version")
# Schema versions the extractor reads (1.0.0 to 1.6.2, then 2.0.0 to 2.1.0: the history of
# https://github.com/CMSgov/price-transparency-guide/blob/master/VERSION.md).
SUPPORTED_MAJORS = ("1", "2")
ARRAYS = ("in_network", "provider_references")
ALLOW_SLOW_JSON = "KAD_RATES_ALLOW_SLOW_JSON"
BLOCK = 1 << 16  # bytes the parser reads at a time


class UnsupportedVersion(Exception):
    """The file says it follows a schema version this extractor does not know."""


def json_backend():
    """ijson's C backend (yajl2_c), which the throughput depends on. Without it, refuse to run,
    unless KAD_RATES_ALLOW_SLOW_JSON=1 asks for the pure-Python backend with a warning."""
    try:
        return ijson.get_backend("yajl2_c")
    except ImportError as error:
        if os.environ.get(ALLOW_SLOW_JSON) != "1":
            raise RuntimeError(
                "ijson's C backend (yajl2_c) is not available, so price files would be parsed "
                f"many times slower ({error}). Reinstall ijson from a wheel, or set "
                f"{ALLOW_SLOW_JSON}=1 to go on with the slow backend.") from error
        message = f"ijson's C backend is not available ({error}); using the slow pure-Python backend"
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        print(f"WARNING: {message}", file=sys.stderr)
        return ijson.get_backend("python")


def check_version(version):
    text = str(version or "").strip()
    if not re.fullmatch(r"\d+(\.\d+){0,2}", text) or text.split(".")[0] not in SUPPORTED_MAJORS:
        raise UnsupportedVersion(f"unsupported schema version {version!r} (this reads "
                                 f"{', '.join(m + '.x' for m in SUPPORTED_MAJORS)})")
    return text


class Code(msgspec.Struct):
    """An `in_network` item as the fast path sees it: its billing code alone."""
    billing_code: Any = None


class Reference(msgspec.Struct):
    """A `provider_references` item as the fast path sees it: its id alone."""
    provider_group_id: Any = None


CODES = msgspec.json.Decoder(list[Code])
REFERENCES = msgspec.json.Decoder(list[Reference])
ITEMS = msgspec.json.Decoder(list[msgspec.Raw])
ANY = msgspec.json.Decoder()


@dataclass
class Outcome:
    """What reading one file found, for the manifest and the run's report."""
    header: dict = field(default_factory=dict)
    items_seen: int = 0
    items_kept: int = 0
    rows: int = 0
    dropped: Counter = field(default_factory=Counter)
    problems: list = field(default_factory=list)
    json_backend: str = ""
    fast_items: int = 0  # items the fast path read; the others ijson did
    handed_over: list = field(default_factory=list)  # where and why the fast path handed over to ijson


def extract(location, raw, codes, emit, workdir):
    """Read the in-network file at `location`, already open as `raw` (bytes as published), and
    call `emit(fields, npis)` for every price of a wanted code and provider group: the row's
    fields but the NPI (a dict) and the NPIs not given before (None: a TIN-only contract).
    `workdir` holds what waits on disk and, for a remote file, the copy the second pass reads.
    Returns an Outcome."""
    backend = json_backend()
    outcome = Outcome(json_backend=backend.backend_name)
    copy_path = Path(workdir) / "copy.bin" if is_remote(location) else None
    pending = Pending(workdir)
    try:
        reading = _Reading(backend, {str(code).strip().upper() for code in codes}, emit, pending, outcome)
        if copy_path:
            with open(copy_path, "wb") as copy, json_stream(raw, tee=copy) as stream:
                reading.first_pass(stream)
        else:
            with json_stream(raw) as stream:
                reading.first_pass(stream)
        if pending.wanted:
            reading.provider_references(copy_path or location)
        reading.replay()
    finally:
        pending.close()
    return outcome


class HeaderReader:
    """Reads a document's top-level scalar fields from the first blocks of bytes, beside the C
    parser that reads its big arrays. Its `watch(block)` (see source.Checked) returns False
    once the first of `arrays` starts with `required` read; a document whose fields follow its
    arrays is watched to the end (slower, but right), and `finish()` reads what is left."""

    def __init__(self, backend, keys, arrays, required):
        self.keys, self.arrays, self.required = keys, arrays, required
        self.fields = {}
        self.events = ijson.sendable_list()
        self.coro = backend.parse_coro(self.events)

    def watch(self, block):
        self.coro.send(block)
        return self._read()

    def finish(self):
        self.coro.close()
        self._read()
        return self.fields

    def _read(self):
        still_reading = True
        for prefix, event, value in self.events:
            if prefix in self.keys and event in ("string", "number"):
                self.fields[prefix] = value if event == "string" else str(value)
            elif prefix == "" and event == "map_key" and value in self.arrays and self.required in self.fields:
                still_reading = False
                break
        self.events.clear()
        return still_reading


class _Reading:
    """One file's two passes and the replay, sharing the wanted codes, the disk state and the
    outcome."""

    def __init__(self, backend, codes, emit, pending, outcome):
        self.backend, self.codes, self.emit, self.pending, self.outcome = backend, codes, emit, pending, outcome

    def first_pass(self, stream):
        """Every `in_network` item, keeping the wanted ones, and the header wherever it is."""
        header, checked = {}, []

        def on_scalar(key, token):
            if key in HEADER_KEYS and (value := _header_value(token)) is not None:
                header[key] = value

        def on_array(key):
            if key in ARRAYS and not checked and "version" in header:
                check_version(header["version"])
                checked.append(True)

        reader = FastReader(Checked(stream), {"in_network": Array(CODES, self._in_network_chunk)}, on_scalar, on_array)
        try:
            reader.read()
        except Fallback as handover:
            self.outcome.handed_over.append(f"in_network: {handover}")
            self._first_pass_ijson(handover.remainder, header)
        self.outcome.fast_items += reader.items
        self.outcome.header.update(header)
        check_version(self.outcome.header.get("version"))

    def _in_network_chunk(self, chunk, items):
        self.outcome.items_seen += len(items)
        wanted = [i for i, item in enumerate(items) if str(item.billing_code or "").strip().upper() in self.codes]
        if wanted:
            pieces = ITEMS.decode(chunk)
            for i in wanted:
                self._item(_parse(self.backend, pieces[i]))
        return True

    def _first_pass_ijson(self, stream, header):
        """The rest of the first pass, by ijson, from where the fast reader stopped."""
        reader = HeaderReader(self.backend, HEADER_KEYS, ARRAYS, "version")
        reader.fields.update(header)

        def watch(block):
            if reader.watch(block):
                return True
            check_version(reader.fields.get("version"))
            return False

        checked = Checked(stream, watch)
        for item in self.backend.items(checked, "in_network.item", use_float=True, buf_size=BLOCK):
            self.outcome.items_seen += 1
            self._item(item)
        header.update(reader.finish() if checked.watch is not None else reader.fields)

    def _item(self, item):
        if not isinstance(item, dict):
            self.outcome.dropped["in_network item not an object"] += 1
            return
        kept = _item_prices(item, self.codes, self.outcome)
        if kept is None:
            return
        self.outcome.items_kept += 1
        for priced, groups, refs in kept:
            for group in groups:
                self._emit(priced, _provider(group))
            if refs:
                self.pending.add_price(priced, [_group_id(ref) for ref in refs])

    def provider_references(self, location):
        """The second pass: the wanted ids' groups, from the file's `provider_references` and
        any remote `location` they point at, to disk."""
        with open_source(location) as (raw, _), json_stream(raw) as stream:
            reader = FastReader(Checked(stream), {"provider_references": Array(REFERENCES, self._references_chunk)},
                                lambda key, token: None, lambda key: None)
            try:
                reader.read()
            except Fallback as handover:
                self.outcome.handed_over.append(f"provider_references: {handover}")
                for reference in self.backend.items(Checked(handover.remainder), "provider_references.item",
                                                    use_float=True, buf_size=BLOCK):
                    group_id = _group_id(reference.get("provider_group_id")) if isinstance(reference, dict) else None
                    if group_id in self.pending.wanted_among([group_id]) and \
                            self.pending.add_references([_reference(group_id, reference)]):
                        break  # every wanted id is found: the rest of the file is not needed
        for address in self.pending.locations():
            try:
                self.pending.resolve(address, _remote_groups(self.backend, address))
            except (SourceError, ijson.JSONError, OSError) as error:
                self.outcome.problems.append(f"provider reference file {address}: {error}")

    def _references_chunk(self, chunk, references):
        ids = [_group_id(reference.provider_group_id) for reference in references]
        wanted = self.pending.wanted_among(ids)
        if not wanted:
            return True
        pieces = ITEMS.decode(chunk)
        found = [_reference(group_id, _parse(self.backend, pieces[i])) for i, group_id in enumerate(ids) if group_id in wanted]
        return not self.pending.add_references(found)  # every wanted id found: the rest is not needed

    def replay(self):
        """Rows of the spilled prices, now that their groups are known."""
        for priced, ids in self.pending.prices():
            for group_id in ids:
                found = self.pending.group(group_id)
                if found is None:
                    self.outcome.dropped["provider reference not found"] += 1
                    continue
                network_names, providers = found
                for provider in providers:
                    self._emit(priced, provider, network_names)

    def _emit(self, priced, provider, network_names="[]"):
        """One price and one provider group (extract._provider's, with its network names as JSON
        text): the rows of its NPIs not given before."""
        tin, tin_type, business_name, npis, malformed = provider
        if malformed:
            self.outcome.dropped["malformed npi"] += malformed
        fields = {**priced, "tin": tin, "tin_type": tin_type, "tin_business_name": business_name,
                  "network_names": network_names}
        fresh = self.pending.new_npis(tuple(fields.values()), npis)
        if fresh:
            self.outcome.rows += len(fresh)
            self.emit(fields, fresh)


def _reference(group_id, reference):
    """(id, network names, providers, location) of a provider reference a price points at:
    its providers (extract._provider's), or the remote file that holds them."""
    names = [str(n) for n in reference.get("network_name") or []]
    providers = [_provider(g) for g in reference["provider_groups"] if isinstance(g, dict)] \
        if reference.get("provider_groups") else None
    location = str(reference["location"]) if providers is None and reference.get("location") else None
    return group_id, names, providers, location


def _header_value(token):
    """A top-level scalar's JSON text as HeaderReader keeps it from ijson's events: a string as
    it is, a number as its text (an int's, or a Decimal's), anything else None."""
    if token[:1] == b'"':
        return ANY.decode(token)
    if token[:1] in b"-0123456789":
        text = token.decode("ascii")
        return str(Decimal(text)) if re.search("[.eE]", text) else str(int(text))
    return None


def _parse(backend, piece):
    """One item as ijson builds it (use_float): msgspec builds the same faster, and ijson builds
    what msgspec refuses (an infinite number, a lone surrogate) or raises."""
    try:
        return ANY.decode(piece)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return next(iter(backend.items(io.BytesIO(bytes(piece)), "", use_float=True)))


def _item_prices(item, codes, outcome):
    """(priced row, in-item provider groups, provider_reference ids) for each price of a wanted
    item, or None when the item is not wanted."""
    code = str(item.get("billing_code") or "").strip().upper()
    if code not in codes or item.get("billing_code_type") not in CODE_TYPES:
        return None
    contained = item.get("bundled_codes") or item.get("covered_services") or []
    base = {
        "billing_code": code, "billing_code_type": item.get("billing_code_type"),
        "billing_code_type_version": _text(item.get("billing_code_type_version")),
        "service_name": _text(item.get("name")),
        "negotiation_arrangement": _text(item.get("negotiation_arrangement")),
        "bundled_codes": json.dumps([f"{c.get('billing_code_type')} {c.get('billing_code')}"
                                     for c in contained if isinstance(c, dict)]),
    }
    kept = []
    for rate in item.get("negotiated_rates") or []:
        groups = [g for g in rate.get("provider_groups") or [] if isinstance(g, dict)]
        refs = [r for r in rate.get("provider_references") or [] if _group_id(r) is not None]
        if not groups and not refs:
            outcome.dropped["negotiated rate without providers"] += 1
            continue
        for price in rate.get("negotiated_prices") or []:
            amount = price.get("negotiated_rate")
            if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0 <= amount < math.inf:
                outcome.dropped["negotiated rate not a number"] += 1
                continue
            kept.append(({
                **base,
                "modifiers": json.dumps(sorted(map(str, price.get("billing_code_modifier") or []))),
                "negotiated_type": _text(price.get("negotiated_type")),
                "negotiated_rate": float(amount),
                "billing_class": _text(price.get("billing_class")),
                "setting": _text(price.get("setting")),
                "service_codes": json.dumps(sorted(map(str, price.get("service_code") or []))),
                "expiration_date": _text(price.get("expiration_date")),
                "additional_information": _text(price.get("additional_information")),
            }, groups, refs))
    return kept


def _remote_groups(backend, address):
    with open_source(address) as (raw, _), json_stream(raw) as stream:
        return [_provider(g) for g in backend.items(Checked(stream), "provider_groups.item", use_float=True)
                if isinstance(g, dict)]


def _provider(group):
    """A provider group as rows need it: [tin, tin type, business name, its distinct NPIs (10
    digits; None alone for a TIN-only contract, NPI 0), how many NPIs were malformed]."""
    tin = group.get("tin") if isinstance(group.get("tin"), dict) else {}
    given = group.get("npi") or []
    # the usual case inline (a call per NPI costs more than the rest of the row): ints of 10 digits
    npis = [str(npi) for npi in given if type(npi) is int and 10 ** 9 <= npi < 10 ** 10]
    if len(npis) < len(given):
        npis = [_npi(npi) for npi in given]
    kept = list(dict.fromkeys(npi or None for npi in npis if npi is not None)) or [None]
    return [_text(tin.get("value")), _text(tin.get("type")), _text(tin.get("business_name")), kept, npis.count(None)]


def _group_id(value):
    """A provider_group_id as an int (5.0 is 5), or None when it is not a whole number."""
    if type(value) is int:
        return value
    if type(value) is float and math.isfinite(value) and value == int(value):
        return int(value)
    return None


def _npi(value):
    """An NPI as 10 digits, 0 for "unknown" (TIN-only contracts), None when malformed."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    if number == 0:
        return 0
    return str(number) if 10 ** 9 <= number < 10 ** 10 else None


def _text(value):
    return None if value is None else str(value)

