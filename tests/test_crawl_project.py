"""The Scrapy project itself: scrapy.cfg at the root, polite settings, pipeline order."""

import subprocess
import sys

from scrapy.utils.project import get_project_settings

from kad import ROOT


def test_scrapy_list_from_the_root():
    done = subprocess.run([sys.executable, "-m", "scrapy", "list"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.split() == ["clinic_site", "insurer_policy", "marketplace_providers", "medicare_billers",
                                   "nppes", "nppes_match", "openstates", "plan_net", "source_check"]


def settings(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("SCRAPY_SETTINGS_MODULE", raising=False)
    return get_project_settings()


def test_polite_settings(monkeypatch):
    s = settings(monkeypatch)
    assert (s.getbool("ROBOTSTXT_OBEY"), s.getbool("AUTOTHROTTLE_ENABLED"), s.getbool("HTTPCACHE_ENABLED"),
            s.getint("CONCURRENT_REQUESTS_PER_DOMAIN"), s.getfloat("DOWNLOAD_DELAY") >= 1) == (
        True, True, False, 1, True)


def test_user_agent_names_the_project_and_a_contact(monkeypatch):
    agent = settings(monkeypatch)["USER_AGENT"]
    assert agent.startswith("KetamineAccessDirectory/") and "@" in agent and "+https://" in agent


def test_pipeline_order(monkeypatch):
    pipelines = settings(monkeypatch).getdict("ITEM_PIPELINES")
    assert [p.rsplit(".", 1)[1] for p in sorted(pipelines, key=pipelines.get)] == [
        "RecordPipeline", "VocabularyPipeline"]


def test_feeds_go_through_the_guard(monkeypatch):
    s = settings(monkeypatch)
    assert list(s.getdict("FEEDS")) == ["%(feed_dir)s/%(name)s.jsonl.partial"]
    assert s["FEED_DIR"] == str(ROOT / "data" / "feeds")
