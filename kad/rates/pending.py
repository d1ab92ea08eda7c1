"""What reading one in-network file keeps on disk rather than in memory, so memory stays flat
whatever the file's size: the wanted prices that wait for their provider references (a JSON Lines
spill, read back in order), and an SQLite file of the provider group ids those prices point at,
the groups found for them (or the remote `location` to fetch them from), and, for
de-duplication, the NPIs already written under each run of row fields.

Rows are written in runs: one price and one provider group, many NPIs. Two rows are the same
when their run fields (everything but the NPI) and their NPI are; a run's fields are stored as a
16-byte digest with the NPIs written under them, so a run seen again writes only its new NPIs.
"""

import functools
import hashlib
import sqlite3
from pathlib import Path

import msgspec

ENCODE = msgspec.json.encode
DECODE = msgspec.json.decode
CACHE_KB = 8192  # SQLite's page cache
GROUP_CACHE = 4096  # provider groups kept parsed: many prices point at the same groups
SCHEMA = """
CREATE TABLE wanted (id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE groups (id TEXT PRIMARY KEY, names TEXT, groups TEXT, location TEXT) WITHOUT ROWID;
CREATE INDEX groups_location ON groups (location) WHERE location IS NOT NULL;
CREATE TABLE written (run BLOB PRIMARY KEY, npis TEXT) WITHOUT ROWID;
"""


class Pending:
    def __init__(self, workdir):
        workdir = Path(workdir)
        self.spill_path, self.db_path = workdir / "pending.jsonl", workdir / "pending.sqlite"
        self.db_path.unlink(missing_ok=True)  # a run that died left it: its content is not this file's
        self.spill = open(self.spill_path, "wb")
        self.db = sqlite3.connect(self.db_path, isolation_level=None)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "temp_store = FILE", f"cache_size = -{CACHE_KB}"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.executescript(SCHEMA)
        self.db.execute("BEGIN")  # never committed: the file is thrown away with the work folder
        self.wanted = self.found = 0
        self.group = functools.lru_cache(GROUP_CACHE)(self._group)

    def close(self):
        """Close and delete the files: they hold nothing once the file is read."""
        self.spill.close()
        self.db.close()
        self.spill_path.unlink(missing_ok=True)
        self.db_path.unlink(missing_ok=True)

    # -- first pass: prices waiting for provider references ----------------------------------

    def add_price(self, priced, ids):
        """A wanted price and the provider_group_ids it points at (ints)."""
        self.spill.write(ENCODE([priced, ids]) + b"\n")
        before = self.db.total_changes
        self.db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", [(str(i),) for i in ids])
        self.wanted += self.db.total_changes - before

    def prices(self):
        """The spilled (priced, ids), in the order they were added."""
        self.spill.close()
        with open(self.spill_path, "rb") as spill:
            for line in spill:
                yield DECODE(line)

    # -- second pass: the provider references they point at ----------------------------------

    def wanted_among(self, ids):
        """The ids (ints or None) some price points at, as a set of ints."""
        keys = ENCODE([str(i) for i in ids if i is not None])
        return {int(key) for (key,) in self.db.execute(
            "SELECT value FROM json_each(?) WHERE value IN (SELECT id FROM wanted)", [keys])}

    def add_references(self, references):
        """Wanted provider references as (id, network names, providers, location): the
        providers (lists of JSON values: extract._provider's), or the remote file that holds
        them. The first one of an id counts; returns True once every wanted id is found."""
        before = self.db.total_changes
        self.db.executemany("INSERT OR IGNORE INTO groups VALUES (?, ?, ?, ?)", [
            (str(group_id), ENCODE(names).decode("utf-8"), None if providers is None else ENCODE(providers), location)
            for group_id, names, providers, location in references])
        self.found += self.db.total_changes - before
        return self.found >= self.wanted

    def locations(self):
        """Remote provider-reference files still to fetch."""
        return [address for (address,) in self.db.execute(
            "SELECT DISTINCT location FROM groups WHERE groups IS NULL AND location IS NOT NULL ORDER BY location")]

    def resolve(self, location, providers):
        self.db.execute("UPDATE groups SET groups = ? WHERE location = ? AND groups IS NULL", [ENCODE(providers), location])

    def _group(self, group_id):
        """(network names as JSON text, providers) of a wanted id, or None when it was not found."""
        row = self.db.execute("SELECT names, groups FROM groups WHERE id = ?", [str(group_id)]).fetchone()
        if row is None or row[1] is None:
            return None
        return row[0], DECODE(row[1])

    # -- de-duplication ----------------------------------------------------------------------

    def new_npis(self, run, npis):
        """The NPIs (distinct, in order; digits or None) not yet written under these run fields
        (a tuple)."""
        key = hashlib.blake2b(repr(run).encode("utf-8"), digest_size=16).digest()
        before = self.db.total_changes
        self.db.execute("INSERT OR IGNORE INTO written VALUES (?, ?)", [key, _joined(npis)])
        if self.db.total_changes > before:
            return npis
        (stored,) = self.db.execute("SELECT npis FROM written WHERE run = ?", [key]).fetchone()
        seen = set(stored.split(","))
        fresh = [npi for npi in npis if (npi or "") not in seen]
        if fresh:
            self.db.execute("UPDATE written SET npis = ? WHERE run = ?", [stored + "," + _joined(fresh), key])
        return fresh


def _joined(npis):
    """NPIs as stored: comma-separated digits, an empty string for None."""
    return ",".join(npi or "" for npi in npis)
