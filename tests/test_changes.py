"""kad/changes.py: what changed between two builds, on synthetic feeds built twice."""

import pytest

from builds import build, synthetic
from kad import changes

SOURCE_B = "https://synthetic.example/b"
OLD = [synthetic("A", insurers=["Aetna"]), synthetic("B"), synthetic("C")]
NEW = [synthetic("A", insurers=["Aetna", "Cigna"]),
       synthetic("B", retrieved_at="2026-11-27T00:00:00+00:00"),  # read again, nothing else new
       synthetic("D")]
CHECKS = [{"url": SOURCE_B, "http_status": 404, "final_url": SOURCE_B, "content_sha256": None,
           "checked_at": "2026-11-28T00:00:00Z", "changed": False, "disappeared": True, "error": "http_404"}]


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    old = build(tmp_path_factory.mktemp("old"), feeds={"clinic_site": OLD}).db_path
    new = build(tmp_path_factory.mktemp("new"), feeds={"clinic_site": NEW, "source_check": CHECKS}).db_path
    return changes.compare(old, new), new


def test_added_and_removed_clinics(found):
    result, _ = found
    assert (result.added, result.removed) == ([("site:synthetic-d", "Synthetic D")], [("site:synthetic-c", "Synthetic C")])


def test_changed_clinics_name_their_columns_and_a_reread_is_no_change(found):
    assert found[0].changed == [("site:synthetic-a", "Synthetic A", ["insurers"])]


def test_rows_newly_flagged_for_review(found):
    result, _ = found
    assert result.flagged == {"clinics": ["site:synthetic-b"]}
    assert result.flagged_now["clinics"] == 1


def test_vanished_sources(found):
    result, _ = found
    assert (result.vanished, result.no_longer_cited) == ([SOURCE_B], 1)  # C's page is cited no more


def test_without_a_previous_database_everything_is_new(found):
    result = changes.compare(None, found[1])
    assert (len(result.added), result.removed, result.changed, result.flagged["clinics"]) == (
        3, [], [], ["site:synthetic-b"])
    assert changes.describe(result)[0] == "No previous database: every row is new."


def test_the_description(found):
    result, _ = found
    now = ", ".join(f"{table} {count}" for table, count in result.flagged_now.items() if count)  # curated rows too
    assert changes.describe(result) == [
        "Clinics: 1 added, 1 removed, 1 changed",
        "  added: Synthetic D (site:synthetic-d)",
        "  removed: Synthetic C (site:synthetic-c)",
        "  changed: Synthetic A (site:synthetic-a): insurers",
        f"Rows newly flagged for review: 1 (needing review now: {now})",
        "  clinics: site:synthetic-b",
        "Cited addresses that vanished since the last build: 1",
        f"  vanished: {SOURCE_B}",
        "Addresses no row cites any more: 1",
    ]


def test_long_lists_are_cut(found):
    many = changes.Changes(previous=True, added=[(f"site:synthetic-{i}", f"Synthetic {i}") for i in range(30)])
    lines = changes.describe(many)
    assert lines[changes.SHOWN + 1] == "  added: … and 5 more"
