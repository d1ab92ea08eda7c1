"""Benchmark of the NPPES bulk loader (kad/nppes_bulk.py) on synthetic dissemination ZIPs.

    python -m bench.nppes_bulk [--sizes 100000,1000000] [--out BENCHMARKS-nppes-bulk.md]

For each size: a synthetic ZIP in the published layout (bench/synthetic_nppes.py, 330 columns)
in a temporary folder; the baseline, reading the same ZIP's main file with the csv module and
doing nothing else; the loader on the same ZIP. Each runs in a fresh subprocess that reports its
own peak memory (bench.own_peak_rss_kb). Targets: loader rows per second at least 0.5 of the
baseline's, and the loader's peak memory at the largest size at most 1.2 times that at the smallest.
"""

import argparse
import csv
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from bench import own_peak_rss_kb, synthetic_nppes

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.5
FLAT_MEMORY = 1.2


def _child(mode, zip_path, result_path):
    """In the subprocess: time one pass over the ZIP (baseline: csv only; loader: the loader)."""
    sys.path.insert(0, str(ROOT))
    from kad import nppes_bulk

    started = time.perf_counter()
    with zipfile.ZipFile(zip_path) as archive:
        if mode == "baseline":
            with archive.open(nppes_bulk.member(archive, nppes_bulk.MAIN)) as raw:
                rows = sum(1 for _ in csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))) - 1
            kept = None
        else:
            loader = nppes_bulk.Loader(nppes_bulk.DOWNLOAD_PAGE)
            kept = len(loader.run(archive))
            rows = loader.counts["rows"]
    Path(result_path).write_text(json.dumps({"seconds": time.perf_counter() - started, "rows": rows, "kept": kept,
                                             "peak_mb": own_peak_rss_kb() / 1024}))


def measure(mode, zip_path, folder):
    result_path = folder / f"{mode}.json"
    process = subprocess.Popen([sys.executable, "-m", "bench.nppes_bulk", "--child", mode, str(zip_path),
                                str(result_path)], cwd=ROOT)
    if process.wait():
        raise RuntimeError(f"the {mode} run failed")
    result = json.loads(result_path.read_text())
    result["rows_per_second"] = result["rows"] / result["seconds"]
    return result


def run(sizes, workdir):
    results = []
    for size in sizes:
        folder = Path(workdir) / str(size)
        folder.mkdir(parents=True, exist_ok=True)
        zip_path = synthetic_nppes.write_zip(folder / "NPPES_Data_Dissemination_Synthetic.zip", size)
        baseline, loader = measure("baseline", zip_path, folder), measure("loader", zip_path, folder)
        results.append({"size": size, "zip_mb": zip_path.stat().st_size / 1024 ** 2, "baseline": baseline,
                        "loader": loader, "ratio": loader["rows_per_second"] / baseline["rows_per_second"]})
    return results


def report(results, command):
    first, last = results[0], results[-1]
    memory = last["loader"]["peak_mb"] / first["loader"]["peak_mb"]
    worst = min(r["ratio"] for r in results)
    lines = [
        "# Benchmark: NPPES bulk loader", "",
        "Synthetic dissemination ZIPs only (bench/synthetic_nppes.py: the main file's 330 columns, names",
        "beginning with \"SYNTHETIC\", about 0.2% ketamine clinics), in a temporary folder. Ratios are",
        "against the baseline of the same run: reading the same ZIP's main file with the csv module.", "",
        f"- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {os.cpu_count()} cores; {platform.platform()}; Python {platform.python_version()}",
        f"- Load average (1 min) at the end: {os.getloadavg()[0]:.2f}",
        f"- Command: `{command}`", "",
        "| Target | Measured | Met |", "|---|---|---|",
        f"| Loader rows/s at least {TARGET_RATIO} of csv-only reading | {worst:.2f} (lowest over the sizes) | "
        f"{'yes' if worst >= TARGET_RATIO else 'NO'} |",
        f"| Peak memory {last['size']:,} rows / {first['size']:,} rows at most {FLAT_MEMORY}x | {memory:.2f}x "
        f"({first['loader']['peak_mb']:.0f} MB -> {last['loader']['peak_mb']:.0f} MB) | "
        f"{'yes' if memory <= FLAT_MEMORY else 'NO'} |", "",
        "| Rows | ZIP MB | csv only s | csv rows/s | loader s | loader rows/s | ratio | kept | csv peak MB | loader peak MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        b, l = r["baseline"], r["loader"]
        lines.append(f"| {r['size']:,} | {r['zip_mb']:.1f} | {b['seconds']:.2f} | {b['rows_per_second']:,.0f} | "
                     f"{l['seconds']:.2f} | {l['rows_per_second']:,.0f} | {r['ratio']:.2f} | {l['kept']:,} | "
                     f"{b['peak_mb']:.0f} | {l['peak_mb']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS-nppes-bulk.md")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as workdir:
        results = run(sizes, workdir)
    text = report(results, "python -m bench.nppes_bulk --sizes " + args.sizes)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
