"""Benchmarks, one command: the build at several sizes against a raw sqlite-utils insert (and
the two largest again with a synthetic payer directory),
`clinics_near_zip` against a full scan, the faceted clinics page, the state page and checklist, all
on synthetic clinics in a temporary folder, then serving under load (bench/load.py); results go
to BENCHMARKS.md with the issues' targets in one table.

    python -m bench.run [--sizes 1000,10000,100000] [--out BENCHMARKS.md] [--runs 3] [--profile 10000]
                        [--load-clients 1,32,128] [--load-seconds 20] [--no-load]

Speed is reported as ratios against a baseline measured in the same run: the smallest build for
build time and memory, a raw insert of the same rows for build speed, a plain haversine full scan
for `clinics_near_zip`, the unfaceted page and the smallest size for the faceted page, one worker
for worker scaling. Targets live here (bench/report.py), never in tests.
"""

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from bench import builds as build_bench
from bench import load as load_bench
from bench import pages as page_bench
from bench.report import code_fingerprint, kept_sections, report

ROOT = Path(__file__).resolve().parent.parent


def say(text):
    print(text, flush=True)


def measure(args, workdir):
    """Every benchmark; returns the measurements bench/report.py writes up."""
    m = {"builds": [], "payer_builds": [], "near": {}, "pages": {}, "patient": {}, "facet_sql": {}, "page_runs": args.page_runs}
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    for size in sizes:
        say(f"[{size:,} records] generating and building ...")
        result = build_bench.build(size, workdir, seed=args.seed)
        m["builds"].append(result)
        say(f"    built {result['clinics']:,} clinics in {result['seconds']:.2f}s "
            f"({result['rows_per_second']:,.0f} records/s), peak RSS {result['peak_mb']:.0f} MB")
        if size == sizes[-1]:  # the baseline right after the build it is compared with: the machine's speed drifts
            say(f"[{size:,} records] raw sqlite-utils insert of the same feed ...")
            m["raw"] = build_bench.raw_insert(result["feed"], Path(workdir) / "raw")
            say(f"    {m['raw']['rows_per_second']:,.0f} rows/s")
        say(f"[{size:,} records] clinics_near_zip, the faceted page, the state page and the checklist ...")
        m["near"][size] = asyncio.run(page_bench.bench_near_zip(result["db"], runs=args.runs))
        m["pages"][size] = asyncio.run(page_bench.bench_pages(result["db"], runs=args.page_runs))
        m["patient"][size] = asyncio.run(page_bench.bench_patient_pages(result["db"], runs=args.page_runs))
        m["facet_sql"][size] = page_bench.array_facet_sql(result["db"])
        faceted = m["pages"][size][page_bench.FACETED]
        say(f"    near zip {m['near'][size]['box_ms']:.1f} ms vs full scan {m['near'][size]['scan_ms']:.1f} ms; "
            f"faceted page {faceted['ms']:.0f} ms repeated, {faceted['first_ms']:.0f} ms first")
    for plain in m["builds"][-2:]:  # the two largest again, with a payer directory as long as the clinic feed
        size = plain["size"]
        say(f"[{size:,} records + {size:,} payer-directory listings] generating and building ...")
        result = build_bench.build(size, Path(workdir) / "payer", seed=args.seed, payer_lines=size)
        m["payer_builds"].append(result)
        say(f"    built in {result['seconds']:.2f}s, {result['evidence_rows']:,} evidence rows, "
            f"peak RSS {result['peak_mb']:.0f} MB")
    if args.profile:
        say(f"[{args.profile:,} records] profiling a build ...")
        result = build_bench.build(args.profile, Path(workdir) / "profile", seed=args.seed, profile=True)
        rows, total = build_bench.hotspots(result["profile"])
        m["profile"] = {"size": args.profile, "rows": rows, "total": total}
    if not args.no_load:
        say("[load] the checked-in data, served by serve.py ...")
        db = load_bench.checked_in_database(Path(workdir) / "load")
        with open(Path(workdir) / "load" / "serve.log", "w") as log:
            m["load"] = load_bench.run(db, clients=[int(c) for c in args.load_clients.split(",")],
                                       duration=args.load_seconds, warmup=args.load_warmup, log=log, progress=say)
    return m


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated record counts")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), type=Path)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per ZIP code for clinics_near_zip")
    parser.add_argument("--page-runs", type=int, default=5, help="timed runs per page")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile a build of N records (not timed) and list its hot spots")
    parser.add_argument("--load-clients", default=",".join(map(str, load_bench.CLIENTS)))
    parser.add_argument("--load-seconds", type=float, default=20.0, help="measured seconds per load phase")
    parser.add_argument("--load-warmup", type=float, default=5.0, help="unmeasured seconds per load phase")
    parser.add_argument("--no-load", action="store_true", help="skip the load test")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print it")
    args = parser.parse_args(argv)

    started = datetime.now(timezone.utc)
    loadavg, code = [os.getloadavg()[0]], [code_fingerprint()]
    workdir = Path(tempfile.mkdtemp(prefix="kad-bench-"))
    try:
        m = measure(args, workdir)
    finally:
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    loadavg.append(os.getloadavg()[0])
    code.append(code_fingerprint())
    if code[0] != code[1]:
        print("warning: the code measured changed during the run; rerun", file=sys.stderr)
    command = "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
    m.update(started=started, loadavg=loadavg, code=code, command=command.strip())
    text = report(m, kept_sections(args.out.read_text(encoding="utf-8")) if args.out.exists() else "")
    args.out.write_text(text, encoding="utf-8")
    print(text)
    say(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
