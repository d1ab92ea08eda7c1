"""The repository as a whole: it stands on its own (nothing in it points at files outside it), and
its packaging metadata is current."""

import re
import subprocess
import tomllib
from pathlib import PurePosixPath

from packaging.licenses import canonicalize_license_expression

from kad import ROOT

BINARY = {".png", ".jpg", ".gif", ".pdf", ".db", ".ico"}
WEB_ADDRESS = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+")
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|home|root|mnt)/\S*")
RELATIVE_PATH = re.compile(r"(?<![\w.])(?:\.\./)+[\w./-]*")
MARKDOWN_NAME = re.compile(r"[\w./-]*[\w-]\.md\b")
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
STEERING_PATH = re.compile(r"(?<![\w/.-])shared/[\w./-]*")  # the team's folder beside the repository


def repository_files():
    """The files of the repository: committed, or new and not ignored."""
    listing = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [PurePosixPath(line) for line in listing.splitlines()]


FILES = repository_files()
MARKDOWN_FILES = {f.name for f in FILES if f.suffix == ".md"} | {str(f) for f in FILES if f.suffix == ".md"}


def in_repository(path, target):
    """Whether a relative address written in `path` names something inside the repository."""
    resolved = (ROOT / path.parent / target).resolve()
    return resolved.is_relative_to(ROOT) and resolved.exists()


def outside_references(path, content):
    """What `content` (of the file at `path`) points to outside the repository, as 'line: what'."""
    found = []
    for number, line in enumerate(content.splitlines(), 1):
        links = MARKDOWN_LINK.findall(line) if path.suffix == ".md" else []
        local_links = [t for t in links if not re.match(r"[a-z][a-z0-9+.-]*:|#", t)]
        line = WEB_ADDRESS.sub(" ", line)
        found += [f"{number}: machine path {p}" for p in MACHINE_PATH.findall(line)]
        found += [f"{number}: {p} is outside the repository" for p in RELATIVE_PATH.findall(line)
                  if not in_repository(path, p)]
        found += [f"{number}: {name} is not in the repository" for name in MARKDOWN_NAME.findall(line)
                  if name not in MARKDOWN_FILES and PurePosixPath(name).name not in MARKDOWN_FILES]
        found += [f"{number}: link to {t}, not a file in the repository" for t in local_links
                  if not in_repository(path, t.split("#")[0])]
        found += [f"{number}: {p} is in the team's folder, not in the repository"
                  for p in STEERING_PATH.findall(line)]
    return found


def test_nothing_points_outside_the_repository():
    this_file = PurePosixPath("tests/test_repository.py")  # its examples point outside on purpose
    problems = [f"{path}:{problem}" for path in FILES
                if path.suffix not in BINARY and path != this_file and (ROOT / path).is_file()
                for problem in outside_references(path, (ROOT / path).read_text(encoding="utf-8", errors="replace"))]
    assert not problems, "\n".join(problems)


def test_the_check_finds_what_it_is_for():
    """Each kind of outside reference is caught, and ordinary text is left alone."""
    sample = "\n".join([
        "Read `../shared/DESIGN.md` first.",
        "See [the design](../../shared/DESIGN.md).",
        "Copied from `shared/data/clinics_seed.jsonl`.",
        "Made in /work/main/data.",
        "Fine: [the readme](../README.md), `data/feeds/<spider>.jsonl`, https://example.org/a/NOTES.md, ../README.md",
    ])
    problems = outside_references(PurePosixPath("docs/sample.md"), sample)
    assert [p.split(":")[0] for p in problems] == ["1", "1", "2", "2", "2", "3", "4"]


def test_the_licence_is_an_spdx_expression():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert isinstance(project["license"], str)
    assert canonicalize_license_expression(project["license"]) == project["license"]
