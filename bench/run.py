"""Benchmarks: the build at several sizes, `clinics_near_zip` against a full scan, and the faceted
clinics JSON page, all on synthetic clinics in a temporary folder; results go to BENCHMARKS.md.

    python -m bench.run [--sizes 1000,10000,100000] [--out BENCHMARKS.md] [--runs 3] [--profile 10000]

Every build runs in a fresh subprocess, so its peak memory (the child's own ru_maxrss, read with
os.wait4) belongs to that build alone. Speed is reported as ratios against a baseline measured in
the same run: the smallest build for build time and memory, a plain haversine full scan for
`clinics_near_zip`, the unfaceted page for the faceted page. Targets live here, never in tests.
"""

import argparse
import asyncio
import cProfile
import contextlib
import hashlib
import io
import json
import os
import platform
import pstats
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import yaml

from bench import synthetic

ROOT = Path(__file__).resolve().parent.parent
METADATA = ROOT / "metadata.yml"
DATABASE = "ketamine"
QUERY = "clinics_near_zip"
FULL_SCAN = "clinics_near_zip_full_scan"
# The settings `make serve` uses (Makefile).
SETTINGS = {"sql_time_limit_ms": 3000, "facet_time_limit_ms": 1000}
MILES = 25
QUERY_LIMIT = 200  # the canned query's `limit`
# Dense (big-city) and sparse (rural) ZIP codes, all in the zip_codes table.
DENSE_ZIPS = ("10001", "60601", "90012", "77002", "94103", "02108", "19103", "30303", "98101", "78701")
SPARSE_ZIPS = ("59301", "82001", "58501", "99701", "96720", "83440", "69101", "04730", "97830", "79830")
FACETS = "_facet=state&_facet_array=insurers&_facet_array=conditions&_facet_array=treatments"
PAGES = {  # label -> path; the first is the baseline
    "unfaceted (`?_nofacet=1`)": f"/{DATABASE}/clinics.json?_nofacet=1",
    "plain (`clinics.json`: metadata facets + suggestions)": f"/{DATABASE}/clinics.json",
    "faceted (the issue's request)": f"/{DATABASE}/clinics.json?{FACETS}",
    "faceted, `&_nosuggest=1`": f"/{DATABASE}/clinics.json?{FACETS}&_nosuggest=1",
}
FACETED = "faceted (the issue's request)"
TARGET_QUERY_SPEEDUP = 10.0
FLAT_MEMORY = 1.25  # peak RSS at the largest size / at the smallest, at most
# The build's own memory (peak minus the peak once Build() is set up) may grow at most this much per
# input record between the smallest and the largest size: 0.1 KB is 10 MB per 100,000 records.
FLAT_OWN_KB_PER_RECORD = 0.1


# -- the build, in a subprocess ------------------------------------------------------------------

def _rss_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def _child_build(feeds, seed, db, result_path, profile_path=None):
    """Runs in the subprocess: one build, timed step by step."""
    sys.path.insert(0, str(ROOT))
    import build_db

    steps = []

    class TimedBuild(build_db.Build):
        @contextlib.contextmanager
        def step(self, title):
            started = time.perf_counter()
            yield
            steps.append((title, time.perf_counter() - started))

    build = TimedBuild(db, feeds_dir=feeds, seed=seed, quiet=True)
    setup_kb = _rss_kb("VmHWM")
    started = time.perf_counter()
    if profile_path:
        profiler = cProfile.Profile()
        profiler.runcall(build.run)
        profiler.dump_stats(profile_path)
    else:
        build.run()
    seconds = time.perf_counter() - started
    Path(result_path).write_text(json.dumps({
        "seconds": seconds, "steps": steps, "setup_peak_kb": setup_kb, "peak_kb": _rss_kb("VmHWM"),
        "clinics": build.counts["clinics"], "merged": build.merged, "precision": build.precision,
        "dropped": build.report.dropped, "problems": len(build.report.problems),
        "inputs": build.inputs,
    }))


def build(size, workdir, seed=0, profile=False):
    """Generate `size` synthetic records and build them into workdir/<size>/ketamine.db in a fresh
    subprocess. Returns the measurements (seconds, peak_mb, steps, ...) and the db path."""
    folder = Path(workdir) / str(size)
    feeds = folder / "feeds"
    started = time.perf_counter()
    synthetic.write_feed(feeds, size, seed=seed)
    generated = time.perf_counter() - started
    seed_path = folder / "seed.jsonl"
    seed_path.write_text("")  # no curated clinics: the feed is the whole input
    db = folder / f"{DATABASE}.db"
    result_path = folder / "result.json"
    command = [sys.executable, "-m", "bench.run", "--child-build", str(feeds), str(seed_path), str(db),
               str(result_path)]
    if profile:
        command += ["--profile-out", str(folder / "build.prof")]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT)
    try:
        _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage, nothing else's
    except BaseException:
        process.kill()
        raise
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode:
        raise RuntimeError(f"the {size}-row build failed (exit {process.returncode})")
    result = json.loads(result_path.read_text())
    result.update(size=size, db=str(db), generate_seconds=generated, process_seconds=wall,
                  peak_mb=usage.ru_maxrss / 1024, setup_mb=result["setup_peak_kb"] / 1024,
                  rows_per_second=size / result["seconds"])
    if profile:
        result["profile"] = str(folder / "build.prof")
    return result


def hotspots(profile_path, count=12):
    """The functions with the most own time, as (seconds, calls, where)."""
    stats = pstats.Stats(str(profile_path), stream=io.StringIO())
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():
        where = f"{_short(filename)}:{line}({name})" if line else name
        rows.append((own, cumulative, calls, where))
    rows.sort(reverse=True)
    return rows[:count], stats.total_tt


def _short(filename):
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return "/".join(Path(filename).parts[-2:])


# -- Datasette: the canned query and the faceted page ------------------------------------------

def full_scan_sql(sql):
    """The canned query with its bounding-box WHERE replaced by "has coordinates": haversine over
    every placed clinic. Fails loudly if metadata.yml's query no longer has that shape."""
    pattern = re.compile(r"where clinics\.latitude between .*?\n(\s*)and \(:insurer", re.S)
    scan, found = pattern.subn(
        lambda m: f"where clinics.latitude is not null and clinics.longitude is not null\n{m.group(1)}and (:insurer",
        sql)
    if found != 1:
        raise ValueError("clinics_near_zip no longer has the bounding-box WHERE this benchmark replaces")
    return scan


def bench_metadata():
    metadata = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    queries = metadata["databases"][DATABASE]["queries"]
    queries[FULL_SCAN] = {"title": "Full scan (benchmark baseline)", "sql": full_scan_sql(queries[QUERY]["sql"])}
    return metadata


def _datasette(db_path):
    from datasette.app import Datasette
    # As `make serve`: the project's plugins and templates too (the patient pages' routes).
    return Datasette(immutables=[str(db_path)], metadata=bench_metadata(), settings=dict(SETTINGS),
                     plugins_dir=str(ROOT / "plugins"), template_dir=str(ROOT / "templates"))


async def _get(ds, path):
    started = time.perf_counter()
    response = await ds.client.get(path)
    seconds = time.perf_counter() - started
    data = response.json()
    if response.status_code != 200 or (isinstance(data, dict) and data.get("ok") is False):
        raise RuntimeError(f"{path}: HTTP {response.status_code}: {data.get('error') if isinstance(data, dict) else data}")
    return seconds, data


def compare(box_rows, scan_rows):
    """'same order', 'same rows, ties reordered' (equal rounded distances in another order), or
    'DIFFERENT'. With the limit reached, the last distance's ties may be cut differently."""
    box_ids, scan_ids = [r["id"] for r in box_rows], [r["id"] for r in scan_rows]
    if box_ids == scan_ids:
        return "same order"
    if [r["distance_miles"] for r in box_rows] != [r["distance_miles"] for r in scan_rows]:
        return "DIFFERENT"
    last = box_rows[-1]["distance_miles"] if len(box_rows) >= QUERY_LIMIT else None
    groups = lambda rows: {d: {r["id"] for r in rows if r["distance_miles"] == d}
                           for d in {r["distance_miles"] for r in rows} if d != last}
    return "same rows, ties reordered" if groups(box_rows) == groups(scan_rows) else "DIFFERENT"


async def bench_near_zip(db_path, zips=None, runs=3, miles=MILES):
    """Median latency of clinics_near_zip (bounding box) and of the full scan, per ZIP and over all
    runs, through Datasette's own client, with a check that both return the same rows."""
    zips = zips or DENSE_ZIPS + SPARSE_ZIPS
    ds = _datasette(db_path)
    await ds.invoke_startup()
    per_zip, box_all, scan_all = [], [], []
    for zip_code in zips:
        query = f"zip={zip_code}&miles={miles}&insurer=&condition=&_shape=objects"
        paths = {name: f"/{DATABASE}/{name}.json?{query}" for name in (QUERY, FULL_SCAN)}
        _, box = await _get(ds, paths[QUERY])  # warm-up, and the rows to compare
        _, scan = await _get(ds, paths[FULL_SCAN])
        times = {QUERY: [], FULL_SCAN: []}
        sql_ms = {QUERY: [], FULL_SCAN: []}
        for _ in range(runs):
            for name, path in paths.items():
                seconds, data = await _get(ds, path)
                times[name].append(seconds)
                sql_ms[name].append(data.get("query_ms"))
        box_all += times[QUERY]
        scan_all += times[FULL_SCAN]
        per_zip.append({
            "zip": zip_code, "dense": zip_code in DENSE_ZIPS, "rows": len(box["rows"]),
            "box_ms": 1000 * statistics.median(times[QUERY]), "scan_ms": 1000 * statistics.median(times[FULL_SCAN]),
            "box_sql_ms": statistics.median(sql_ms[QUERY]), "scan_sql_ms": statistics.median(sql_ms[FULL_SCAN]),
            "same": compare(box["rows"], scan["rows"]),
        })
    box_ms, scan_ms = 1000 * statistics.median(box_all), 1000 * statistics.median(scan_all)
    return {"zips": per_zip, "box_ms": box_ms, "scan_ms": scan_ms, "speedup": scan_ms / box_ms,
            "runs": runs, "miles": miles,
            "all_same_order": all(z["same"] == "same order" for z in per_zip),
            "all_same_rows": all(z["same"] != "DIFFERENT" for z in per_zip)}


def _expected_facets(path):
    """Facet names the page should return: metadata's (datasette always adds them) and the request's."""
    table = bench_metadata()["databases"][DATABASE]["tables"]["clinics"]
    names = [f if isinstance(f, str) else next(iter(f.values())) for f in table.get("facets", [])]
    if "_nofacet=1" in path:
        return Counter()
    names += re.findall(r"_facet(?:_array)?=([a-z_]+)", path)
    return Counter(names)


async def bench_pages(db_path, runs=5):
    """Median latency of each page in PAGES, and which facets timed out (missing from the JSON)."""
    ds = _datasette(db_path)
    await ds.invoke_startup()
    results = {}
    for label, path in PAGES.items():
        await _get(ds, path)  # warm-up
        times, timed_out = [], Counter()
        for _ in range(runs):
            seconds, data = await _get(ds, path)
            times.append(seconds)
            returned = Counter(f["name"] for f in data.get("facet_results", {}).values())
            timed_out |= _expected_facets(path) - returned
        results[label] = {"path": path, "ms": 1000 * statistics.median(times),
                          "facets": sum(_expected_facets(path).values()),
                          "timed_out": sorted(timed_out.elements())}
    baseline = results[next(iter(PAGES))]["ms"]
    for result in results.values():
        result["ratio"] = result["ms"] / baseline
    return results


def array_facet_sql(db_path, columns=("insurers", "conditions", "treatments")):
    """Why the faceted page is slow: each array facet's SQL alone (sqlite3, no Datasette, no time
    limit), as Datasette 0.65 writes it and two cheaper forms giving the same counts here."""
    connection = sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)
    every = ", ".join(f"[{row[1]}]" for row in connection.execute("PRAGMA table_info(clinics)"))
    inner = f"select {every} from clinics"  # what Datasette facets over: every column
    forms = {
        "datasette": ("with inner as ({inner}), deduped_array_items as (select distinct j.value, inner.* "
                      "from json_each([inner].{col}) j join inner) select value as value, count(*) as count "
                      "from deduped_array_items group by value order by count(*) desc, value limit 31"),
        "by_pk": ("select value, count(*) as count from (select distinct j.value, t.id from ({inner}) t "
                  "join json_each(t.{col}) j) group by value order by count desc, value limit 31"),
        "plain": ("select j.value as value, count(*) as count from ({inner}) t join json_each(t.{col}) j "
                  "group by j.value order by count desc, value limit 31"),
    }
    results = {}
    for column in columns:
        timings, answers = {}, {}
        for name, sql in forms.items():
            started = time.perf_counter()
            answers[name] = connection.execute(sql.format(inner=inner, col=column)).fetchall()
            timings[name] = 1000 * (time.perf_counter() - started)
        timings["same_counts"] = answers["datasette"] == answers["by_pk"] == answers["plain"]
        results[column] = timings
    connection.close()
    return results


# -- the report ----------------------------------------------------------------------------------

def code_fingerprint():
    """A short hash of the code and metadata measured, to tell runs apart (the repo may change)."""
    digest = hashlib.sha256()
    for path in sorted([ROOT / "build_db.py", METADATA, *(ROOT / "kad").glob("*.py")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def machine():
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, IndexError, ValueError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    import datasette
    return (f"{os.cpu_count()} cores ({model}){memory}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, Datasette {datasette.__version__}")


def _f(value, digits=1):
    return f"{value:,.{digits}f}"


def report(builds, near, pages, command, started, profile=None, facet_sql=None, load=None, code=None):
    smallest, largest = builds[0], builds[-1]
    per_row = lambda b: b["seconds"] / b["size"]
    memory_ratio = largest["peak_mb"] / smallest["peak_mb"]
    own = lambda b: b["peak_mb"] - b["setup_mb"]
    own_growth = 1024 * (own(largest) - own(smallest)) / max(1, largest["size"] - smallest["size"])
    big_near, big_pages = near[largest["size"]], pages[largest["size"]]
    faceted = big_pages[FACETED]
    per_zip_speedups = [z["scan_ms"] / z["box_ms"] for z in big_near["zips"]]
    lines = [
        "# Benchmarks",
        "",
        "Synthetic clinics only (`bench/synthetic.py`: every name begins with \"Synthetic\", every record",
        "has `\"synthetic\": true`, sources on https://synthetic.example/), generated into a temporary",
        "folder, never into `data/`. Ratios are against a baseline measured in the same run.",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}",
        f"- Load average (1 min) at start / end: {load[0]:.2f} / {load[1]:.2f} (other work on the machine"
        " makes timings noisier; ratios from the same run are the figures to compare)" if load else "",
        f"- Code measured: sha256 of build_db.py, kad/*.py and metadata.yml begins `{code[0]}`"
        + ("" if code[0] == code[1] else f" at the start and `{code[1]}` at the end: THE CODE CHANGED DURING THE RUN, rerun")
        if code else "",
        f"- Command: `{command}` (from the repository root; `make bench` runs the default sizes)",
        f"- Datasette settings as `make serve`: sql_time_limit_ms {SETTINGS['sql_time_limit_ms']}, "
        f"facet_time_limit_ms {SETTINGS['facet_time_limit_ms']} (defaults otherwise: "
        "facet_suggest_time_limit_ms 50, num_sql_threads 3)",
        "",
        "## Targets",
        "",
        "| Target | Measured | Met |",
        "|---|---|---|",
        f"| `clinics_near_zip` at least {TARGET_QUERY_SPEEDUP:g}x faster than a full scan at {largest['size']:,} rows "
        f"| {_f(big_near['speedup'])}x (medians over {len(big_near['zips'])} ZIP codes; per ZIP {_f(min(per_zip_speedups))}x to "
        f"{_f(max(per_zip_speedups))}x, {sum(x < TARGET_QUERY_SPEEDUP for x in per_zip_speedups)} below {TARGET_QUERY_SPEEDUP:g}x) "
        f"| {'yes' if big_near['speedup'] >= TARGET_QUERY_SPEEDUP else 'NO'} |",
        f"| ... returning the same rows | {_same_summary(big_near)} "
        f"| {'yes' if big_near['all_same_rows'] else 'NO'}{'' if big_near['all_same_order'] else ' (rows yes; order of equal distances no)'} |",
        f"| Build peak memory flat ({largest['size']:,} / {smallest['size']:,} rows at most {FLAT_MEMORY:g}x) "
        f"| {_f(memory_ratio, 2)}x ({_f(smallest['peak_mb'], 0)} MB -> {_f(largest['peak_mb'], 0)} MB) "
        f"| {'yes' if memory_ratio <= FLAT_MEMORY else 'NO'} |",
        f"| ... and the build's own memory (peak minus setup) grows at most {FLAT_OWN_KB_PER_RECORD:g} KB per record "
        f"| {_f(own(smallest))} MB -> {_f(own(largest))} MB: {_f(own_growth, 2)} KB per record "
        f"| {'yes' if own_growth <= FLAT_OWN_KB_PER_RECORD else 'NO'} |",
        f"| Faceted clinics page at {largest['size']:,} rows: no facet timed out "
        f"| {_timed_out(faceted['timed_out']) or 'none timed out'}; {_f(faceted['ms'], 0)} ms "
        f"| {'yes' if not faceted['timed_out'] else 'NO'} |",
        "",
        "## Build (`build_db.Build`, empty seed, one `clinic_site.jsonl` feed, a fresh subprocess each)",
        "",
        f"Baseline: the {smallest['size']:,}-row build. Peak RSS is the child's own `ru_maxrss` (os.wait4);",
        "\"before build\" is the peak once `Build()` is set up (imports, ZIP table, vocabularies), so the",
        "difference is what the build itself holds.",
        "",
        "\"Marginal ms/record\" is the extra time per extra record since the previous size (fixed costs",
        "such as loading the state-law YAML weigh on the smallest build's time per record).",
        "",
        "| Feed records | Clinics | Merged | Build s | Records/s | Time per record vs baseline "
        "| Marginal ms/record | Peak RSS MB | Peak vs baseline | Before build MB | Build's own MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    previous = None
    for b in builds:
        marginal = (_f(1000 * (b["seconds"] - previous["seconds"]) / (b["size"] - previous["size"]), 2)
                    if previous else "")
        lines.append(
            f"| {b['size']:,} | {b['clinics']:,} | {b['merged']:,} | {_f(b['seconds'], 2)} | {_f(b['rows_per_second'], 0)} "
            f"| {_f(per_row(b) / per_row(smallest), 2)}x | {marginal} | {_f(b['peak_mb'])} "
            f"| {_f(b['peak_mb'] / smallest['peak_mb'], 2)}x | {_f(b['setup_mb'])} | {_f(own(b))} |")
        previous = b
    lines += ["", "Where the build's time goes (seconds per step):", "",
              "| Step | " + " | ".join(f"{b['size']:,}" for b in builds) + " |",
              "|---|" + "---:|" * len(builds)]
    for index, (title, _) in enumerate(largest["steps"]):
        lines.append(f"| {title} | " + " | ".join(_f(b["steps"][index][1], 2) for b in builds) + " |")
    placed = largest["precision"]
    lines += ["", f"Placement at {largest['size']:,}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(placed.items()))
              + f"; records dropped: {largest['dropped'] or 'none'}; input problems: {largest['problems']}."]

    lines += ["", f"## `clinics_near_zip` (bounding box) against a full haversine scan, {MILES} miles", "",
              "Through Datasette's own client (`datasette.app.Datasette`, database immutable, metadata.yml,",
              "datasette-haversine, the project's plugins/ and templates/, as `make serve`). Baseline: the",
              "same SELECT with the bounding-box WHERE replaced by `latitude is not null and longitude is",
              "not null` (haversine over every placed clinic).",
              f"Latency is the median over {len(DENSE_ZIPS + SPARSE_ZIPS)} ZIP codes x {big_near['runs']} runs "
              "(after one warm-up each), end to end (request to parsed JSON).", "",
              "| Rows | Bounding box ms | Full scan ms | Speed-up | Same ids, same order |",
              "|---:|---:|---:|---:|---|"]
    for size, result in near.items():
        lines.append(f"| {size:,} | {_f(result['box_ms'], 2)} | {_f(result['scan_ms'], 2)} | {_f(result['speedup'])}x "
                     f"| {_same_summary(result)} |")
    order = re.search(r"order by ([^\n]*)", bench_metadata()["databases"][DATABASE]["queries"][QUERY]["sql"])
    lines += ["", f"The query orders by `{order.group(1).strip() if order else '?'}`. Many clinics share a distance (every",
              "clinic placed at one ZIP centroid), so without a unique last sort key the index range scan and",
              "the full scan could return equal-distance rows in different orders (\"same rows, ties",
              "reordered\"); \"same order\" everywhere means the order is fully determined."]
    lines += ["", f"Per ZIP at {largest['size']:,} rows (medians; SQL ms is Datasette's own `query_ms`):", "",
              "| ZIP | Area | Rows | Box ms | Box SQL ms | Scan ms | Scan SQL ms | Speed-up | Result |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for z in big_near["zips"]:
        lines.append(f"| {z['zip']} | {'dense' if z['dense'] else 'sparse'} | {z['rows']} | {_f(z['box_ms'], 2)} "
                     f"| {_f(z['box_sql_ms'], 2)} | {_f(z['scan_ms'], 2)} | {_f(z['scan_sql_ms'], 2)} "
                     f"| {_f(z['scan_ms'] / z['box_ms'])}x | {z['same']} |")

    lines += ["", "## Faceted clinics JSON page", "",
              f"Median of {pages['runs']} runs after a warm-up. Baseline: the unfaceted page (`_nofacet=1`); the plain",
              "`clinics.json` is not unfaceted, because Datasette always computes the facets metadata.yml",
              "configures for the table (7) and suggests facets. A facet \"timed out\" when it is missing",
              "from `facet_results` (Datasette lists it in `facets_timed_out`, shown on the HTML page only).", ""]
    lines += ["| Rows | Page | Median ms | vs unfaceted | Facets computed | Timed out |", "|---:|---|---:|---:|---:|---|"]
    for size, results in pages.items():
        if size == "runs":
            continue
        for label, result in results.items():
            lines.append(f"| {size:,} | {label} | {_f(result['ms'], 1)} | {_f(result['ratio'], 1)}x "
                         f"| {result['facets']} | {_timed_out(result['timed_out']) or 'none'} |")
    if facet_sql:
        lines += ["", "Why: each array facet's SQL alone (sqlite3 on the same file, no Datasette, no time limit), as",
                  "Datasette 0.65 writes it (`select distinct j.value, inner.*` over every column of every row, to",
                  "de-duplicate), against de-duplicating by the primary key and against a plain count (the build",
                  "writes arrays without repeated values, so all three give the same counts here):", "",
                  "| Rows | Column | Datasette 0.65 SQL ms | Distinct by `id` ms | Plain count ms | Same counts |",
                  "|---:|---|---:|---:|---:|---|"]
        for size, columns in facet_sql.items():
            for column, t in columns.items():
                lines.append(f"| {size:,} | {column} | {_f(t['datasette'])} | {_f(t['by_pk'])} | {_f(t['plain'])} "
                             f"| {'yes' if t['same_counts'] else 'NO'} |")
    if profile:
        rows, total = profile["rows"], profile["total"]
        lines += ["", f"## Build profile ({profile['size']:,} records, cProfile, own time; total {_f(total, 1)} s "
                  "under the profiler)", "",
                  "| Own s | Cumulative s | Calls | Function |", "|---:|---:|---:|---|"]
        lines += [f"| {_f(own, 2)} | {_f(cum, 2)} | {calls:,} | `{where}` |" for own, cum, calls, where in rows]
    return "\n".join(lines) + "\n"


def _timed_out(names):
    return ", ".join(f"{name} x{count}" if count > 1 else name for name, count in sorted(Counter(names).items()))


def _same_summary(result):
    counts = Counter(z["same"] for z in result["zips"])
    return ", ".join(f"{v}/{len(result['zips'])} {k}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


# -- command line --------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated record counts")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), type=Path)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per ZIP code for clinics_near_zip")
    parser.add_argument("--page-runs", type=int, default=5, help="timed runs per clinics page")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile a build of N records (not timed) and list its hot spots")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print it")
    parser.add_argument("--child-build", nargs=4, metavar=("FEEDS", "SEED", "DB", "RESULT"), help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_build:
        _child_build(*args.child_build, profile_path=args.profile_out)
        return 0

    started = datetime.now(timezone.utc)
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    command = "python -m bench.run " + " ".join(a for a in (argv if argv is not None else sys.argv[1:]))
    workdir = Path(tempfile.mkdtemp(prefix="kad-bench-"))
    try:
        builds, near, pages, facet_sql = [], {}, {"runs": args.page_runs}, {}
        load = [os.getloadavg()[0]]
        code = [code_fingerprint()]
        for size in sizes:
            print(f"[{size:,} records] generating and building ...", flush=True)
            result = build(size, workdir, seed=args.seed)
            builds.append(result)
            print(f"    built {result['clinics']:,} clinics in {result['seconds']:.2f}s "
                  f"({result['rows_per_second']:,.0f} records/s), peak RSS {result['peak_mb']:.0f} MB", flush=True)
            print(f"[{size:,} records] clinics_near_zip and the faceted page ...", flush=True)
            near[size] = asyncio.run(bench_near_zip(result["db"], runs=args.runs))
            pages[size] = asyncio.run(bench_pages(result["db"], runs=args.page_runs))
            facet_sql[size] = array_facet_sql(result["db"])
            print(f"    near zip {near[size]['box_ms']:.1f} ms vs full scan {near[size]['scan_ms']:.1f} ms "
                  f"({near[size]['speedup']:.1f}x); faceted page {pages[size][FACETED]['ms']:.0f} ms", flush=True)
        profile = None
        if args.profile:
            print(f"[{args.profile:,} records] profiling a build ...", flush=True)
            result = build(args.profile, workdir / "profile", seed=args.seed, profile=True)
            rows, total = hotspots(result["profile"])
            profile = {"size": args.profile, "rows": rows, "total": total}
        load.append(os.getloadavg()[0])
        code.append(code_fingerprint())
        if code[0] != code[1]:
            print("warning: build_db.py, kad/ or metadata.yml changed during the run; rerun", file=sys.stderr)
        text = report(builds, near, pages, command.strip(), started, profile, facet_sql, load, code)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            import shutil
            shutil.rmtree(workdir, ignore_errors=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
