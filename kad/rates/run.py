"""Running the extractor over many files on Dask, and reducing the partial results to a feed.

One task per in-network file. `process_file` is the task: it opens the file, skips it when the
manifest says it is done and unchanged, otherwise streams it (extract.py) into a Parquet partial
under `<out>/partials/file=<key>/` and a feed fragment under `<out>/fragments/` (partial.py),
both written to temporary names and renamed when complete. It returns a manifest entry (a
small dict: the rows stay on disk) and never raises for a bad file (truncated gzip, unknown
schema version, broken JSON, HTTP error): the entry says `failed` and why, and the other files
go on. The reduce only copies fragments into the feed, so the tasks do all the per-row work.

Without `client` the tasks run one after another in this process (the reference the Dask path
must equal); with one, they are mapped over the cluster: a LocalCluster made here, or an
existing cluster reached by its scheduler address, unchanged.
"""

import hashlib
import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import ijson

from . import DEFAULT_CODES
from .extract import UnsupportedVersion, extract
from .manifest import DONE, FAILED, Manifest
from .partial import PartialWriter
from .source import SourceError, open_source

COPY_BLOCK = 1 << 20


def file_key(url):
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:20]


def process_file(url, out_dir, codes=DEFAULT_CODES, previous=None):
    """The task for one file; returns its manifest entry."""
    out_dir = Path(out_dir)
    entry = {"url": url, "status": FAILED, "error": None, "finished_at": None}
    key = file_key(url)
    partial = out_dir / "partials" / f"file={key}" / "part-0.parquet"
    fragment = out_dir / "fragments" / f"{key}.jsonl"
    try:
        with open_source(url) as (raw, fingerprint):
            entry.update(size=fingerprint.size, etag=fingerprint.etag, last_modified=fingerprint.last_modified)
            if previous and previous.get("status") == DONE and fingerprint.same_as(previous) \
                    and partial.exists() and fragment.exists():
                return {**previous, "skipped": True}
            partial.parent.mkdir(parents=True, exist_ok=True)
            fragment.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix="kad-rates-", dir=out_dir) as work:
                writer = PartialWriter(Path(work) / "part.parquet", Path(work) / "rows.jsonl", url)
                try:
                    outcome = extract(url, raw, codes, writer.write, work)
                finally:
                    writer.close()
                os.replace(Path(work) / "part.parquet", partial)
                os.replace(Path(work) / "rows.jsonl", fragment)
        entry.update(status=DONE, header=outcome.header, last_updated_on=outcome.header.get("last_updated_on"),
                     version=outcome.header.get("version"), items_seen=outcome.items_seen,
                     items_kept=outcome.items_kept, rows=outcome.rows, dropped=dict(outcome.dropped),
                     problems=outcome.problems, json_backend=outcome.json_backend, fast_items=outcome.fast_items,
                     handed_over=outcome.handed_over, partial=str(partial.relative_to(out_dir)),
                     fragment=str(fragment.relative_to(out_dir)))
    except (SourceError, UnsupportedVersion, ijson.JSONError, OSError) as error:
        entry["error"] = f"{type(error).__name__}: {error}"
    entry["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return entry


def run_files(urls, out_dir, codes=DEFAULT_CODES, client=None, report=print):
    """Process every address (skipping what the manifest says is done); returns the manifest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out_dir / "manifest.json")
    urls = sorted(set(urls))
    if client is None:
        for url in urls:
            _finish(manifest, process_file(url, out_dir, codes, manifest.get(url)), report)
        return manifest
    from distributed import as_completed

    futures = {client.submit(process_file, url, str(out_dir), tuple(codes), manifest.get(url),
                             key=f"price-file-{file_key(url)}", pure=False, retries=0): url for url in urls}
    for future in as_completed(futures):
        url = futures[future]
        try:
            entry = future.result()
        except Exception as error:  # a worker died or the task broke: recorded, the run goes on
            entry = {"url": url, "status": FAILED, "error": f"{type(error).__name__}: {error}",
                     "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        _finish(manifest, entry, report)
    return manifest


def _finish(manifest, entry, report):
    if entry.get("skipped"):
        report(f"unchanged, skipped: {entry['url']}")
        entry = {key: value for key, value in entry.items() if key != "skipped"}
    elif entry["status"] == DONE:
        report(f"done: {entry['url']} ({entry['items_kept']} of {entry['items_seen']} items kept, {entry['rows']} rows)")
    else:
        report(f"FAILED: {entry['url']}: {entry['error']}")
    manifest.record(entry)


def reduce_to_feed(manifest, jobs, out_dir, feed_path):
    """Write the feed the build loads: a `price_file` line per file done (its plans, dates and
    insurer), then its fragment's `negotiated_rate` lines as the task wrote them, files in
    address order. The feed is written beside its final name and renamed when complete.
    Returns the row count."""
    out_dir, feed_path = Path(out_dir), Path(feed_path)
    feed_path.parent.mkdir(parents=True, exist_ok=True)
    by_url = {job.url: job for job in jobs}
    entries = manifest.done(by_url)
    temporary = feed_path.with_name(feed_path.name + ".partial")
    with open(temporary, "wb") as feed:
        for entry in entries:
            job, header = by_url[entry["url"]], entry.get("header") or {}
            plans = job.plans or ([{key: header.get(key) for key in
                                    ("plan_name", "plan_id_type", "plan_id", "plan_sponsor_name",
                                     "plan_market_type", "issuer_name")}] if header.get("plan_name") else [])
            feed.write((json.dumps({
                "kind": "price_file", "file_url": job.url, "toc_url": job.toc_url, "description": job.description,
                "insurer_id": job.insurer_id, "reporting_entity_name": header.get("reporting_entity_name")
                or job.reporting_entity_name, "plans": plans, "last_updated_on": entry.get("last_updated_on"),
                "version": entry.get("version"), "size": entry.get("size"), "etag": entry.get("etag"),
                "retrieved_at": entry["finished_at"]}) + "\n").encode("utf-8"))
            _append(out_dir / entry["fragment"], feed)
    os.replace(temporary, feed_path)
    return sum(entry["rows"] for entry in entries)


def _append(path, feed):
    """The file at `path` onto the open binary `feed`, copied by the kernel (copy_file_range: half
    the time of reading and writing it here, measured) where it can."""
    feed.flush()
    with open(path, "rb") as fragment:
        size, done = os.fstat(fragment.fileno()).st_size, 0
        try:
            while done < size:
                copied = os.copy_file_range(fragment.fileno(), feed.fileno(), size - done)
                if not copied:
                    break
                done += copied
        except (AttributeError, OSError):  # not Linux, or not between these two files
            pass
        fragment.seek(done)
        shutil.copyfileobj(fragment, feed, COPY_BLOCK)
