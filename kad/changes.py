"""What changed between two builds of the directory, for the summary of `make refresh`: clinics
added, removed and changed (and in which columns), rows newly flagged for review, and cited
addresses that vanished. Both databases are read in SQLite (the old one attached), so memory
stays flat however many clinics there are; a column or table only one of them has is left out of
the comparison rather than failing it."""

import sqlite3
from dataclasses import dataclass, field

# Not compared: the dates that move whenever a source is read again (a re-read clinic has not
# changed), and the review flags, which the summary reports on their own.
NOT_COMPARED = {"id", "retrieved_at", "first_seen", "last_seen", "needs_review", "review_reasons"}
SHOWN = 25  # entries listed per kind of change; the rest are counted


@dataclass
class Changes:
    previous: bool  # False when there was no previous database: everything is new
    added: list = field(default_factory=list)  # (id, name)
    removed: list = field(default_factory=list)  # (id, name)
    changed: list = field(default_factory=list)  # (id, name, [columns])
    flagged: dict = field(default_factory=dict)  # table -> [key] newly needs_review = 1
    flagged_now: dict = field(default_factory=dict)  # table -> rows needing review in the new build
    vanished: list = field(default_factory=list)  # addresses that stopped answering since the last build
    no_longer_cited: int = 0


def compare(old_path, new_path):
    """Changes from the database at `old_path` (None when there was none) to `new_path`."""
    connection = sqlite3.connect(f"file:{new_path}?mode=ro", uri=True)
    try:
        if old_path is None:
            connection.execute("ATTACH DATABASE ':memory:' AS old")
        else:
            connection.execute("ATTACH DATABASE ? AS old", [f"file:{old_path}?mode=ro"])
        changes = Changes(previous=old_path is not None)
        _clinics(connection, changes)
        _flagged(connection, changes)
        _sources(connection, changes)
        return changes
    finally:
        connection.close()


def _columns(connection, schema, table):
    return [row[1] for row in connection.execute(f"PRAGMA {schema}.table_info([{table}])")]


def _primary_key(connection, table):
    columns = sorted((row[5], row[1]) for row in connection.execute(f"PRAGMA main.table_info([{table}])") if row[5])
    return [name for _, name in columns] or ["rowid"]


def _clinics(connection, changes):
    if not _columns(connection, "old", "clinics"):
        changes.added = connection.execute("SELECT id, name FROM main.clinics ORDER BY id").fetchall()
        return
    changes.added = connection.execute(
        "SELECT id, name FROM main.clinics WHERE id NOT IN (SELECT id FROM old.clinics) ORDER BY id").fetchall()
    changes.removed = connection.execute(
        "SELECT id, name FROM old.clinics WHERE id NOT IN (SELECT id FROM main.clinics) ORDER BY id").fetchall()
    compared = [c for c in _columns(connection, "main", "clinics")
                if c in _columns(connection, "old", "clinics") and c not in NOT_COMPARED]
    differs = " OR ".join(f"n.[{c}] IS NOT o.[{c}]" for c in compared)
    pairs = ", ".join(f"n.[{c}] IS NOT o.[{c}]" for c in compared)
    for clinic_id, name, *flags in connection.execute(
            f"SELECT n.id, n.name, {pairs} FROM main.clinics n JOIN old.clinics o ON o.id = n.id "
            f"WHERE {differs} ORDER BY n.id"):
        changes.changed.append((clinic_id, name, [c for c, differ in zip(compared, flags) if differ]))


def _flagged(connection, changes):
    tables = [r[0] for r in connection.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")]
    for table in sorted(t for t in tables if "needs_review" in _columns(connection, "main", t)):
        key = _primary_key(connection, table)
        key_sql = " || ' ' || ".join(f"n.[{k}]" for k in key)
        was_flagged = "0"
        if "needs_review" in _columns(connection, "old", table) and key != ["rowid"]:
            match = " AND ".join(f"o.[{k}] IS n.[{k}]" for k in key)
            was_flagged = f"EXISTS (SELECT 1 FROM old.[{table}] o WHERE {match} AND o.needs_review = 1)"
        rows = connection.execute(f"SELECT {key_sql}, {was_flagged} FROM main.[{table}] n "
                                  f"WHERE n.needs_review = 1 ORDER BY 1").fetchall()
        changes.flagged_now[table] = len(rows)
        new = [row_key for row_key, before in rows if not before]
        if new:
            changes.flagged[table] = new


def _sources(connection, changes):
    if "disappeared" not in _columns(connection, "main", "sources"):
        return
    old = _columns(connection, "old", "sources")
    before = "SELECT url FROM old.sources WHERE disappeared = 1" if "disappeared" in old else "SELECT NULL WHERE 0"
    changes.vanished = [r[0] for r in connection.execute(
        f"SELECT url FROM main.sources WHERE disappeared = 1 AND url NOT IN ({before}) ORDER BY url")]
    if "url" in old:
        changes.no_longer_cited = connection.execute(
            "SELECT count(*) FROM old.sources WHERE url NOT IN (SELECT url FROM main.sources)").fetchone()[0]


def describe(changes):
    """The changes as lines of plain text."""
    lines = [] if changes.previous else ["No previous database: every row is new."]
    lines.append(f"Clinics: {len(changes.added)} added, {len(changes.removed)} removed, "
                 f"{len(changes.changed)} changed")
    lines += _listed("added", [f"{name} ({clinic_id})" for clinic_id, name in changes.added])
    lines += _listed("removed", [f"{name} ({clinic_id})" for clinic_id, name in changes.removed])
    lines += _listed("changed", [f"{name} ({clinic_id}): {', '.join(columns)}"
                                 for clinic_id, name, columns in changes.changed])
    newly = sum(len(keys) for keys in changes.flagged.values())
    now = ", ".join(f"{table} {count}" for table, count in changes.flagged_now.items() if count) or "none"
    lines.append(f"Rows newly flagged for review: {newly} (needing review now: {now})")
    for table, keys in changes.flagged.items():
        lines += _listed(table, keys)
    lines.append(f"Cited addresses that vanished since the last build: {len(changes.vanished)}")
    lines += _listed("vanished", changes.vanished)
    if changes.no_longer_cited:
        lines.append(f"Addresses no row cites any more: {changes.no_longer_cited}")
    return lines


def _listed(label, entries):
    shown = [f"  {label}: {entry}" for entry in entries[:SHOWN]]
    if len(entries) > SHOWN:
        shown.append(f"  {label}: … and {len(entries) - SHOWN} more")
    return shown
