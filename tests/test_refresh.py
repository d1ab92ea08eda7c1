"""`make refresh` (kad/refresh.py): the order and the skips it plans from what each spider
declares, its dry run, and a whole refresh offline, with every spider pointed at servers on
127.0.0.1 (saved NPI Registry answers, a synthetic clinic site, a closed port) and every feed,
database and log in a temporary folder."""

import graphlib
import json
import os
import re
import subprocess
import sys

import pytest
import scrapy
import yaml
from test_crawl_nppes import registry

from build_db import Build
from builds import synthetic, write_jsonl
from crawlers.spiders import EVERY_OTHER
from kad import ROOT, refresh
from utils import FILES, LocalSite, free_port

KEY = "OPENSTATES_API_KEY"


def without_key():
    return {k: v for k, v in os.environ.items() if k != KEY}


def run_refresh(*arguments, env=None):
    return subprocess.run([sys.executable, "-m", "kad.refresh", *arguments], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=env or without_key())


# -- the plan ------------------------------------------------------------------------------------

class SyntheticReader(scrapy.Spider):
    name = "synthetic_reader"


class SyntheticKeyed(scrapy.Spider):
    name = "synthetic_keyed"
    needs_env = ("SYNTHETIC_KEY",)


class SyntheticMatcher(scrapy.Spider):
    name = "synthetic_a_matcher"  # first by name, but it reads the reader's feed
    refresh_after = ("synthetic_reader", "a_spider_not_in_this_project")


class SyntheticChecker(scrapy.Spider):
    name = "synthetic_checker"
    refresh_after = EVERY_OTHER


class SyntheticNeedsArguments(scrapy.Spider):
    name = "synthetic_needs_arguments"

    def __init__(self, payer=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not payer:
            raise ValueError("give -a payer=<id>")


def test_a_new_spider_plugs_in_by_what_it_declares():
    crawls = refresh.plan([SyntheticChecker, SyntheticMatcher, SyntheticReader, SyntheticKeyed], env={})
    assert [(c.name, c.skipped) for c in crawls] == [
        ("synthetic_keyed", "SYNTHETIC_KEY is not set"), ("synthetic_reader", None),
        ("synthetic_a_matcher", None), ("synthetic_checker", None)]


def test_spiders_that_wait_for_each_other_are_refused():
    class Waiting(scrapy.Spider):
        name = "synthetic_waiting"
        refresh_after = ("synthetic_a_matcher",)

    SyntheticMatcher.refresh_after = ("synthetic_waiting",)
    try:
        with pytest.raises(graphlib.CycleError):
            refresh.plan([SyntheticMatcher, Waiting], env={})
    finally:
        SyntheticMatcher.refresh_after = ("synthetic_reader", "a_spider_not_in_this_project")


def test_a_spider_that_refuses_its_arguments_is_skipped_with_its_reason():
    crawl, = refresh.plan([SyntheticNeedsArguments], env={})
    refresh.prepare(crawl, {crawl.name: SyntheticNeedsArguments})
    assert crawl.skipped == "it needs arguments: give -a payer=<id>"
    given, = refresh.plan([SyntheticNeedsArguments], {"synthetic_needs_arguments": {"payer": "synthetic"}}, env={})
    refresh.prepare(given, {given.name: SyntheticNeedsArguments})
    assert given.skipped is None


def test_the_key_makes_the_spider_run():
    crawls = refresh.plan([SyntheticKeyed], env={"SYNTHETIC_KEY": "synthetic"})
    assert crawls[0].skipped is None


def test_the_project_spiders_run_clinic_sources_first_and_the_source_check_last():
    names = [c.name for c in refresh.plan(refresh.spider_classes(), env={})]
    assert names[-1] == "source_check" and names.index("clinic_site") < names.index("source_check")
    assert names.index("nppes") < names.index("source_check")


def test_openstates_needs_its_key():
    skipped = {c.name: c.skipped for c in refresh.plan(refresh.spider_classes(), env={})}
    assert skipped["openstates"] == f"{KEY} is not set"
    assert [skipped[name] for name in ("clinic_site", "insurer_policy", "nppes", "source_check")] == [None] * 4


class SyntheticNeedsItsCrawler(scrapy.Spider):
    name = "synthetic_needs_its_crawler"

    async def start(self):
        yield scrapy.Request(self.crawler.settings["SYNTHETIC_URL"])


def test_a_spider_that_lists_its_start_only_when_running_still_runs():
    crawl, = refresh.plan([SyntheticNeedsItsCrawler], env={})
    refresh.prepare(crawl, {crawl.name: SyntheticNeedsItsCrawler})
    assert (crawl.skipped, crawl.addresses) == (None, None)
    assert refresh.describe_start(crawl).startswith("addresses it lists only once it runs (AttributeError: ")


def test_an_unreachable_source_says_why():
    port = free_port()
    assert refresh.unreachable([f"http://127.0.0.1:{port}/api/"]).startswith(
        f"its source does not answer: 127.0.0.1:{port} (")
    assert refresh.unreachable([]) == "it has nothing to fetch"
    with LocalSite({}) as site:
        assert refresh.unreachable([f"http://127.0.0.1:{site.port}/"]) is None


# -- the dry run ---------------------------------------------------------------------------------

def test_the_dry_run_lists_what_would_be_fetched_and_fetches_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(KEY, raising=False)
    assert refresh.main(["--dry-run", "--feeds", str(tmp_path / "feeds"), "--db", str(tmp_path / "k.db")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "What a refresh would do (dry run: nothing is fetched):"
    nppes = lines.index(next(line for line in lines if re.match(r"  \d+\. nppes:", line)))
    assert lines[nppes + 1].startswith("      starts from 204 addresses on 1 host, e.g. https://npiregistry.cms.hhs.gov/api/?")
    assert lines[nppes + 2] == f"      scrapy crawl nppes -s FEED_DIR={tmp_path / 'feeds'}"
    assert f"      skipped: {KEY} is not set" in lines
    assert re.match(r"  \d+\. source_check:", lines[-4])
    assert lines[-1].startswith(f"  then: build {tmp_path / 'k.db'}, run the tests (pytest -q -p no:cacheprovider)")
    assert list(tmp_path.iterdir()) == []


def test_a_misspelt_spider_is_refused(capsys):
    with pytest.raises(SystemExit) as stopped:
        refresh.main(["--dry-run", "--only", "npes"])
    assert stopped.value.code == 2 and "no spider named npes" in capsys.readouterr().err


# -- a whole refresh, offline --------------------------------------------------------------------

CLINIC_HOME = (FILES / "clinic_site" / "austin_home.html").read_text()
CRAWLED = ("clinic_site", "insurer_policy", "nppes", "openstates", "source_check")


def site(path):
    """A synthetic clinic's site: its home page; everything else (e.g. /gone) is not found."""
    return (200, {}, CLINIC_HOME) if path == "/" else None


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("refresh")
    feeds = folder / "feeds"
    feeds.mkdir()
    with LocalSite(registry) as api, LocalSite(site) as clinic:
        home, gone, closed = f"http://127.0.0.1:{clinic.port}/", f"http://127.0.0.1:{clinic.port}/gone", free_port()
        # The feeds before: an NPPES feed the crawl will replace, a source check that had read
        # /gone, and a bill citing it (openstates has no key here, so that feed stays).
        write_jsonl(feeds / "nppes.jsonl", [synthetic("Gone", source_id="nppes:1000000016"),
                                            synthetic("Elsewhere", source_id="nppes:1000000024")])
        write_jsonl(feeds / "source_check.jsonl", [
            {"url": gone, "final_url": gone, "http_status": 200, "content_sha256": "b" * 64, "changed": False,
             "disappeared": False, "checked_at": "2026-11-01T00:00:00Z"}])
        write_jsonl(feeds / "openstates.jsonl", [{
            "id": "ocd-bill/synthetic-1", "state": "TX", "session": "89", "identifier": "HB 1",
            "title": "Synthetic act on ketamine", "status": "introduced", "latest_action": "Filed",
            "latest_action_date": "2025-01-10", "subjects": [], "matched_terms": ["ketamine"],
            "url": gone, "sources": [gone], "retrieved_at": "2026-11-01T00:00:00Z"}])
        policy = yaml.safe_load((FILES / "insurer_policy" / "policies.yml").read_text())[0]
        policies = folder / "policies.yml"
        policies.write_text(yaml.safe_dump([{**policy, "sources": [f"http://127.0.0.1:{closed}/policy"]}]))
        tests = folder / "test_synthetic_suite.py"
        tests.write_text("def test_passes():\n    assert True\n")
        db = folder / "ketamine.db"
        Build(db, feeds_dir=feeds, quiet=True).run()
        done = run_refresh(
            "--feeds", str(feeds), "--db", str(db), "--logs", str(folder / "logs"), "--summary", str(folder / "summary.txt"),
            "--pytest-args", f"{tests} -q -p no:cacheprovider",
            "--only", ",".join(CRAWLED),  # every spider here is pointed at 127.0.0.1; the others stay offline
            "-a", f"nppes:api_url=http://127.0.0.1:{api.port}/api/", "-a", "nppes:states=TX", "-a", "nppes:limit=2",
            "-a", f"clinic_site:start_urls={home}", "-a", f"source_check:urls={home},{gone}",
            "-a", f"insurer_policy:policies={policies}",
            "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False")
    return {"done": done, "feeds": feeds, "folder": folder, "home": home, "gone": gone, "closed": closed,
            "summary": (folder / "summary.txt").read_text() if (folder / "summary.txt").exists() else ""}


def test_the_refresh_succeeds(refreshed):
    assert refreshed["done"].returncode == 0, refreshed["done"].stdout[-3000:] + refreshed["done"].stderr[-3000:]


def test_the_crawls_run_in_order(refreshed):
    started = [line.split("] ")[1] for line in refreshed["done"].stdout.splitlines() if line.startswith("[crawl ")]
    assert started == list(CRAWLED)


def test_each_feed_is_reported(refreshed):
    summary = refreshed["summary"].splitlines()
    assert "  nppes: feed replaced: 4 lines, previously 2 (4 items, 0 dropped)" in summary
    assert "  clinic_site: feed replaced: 1 line, previously 0 (1 item, 0 dropped)" in summary
    assert "  source_check: feed replaced: 2 lines, previously 1 (2 items, 0 dropped)" in summary
    assert f"  openstates: skipped: {KEY} is not set" in summary
    assert f"  insurer_policy: skipped: its source does not answer: 127.0.0.1:{refreshed['closed']} (" in \
        refreshed["summary"]


def test_the_feeds_were_written_behind_the_guard(refreshed):
    feeds = refreshed["feeds"]
    assert sorted(p.name for p in feeds.iterdir()) == [
        "clinic_site.jsonl", "nppes.jsonl", "openstates.jsonl", "source_check.jsonl"]
    npis = sorted(json.loads(line)["npi"] for line in (feeds / "nppes.jsonl").read_text().splitlines())
    assert npis == ["1234567893", "1555010101", "1666010206", "1987654328"]


def test_the_summary_says_what_changed_in_the_database(refreshed):
    summary = refreshed["summary"].splitlines()
    assert "Clinics: 5 added, 2 removed, 0 changed" in summary  # four from NPPES, one from the site
    assert "  added: SYNTHETIC KETAMINE INFUSION CENTER OF AUSTIN (nppes:1234567893)" in summary
    assert "  added: Synthetic Ketamine Clinic of Austin (site:synthetic-ketamine-clinic-of-austin-austin)" in summary
    assert "  removed: Synthetic Gone (nppes:1000000016)" in summary
    assert "  removed: Synthetic Elsewhere (nppes:1000000024)" in summary
    assert f"  vanished: {refreshed['gone']}" in summary


def test_the_tests_ran_after_the_build(refreshed):
    out = refreshed["done"].stdout
    assert out.index("[build]") < out.index("[tests]") and "1 passed" in out
    assert refreshed["summary"].rstrip().endswith("Tests: passed")


def test_failing_tests_fail_the_refresh(tmp_path):
    tests = tmp_path / "test_synthetic_failure.py"
    tests.write_text("def test_fails():\n    assert False\n")
    assert refresh.run_tests([str(tests), "-q", "-p", "no:cacheprovider"]) == ("Tests: FAILED (exit status 1)", 1)


# -- the scheduled workflow ------------------------------------------------------------------------

def test_the_workflow_refreshes_weekly_and_commits_only_feeds_after_a_passing_refresh():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "refresh.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    minute, hour, day, month, weekday = triggers["schedule"][0]["cron"].split()
    assert (day, month, weekday.isdigit()) == ("*", "*", True)
    steps = workflow["jobs"]["refresh"]["steps"]
    runs = [step.get("run", "") for step in steps]
    refreshing = next(i for i, run in enumerate(runs) if run.startswith("make refresh"))
    committing = next(i for i, run in enumerate(runs) if "git commit" in run)
    assert refreshing < committing and "if" not in steps[committing]  # runs only when the refresh passed
    assert "git add data/feeds" in runs[committing] and "git push" in runs[committing]
    assert steps[refreshing]["env"] == {KEY: "${{ secrets.%s }}" % KEY}
    assert workflow["permissions"] == {"contents": "write"}
