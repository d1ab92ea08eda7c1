"""Streaming one in-network rate file: gzip -> ijson (C backend) -> only the wanted billing codes.

Memory stays flat whatever the file size: the parser holds one `in_network` item at a time, and
an item that is not wanted is dropped as soon as it is built. Providers are found in one of
three places, and the file's key order is not assumed:

* `provider_groups` inside a negotiated rate (schema 1.x): resolved at once;
* `provider_references` ids pointing at the file's top-level `provider_references` array, which
  may come before or after `in_network`: the first pass spills each wanted price with its ids
  to a file on disk and remembers only the set of wanted ids; a second pass reads only
  `provider_references`, keeps the groups with those ids and stops once it has them all; then
  the spill is replayed;
* a provider reference with a `location` (1.x): a separate provider-reference file, fetched
  once per address and read the same way.

The first pass also reads the top-level fields (version, last_updated_on, plan) from the first
bytes; a file whose version is not a supported major version is refused before its rates are
read. A remote file is copied to disk while the first pass reads it, so the second pass never
downloads it again.
"""

import json
import os
import re
import sys
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import ijson

from . import CODE_TYPES
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


def extract(location, raw, codes, emit, workdir):
    """Read the in-network file at `location`, already open as `raw` (bytes as published), and
    call `emit(row)` for every price of a wanted code, one row per provider NPI. `workdir` holds
    the spill and, for a remote file, the copy the second pass reads. Returns an Outcome."""
    backend = json_backend()
    outcome = Outcome(json_backend=backend.backend_name)
    workdir = Path(workdir)
    wanted_codes = {str(code).strip().upper() for code in codes}
    seen = set()

    def emit_once(row):
        key = tuple(row.values())
        if key not in seen:
            seen.add(key)
            outcome.rows += 1
            emit(row)

    spill_path = workdir / "pending.jsonl"
    copy_path = workdir / "copy.bin" if is_remote(location) else None
    with open(spill_path, "w", encoding="utf-8") as spill:
        if copy_path:
            with open(copy_path, "wb") as copy:
                wanted_ids = _first_pass(backend, json_stream(raw, tee=copy), wanted_codes, spill, emit_once, outcome)
        else:
            wanted_ids = _first_pass(backend, json_stream(raw), wanted_codes, spill, emit_once, outcome)
    if wanted_ids:
        groups = _provider_references(backend, copy_path or location, wanted_ids, outcome)
        with open(spill_path, encoding="utf-8") as pending:
            for line in pending:
                priced, refs = json.loads(line)
                for ref in refs:
                    found = groups.get(_group_id(ref))
                    if found is None:
                        outcome.dropped["provider reference not found"] += 1
                        continue
                    names, provider_groups = found
                    for group in provider_groups:
                        for row in _group_rows(priced, group, names, outcome):
                            emit_once(row)
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


def _first_pass(backend, stream, codes, spill, emit, outcome):
    """One read of the file: the header from its first bytes, then every `in_network` item,
    keeping the wanted ones. Returns the provider_group_ids the spilled prices point at."""
    header = HeaderReader(backend, HEADER_KEYS, ARRAYS, "version")
    wanted_ids = set()

    def watch(block):
        if header.watch(block):
            return True
        outcome.header.update(header.fields)
        check_version(outcome.header.get("version"))
        return False

    reader = Checked(stream, watch)
    for item in backend.items(reader, "in_network.item", use_float=True, buf_size=BLOCK):
        outcome.items_seen += 1
        kept = _item_prices(item, codes, outcome)
        if kept is None:
            continue
        outcome.items_kept += 1
        for priced, groups, refs in kept:
            for group in groups:
                for row in _group_rows(priced, group, [], outcome):
                    emit(row)
            if refs:
                spill.write(json.dumps([priced, refs]) + "\n")
                wanted_ids.update(_group_id(ref) for ref in refs)
    if reader.watch is not None:  # a small file, or one whose top-level fields follow its arrays
        outcome.header.update(header.finish())
        check_version(outcome.header.get("version"))
    return wanted_ids


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
            if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
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


def _group_rows(priced, group, network_names, outcome):
    """One row per NPI of a provider group (NPI 0, "TIN only", gives one row without an NPI)."""
    tin = group.get("tin") if isinstance(group.get("tin"), dict) else {}
    npis = [_npi(npi) for npi in group.get("npi") or []]
    if None in npis:
        outcome.dropped["malformed npi"] += npis.count(None)
    for npi in [npi for npi in npis if npi is not None] or [0]:
        yield {**priced, "npi": npi or None, "tin": _text(tin.get("value")),
               "tin_type": _text(tin.get("type")), "tin_business_name": _text(tin.get("business_name")),
               "network_names": json.dumps(list(network_names))}


def _provider_references(backend, location, wanted_ids, outcome):
    """{provider_group_id: (network names, provider groups)} for the wanted ids, read from the
    file's `provider_references` (second pass) and any remote `location` they point at."""
    groups, remote, located = {}, {}, 0
    with open_source(location) as (raw, _):
        for reference in backend.items(Checked(json_stream(raw)), "provider_references.item",
                                       use_float=True, buf_size=BLOCK):
            group_id = _group_id(reference.get("provider_group_id"))
            if group_id not in wanted_ids:
                continue
            names = [str(n) for n in reference.get("network_name") or []]
            if reference.get("provider_groups"):
                groups[group_id] = (names, [g for g in reference["provider_groups"] if isinstance(g, dict)])
            elif reference.get("location"):
                remote.setdefault(str(reference["location"]), []).append((group_id, names))
            located += 1
            if located == len(wanted_ids):  # ids are unique: the rest of the file is not needed
                break
    for address, members in remote.items():
        try:
            provider_groups = _remote_groups(backend, address)
        except (SourceError, ijson.JSONError, OSError) as error:
            outcome.problems.append(f"provider reference file {address}: {error}")
            continue
        for group_id, names in members:
            groups[group_id] = (names, provider_groups)
    return groups


def _remote_groups(backend, address):
    with open_source(address) as (raw, _):
        return [g for g in backend.items(Checked(json_stream(raw)), "provider_groups.item", use_float=True)
                if isinstance(g, dict)]


def _group_id(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        return None
    return int(value)


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

