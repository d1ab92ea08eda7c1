"""A build stopped by a signal, as a real `python build_db.py` subprocess: SIGTERM and SIGINT
remove its temporary files (the new database and the staging database, both beside the output)
and keep the old database; the next build removes what a build killed outright (SIGKILL) left,
but never a file that a running build holds."""

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builds import build, synthetic
from kad import tempfiles

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "data" / "curated" / "clinics_seed.jsonl"


@pytest.fixture(scope="module")
def old_database(tmp_path_factory):
    return build(tmp_path_factory.mktemp("old"), feeds={"clinic_site": [synthetic("Old")]}).db_path


@pytest.fixture
def folder(tmp_path, old_database):
    """A folder with an old database in it (one synthetic clinic)."""
    shutil.copy(old_database, tmp_path / "ketamine.db")
    return tmp_path


def leftovers(folder):
    return sorted(p.name for p in folder.glob(".ketamine-*"))


def start_build(folder):
    return subprocess.Popen([sys.executable, "build_db.py", "--db", str(folder / "ketamine.db"),
                             "--feeds", str(folder / "feeds"), "--clinics", str(SEED)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def when_staging(folder, process, timeout=60):
    """Wait until the build has made its staging database (then both its files exist)."""
    deadline = time.monotonic() + timeout
    while not list(folder.glob(".ketamine-*-staging.db.tmp")):
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "the build made no staging database"
        time.sleep(0.01)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_build_removes_its_files_and_keeps_the_old_database(folder, signum):
    old = (folder / "ketamine.db").read_bytes()
    process = start_build(folder)
    when_staging(folder, process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert (process.returncode, leftovers(folder), (folder / "ketamine.db").read_bytes() == old) == (
        128 + signum, [], True), stderr.decode()


def test_both_temporary_files_are_beside_the_output_named_by_the_build(folder):
    process = start_build(folder)
    when_staging(folder, process)
    names = leftovers(folder)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert [(name.split("-")[1], name.endswith(tempfiles.SUFFIX)) for name in names] == [(str(process.pid), True)] * 2


def test_the_next_build_removes_what_a_killed_build_left(folder):
    process = start_build(folder)
    when_staging(folder, process)
    process.kill()  # SIGKILL: nothing of the build runs any more
    process.wait(timeout=60)
    left = leftovers(folder)
    run = build(folder, feeds={"clinic_site": [synthetic("New")]})
    assert (len(left), leftovers(folder), sorted(p.split(":")[0] for p in run.report.problems
                                                  if "removed: left by an earlier build" in p)) == (2, [], left)


def test_a_running_builds_files_are_never_stale(tmp_path):
    live = tmp_path / f"{tempfiles.PREFIX}99999999-locked{tempfiles.SUFFIX}"  # no such process, but locked
    alive = tmp_path / f"{tempfiles.PREFIX}{os.getpid()}-unlocked{tempfiles.SUFFIX}"  # this process is alive
    stale = tmp_path / f"{tempfiles.PREFIX}99999999-stale{tempfiles.SUFFIX}"
    with open(live, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        alive.touch()
        stale.touch()
        assert (tempfiles.remove_stale(tmp_path), leftovers(tmp_path)) == (
            [stale.name], sorted([live.name, alive.name]))
