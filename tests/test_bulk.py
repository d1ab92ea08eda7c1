"""kad/bulk.py: insert_rows writes what sqlite-utils' insert_all writes, for the build's tables."""

import pytest
import sqlite_utils

from kad.bulk import insert_rows, insert_values, values_of

COLUMNS = {"id": str, "name": str, "price": float, "count": int, "flag": int, "sources": str, "detail": str}
ROWS = [
    {"id": "a", "name": "Synthetic Clinic é \u202e", "price": 450.5, "count": 6, "flag": True,
     "sources": ["https://synthetic.example/a", "https://synthetic.example/é"], "detail": {"b": [1, None], "a": "x"}},
    {"id": "b", "name": None, "price": 0, "count": None, "flag": False, "sources": [], "detail": {}},
    {"id": "c", "sources": ("https://synthetic.example/c",)},  # missing keys are NULL; a tuple is a list
]


def table(rows, write):
    db = sqlite_utils.Database(memory=True)
    db["t"].create(COLUMNS, pk="id")
    write(db, rows)
    return list(db.execute("SELECT * FROM t ORDER BY id"))


def test_same_rows_as_sqlite_utils():
    expected = table(ROWS, lambda db, rows: db["t"].insert_all(rows))
    assert table(iter(ROWS), lambda db, rows: insert_rows(db, "t", rows)) == expected


def test_values_made_beforehand_are_written_the_same():
    expected = table(ROWS, lambda db, rows: db["t"].insert_all(rows))
    values = [values_of(row, tuple(COLUMNS)) for row in ROWS]
    assert table(values, lambda db, rows: insert_values(db, "t", rows)) == expected


def test_values_of_refuses_a_key_that_is_not_a_column():
    with pytest.raises(ValueError, match="no column"):
        values_of({"id": "x", "colour": "red"}, tuple(COLUMNS))


def test_conflict_clause():
    def twice(db, rows):
        insert_rows(db, "t", rows)
        insert_rows(db, "t", [{"id": "a", "name": "Synthetic Other"}], "OR IGNORE")
    assert table(ROWS[:1], twice)[0][1] == ROWS[0]["name"]


def test_unknown_column_is_refused():
    with pytest.raises(ValueError, match="no column"):
        table([{"id": "x", "colour": "red"}], lambda db, rows: insert_rows(db, "t", rows))
