"""Fixtures several test modules share, and the browser tests' skip note.

Tests marked `browser` drive Debian's Chromium (tests/utils.py CHROMIUM). Where it is missing
they are skipped, and the run's last lines list them and say how to run them, after pytest's own
summary, so a run that passed without them cannot be taken for a full one."""

import os

import pytest

from build_db import Build
from utils import CHROMIUM

BROWSER_TESTS = pytest.StashKey[set]()
HOW_TO_RUN = ("To run them, install Debian's Chromium as root (`sudo apt-get install chromium`, "
              "or `sudo make browser`; `make test` run as root does it), then run `make test` again.")


@pytest.fixture(scope="session")
def real_db(tmp_path_factory):
    """The database built from the checked-in data (read-only: tests open it immutable)."""
    path = tmp_path_factory.mktemp("real") / "ketamine.db"
    Build(path, quiet=True).run()
    return path


def pytest_collection_modifyitems(config, items):
    config.stash[BROWSER_TESTS] = set()
    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"browser test: {CHROMIUM} is missing")
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(skip)
            config.stash[BROWSER_TESTS].add(item.nodeid)


def pytest_unconfigure(config):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    browser_tests = config.stash.get(BROWSER_TESTS, set())
    if reporter is None or not browser_tests:
        return
    skipped = [r.nodeid for r in reporter.stats.get("skipped", []) if r.nodeid in browser_tests]
    if not skipped:
        return
    reporter.write_sep("=", "browser tests SKIPPED", yellow=True)
    reporter.write_line(f"{len(skipped)} browser tests did not run: {CHROMIUM} is missing.")
    for nodeid in skipped:
        reporter.write_line(f"  skipped: {nodeid}")
    reporter.write_line(HOW_TO_RUN)
