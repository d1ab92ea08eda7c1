#!/usr/bin/env python3
"""Build data/ketamine.db from what is checked in: data/curated/ and data/feeds/.

Idempotent and atomic: the database is built into a temporary file beside the old one, checked,
and only then renamed over it; a failed or interrupted build leaves the previous database as it
was, and removes its temporary files, on SIGINT and SIGTERM too (the next build removes those of
a build that was killed outright: kad/tempfiles.py). Bad input lines are reported with file and
line and left out (kad/records.py); they never stop the build. Works offline by default (ZIP/city
centroids); `--geocoder nominatim` adds street positions.

    python build_db.py [--db data/ketamine.db] [--geocoder nominatim]
"""

import argparse
import contextlib
import functools
import hashlib
import itertools
import json
import os
import signal
import sqlite3
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils
from tqdm import tqdm

from kad import (DATA, FEEDS, appeals, checks, clinics, curated_clinics, laws, network, normalise, parallel, prices,
                 records, tempfiles)
from kad.bulk import copy_packed, insert_rows, insert_values
from kad.clinic_rows import (CLINIC_COLUMNS, INSURER_LINK_COLUMNS, LIST_LINKS, MERGE_KEYS, SOURCE_COLUMNS, STAGING_COLUMNS,
                             WRITTEN_COLUMNS, locations, stage_lines)
from kad.geocode import ClinicGeocoder, zip_table
from kad.rates import FEED_NAME as RATES_FEED
from kad.rates import load as rates

CLINIC_FEEDS = ("clinic_site", "nppes")

# A build writes a new file that nothing else reads until it is renamed: no journal, no syncs
# (bench/builds.py gives its raw-insert baseline the same).
PRAGMAS = ("journal_mode = OFF", "synchronous = OFF")
CHUNK = 500  # records (or locations) a worker handles at a time: kad/parallel.py
CLINIC_INDEXES = (["state"], ["ketamine_insurance"], ["spravato_insurance"], ["postal_code"],
                  ["npi"], ["latitude", "longitude"], ["needs_review"], ["name"], ["geocode_precision"],
                  ["facility_kind"])


class Build:
    def __init__(self, db_path, geocoder=None, feeds_dir=FEEDS, clinic_files=curated_clinics.CLINIC_FILES,
                 changes=curated_clinics.CHANGES, quiet=False):
        self.db_path = Path(db_path)
        self.feeds_dir = Path(feeds_dir)
        self.clinic_files = [Path(path) for path in clinic_files]
        self.changes_path = Path(changes) if changes else None
        self.geocoder_name = geocoder or "offline (ZIP and city centroids)"
        self.geocoder = ClinicGeocoder(geocoder)
        self.quiet = quiet
        self.report = records.Report()
        self.inputs = []
        self._pending_sources = {}
        self.split_ids = set()  # source ids of records that stay apart (group_records)
        self.steps = 0
        self.built_at = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def say(self, text):
        if not self.quiet:
            print(text, flush=True)

    @contextlib.contextmanager
    def step(self, title):
        self.steps += 1
        started = time.perf_counter()
        self.say(f"[{self.steps}] {title} ...")
        yield
        self.say(f"    done in {time.perf_counter() - started:.1f}s")

    def run(self):
        folder = self.db_path.parent
        folder.mkdir(parents=True, exist_ok=True)
        for name in tempfiles.remove_stale(folder):
            self.report.problem(name, "removed: left by an earlier build that was killed")
        with tempfiles.stop_on_signals(), tempfiles.locked_temp_file(folder) as temp_path, \
                tempfiles.locked_temp_file(folder, "-staging") as staging_path:
            db = sqlite_utils.Database(temp_path)
            staging = sqlite_utils.Database(staging_path)
            for connection in (db.conn, staging.conn):
                for pragma in PRAGMAS:
                    connection.execute(f"PRAGMA {pragma}")
            try:
                self.build(db, staging)
                with self.step("Checking the new database"):
                    self.check(db)
            finally:
                staging.close()
                db.close()
            os.replace(temp_path, self.db_path)
        self.summary()

    def build(self, db, staging):
        with self.step("Loading vocabularies, states and ZIP codes"):
            laws.load_reference(db, self.report, self.record_source)
            db["zip_codes"].insert_all(zip_table(), pk="zip", batch_size=5000)
        with self.step("Reading clinic records (curated files and feeds)"):
            self.stage_clinics(staging)
        with self.step("Merging records of the same location"):
            self.merged = self.group_records(staging)
        with self.step(f"Geocoding ({self.geocoder_name}) and writing clinics"):
            self.write_clinics(db, staging)
        with self.step("Network evidence: NPI matches, payer directories, Medicare claims"):
            network.load(db, self.feeds_dir, self.report, self.note_input, self.record_source)
            self.flush_sources(db)
        with self.step("Loading state laws, federal rules, insurer policies and appeal paths"):
            laws.load_policy_data(db, self.report, self.record_source)
            appeals.load_appeal_paths(db, self.report, self.record_source)
            self.flush_sources(db)
        with self.step("Loading negotiated rates (price-transparency files)"):
            self.load_rates(db)
        with self.step("Network status of each clinic and insurer (every kind of evidence)"):
            network.finish(db)
        with self.step("Loading bills, policy-page checks and source checks"):
            self.load_checks(db)
        with self.step("Indexes, full-text search and build info"):
            self.finish(db)

    # -- clinics -------------------------------------------------------------------------------

    def clinic_inputs(self):
        """(fetched_by, path, record maker) of every clinic input; the curated changes are
        applied to the curated lines as they are read."""
        changes = curated_clinics.Changes.load(self.changes_path, self.report)
        for path in self.clinic_files:
            yield "curated", path, functools.partial(curated_clinics.curated_record, changes=changes)
        changes.report_unused(self.report)
        if self.changes_path and self.changes_path.exists():
            self.note_input(self.changes_path, changes.read, changes.applied())
        for name in CLINIC_FEEDS:
            path = self.feeds_dir / f"{name}.jsonl"
            if path.exists():
                yield name, path, clinics.feed_record

    def stage_clinics(self, staging):
        staging["records"].create(STAGING_COLUMNS, pk="rid")

        def staged():
            clinics.load_tables()  # before the workers fork: each starts with them
            for fetched_by, path, to_record in self.clinic_inputs():
                # The curated changes count what they applied: curated files are read here.
                processes = 1 if fetched_by == "curated" else None
                read = loaded = 0
                chunks = parallel.chunked(records.numbered_lines(path), CHUNK)
                work = functools.partial(stage_lines, path.name, fetched_by, to_record)
                for rows, chunk_read, report in parallel.ordered_map(work, chunks, processes):
                    self.report.absorb(report)
                    read, loaded = read + chunk_read, loaded + len(rows)
                    yield from rows
                self.note_input(path, read, loaded)

        insert_values(staging, "records", staged())
        # One site naming two street addresses in one city has two locations there: its records
        # with a street are joined by the address, not by the site.
        staging.execute("UPDATE records SET site_key = NULL WHERE address_key IS NOT NULL AND site_key IN "
                        "(SELECT site_key FROM records WHERE address_key IS NOT NULL GROUP BY site_key "
                        "HAVING count(DISTINCT address_key) > 1)")
        for column in MERGE_KEYS:
            staging["records"].create_index([column])

    def group_records(self, staging):
        """Connected components over the merge keys, computed in SQLite so memory stays flat:
        every record takes the smallest group number among records sharing any key with it,
        until nothing changes. Returns how many records were merged into another. A source id
        or NPI that the scoped keys keep apart (two states, two websites) is reported."""
        conn = staging.conn
        conn.execute("UPDATE records SET grp = rid")
        # Only records that share a key with another can join a group: the rest stay alone.
        conn.execute("DROP TABLE IF EXISTS temp.linked")
        conn.execute("CREATE TEMP TABLE linked (rid INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO linked SELECT rid FROM records WHERE " + " OR ".join(
            f"{key} IN (SELECT {key} FROM records WHERE {key} IS NOT NULL GROUP BY {key} HAVING count(*) > 1)"
            for key in MERGE_KEYS))
        neighbours = " , ".join(
            f"coalesce((SELECT min(grp) FROM records other WHERE other.{key} = records.{key}), grp)"
            for key in MERGE_KEYS)
        while conn.execute(f"UPDATE records SET grp = min(grp, {neighbours}) "
                           f"WHERE rid IN linked AND grp > min(grp, {neighbours})").rowcount:
            pass
        conn.execute("CREATE INDEX records_grp ON records(grp, rank)")
        conn.commit()
        self.split_ids = set()
        for column in ("source_id", "npi"):
            for value, states in conn.execute(
                    f"SELECT {column}, group_concat(DISTINCT state) FROM records WHERE {column} IS NOT NULL "
                    f"GROUP BY {column} HAVING count(DISTINCT grp) > 1"):
                self.report.problem("clinics", f"{column} {value} names more than one location "
                                               f"(in {', '.join(sorted(states.split(',')))}, or on different "
                                               "websites): kept apart")
                if column == "source_id":
                    self.split_ids.add(value)
        total, groups = conn.execute("SELECT count(*), count(DISTINCT grp) FROM records").fetchone()
        return total - groups

    def split_clinic_ids(self, staging):
        """{group: clinic id} of the locations whose best record's source id names several
        (group_records kept them apart): the first keeps the id and the others add their state
        (and their website, or a number), so that each keeps an id of its own from build to build.
        Every other clinic's id is its best record's source id (kad.clinic_rows.locations)."""
        ids, used = {}, set()
        rows = staging.conn.execute(
            "SELECT grp, source_id, state, json_extract(record, '$.website') FROM records WHERE grp IN "
            "(SELECT grp FROM records WHERE source_id IN (SELECT value FROM json_each(?))) ORDER BY grp, rank, rid",
            [json.dumps(sorted(self.split_ids))])
        for grp, members in itertools.groupby(rows, key=lambda row: row[0]):
            _, base, state, website = next(members)  # the best record
            if base not in self.split_ids:
                continue
            state, site = state.lower(), normalise.slug(normalise.site_host(website or ""))
            options = itertools.chain((base, f"{base}-{state}"), [f"{base}-{state}-{site}"] if site else (),
                                      (f"{base}-{state}-{number}" for number in itertools.count(2)))
            ids[grp] = next(option for option in options if option not in used)
            used.add(ids[grp])
        return ids

    def write_clinics(self, db, staging):
        db["clinics"].create(CLINIC_COLUMNS, pk="id")
        db["clinic_insurers"].create(dict.fromkeys(INSURER_LINK_COLUMNS, str), pk=("clinic_id", "insurer_id"),
                                     foreign_keys=[("clinic_id", "clinics", "id"), ("insurer_id", "insurers", "id")])
        for table, column in LIST_LINKS:
            target = WRITTEN_COLUMNS[table][1]
            db[table].create({"clinic_id": str, target: str}, pk=("clinic_id", target),
                             foreign_keys=[("clinic_id", "clinics", "id"), (target, column, "id")])
        # The addresses the records cite go to `sources` in order: with OR IGNORE the first
        # citation of an address names its kind, as record_source would (those recorded so far
        # are written first).
        self.flush_sources(db)
        total = staging.conn.execute("SELECT count(DISTINCT grp) FROM records").fetchone()[0]
        # Each worker reads its groups' records from the staging file itself (they are most of the
        # data): it is handed the first and last group number of CHUNK groups.
        group_numbers = (grp for grp, in staging.conn.execute("SELECT DISTINCT grp FROM records ORDER BY grp"))
        chunks = ((chunk[0], chunk[-1]) for chunk in parallel.chunked(group_numbers, CHUNK))
        # Placing by ZIP or city centroid is pure, so the workers do it; an online geocoder (its
        # rate limit, its cache file) stays in this process.
        online = self.geocoder.online is not None
        work = functools.partial(locations, staging.conn.execute("PRAGMA database_list").fetchone()[2],
                                 None if online else self.geocoder.place, self.split_clinic_ids(staging))
        conflicts = dict.fromkeys(("clinic_insurers", *(table for table, _ in LIST_LINKS), "sources"), "OR IGNORE")
        with tqdm(total=total, unit="clinic", disable=self.quiet or None, leave=False) as progress:
            for image, count in parallel.ordered_map(work, chunks):
                copy_packed(db, image, conflicts)
                progress.update(count)
        if online:
            self.place_online(db)
        self.precision = dict(db.execute("SELECT coalesce(geocode_precision, 'not_placed') AS precision, count(*) "
                                         "FROM clinics GROUP BY precision ORDER BY min(rowid)").fetchall())
        self.carry_first_seen(db)
        self.flush_sources(db)

    def place_online(self, db):
        """Each clinic placed by the online geocoder, in the order they were written."""
        columns = ("latitude", "longitude", "street", "city", "state", "postal_code")
        rows = db.execute(f"SELECT rowid, {', '.join(columns)} FROM clinics ORDER BY rowid").fetchall()
        db.conn.executemany("UPDATE clinics SET latitude = ?, longitude = ?, geocode_precision = ? WHERE rowid = ?",
                            ([*self.geocoder.place(dict(zip(columns, values))), rowid] for rowid, *values in rows))
        db.conn.commit()

    def carry_first_seen(self, db):
        """A clinic keeps the first_seen of the previous build (the old database is the memory)."""
        if not self.db_path.exists():
            return
        db.execute("ATTACH DATABASE ? AS previous", [f"file:{self.db_path}?mode=ro"])
        try:
            db.execute("UPDATE clinics SET first_seen = min(first_seen, coalesce("
                       "(SELECT p.first_seen FROM previous.clinics p WHERE p.id = clinics.id), first_seen))")
        except sqlite3.OperationalError as error:  # an old database without the table or column
            self.report.problem(str(self.db_path), f"first_seen not carried over: {error}")
        db.conn.commit()
        db.execute("DETACH DATABASE previous")

    def note_input(self, path, read, loaded):
        self.inputs.append({"file": str(path.relative_to(path.parents[1])), "sha256": _sha256(path),
                            "records_read": read, "records_loaded": loaded})

    # -- negotiated rates ----------------------------------------------------------------------

    def load_rates(self, db):
        """The feed `python -m kad.rates` writes (kad/rates/load.py); before the source checks,
        which read every cited address."""
        read, loaded = rates.load(db, self.feeds_dir, self.report, self.record_source)
        path = self.feeds_dir / f"{RATES_FEED}.jsonl"
        if path.exists():
            self.note_input(path, read, loaded)
        self.flush_sources(db)

    # -- bills and checks ----------------------------------------------------------------------

    def load_checks(self, db):
        """The openstates and insurer_policy feeds, then the source_check feed, which updates
        `sources` and so comes after every row that cites an address (kad/checks.py)."""
        checks.add_review_columns(db)
        for name, load in (("openstates", checks.load_bills), ("insurer_policy", checks.load_policy_checks)):
            path = self.feeds_dir / f"{name}.jsonl"
            read, loaded = load(db, path, self.report, self.record_source)
            if path.exists():
                self.note_input(path, read, loaded)
        self.flush_sources(db)
        path = self.feeds_dir / "source_check.jsonl"
        read, updated = checks.apply_source_checks(db, path, self.report)
        if path.exists():
            self.note_input(path, read, updated)

    # -- sources -------------------------------------------------------------------------------

    def record_source(self, url, kind, fetched_by, retrieved_at):
        """Remember a cited address; the first citation of an address names its kind."""
        self._pending_sources.setdefault(url, {"url": url, "kind": kind, "fetched_by": fetched_by,
                                               "retrieved_at": retrieved_at})

    def flush_sources(self, db):
        if not db["sources"].exists():
            db["sources"].create(SOURCE_COLUMNS, pk="url")
        insert_rows(db, "sources", self._pending_sources.values(), "OR IGNORE")
        self._pending_sources = {}

    # -- finishing -----------------------------------------------------------------------------

    def finish(self, db):
        for columns in CLINIC_INDEXES:
            db["clinics"].create_index(columns)
        # After the indexes: each state's count reads the state index, not the whole clinics table.
        db.execute("UPDATE states SET clinic_count = (SELECT count(*) FROM clinics "
                   "WHERE clinics.state = states.code AND reported_closed = 0)")
        prices.write_price_stats(db)
        # network_status beside insurer_id: the insurers facet (plugins/facets.py) counts from the index alone.
        for table, columns in (("clinic_insurers", ["insurer_id", "network_status"]),
                               ("clinic_conditions", ["condition_id"]), ("clinic_treatments", ["treatment_id"])):
            db[table].create_index(columns)
        db["clinics"].enable_fts(["name", "operator", "city", "website"], tokenize="porter", create_triggers=False)
        laws.index_policy_data(db)
        counts = {name: db[name].count for name in db.table_names() if not name.startswith("clinics_fts")}
        info = {
            "built_at": self.built_at,
            "geocoder": self.geocoder_name,
            "inputs": self.inputs,
            "row_counts": counts,
            "geocode_precision": self.precision,
            "records_merged": self.merged,
            "records_dropped": self.report.dropped,
            "problems": self.report.problems,
        }
        db["build_info"].insert_all(({"item": k, "value": v if isinstance(v, str) else json.dumps(v)}
                                     for k, v in info.items()), pk="item")
        self.counts = counts

    def check(self, db):
        failures = []
        if db["clinics"].count == 0:
            failures.append("no clinics were built")
        # Every clinic check in one pass over the table.
        arrays = ("treatments", "conditions", "insurers", "financing", "clinician_types", "sources")
        # (A value that is not JSON at all counts as not an array, rather than stopping the check.)
        *not_arrays, unsourced, unknown_states = db.execute(
            "SELECT " + ", ".join(f"coalesce(sum(CASE WHEN json_valid({column}) THEN json_type({column}) END "
                                  "IS NOT 'array'), 0)" for column in arrays) +
            ", coalesce(sum(CASE WHEN json_valid(sources) THEN json_array_length(sources) END = 0), 0)"
            ", coalesce(sum(state NOT IN (SELECT code FROM states)), 0) FROM clinics").fetchone()
        for column, bad in zip(arrays, not_arrays):
            if bad:
                failures.append(f"{bad} clinics have a {column} value that is not a JSON array")
        if unsourced:
            failures.append(f"{unsourced} clinics have no source")
        if unknown_states:
            failures.append(f"{unknown_states} clinics have a state outside the states table")
        failures.extend(laws.check_policy_data(db))
        failures.extend(appeals.check(db))
        failures.extend(checks.check(db))
        # quick_check: every page, record and constraint of the file. integrity_check would also
        # match every index against its table, 8x the time at 100,000 clinics, for indexes that
        # SQLite itself has just built from those tables.
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            failures.append("SQLite quick check failed")
        if failures:
            raise BuildError("the new database failed its checks; the old one is kept:\n  " + "\n  ".join(failures))

    def summary(self):
        self.say(f"Built {self.db_path} at {self.built_at}")
        self.say("  rows: " + ", ".join(f"{table} {count}" for table, count in sorted(self.counts.items())))
        self.say("  clinics placed: " + ", ".join(f"{k} {v}" for k, v in sorted(self.precision.items())))
        self.say(f"  records merged into another: {self.merged}")
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(self.report.dropped.items())) or "none"
        self.say(f"  records dropped: {dropped}")
        if self.report.problems:
            self.say(f"  input problems ({len(self.report.problems)}, all in build_info):")
            for problem in self.report.problems[:20]:
                self.say(f"    {problem}")


class BuildError(Exception):
    pass


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=DATA / "ketamine.db", type=Path)
    parser.add_argument("--feeds", default=FEEDS, type=Path, help="folder of <spider>.jsonl feeds")
    parser.add_argument("--clinics", nargs="+", default=curated_clinics.CLINIC_FILES, type=Path,
                        help="curated clinic files (JSON lines)")
    parser.add_argument("--changes", default=curated_clinics.CHANGES, type=Path,
                        help="changes to the curated clinic lines (JSON lines)")
    parser.add_argument("--geocoder", help="a geopy service name, e.g. nominatim (needs the internet)")
    args = parser.parse_args(argv)
    try:
        Build(args.db, geocoder=args.geocoder, feeds_dir=args.feeds, clinic_files=args.clinics,
              changes=args.changes).run()
    except BuildError as error:
        print(f"build failed: {error}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, tempfiles.Interrupted) as stop:
        signum = getattr(stop, "signum", signal.SIGINT)
        print(f"build stopped by {signal.Signals(signum).name}: the old database is kept, the new one's "
              "temporary files are removed", file=sys.stderr)
        return 128 + signum
    return 0


if __name__ == "__main__":
    sys.exit(main())
