"""Fixtures several test modules share."""

import pytest

from build_db import Build


@pytest.fixture(scope="session")
def real_db(tmp_path_factory):
    """The database built from the checked-in data (read-only: tests open it immutable)."""
    path = tmp_path_factory.mktemp("real") / "ketamine.db"
    Build(path, quiet=True).run()
    return path
