"""Benchmark of the price-transparency extractor (kad/rates) on synthetic in-network files.

    python -m bench.rates [--sizes 100,1000] [--files 4] [--file-mb 100] [--workers 1,2] [--out bench/out/rates]
                          [--benchmarks BENCHMARKS.md | --no-write] [--reuse]

* throughput: the extractor on each size (MB of uncompressed JSON) against `gzip -dc file >
  /dev/null` on the same file (target >= 0.3x), with the yajl2_c parse of the file that builds
  nothing beside it (ijson's own ceiling) and the whole task (process_file: the extractor
  writing its Parquet partial and feed fragment) beside it;
* peak memory (the child's own high-water mark, bench.own_peak_rss_kb) at the largest size against the smallest (target <= 1.2x),
  for the extractor and for the whole task;
* `--files` files of `--file-mb` MB on a LocalCluster of 2 worker processes against 1 (target
  >= 1.6x), from the first task to the feed written, beside the same tasks on plain processes
  (no Dask, no reduce: what the machine itself gives): run it on a quiet machine, since the ratio
  is only as good as the free cores.

The results go to the "Negotiated rates" section of BENCHMARKS.md (bench/report.py keeps it
when `make bench` rewrites the rest).

Every synthetic file says so: reporting entity, business names and plan begin "Synthetic".
Each file's wanted codes (G2082, J0013, 96365) are rare among thousands of other codes, as in a
payer's file; provider_references come first, as CMS's examples put them.
"""

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import own_peak_rss_kb

ROOT = Path(__file__).resolve().parent.parent
TARGET_THROUGHPUT = 0.3
TARGET_MEMORY = 1.2
TARGET_SPEEDUP = 1.6
GROUPS_PER_MB = 600  # provider groups per MB of JSON; in_network items fill the rest of the size
CODES = ("G2082", "J0013", "96365")


def write_synthetic(path, megabytes, seed=1):
    """A gzip'd in-network file of about `megabytes` MB of JSON; returns its uncompressed size."""
    rng = random.Random(seed)
    groups = max(int(megabytes * GROUPS_PER_MB), 10)
    written = 0
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as out:
        def put(text):
            nonlocal written
            written += len(text)
            out.write(text)
        put(json.dumps({"reporting_entity_name": "Synthetic Health Plan", "reporting_entity_type": "Synthetic issuer",
                        "plan_name": "Synthetic PPO", "issuer_name": "Synthetic Health Plan", "plan_id_type": "hios",
                        "plan_id": "0000000000", "plan_market_type": "group", "last_updated_on": "2026-11-01",
                        "version": "2.0.0"})[:-1] + ', "provider_references": [')
        for group in range(groups):
            put(("," if group else "") + json.dumps({
                "provider_group_id": group, "network_name": ["Synthetic Network"],
                "provider_groups": [{"npi": [rng.randint(10 ** 9, 2 * 10 ** 9 - 1) for _ in range(20)],
                                     "tin": {"type": "ein", "value": f"{rng.randint(10, 99)}-{rng.randint(10 ** 6, 10 ** 7 - 1)}",
                                             "business_name": "Synthetic Provider Group"}}]}))
        put('], "in_network": [')
        item = 0
        while written < megabytes * 1e6 or item < 10:
            code = "G2082" if item % 500 == 7 else "J0013" if item % 500 == 9 else "96365" if item % 500 == 11 \
                else str(10000 + rng.randrange(89999))
            put(("," if item else "") + json.dumps({
                "negotiation_arrangement": "ffs", "name": "Synthetic service", "billing_code_type": "CPT",
                "billing_code_type_version": "2026", "billing_code": code, "description": "Synthetic service",
                "negotiated_rates": [{"provider_references": rng.sample(range(groups), 4), "negotiated_prices": [{
                    "negotiated_type": "negotiated", "negotiated_rate": round(rng.uniform(10, 900), 2),
                    "expiration_date": "9999-12-31", "service_code": ["11", "22"], "billing_class": "professional",
                    "setting": "outpatient"}]} for _ in range(12)]}))
            item += 1
        put("]}")
    return written


def _child(mode, path, out_dir):
    """Runs in a subprocess, so its peak memory is this measurement's alone."""
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    if mode == "extract":
        from kad.rates.extract import extract
        from kad.rates.source import open_source
        with tempfile.TemporaryDirectory() as work, open_source(path) as (raw, _):
            outcome = extract(path, raw, CODES, lambda fields, npis: None, work)
        result = {"rows": outcome.rows, "backend": outcome.json_backend, "fast_items": outcome.fast_items,
                  "items": outcome.items_seen}
    elif mode == "task":
        from kad.rates.run import process_file
        with tempfile.TemporaryDirectory() as work:
            result = {"rows": process_file(path, work, CODES)["rows"]}
    elif mode == "parse_only":
        import ijson
        with gzip.open(path, "rb") as stream:
            result = {"rows": sum(1 for _ in ijson.get_backend("yajl2_c").items(stream, "no.such.prefix"))}
    elif mode == "pool":  # the cluster's tasks on plain processes: what the machine gives without Dask
        from concurrent.futures import ProcessPoolExecutor
        from kad.rates.run import process_file
        out, workers = out_dir.rsplit(":", 1)
        urls = json.loads(path)
        with ProcessPoolExecutor(int(workers)) as pool:
            started = time.perf_counter()
            result = {"rows": sum(entry["rows"] for entry in pool.map(process_file, urls, [out] * len(urls),
                                                                      [CODES] * len(urls)))}
    else:  # cluster: path is a JSON list of files, out_dir holds the workers count after a colon
        from distributed import Client, LocalCluster
        from kad.rates.run import reduce_to_feed, run_files
        from kad.rates.toc import FileJob
        out, workers = out_dir.rsplit(":", 1)
        urls = json.loads(path)
        with LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster) as client:
            started = time.perf_counter()
            manifest = run_files(urls, out, CODES, client, report=lambda _: None)
            reducing = time.perf_counter()
            rows = reduce_to_feed(manifest, [FileJob(url=url) for url in urls], out, Path(out) / "feed.jsonl")
            result = {"rows": rows, "reduce_s": time.perf_counter() - reducing}
    result["seconds"] = time.perf_counter() - started
    result["peak_mb"] = own_peak_rss_kb() / 1024
    print(json.dumps(result))


def measure(mode, path, out_dir=""):
    done = subprocess.run([sys.executable, "-m", "bench.rates", "--child", mode, str(path), str(out_dir)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def gunzip_seconds(path):
    started = time.perf_counter()
    subprocess.run(f"gzip -dc '{path}' > /dev/null", shell=True, check=True)
    return time.perf_counter() - started


def synthetic(path, megabytes, seed, reuse):
    """write_synthetic's file at `path` (the one already there with `reuse`: files are written the
    same for the same size and seed, so a quiet moment can go to measuring); its JSON bytes."""
    if reuse and path.exists():
        from isal import igzip
        with igzip.open(path, "rb") as plain:
            return sum(len(block) for block in iter(lambda: plain.read(1 << 20), b""))
    return write_synthetic(path, megabytes, seed)


def run(sizes, files, file_mb, workers, work, reuse=False):
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    report = {"sizes": [], "cluster": []}
    for megabytes in sizes:
        path = work / f"synthetic-{megabytes}mb.json.gz"
        json_bytes = synthetic(path, megabytes, 1, reuse)
        gz = gunzip_seconds(path)
        extracted = measure("extract", path)
        task = measure("task", path)
        parsed = measure("parse_only", path)
        report["sizes"].append({"mb": megabytes, "json_mb": round(json_bytes / 1e6, 1),
                                "gzip_mb": round(path.stat().st_size / 1e6, 1), "gunzip_s": round(gz, 2),
                                "extract_s": round(extracted["seconds"], 2), "parse_only_s": round(parsed["seconds"], 2),
                                "throughput_ratio": round(gz / extracted["seconds"], 3),
                                "parse_only_ratio": round(gz / parsed["seconds"], 3),
                                "extract_mb_per_s": round(json_bytes / 1e6 / extracted["seconds"], 1),
                                "peak_mb": round(extracted["peak_mb"], 1), "rows": extracted["rows"],
                                "task_s": round(task["seconds"], 2), "task_ratio": round(gz / task["seconds"], 3),
                                "task_peak_mb": round(task["peak_mb"], 1), "backend": extracted["backend"],
                                "fast_share": round(extracted["fast_items"] / max(1, extracted["items"]), 3)})
    if len(sizes) > 1:
        report["memory_ratio"] = round(report["sizes"][-1]["peak_mb"] / report["sizes"][0]["peak_mb"], 3)
        report["task_memory_ratio"] = round(report["sizes"][-1]["task_peak_mb"] / report["sizes"][0]["task_peak_mb"], 3)
    if files:
        paths = []
        for number in range(files):
            path = work / f"synthetic-cluster-{file_mb}mb-{number}.json.gz"
            synthetic(path, file_mb, 100 + number, reuse)
            paths.append(str(path))
        for count in workers:
            with tempfile.TemporaryDirectory(dir=work) as out:
                result = measure("cluster", json.dumps(paths), f"{out}:{count}")
            with tempfile.TemporaryDirectory(dir=work) as out:
                pool = measure("pool", json.dumps(paths), f"{out}:{count}")
            report["cluster"].append({"workers": count, "files": files, "file_mb": file_mb, "seconds": round(result["seconds"], 2),
                                      "reduce_s": round(result["reduce_s"], 2), "rows": result["rows"],
                                      "pool_s": round(pool["seconds"], 2), "pool_rows": pool["rows"]})
        by_workers = {c["workers"]: c for c in report["cluster"]}
        if 1 in by_workers and 2 in by_workers:
            report["speedup_2_vs_1"] = round(by_workers[1]["seconds"] / by_workers[2]["seconds"], 3)
            report["pool_speedup_2_vs_1"] = round(by_workers[1]["pool_s"] / by_workers[2]["pool_s"], 3)
    return report


def section_lines(report):
    """The "Negotiated rates" section of BENCHMARKS.md (bench/report.py keeps it there)."""
    from bench.report import machine
    sizes, cluster = report["sizes"], report["cluster"]
    lines = ["## Negotiated rates", "",
             "The price-transparency extractor (`kad/rates`) by `python -m bench.rates`, on synthetic in-network",
             "files (`bench/rates.py`: reporting entity, plan and business names begin \"Synthetic\"), gzip'd,",
             "provider_references before in_network, 3 wanted codes among thousands of others. Ratios are",
             "against `gzip -dc file > /dev/null` on the same file in the same run.", "",
             f"- Date: {report['started']} UTC",
             f"- Machine: {machine()}",
             f"- Load average (1 min) at start / end: {report['loadavg'][0]:.2f} / {report['loadavg'][1]:.2f}",
             f"- Command: `{report['command']}`", "",
             "| JSON MB | gzip MB | gzip -dc s | extractor s | extractor / gzip -dc | whole task s | task / gzip -dc "
             "| ijson (yajl2_c) alone / gzip -dc | items read by the fast path | peak MB extractor / task | rows |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {s['json_mb']:,.0f} | {s['gzip_mb']:,.1f} | {s['gunzip_s']:.2f} | {s['extract_s']:.2f} | "
              f"{s['throughput_ratio']:.3f}x | {s['task_s']:.2f} | {s['task_ratio']:.3f}x | {s['parse_only_ratio']:.3f}x | "
              f"{s['fast_share']:.0%} | {s['peak_mb']:,.0f} / {s['task_peak_mb']:,.0f} | {s['rows']:,} |" for s in sizes]
    met = lambda ok: "met" if ok else "NOT met"
    lines += ["", f"- Throughput, target >= {TARGET_THROUGHPUT}x gzip -dc: {met(min(s['throughput_ratio'] for s in sizes) >= TARGET_THROUGHPUT)}"
              f" (lowest {min(s['throughput_ratio'] for s in sizes):.3f}x)"]
    if "memory_ratio" in report:
        lines.append(f"- Peak memory at {sizes[-1]['json_mb']:,.0f} MB / at {sizes[0]['json_mb']:,.0f} MB, target <= "
                     f"{TARGET_MEMORY}x: {report['memory_ratio']:.2f}x for the extractor, {report['task_memory_ratio']:.2f}x "
                     f"for the whole task: {met(max(report['memory_ratio'], report['task_memory_ratio']) <= TARGET_MEMORY)}")
    if cluster:
        lines += ["", "| Dask workers (processes, 1 thread) | files x MB | seconds, first task to feed written "
                  "| of which the reduce (client) | the same tasks on plain processes, s | rows |",
                  "|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {c['workers']} | {c['files']} x {c['file_mb']} | {c['seconds']:.2f} | {c['reduce_s']:.2f} | "
                  f"{c['pool_s']:.2f} | {c['rows']:,} |" for c in cluster]
    if "speedup_2_vs_1" in report:
        lines += ["", f"- 2 workers against 1, target >= {TARGET_SPEEDUP}x: {report['speedup_2_vs_1']:.2f}x, "
                      f"{met(report['speedup_2_vs_1'] >= TARGET_SPEEDUP)} (the same tasks on 2 plain processes "
                      f"against 1, no Dask and no reduce: {report['pool_speedup_2_vs_1']:.2f}x)"]
    return lines


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        return _child(*argv[1:4])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100", help="MB of uncompressed JSON per size, comma-separated")
    parser.add_argument("--files", type=int, default=4, help="files for the cluster comparison (0 skips it)")
    parser.add_argument("--file-mb", type=int, default=100)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "rates"), help="where the synthetic files go")
    parser.add_argument("--benchmarks", default=ROOT / "BENCHMARKS.md", type=Path,
                        help="the BENCHMARKS.md whose Negotiated rates section the results replace")
    parser.add_argument("--no-write", action="store_true", help="print the results only")
    parser.add_argument("--reuse", action="store_true", help="measure the synthetic files already in --out")
    args = parser.parse_args(argv)
    started, load_at_start = datetime.now(timezone.utc), os.getloadavg()[0]
    report = run([int(s) for s in args.sizes.split(",")], args.files, args.file_mb,
                 [int(w) for w in args.workers.split(",")], args.out, args.reuse)
    report.update(started=f"{started:%Y-%m-%d %H:%M}", loadavg=[load_at_start, os.getloadavg()[0]],
                  command="python -m bench.rates " + " ".join(argv))
    print(json.dumps(report, indent=1))
    if not args.no_write:
        from bench.report import put_section
        put_section(args.benchmarks, section_lines(report))
        print(f"written to {args.benchmarks}")
    for size in report["sizes"]:
        print(f"{size['json_mb']} MB JSON: extractor {size['throughput_ratio']}x gzip -dc (target >= {TARGET_THROUGHPUT}), "
              f"yajl2_c parse alone {size['parse_only_ratio']}x, peak {size['peak_mb']} MB")
    if "memory_ratio" in report:
        print(f"peak memory largest/smallest: {report['memory_ratio']} (target <= {TARGET_MEMORY})")
    if "speedup_2_vs_1" in report:
        print(f"2 workers vs 1: {report['speedup_2_vs_1']}x (target >= {TARGET_SPEEDUP})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
