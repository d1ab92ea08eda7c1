"""kad/bulk.py: insert_rows writes what sqlite-utils' insert_all writes, for the build's tables;
a packed image is copied whole, in order."""

import sqlite3

import pytest
import sqlite_utils

from kad.bulk import copy_packed, insert_rows, insert_values, packed, values_of

COLUMNS = {"id": str, "name": str, "price": float, "count": int, "flag": int, "sources": str, "detail": str}
ROWS = [
    {"id": "a", "name": "Synthetic Clinic é \u202e", "price": 450.5, "count": 6, "flag": True,
     "sources": ["https://synthetic.example/a", "https://synthetic.example/é"], "detail": {"b": [1, None], "a": "x"}},
    {"id": "b", "name": None, "price": 0, "count": None, "flag": False, "sources": [], "detail": {}},
    {"id": "c", "sources": ("https://synthetic.example/c",)},  # missing keys are NULL; a tuple is a list
    # Text that JSON escapes, in a list of text (written without the json module's encoder) and in a mixed list.
    {"id": "d", "sources": ['say "hi"\\ \n\t\x00\x7f\u2028 é', ""], "detail": ['say "hi"\\', 1, None, True]},
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


def _packed_rows(*rows):
    return packed({"t": (tuple(COLUMNS), [values_of(row, tuple(COLUMNS)) for row in rows]),
                   "links": (("t_id", "word"), [["a", "x"], ["b", "y"], ["a", "x"]])})


def _link_table(db):
    db["links"].create({"t_id": str, "word": str}, pk=("t_id", "word"))


def test_a_packed_image_is_copied_as_insert_values_writes_it():
    expected = table(ROWS, lambda db, rows: db["t"].insert_all(rows))

    def copy(db, rows):
        _link_table(db)
        for image in (_packed_rows(*rows[:2]), _packed_rows(*rows[2:])):  # one after another
            copy_packed(db, image, {"links": "OR IGNORE"})
    assert table(ROWS, copy) == expected


def test_a_packed_image_keeps_its_order_and_conflict_clauses():
    db = sqlite_utils.Database(memory=True)
    db["t"].create(COLUMNS, pk="id")
    _link_table(db)
    copy_packed(db, _packed_rows(ROWS[2], ROWS[0]), {"links": "OR IGNORE"})
    assert [row[0] for row in db.execute("SELECT id FROM t ORDER BY rowid")] == ["c", "a"]
    assert list(db.execute("SELECT t_id, word FROM links ORDER BY rowid")) == [("a", "x"), ("b", "y")]


def test_a_row_that_breaks_a_constraint_raises_and_copies_nothing_of_its_image():
    db = sqlite_utils.Database(memory=True)
    db["t"].create(COLUMNS, pk="id")
    _link_table(db)
    copy_packed(db, _packed_rows(ROWS[0]), {"links": "OR IGNORE"})
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        copy_packed(db, _packed_rows(ROWS[1], ROWS[0]), {"links": "OR IGNORE"})
    assert [row[0] for row in db.execute("SELECT id FROM t")] == ["a"]
    copy_packed(db, _packed_rows(ROWS[1]), {"links": "OR IGNORE"})  # the failed image was detached
    assert db["t"].count == 2
