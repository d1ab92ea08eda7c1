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


def curated_line(label, **fields):
    """A synthetic line of a curated clinic file (the gatherer's shape, data/curated/)."""
    slug = label.lower().replace(" ", "-")
    line = {
        "name": f"Synthetic {label}", "website": f"https://{slug}.synthetic.example", "city": "Austin",
        "state": "TX", "street": None, "postal_code": None, "phone": None,
        "source_urls": [f"https://synthetic.example/{slug}"], "treatments": ["iv_ketamine"], "conditions": [],
        "insurance": {}, "prices_usd": {}, "clinician_types": [], "notes": None,
    }
    line.update(fields)
    return line


def change(label, website=None, gathered="2026-11-30", **fields):
    """A synthetic change line naming the curated line `curated_line(label)` would make."""
    website = website or f"https://{label.lower().replace(' ', '-')}.synthetic.example"
    return {"match": {"name": f"Synthetic {label}", "website": website}, "why": "synthetic test change",
            "gathered": gathered, **fields}


def write_jsonl(path, rows):
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def build(tmp_path, seed=(), feeds=None, db_name="ketamine.db", changes=None):
    """Build a database from synthetic inputs only (curated clinic lines in `seed`, change lines in
    `changes`, feed records in `feeds`); returns the Build (its .db_path, .report)."""
    feeds_dir = tmp_path / "feeds"
    feeds_dir.mkdir(exist_ok=True)
    for name, rows in (feeds or {}).items():
        write_jsonl(feeds_dir / f"{name}.jsonl", rows)
    seed_path = write_jsonl(tmp_path / "seed.jsonl", seed)
    changes_path = write_jsonl(tmp_path / "changes.jsonl", changes) if changes else None
    run = Build(tmp_path / db_name, feeds_dir=feeds_dir, clinic_files=[seed_path], changes=changes_path, quiet=True)
    run.run()
    return run
