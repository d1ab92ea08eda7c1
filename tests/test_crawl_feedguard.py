"""The feed guard (crawlers/feedguard.py) on its own: which crawls may replace a feed."""

import json

import pytest
from scrapy import Spider
from scrapy.utils.test import get_crawler

from crawlers.feedguard import FeedGuard, feed_uri_params


class SyntheticSpider(Spider):
    name = "synthetic"


def lines(n):
    return "".join(f'{{"source_id": "site:synthetic-{i}"}}\n' for i in range(n))


@pytest.fixture
def guard(tmp_path):
    crawler = get_crawler(SyntheticSpider, {"FEED_DIR": str(tmp_path), "FEED_GUARD_MIN_RATIO": 0.5})
    return FeedGuard.from_crawler(crawler)


def write(tmp_path, new=None, old=None):
    if new is not None:
        (tmp_path / "synthetic.jsonl.partial").write_text(lines(new))
    if old is not None:
        (tmp_path / "synthetic.jsonl").write_text(lines(old))


def feed_lines(tmp_path):
    return len((tmp_path / "synthetic.jsonl").read_text().splitlines())


def test_first_feed_written(guard, tmp_path):
    write(tmp_path, new=3)
    assert (guard.finish("synthetic", "finished"), feed_lines(tmp_path)) == (True, 3)


def test_partial_file_is_renamed(guard, tmp_path):
    write(tmp_path, new=3, old=3)
    guard.finish("synthetic", "finished")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic.jsonl"]


def test_similar_feed_replaces(guard, tmp_path):
    write(tmp_path, new=6, old=10)
    assert (guard.finish("synthetic", "finished"), feed_lines(tmp_path)) == (True, 6)


def test_growing_feed_replaces(guard, tmp_path):
    write(tmp_path, new=12, old=10)
    assert guard.finish("synthetic", "finished") is True


@pytest.mark.parametrize("new, old, reason, phrase", [
    (4, 10, "finished", "under 50%"),
    (0, 10, "finished", "no items"),
    (0, None, "finished", "no items"),
    (10, 10, "shutdown", "finish_reason=shutdown"),
    (10, 10, "closespider_timeout", "did not finish normally"),
])
def test_refused(guard, tmp_path, new, old, reason, phrase):
    write(tmp_path, new=new, old=old)
    replaced = guard.finish("synthetic", reason)
    stats = guard.crawler.stats
    assert (replaced, stats.get_value("feedguard/kept_previous")) == (False, 1)
    assert phrase in stats.get_value("feedguard/reason")


def test_refused_feed_left_untouched(guard, tmp_path):
    write(tmp_path, new=2, old=10)
    guard.finish("synthetic", "finished")
    assert (feed_lines(tmp_path), (tmp_path / "synthetic.jsonl.partial").exists()) == (10, True)


def test_no_partial_feed(guard, tmp_path):
    write(tmp_path, old=10)
    assert (guard.finish("synthetic", "finished"), feed_lines(tmp_path)) == (False, 10)


@pytest.mark.parametrize("order", [("spider", "feed"), ("feed", "spider")])
def test_acts_once_after_both_signals(guard, tmp_path, order):
    write(tmp_path, new=3)
    for signal in order:
        guard.spider_closed("finished") if signal == "spider" else guard.feed_exporter_closed()
    assert (feed_lines(tmp_path), guard.crawler.stats.get_value("feedguard/replaced")) == (3, 1)


def test_waits_for_the_feed(guard, tmp_path):
    write(tmp_path, new=3)
    guard.spider_closed("finished")
    assert not (tmp_path / "synthetic.jsonl").exists()


def test_uri_params_use_the_feed_dir(guard, tmp_path):
    spider = SyntheticSpider.from_crawler(guard.crawler)
    assert feed_uri_params({"name": "synthetic"}, spider)["feed_dir"] == str(tmp_path.resolve())


def test_report_says_what_the_guard_decided(tmp_path):
    report = tmp_path / "report.json"
    crawler = get_crawler(SyntheticSpider, {"FEED_DIR": str(tmp_path), "FEED_GUARD_REPORT": str(report)})
    guard = FeedGuard.from_crawler(crawler)
    crawler.stats.open_spider()
    crawler.stats.set_value("item_scraped_count", 4)
    write(tmp_path, new=4, old=10)
    guard.spider_closed("finished")
    guard.feed_exporter_closed()
    written = json.loads(report.read_text())
    assert {k: written[k] for k in ("spider", "finish_reason", "replaced", "new_lines", "previous_lines")} == {
        "spider": "synthetic", "finish_reason": "finished", "replaced": False, "new_lines": 4, "previous_lines": 10}
    assert "under 50%" in written["reason"] and written["stats"]["item_scraped_count"] == 4
