"""Refresh the directory from the live sources in one command (`make refresh`):

1. crawl: every spider of crawlers/spiders, each after the spiders whose feeds it reads (its
   `refresh_after`) and otherwise by name, each as `scrapy crawl NAME` behind the feed guard, so a
   crawl that fails or comes back thin keeps the previous feed. A spider is skipped, with a
   message, when a variable it `needs_env` is unset, when it refuses to start without arguments
   that were not given, or when none of the first hosts it would ask answers;
2. build the new database (build_db.py);
3. run the tests;
4. summarise what changed: each feed, and from the old and new databases (kad/changes.py) the
   clinics added, removed and changed, the rows newly flagged for review and the cited
   addresses that vanished.

`--dry-run` lists what each spider would fetch, and fetches nothing. Spider arguments (`-a`) and
Scrapy settings (`-s`) pass through, so a run can be pointed elsewhere (the tests point every
spider at servers on 127.0.0.1):

    python -m kad.refresh [--dry-run] [--only nppes,clinic_site] [-a nppes:states=TX]
                          [-s DOWNLOAD_DELAY=0] [--feeds DIR] [--db FILE] [--logs DIR]
                          [--no-tests | --pytest-args "-q tests/test_build.py"] [--summary FILE]
"""

import argparse
import asyncio
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path
from urllib.parse import urlsplit

from scrapy.settings import Settings
from scrapy.spiderloader import get_spider_loader

from build_db import Build, BuildError  # the build script at the repository root (run from there)
from crawlers.spiders import EVERY_OTHER
from kad import DATA, FEEDS, ROOT, changes

PROBE_HOSTS = 3  # a source is reachable when one of the first hosts the spider would ask answers
PROBE_TIMEOUT = 10  # seconds
PYTEST_ARGS = "-q -p no:cacheprovider"
SHOWN_ADDRESSES = 3


@dataclass
class Crawl:
    name: str
    summary: str
    arguments: dict
    skipped: str | None = None  # why it does not run
    addresses: list | None = None  # where it starts (it finds more as it goes); None: not known
    unlisted: str | None = None  # why the start addresses could not be listed beforehand
    outcome: dict | None = None  # what its feed guard decided, or {"error": ...}


def project_settings():
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    return settings


def spider_classes():
    loader = get_spider_loader(project_settings())
    return [loader.load(name) for name in loader.list()]


def in_order(classes):
    """The spider classes, each after those whose feeds it reads, otherwise by name."""
    by_name = {cls.name: cls for cls in classes}
    sorter = TopologicalSorter()
    for cls in classes:
        after = getattr(cls, "refresh_after", ())
        sorter.add(cls.name, *(set(by_name) - {cls.name} if after == EVERY_OTHER else set(after) & set(by_name)))
    sorter.prepare()  # a cycle raises graphlib.CycleError, naming the spiders in it
    ordered = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        ordered += [by_name[name] for name in ready]
        sorter.done(*ready)
    return ordered


def plan(classes, arguments=None, env=None, only=None):
    """The crawls in the order they run, each with its arguments and why it cannot run, if so."""
    env = os.environ if env is None else env
    crawls = []
    for cls in in_order(list(classes)):
        if only and cls.name not in only:
            continue
        missing = [name for name in getattr(cls, "needs_env", ()) if not env.get(name, "").strip()]
        docstring = (sys.modules[cls.__module__].__doc__ or cls.name).strip()  # "name: what it reads"
        crawls.append(Crawl(cls.name, " ".join(docstring.split("\n\n")[0].split()),
                            dict((arguments or {}).get(cls.name, {})),
                            skipped=f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"
                            if missing else None))
    return crawls


def start_addresses(spider):
    """The addresses a spider asks first, from its own start(), without fetching anything."""
    async def collect():
        return [request.url async for request in spider.start()]
    return asyncio.run(collect())


def unreachable(addresses):
    """Why the source cannot be reached (None when one of the first hosts takes a connection)."""
    hosts = []
    for parts in map(urlsplit, addresses):
        host = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        if parts.hostname and host not in hosts:
            hosts.append(host)
    if not hosts:
        return "it has nothing to fetch"
    errors = []
    for host, port in hosts[:PROBE_HOSTS]:
        try:
            with socket.create_connection((host, port), timeout=PROBE_TIMEOUT):
                return None
        except OSError as error:
            errors.append(f"{host}:{port} ({error.strerror or error})")
    return "its source does not answer: " + "; ".join(errors)


def prepare(crawl, classes):
    """List where a crawl starts. A spider that refuses its arguments is skipped with its reason;
    one that needs its crawler (settings, stats) to list them still runs, only without the
    reachability check."""
    if crawl.skipped:
        return
    try:
        spider = classes[crawl.name](**crawl.arguments)
    except ValueError as error:
        crawl.skipped = f"it needs arguments: {error}"
        return
    try:
        crawl.addresses = start_addresses(spider)
    except Exception as error:  # a spider's own code: whatever it raises, the refresh goes on
        crawl.unlisted = f"{type(error).__name__}: {error}"


def counted(number, word, plural=None):
    return f"{number} {word if number == 1 else plural or word + 's'}"


def describe_start(crawl):
    if crawl.addresses is None:
        return f"addresses it lists only once it runs ({crawl.unlisted})"
    hosts = {urlsplit(url).hostname for url in crawl.addresses}
    examples = ", ".join(crawl.addresses[:SHOWN_ADDRESSES])
    return (f"{counted(len(crawl.addresses), 'address', 'addresses')} on {counted(len(hosts), 'host')}"
            + (f", e.g. {examples}" if examples else ""))


def command(crawl, settings, feeds, report=None, log=None):
    """`scrapy crawl` for one crawl; with `log`, it also logs there and reports to `report`."""
    settings = {**settings, "FEED_DIR": feeds}
    if log:
        settings.update(FEED_GUARD_REPORT=report, LOG_FILE=log)
    line = [sys.executable, "-m", "scrapy", "crawl", crawl.name]
    for name, value in crawl.arguments.items():
        line += ["-a", f"{name}={value}"]
    for name, value in settings.items():
        line += ["-s", f"{name}={value}"]
    return line


def run_crawl(crawl, settings, feeds, logs):
    report, log = logs / f"{crawl.name}.guard.json", logs / f"{crawl.name}.log"
    report.unlink(missing_ok=True)
    done = subprocess.run(command(crawl, settings, feeds, report, log), cwd=ROOT)
    if report.exists():
        crawl.outcome = json.loads(report.read_text(encoding="utf-8"))
    else:
        crawl.outcome = {"error": f"the crawl stopped before its feed guard ran (exit status {done.returncode})"}
    crawl.outcome["log"] = str(log)


def outcome_text(crawl):
    if crawl.skipped:
        return f"skipped: {crawl.skipped}"
    outcome = crawl.outcome or {}
    if "error" in outcome:
        return f"failed: {outcome['error']}; the previous feed is kept (log: {outcome['log']})"
    stats = outcome.get("stats", {})
    counts = f"{counted(stats.get('item_scraped_count', 0), 'item')}, {stats.get('item_dropped_count', 0)} dropped"
    if outcome.get("replaced"):
        return f"feed replaced: {counted(outcome['new_lines'], 'line')}, previously {outcome['previous_lines']} ({counts})"
    return (f"kept the previous feed ({counted(outcome.get('previous_lines') or 0, 'line')}): "
            f"{outcome.get('reason')} ({counts}; log: {outcome['log']})")


def dry_run(crawls, settings, feeds, db, pytest_args):
    print("What a refresh would do (dry run: nothing is fetched):")
    for number, crawl in enumerate(crawls, 1):
        print(f"  {number}. {crawl.summary}")
        if crawl.skipped:
            print(f"      skipped: {crawl.skipped}")
        else:
            print(f"      starts from {describe_start(crawl)}")
            print(f"      {shlex.join(['scrapy', *command(crawl, settings, feeds)[3:]])}")
    tests = f"run the tests (pytest {shlex.join(pytest_args)})" if pytest_args is not None else "no tests (--no-tests)"
    print(f"  then: build {db}, {tests}, and summarise what changed.")


def refresh(crawls, classes, settings, feeds, db, logs, pytest_args):
    """Crawl, build, test; returns (summary lines, exit status)."""
    logs.mkdir(parents=True, exist_ok=True)
    for number, crawl in enumerate(crawls, 1):
        print(f"[crawl {number}/{len(crawls)}] {crawl.name}", flush=True)
        if not crawl.skipped and crawl.addresses is not None:
            crawl.skipped = unreachable(crawl.addresses)
        if not crawl.skipped:
            run_crawl(crawl, settings, feeds, logs)
        print(f"    {outcome_text(crawl)}", flush=True)
    lines = ["Feeds:"] + [f"  {crawl.name}: {outcome_text(crawl)}" for crawl in crawls]
    with tempfile.TemporaryDirectory() as scratch:
        previous = None
        if db.exists():
            previous = Path(scratch) / "previous.db"
            shutil.copyfile(db, previous)
        print("[build]", flush=True)
        try:
            Build(db, feeds_dir=feeds).run()
        except BuildError as error:
            return lines + [f"Build failed, the previous database is kept: {error}", "Tests: not run"], 1
        lines += changes.describe(changes.compare(previous, db))
    if pytest_args is None:
        return lines + ["Tests: not run (--no-tests)"], 0
    print("[tests]", flush=True)
    line, status = run_tests(pytest_args)
    return lines + [line], status


def run_tests(pytest_args):
    """(summary line, exit status) of the test suite run with these arguments."""
    done = subprocess.run([sys.executable, "-m", "pytest", *pytest_args], cwd=ROOT)
    if done.returncode == 0:
        return "Tests: passed", 0
    return f"Tests: FAILED (exit status {done.returncode})", 1


def name_value(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def spider_argument(text):
    spider, sep, rest = text.partition(":")
    if not sep or not spider:
        raise argparse.ArgumentTypeError(f"{text!r} is not SPIDER:NAME=VALUE")
    return spider, *name_value(rest)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="list what would be fetched; fetch nothing")
    parser.add_argument("--only", help="comma-separated spider names (default: every spider)")
    parser.add_argument("-a", dest="arguments", action="append", default=[], type=spider_argument,
                        metavar="SPIDER:NAME=VALUE", help="a spider argument, e.g. -a nppes:states=TX")
    parser.add_argument("-s", dest="settings", action="append", default=[], type=name_value,
                        metavar="NAME=VALUE", help="a Scrapy setting for every crawl")
    parser.add_argument("--feeds", type=Path, default=FEEDS, help="the feeds folder (crawls write, the build reads)")
    parser.add_argument("--db", type=Path, default=DATA / "ketamine.db")
    parser.add_argument("--logs", type=Path, default=ROOT / "build" / "refresh", help="crawl logs and guard reports")
    tests = parser.add_mutually_exclusive_group()
    tests.add_argument("--no-tests", action="store_true")
    tests.add_argument("--pytest-args", default=PYTEST_ARGS, help=f"default: {PYTEST_ARGS}")
    parser.add_argument("--summary", type=Path, help="also write the summary to this file")
    args = parser.parse_args(argv)

    classes = {cls.name: cls for cls in spider_classes()}
    only = set(args.only.split(",")) if args.only else None
    arguments, settings = {}, dict(args.settings)
    for spider, name, value in args.arguments:
        arguments.setdefault(spider, {})[name] = value
    unknown = (set(arguments) | (only or set())) - set(classes)
    if unknown:
        parser.error(f"no spider named {', '.join(sorted(unknown))} (spiders: {', '.join(sorted(classes))})")
    crawls = plan(classes.values(), arguments, only=only)
    for crawl in crawls:
        prepare(crawl, classes)
    pytest_args = None if args.no_tests else shlex.split(args.pytest_args)
    feeds, db = args.feeds.resolve(), args.db.resolve()
    if args.dry_run:
        dry_run(crawls, settings, feeds, db, pytest_args)
        return 0
    lines, status = refresh(crawls, classes, settings, feeds, db, args.logs.resolve(), pytest_args)
    summary = "\n".join(["What changed", *lines])
    print(summary)
    if args.summary:
        args.summary.write_text(summary + "\n", encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main())
