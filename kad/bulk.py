"""Rows written to the build's largest tables (staged records, clinics, clinic_insurers,
network_evidence) with one prepared statement, or packed by a build worker into a small SQLite
database that the writing process copies whole (``packed``, ``copy_packed``).

sqlite-utils' ``insert_all`` works out the columns and writes a new multi-row INSERT for every
chunk of rows, passing each value through its type checks: the largest own-time entries of a
profiled build. For tables whose columns are known, ``insert_rows`` writes the same values with
executemany in about 40% less CPU time: lists and objects JSON-encoded as sqlite-utils encodes
them, a missing key NULL, and a key the table does not have refused, as sqlite-utils refuses it.
"""

import contextlib
import functools
import json
import sqlite3

_json = json.JSONEncoder(default=repr, ensure_ascii=False).encode
_json_text = json.encoder.encode_basestring  # a str as that encoder writes it (ensure_ascii off)
_ENCODED = (list, dict, tuple)


def _encoded(value):
    """`value` as JSON, as sqlite-utils writes it. Most are lists of text (a clinic's insurers,
    conditions, sources): those are joined directly, as the json module would write them."""
    if type(value) is list and all(type(item) is str for item in value):
        return "[" + ", ".join(map(_json_text, value)) + "]"
    return _json(value)


def values_of(row, columns, table="the table"):
    """A row (dict) as insert_values writes it: its values in `columns` (a tuple) order, lists
    and objects JSON-encoded, a missing key NULL, a key that is not a column refused. A build
    worker (kad/parallel.py) calls it, so that the writing process only writes."""
    if not _known(columns).issuperset(row):
        raise ValueError(f"{table} has no column {sorted(set(row) - set(columns))}")
    return [_encoded(value) if isinstance(value, _ENCODED) else value for value in map(row.get, columns)]


@functools.lru_cache(maxsize=None)
def _known(columns):
    return frozenset(columns)


def insert_values(db, table, rows, conflict=""):
    """Insert rows given as lists of values in the table's column order (values_of);
    `conflict` is "", "OR IGNORE" or "OR REPLACE". A generator keeps memory flat."""
    columns = list(db[table].columns_dict)
    names = ", ".join(f"[{column}]" for column in columns)
    db.conn.executemany(f"INSERT {conflict} INTO [{table}] ({names}) VALUES ({', '.join('?' * len(columns))})", rows)
    db.conn.commit()


def insert_rows(db, table, rows, conflict=""):
    """Insert `rows` (dicts) into `table`, which exists."""
    columns = tuple(db[table].columns_dict)
    insert_values(db, table, (values_of(row, columns, table) for row in rows), conflict)


def packed(rows_by_table):
    """Rows of several tables, {table: (columns, value lists in that order)}, as the bytes of a
    SQLite database holding them (made by a build worker, kad/parallel.py). The writing process
    copies it with ``copy_packed``: a third of the time executemany takes for the same rows, and
    no Python object per value to unpickle."""
    with contextlib.closing(sqlite3.connect(":memory:")) as image:
        for table, (columns, rows) in rows_by_table.items():
            image.execute(f"CREATE TABLE [{table}] ({', '.join(f'[{column}]' for column in columns)})")
            image.executemany(f"INSERT INTO [{table}] VALUES ({', '.join('?' * len(columns))})", rows)
        image.commit()
        return image.serialize()


def copy_packed(db, image, conflicts):
    """Append the rows of a ``packed`` image to the tables of the same names, in their order, and
    commit; `conflicts` gives a table's conflict clause ("OR IGNORE"), none by default."""
    db.conn.commit()  # ATTACH and DETACH cannot happen inside a transaction
    # Attached afresh for each image: deserializing a second image into a schema that had held
    # one made SQLite 3.40 read it as malformed.
    db.conn.execute("ATTACH DATABASE ':memory:' AS packed")
    try:
        db.conn.deserialize(image, name="packed")
        for table, in db.conn.execute("SELECT name FROM packed.sqlite_master WHERE type = 'table' ORDER BY rowid").fetchall():
            names = ", ".join(f"[{column}]" for _, column, *_ in db.conn.execute(f"PRAGMA packed.table_info([{table}])"))
            db.conn.execute(f"INSERT {conflicts.get(table, '')} INTO main.[{table}] ({names}) "
                            f"SELECT {names} FROM packed.[{table}] ORDER BY rowid")
        db.conn.commit()
    except BaseException:
        db.conn.rollback()  # so that the DETACH below can run, and the error is the one raised
        raise
    finally:
        db.conn.execute("DETACH DATABASE packed")
