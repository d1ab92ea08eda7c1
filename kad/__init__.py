"""Ketamine Access Directory: code shared by the crawlers and the build."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
CURATED = DATA / "curated"
FEEDS = DATA / "feeds"
