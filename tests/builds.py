"""Helpers for build tests: synthetic clinic records (every name begins with "Synthetic") and a
build into a temporary folder."""

import json

from build_db import Build


def synthetic(label, **fields):
    """A feed-shaped synthetic clinic record."""
    record = {
        "source_id": "site:synthetic-" + label.lower().replace(" ", "-"),
        "name": f"Synthetic {label}", "state": "TX", "city": "Austin",
        "treatments": ["iv_ketamine"], "conditions": [], "insurers": [],
        "sources": [f"https://synthetic.example/{label.lower().replace(' ', '-')}"],
        "retrieved_at": "2026-11-20T00:00:00+00:00",
    }
    record.update(fields)
    return record


def write_jsonl(path, rows):
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def build(tmp_path, seed=(), feeds=None, db_name="ketamine.db"):
    """Build a database from synthetic inputs only; returns the Build (its .db_path, .report)."""
    feeds_dir = tmp_path / "feeds"
    feeds_dir.mkdir(exist_ok=True)
    for name, rows in (feeds or {}).items():
        write_jsonl(feeds_dir / f"{name}.jsonl", rows)
    seed_path = write_jsonl(tmp_path / "seed.jsonl", seed)
    run = Build(tmp_path / db_name, feeds_dir=feeds_dir, seed=seed_path, quiet=True)
    run.run()
    return run
