"""Ketamine Access Directory: code shared by the crawlers and the build."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
CURATED = DATA / "curated"
FEEDS = DATA / "feeds"

# libyaml's parser gives the same values as PyYAML's own, about ten times faster (the build reads
# every curated file); PyYAML built without libyaml falls back to its own.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text):
    """yaml.safe_load, through libyaml when PyYAML has it."""
    return yaml.load(text, Loader=_YAML_LOADER)


def read_yaml(path):
    """A curated YAML file's values, or None when the file does not exist."""
    return load_yaml(path.read_text(encoding="utf-8")) if path.exists() else None
