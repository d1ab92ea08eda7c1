"""The Makefile and the README's quick start: the two commands exactly as the README states them,
and `make test` for anyone (root installs Chromium; anyone else runs every other test and is
told, at the end, which browser tests were skipped and how to run them). Chromium stays
installed: the path without it is tried by pointing CHROMIUM elsewhere, and apt-get is a fake."""

import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from kad import ROOT
from utils import free_port

MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CHROMIUM", "KAD_CHROMIUM", "USER_ID", "PYTEST_ARGS", "PORT")


def quick_start():
    """The commands of the README's quick start block, comments left out."""
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


README = (ROOT / "README.md").read_text()


def make_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in MAKE_VARIABLES}
    return {**env, **extra}


def make(*arguments, env=None, timeout=120):
    return subprocess.run(["make", "--no-print-directory", *arguments], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env or make_env())


@pytest.fixture
def fake_apt(tmp_path):
    """An apt-get on PATH that only writes down how it was called."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "apt-calls"
    bin_dir.mkdir()
    script = bin_dir / "apt-get"
    script.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    script.chmod(0o755)
    env = make_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return env, calls


def test_the_quick_start_is_two_commands():
    assert quick_start() == ["make serve", "make test"]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert quick_start()[1] in [line.strip() for line in ci]


def test_root_installs_chromium_when_it_is_missing(fake_apt, tmp_path):
    env, calls = fake_apt
    done = make("browser", f"CHROMIUM={tmp_path / 'no-chromium'}", "USER_ID=0", env=env)
    assert done.returncode == 0, done.stderr
    assert calls.read_text().splitlines() == ["update -qq", "install -y -qq chromium"]


def test_anyone_else_is_told_and_goes_on(fake_apt, tmp_path):
    env, calls = fake_apt
    done = make("browser", f"CHROMIUM={tmp_path / 'no-chromium'}", "USER_ID=1000", env=env)
    assert (done.returncode, calls.exists()) == (0, False)
    assert "browser tests will be skipped" in done.stdout


def test_nothing_is_installed_when_chromium_is_there(fake_apt, tmp_path):
    env, calls = fake_apt
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    done = make("browser", f"CHROMIUM={chromium}", "USER_ID=0", env=env)
    assert (done.returncode, calls.exists(), done.stdout) == (0, False, "")


def test_make_test_without_chromium_says_so_in_its_last_lines(tmp_path):
    done = make("test", f"CHROMIUM={tmp_path / 'no-chromium'}", "USER_ID=1000",
                "PYTEST_ARGS=tests/test_browser.py -p no:cacheprovider", timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()
    stats = max(i for i, line in enumerate(last) if re.search(r"\d+ skipped in [\d.]+s", line))
    block = last[stats + 1:]  # after pytest's own last line: the skipped browser tests, then how
    assert "browser tests SKIPPED" in block[0]
    assert re.fullmatch(rf"\d+ browser tests did not run: {tmp_path / 'no-chromium'} is missing\.", block[1])
    assert "  skipped: tests/test_browser.py::test_open_a_state_page" in block
    assert all(line.startswith("  skipped: tests/test_browser.py::") for line in block[2:-1])
    assert last[-1].startswith("To run them, install Debian's Chromium as root")


def test_make_serve_listens_where_the_readme_says():
    plan = make("-n", "serve").stdout
    assert "build_db.py" in plan and "--host 127.0.0.1 --port 8001" in plan


def test_make_serve_builds_and_serves_the_directory():
    """`make serve` as the README states it (on another port: 8001 may be taken on this machine)."""
    port = free_port()
    server = subprocess.Popen(quick_start()[0].split(), cwd=ROOT, env=make_env(PORT=str(port)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 240
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                    home = page.read().decode()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ketamine/clinics.json?_size=1", timeout=5) as data:
                    clinics = data.read().decode()
                break
            except OSError:
                assert time.time() < deadline, "make serve did not answer within 4 minutes"
                time.sleep(0.5)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    assert "Ketamine Access Directory" in home and '"rows"' in clinics
