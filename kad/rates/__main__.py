"""Negotiated rates for the directory's billing codes from price-transparency files.

    python -m kad.rates --toc <address or path of a table of contents> [--workers 2]
    python -m kad.rates --file <in-network file> [--file ...] [--codes G2082,G2083]
    python -m kad.rates --toc ... --scheduler tcp://scheduler:8786   # an existing Dask cluster

Partial results and the manifest go to --out (re-running skips what is done and unchanged and
retries what failed); the reduced result goes to the feed the build loads
(data/feeds/negotiated_rates.jsonl). `--workers 0` runs every file in this process, without Dask.
Exits 1 when any file failed (the feed still holds every file that was read).
"""

import argparse
import sys
from pathlib import Path

import yaml

from kad import CURATED, FEEDS, ROOT, vocab

from . import DEFAULT_CODES, FEED_NAME
from .run import reduce_to_feed, run_files
from .toc import FileJob, read_toc

PRICE_FILES = CURATED / "price_files.yml"


def insurer_for(toc_url, names, price_files=PRICE_FILES):
    """The insurer id of a table of contents: the one price_files.yml gives its address, else the
    single vocabulary insurer its reporting entity's (or issuers') names map to, else None."""
    entries = (yaml.safe_load(price_files.read_text(encoding="utf-8")) or {}).get("payers", []) \
        if price_files.exists() else []
    for entry in entries:
        if toc_url and toc_url in (entry.get("toc_urls") or []):
            return entry["insurer_id"]
    for name in names:
        ids, _ = vocab.insurers().map_names([name]) if name else ([], [])
        if len(ids) == 1:
            return ids[0]
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--toc", help="a table-of-contents file (https address or path)")
    source.add_argument("--file", action="append", help="an in-network rate file (repeatable)")
    parser.add_argument("--codes", default=",".join(DEFAULT_CODES), help="billing codes to keep, comma-separated")
    parser.add_argument("--insurer", help="the insurer id (data/curated/insurers.yml) when it cannot be read from the file")
    parser.add_argument("--scheduler", help="address of an existing Dask scheduler (tcp://host:8786)")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes of the LocalCluster (default 2); 0 runs in this process")
    parser.add_argument("--out", type=Path, default=ROOT / "rates_work", help="partials and manifest (default rates_work/)")
    parser.add_argument("--feed", type=Path, default=FEEDS / f"{FEED_NAME}.jsonl", help="the reduced feed")
    args = parser.parse_args(argv)
    codes = tuple(code.strip().upper() for code in args.codes.split(",") if code.strip())

    if args.toc:
        header, jobs = read_toc(args.toc)
        print(f"{args.toc}: {len(jobs)} in-network files ({header.get('reporting_entity_name')}, "
              f"last updated {header.get('last_updated_on')})")
    else:
        jobs = [FileJob(url=url) for url in args.file]
    for job in jobs:
        job.insurer_id = args.insurer or insurer_for(
            job.toc_url, [job.reporting_entity_name, *(p.get("issuer_name") for p in job.plans)])

    client = cluster = None
    if args.scheduler or args.workers > 0:
        from distributed import Client, LocalCluster

        if args.scheduler:
            client = Client(args.scheduler)
        else:
            cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
            client = Client(cluster)
        print(f"Dask: {client}")
    try:
        manifest = run_files([job.url for job in jobs], args.out, codes, client)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    rows = reduce_to_feed(manifest, jobs, args.out, args.feed)
    entries = [manifest.get(job.url) for job in jobs]
    failed = [e for e in entries if e and e["status"] != "done"]
    print(f"{len(entries) - len(failed)} files done, {len(failed)} failed; {rows} rows written to {args.feed}")
    for entry in failed:
        print(f"  failed: {entry['url']}: {entry['error']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
