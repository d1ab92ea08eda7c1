"""The NPPES bulk loader: likely ketamine and Spravato providers from the monthly NPPES Data
Dissemination file, written to data/feeds/nppes_bulk.jsonl (NPI records, crawlers/items.py).

    python -m kad.nppes_bulk NPPES_ZIP [--out data/feeds/nppes_bulk.jsonl]   (make nppes-bulk NPPES_ZIP=...)

NPPES_ZIP is the ZIP's path or its address (https://download.cms.gov/nppes/NPI_Files.html lists
the monthly file; about 1 GB, so a download goes to a temporary file, read once, then deleted).
The ZIP is never unpacked: each CSV is read row by row from inside it (zipfile + csv), and only
the kept providers are held in memory, so memory stays flat whatever the file's size.

1. ``othername_pfile_*.csv``: organisations whose other names say ketamine, esketamine, Spravato
   or infusion.
2. ``npidata_pfile_*.csv`` (the main file, about 9 million rows): an active NPI is kept when its
   names say ketamine, esketamine or Spravato, or when one of its taxonomy codes is in
   data/curated/taxonomies.yml and its names say one of that file's ``name_terms`` (or the code is
   marked ``alone``). Deactivated NPIs (a deactivation date and no later reactivation) are skipped.
3. ``pl_pfile_*.csv``: the kept NPIs' other practice locations.

The endpoint file is not read: it names health-information-exchange addresses, not networks.
Columns are found by their header names (spacing and case aside), so a reordered file still reads;
a file without the columns this needs stops the load with a clear error and leaves the old feed.
Counts go to the summary printed at the end.
"""

import argparse
import csv
import io
import json
import os
import re
import sys
import tempfile
import urllib.request
import zipfile
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import yaml

from kad import CURATED, FEEDS

DOWNLOAD_PAGE = "https://download.cms.gov/nppes/NPI_Files.html"
USER_AGENT = "KetamineAccessDirectory/0.1 (+https://github.com/ketamine-access-directory/directory; data@ketamine-access-directory.org)"
STRONG_TERMS = re.compile(r"ketamine|spravato", re.I)  # also matches esketamine
MAIN, LOCATIONS, OTHER_NAMES = "npidata_pfile", "pl_pfile", "othername_pfile"
TAXONOMY_SLOTS = 15


class BulkFileError(Exception):
    """The ZIP is not an NPPES dissemination file this loader can read."""


def _key(name):
    return re.sub(r"[^a-z0-9]", "", name.lower())


# The columns read, by their header names in the dissemination file.
MAIN_COLUMNS = {
    "npi": "NPI", "entity": "Entity Type Code",
    "organisation": "Provider Organization Name (Legal Business Name)",
    "last": "Provider Last Name (Legal Name)", "first": "Provider First Name",
    "credential": "Provider Credential Text", "other_organisation": "Provider Other Organization Name",
    "street1": "Provider First Line Business Practice Location Address",
    "street2": "Provider Second Line Business Practice Location Address",
    "city": "Provider Business Practice Location Address City Name",
    "state": "Provider Business Practice Location Address State Name",
    "postal_code": "Provider Business Practice Location Address Postal Code",
    "phone": "Provider Business Practice Location Address Telephone Number",
    "deactivated": "NPI Deactivation Date", "reactivated": "NPI Reactivation Date",
    **{f"taxonomy_{n}": f"Healthcare Provider Taxonomy Code_{n}" for n in range(1, TAXONOMY_SLOTS + 1)},
    **{f"primary_{n}": f"Healthcare Provider Primary Taxonomy Switch_{n}" for n in range(1, TAXONOMY_SLOTS + 1)},
}
LOCATION_COLUMNS = {
    "npi": "NPI",
    "street1": "Provider Secondary Practice Location Address- Address Line 1",
    "street2": "Provider Secondary Practice Location Address- Address Line 2",
    "city": "Provider Secondary Practice Location Address - City Name",
    "state": "Provider Secondary Practice Location Address - State Name",
    "postal_code": "Provider Secondary Practice Location Address - Postal Code",
    "phone": "Provider Secondary Practice Location Address - Telephone Number",
}
OTHER_NAME_COLUMNS = {"npi": "NPI", "name": "Provider Other Organization Name"}


def load_taxonomies(path=CURATED / "taxonomies.yml"):
    """({code: entry}, name-term pattern) from data/curated/taxonomies.yml."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    terms = re.compile("|".join(re.escape(t) for t in data["name_terms"]), re.I)
    return {t["code"]: t for t in data["taxonomies"]}, terms


def member(archive, prefix, required=True):
    """The ZIP member whose file name starts with `prefix` (the data file, not its header file)."""
    names = [n for n in archive.namelist()
             if Path(n).name.lower().startswith(prefix) and n.lower().endswith(".csv") and "fileheader" not in n.lower()]
    if not names and required:
        raise BulkFileError(f"no {prefix}_*.csv in the ZIP (members: {', '.join(archive.namelist()[:10])})")
    return sorted(names)[-1] if names else None


@contextmanager
def table(archive, name, columns):
    """(column index by field, row iterator) of a CSV inside the ZIP, streamed; rows are lists."""
    with archive.open(name) as raw:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline=""))
        header = {_key(h): i for i, h in enumerate(next(reader, []))}
        missing = [title for title in columns.values() if _key(title) not in header]
        if missing:
            raise BulkFileError(f"{name} lacks the columns {missing}")
        yield {field: header[_key(title)] for field, title in columns.items()}, reader


def rows(archive, name, columns):
    """Each row of a small CSV inside the ZIP as a dict of the wanted columns."""
    with table(archive, name, columns) as (index, reader):
        for row in reader:
            if len(row) > max(index.values()):
                yield {field: row[i] for field, i in index.items()}


def _street(row):
    return " ".join(p for p in (row["street1"].strip(), row["street2"].strip()) if p) or None


class Loader:
    def __init__(self, source_url, taxonomies=None):
        self.source_url = source_url
        self.taxonomies, self.terms = taxonomies or load_taxonomies()
        self.counts = Counter()
        self.retrieved_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")

    def run(self, archive):
        """The kept providers as NPI records (dicts), in NPI order."""
        other_names = {}
        name = member(archive, OTHER_NAMES, required=False)
        for row in rows(archive, name, OTHER_NAME_COLUMNS) if name else ():
            if self.terms.search(row["name"]):
                other_names.setdefault(row["npi"], []).append(row["name"].strip())
        kept = {}
        with table(archive, member(archive, MAIN), MAIN_COLUMNS) as (index, reader):
            # Most of the 9 million rows are decided by a few look-ups on the raw list; only a
            # candidate becomes a dict.
            taxonomy_at = [index[f"taxonomy_{n}"] for n in range(1, TAXONOMY_SLOTS + 1)]
            names_at = (index["organisation"], index["other_organisation"], index["last"])
            npi_at, width = index["npi"], max(index.values())
            strong, term = STRONG_TERMS.search, self.terms.search
            alone = {code for code, entry in self.taxonomies.items() if entry.get("alone")}
            listed = self.taxonomies.keys() - alone
            rows_read = 0
            for row in reader:
                rows_read += 1
                if len(row) <= width:
                    continue
                names = [row[i] for i in names_at]
                codes = {row[i] for i in taxonomy_at}
                if (any(map(strong, names)) or row[npi_at] in other_names or not alone.isdisjoint(codes)
                        or (not listed.isdisjoint(codes) and any(map(term, names)))):
                    record = self.keep({field: row[i] for field, i in index.items()}, other_names.get(row[npi_at], []))
                    if record:
                        kept[record["npi"]] = record
            self.counts["rows"] = rows_read
        name = member(archive, LOCATIONS, required=False)
        for row in rows(archive, name, LOCATION_COLUMNS) if name else ():
            if row["npi"] in kept:
                self.counts["other_locations"] += 1
                kept[row["npi"]]["locations"].append({
                    "street": _street(row), "city": row["city"] or None, "state": row["state"] or None,
                    "postal_code": row["postal_code"] or None, "phone": row["phone"] or None})
        self.counts["kept"] = len(kept)
        return [kept[npi] for npi in sorted(kept)]

    def keep(self, row, other_names):
        if row["deactivated"] and not row["reactivated"]:
            self.counts["skipped_deactivated"] += 1
            return None
        codes = [row[f"taxonomy_{n}"] for n in range(1, TAXONOMY_SLOTS + 1) if row[f"taxonomy_{n}"]]
        primary = [row[f"taxonomy_{n}"] for n in range(1, TAXONOMY_SLOTS + 1) if row[f"primary_{n}"] == "Y"]
        organisation = row["entity"] == "2"
        name = row["organisation"] if organisation else ", ".join(p for p in (row["last"], row["first"]) if p)
        names = [n for n in (name, row["other_organisation"], *other_names) if n]
        text = " ; ".join(names)
        listed = [self.taxonomies[c] for c in codes if c in self.taxonomies]
        if STRONG_TERMS.search(text):
            reason = "name"
        elif any(t.get("alone") for t in listed):
            reason = "taxonomy"
        elif listed and self.terms.search(text):
            reason = "taxonomy_and_name"
        else:
            return None
        self.counts[f"kept_by_{reason}"] += 1
        return {
            "npi": row["npi"], "entity": "organisation" if organisation else "practitioner", "name": name or None,
            "other_names": list(dict.fromkeys(n for n in names[1:] if n != name)),
            "taxonomies": list(dict.fromkeys([*primary, *codes])),
            "street": _street(row), "city": row["city"] or None, "state": row["state"] or None,
            "postal_code": row["postal_code"] or None, "phone": row["phone"] or None, "locations": [],
            "clinic_source_id": None, "match_method": None, "match_score": None,
            "sources": [self.source_url], "retrieved_at": self.retrieved_at,
        }


@contextmanager
def opened(location):
    """The ZIP at a path, or downloaded from an http(s) address into a temporary file."""
    if re.match(r"https?://", location):
        with tempfile.TemporaryFile() as handle:
            request = urllib.request.Request(location, headers={"User-Agent": USER_AGENT})
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (http(s) only)
                while chunk := response.read(1 << 20):
                    handle.write(chunk)
            handle.seek(0)
            with zipfile.ZipFile(handle) as archive:
                yield archive
    else:
        with zipfile.ZipFile(location) as archive:
            yield archive


def load(location, out, source_url=None):
    """Read the ZIP and write the feed (through a .partial file, renamed when complete)."""
    source_url = source_url or (location if re.match(r"https?://", location) else DOWNLOAD_PAGE)
    loader = Loader(source_url)
    with opened(location) as archive:
        records = loader.run(archive)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    os.replace(partial, out)
    return loader.counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("zip", help="the NPPES Data Dissemination ZIP: a path, or its http(s) address")
    parser.add_argument("--out", default=str(FEEDS / "nppes_bulk.jsonl"))
    parser.add_argument("--source-url", help="the address to cite for a local copy (default: the NPPES download page)")
    args = parser.parse_args(argv)
    try:
        counts = load(args.zip, args.out, args.source_url)
    except (BulkFileError, zipfile.BadZipFile, OSError) as error:
        print(f"nppes-bulk failed, {args.out} left as it was: {error}", file=sys.stderr)
        return 1
    print(f"nppes-bulk: wrote {counts['kept']} providers to {args.out} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
