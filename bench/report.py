"""BENCHMARKS.md from one run's measurements (bench/run.py collects them): the issue's targets,
measured and met or not, in one table, then a section per benchmark."""

import contextlib
import hashlib
import os
import platform
import re
import sqlite3
from collections import Counter
from pathlib import Path

from bench import load as load_bench
from serve import SETTINGS
from bench.pages import DATABASE, DENSE_ZIPS, FACETED, MILES, QUERY, SPARSE_ZIPS, bench_metadata

ROOT = Path(__file__).resolve().parent.parent
TARGET_QUERY_SPEEDUP = 10.0
FLAT_MEMORY = 1.25  # peak RSS at the largest size / at the smallest, at most
# The build's own memory (peak minus the peak once Build() is set up) may grow at most this much per
# input record between the smallest and the largest size: 0.1 KB is 10 MB per 100,000 records.
FLAT_OWN_KB_PER_RECORD = 0.1
TARGET_FACETED_GROWTH = 3.0  # faceted page at the largest size / at the smallest, at most
TARGET_BUILD_VS_RAW = 0.33  # build records/s / raw sqlite-utils insert rows/s, at least
LINEAR_NETWORK = 1.5  # network steps' seconds per payer listing, largest size / the one before, at most
NETWORK_STEPS = ("Network evidence", "Network status")  # the build steps whose titles begin so


def code_fingerprint():
    """A short hash of the code and metadata measured, to tell runs apart (the repo may change)."""
    digest = hashlib.sha256()
    paths = [ROOT / "build_db.py", ROOT / "serve.py", ROOT / "metadata.yml", *(ROOT / "kad").glob("*.py"),
             *(ROOT / "plugins").rglob("*.py"), *(ROOT / "templates").glob("*.html")]
    for path in sorted(paths):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
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


def _met(ok):
    return "yes" if ok else "NO"


def _timed_out(names):
    return ", ".join(f"{name} x{count}" if count > 1 else name for name, count in sorted(Counter(names).items()))


def _same_summary(result):
    counts = Counter(z["same"] for z in result["zips"])
    return ", ".join(f"{v}/{len(result['zips'])} {k}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def header(m):
    code, loadavg = m["code"], m["loadavg"]
    return [
        "# Benchmarks", "",
        "Synthetic clinics only (`bench/synthetic.py`: every name begins with \"Synthetic\", every record",
        "has `\"synthetic\": true`, sources on https://synthetic.example/), generated into a temporary",
        "folder, never into `data/`; the load test serves the checked-in data, built into a temporary",
        "folder. Ratios are against a baseline measured in the same run.", "",
        f"- Date: {m['started']:%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}",
        f"- Load average (1 min) at start / end: {loadavg[0]:.2f} / {loadavg[1]:.2f} (other work on the machine"
        " makes timings noisier; ratios from the same run are the figures to compare)",
        f"- Code measured: sha256 of build_db.py, serve.py, kad/, plugins/, templates/ and metadata.yml begins `{code[0]}`"
        + ("" if code[0] == code[1] else f" at the start and `{code[1]}` at the end: THE CODE CHANGED DURING THE RUN, rerun"),
        f"- Command: `{m['command']}` (from the repository root; `make bench` runs the defaults)",
        f"- Datasette as `make serve` (serve.py): sql_time_limit_ms {SETTINGS['sql_time_limit_ms']}, "
        f"facet_time_limit_ms {SETTINGS['facet_time_limit_ms']} (defaults otherwise: "
        "facet_suggest_time_limit_ms 50, num_sql_threads 3)",
    ]


def targets(m):
    builds, near, pages, patient = m["builds"], m["near"], m["pages"], m["patient"]
    smallest, largest = builds[0], builds[-1]
    small, large = f"{smallest['size']:,}", f"{largest['size']:,}"
    memory_ratio = largest["peak_mb"] / smallest["peak_mb"]
    own = lambda b: b["peak_mb"] - b["setup_mb"]
    own_growth = 1024 * (own(largest) - own(smallest)) / max(1, largest["size"] - smallest["size"])
    big_near = near[largest["size"]]
    per_zip = [z["scan_ms"] / z["box_ms"] for z in big_near["zips"]]
    faceted_small, faceted_large = pages[smallest["size"]][FACETED], pages[largest["size"]][FACETED]
    repeat_growth = faceted_large["ms"] / faceted_small["ms"]
    first_growth = faceted_large["first_ms"] / faceted_small["first_ms"]
    rows = [
        (f"`clinics_near_zip` at least {TARGET_QUERY_SPEEDUP:g}x faster than a full scan at {large} rows",
         f"{_f(big_near['speedup'])}x (medians over {len(big_near['zips'])} ZIP codes; per ZIP {_f(min(per_zip))}x to "
         f"{_f(max(per_zip))}x, {sum(x < TARGET_QUERY_SPEEDUP for x in per_zip)} below {TARGET_QUERY_SPEEDUP:g}x)",
         _met(big_near["speedup"] >= TARGET_QUERY_SPEEDUP)),
        ("... returning the same rows", _same_summary(big_near),
         _met(big_near["all_same_rows"]) + ("" if big_near["all_same_order"] else " (rows yes; order of equal distances no)")),
        (f"Build peak memory flat ({large} / {small} rows at most {FLAT_MEMORY:g}x)",
         f"{_f(memory_ratio, 2)}x ({_f(smallest['peak_mb'], 0)} MB -> {_f(largest['peak_mb'], 0)} MB)",
         _met(memory_ratio <= FLAT_MEMORY)),
        (f"... and the build's own memory (peak minus setup) grows at most {FLAT_OWN_KB_PER_RECORD:g} KB per record",
         f"{_f(own(smallest))} MB -> {_f(own(largest))} MB: {_f(own_growth, 2)} KB per record",
         _met(own_growth <= FLAT_OWN_KB_PER_RECORD)),
    ]
    if smallest.get("worker_peak_mb") and largest.get("worker_peak_mb"):
        workers = largest["worker_peak_mb"] / smallest["worker_peak_mb"]
        rows.append((f"... and each of the build's {largest['processes']} worker processes' peak memory flat "
                     f"(at most {FLAT_MEMORY:g}x; it counts the pages shared with the build since the fork)",
                     f"{_f(workers, 2)}x ({_f(smallest['worker_peak_mb'], 0)} MB -> {_f(largest['worker_peak_mb'], 0)} MB)",
                     _met(workers <= FLAT_MEMORY)))
    if m.get("raw"):
        ratio = largest["rows_per_second"] / m["raw"]["rows_per_second"]
        rows.append((f"Build at least {TARGET_BUILD_VS_RAW:g}x the rows/s of a raw sqlite-utils insert of the same "
                     f"{large} feed rows (same pragmas)",
                     f"{_f(ratio, 2)}x ({_f(largest['rows_per_second'], 0)} records/s against "
                     f"{_f(m['raw']['rows_per_second'], 0)} rows/s)", _met(ratio >= TARGET_BUILD_VS_RAW)))
    rows += payer_target_rows(m)
    rows += [
        (f"Faceted clinics page at {large} rows: every facet present (none timed out)",
         _timed_out(faceted_large["timed_out"]) or "all present", _met(not faceted_large["timed_out"])),
        (f"Faceted clinics page at {large} rows at most {TARGET_FACETED_GROWTH:g}x its time at {small}: as served "
         "(repeated requests; a serve.py worker counts the unfiltered facets before its first visitor)",
         f"{_f(repeat_growth, 2)}x ({_f(faceted_small['ms'])} -> {_f(faceted_large['ms'])} ms)",
         _met(repeat_growth <= TARGET_FACETED_GROWTH)),
        ("... counting every facet afresh (a server before its warm-up; a filter nobody asked for before)",
         f"{_f(first_growth, 2)}x ({_f(faceted_small['first_ms'])} -> {_f(faceted_large['first_ms'])} ms)",
         _met(first_growth <= TARGET_FACETED_GROWTH)),
    ]
    for label in patient[largest["size"]]:
        a, b = patient[smallest["size"]][label], patient[largest["size"]][label]
        rows.append((f"{label[:1].upper() + label[1:]} at {large} rows",
                     f"{_f(b['ms'])} ms, {_f(b['bytes'] / 1024)} KB ({_f(b['ms'] / a['ms'], 2)}x the time at {small} rows)",
                     "measured"))
    if m.get("load"):
        rows += load_bench.target_rows(m["load"])
    return ["", "## Targets", "", "| Target | Measured | Met |", "|---|---|---|"] + \
        [f"| {target} | {measured} | {met} |" for target, measured, met in rows]


def build_section(m):
    builds = m["builds"]
    smallest, largest = builds[0], builds[-1]
    per_row = lambda b: b["seconds"] / b["size"]
    own = lambda b: b["peak_mb"] - b["setup_mb"]
    lines = [
        "", "## Build (`build_db.Build`, empty seed, one `clinic_site.jsonl` feed, a fresh subprocess each)", "",
        f"Baseline: the {smallest['size']:,}-row build, on {largest.get('processes', 1)} processes (kad/parallel.py). "
        "Peak RSS is the child's own VmHWM (not ru_maxrss, which keeps the forking parent's size);",
        "\"before build\" is the peak once `Build()` is set up (imports, ZIP table, vocabularies), so the",
        "difference is what the build itself holds.", "",
        "\"Marginal ms/record\" is the extra time per extra record since the previous size (fixed costs",
        "such as loading the state-law YAML weigh on the smallest build's time per record).", "",
        "| Feed records | Clinics | Merged | Build s | Records/s | Time per record vs baseline "
        "| Marginal ms/record | Peak RSS MB | Peak vs baseline | Before build MB | Build's own MB | Worker peak MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    previous = None
    for b in builds:
        marginal = (_f(1000 * (b["seconds"] - previous["seconds"]) / (b["size"] - previous["size"]), 2)
                    if previous else "")
        lines.append(
            f"| {b['size']:,} | {b['clinics']:,} | {b['merged']:,} | {_f(b['seconds'], 2)} | {_f(b['rows_per_second'], 0)} "
            f"| {_f(per_row(b) / per_row(smallest), 2)}x | {marginal} | {_f(b['peak_mb'])} "
            f"| {_f(b['peak_mb'] / smallest['peak_mb'], 2)}x | {_f(b['setup_mb'])} | {_f(own(b))} "
            f"| {_f(b.get('worker_peak_mb') or 0)} |")
        previous = b
    if m.get("raw"):
        raw = m["raw"]
        lines += ["", f"Baseline for speed (`bench/builds.py raw_insert`, run right after the {largest['size']:,}-record "
                  f"build, as the machine's speed drifts): the same {raw['rows']:,} feed lines parsed and "
                  f"inserted with sqlite-utils `insert_all` (batch size {raw['batch_size']:,}; "
                  f"{', '.join(raw['pragmas'])}, as the build) in {_f(raw['seconds'], 2)} s: {_f(raw['rows_per_second'], 0)} rows/s, "
                  f"peak RSS {_f(raw['peak_mb'])} MB."]
    lines += ["", "Where the build's time goes (seconds per step):", "",
              "| Step | " + " | ".join(f"{b['size']:,}" for b in builds) + " |",
              "|---|" + "---:|" * len(builds)]
    for index, (title, _) in enumerate(largest["steps"]):
        lines.append(f"| {title} | " + " | ".join(_f(b["steps"][index][1], 2) for b in builds) + " |")
    placed = largest["precision"]
    lines += ["", f"Placement at {largest['size']:,}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(placed.items()))
              + f"; records dropped: {largest['dropped'] or 'none'}; input problems: {largest['problems']}."]
    return lines


def _network_seconds(build):
    return sum(seconds for title, seconds in build["steps"] if title.startswith(NETWORK_STEPS))


def payer_target_rows(m):
    """With a payer directory: memory as without it, and network steps linear in its listings."""
    payer = m.get("payer_builds") or []
    if not payer:
        return []
    plain = {b["size"]: b for b in m["builds"]}
    large = payer[-1]
    ratio = large["peak_mb"] / plain[large["size"]]["peak_mb"]
    rows = [(f"With a payer directory of {large['payer_lines']:,} listings beside {large['size']:,} clinic records: "
             f"peak memory at most {FLAT_MEMORY:g}x the same build without it",
             f"{_f(ratio, 2)}x ({_f(plain[large['size']]['peak_mb'], 0)} MB -> {_f(large['peak_mb'], 0)} MB)",
             _met(ratio <= FLAT_MEMORY))]
    if len(payer) > 1:
        small = payer[-2]
        per_line = [_network_seconds(b) / b["payer_lines"] for b in (small, large)]
        growth = per_line[1] / per_line[0]
        rows.append((f"... and its network steps (evidence, status) linear: seconds per listing at "
                     f"{large['payer_lines']:,} at most {LINEAR_NETWORK:g}x those at {small['payer_lines']:,}",
                     f"{_f(growth, 2)}x ({_f(1e6 * per_line[0], 1)} -> {_f(1e6 * per_line[1], 1)} µs per listing)",
                     _met(growth <= LINEAR_NETWORK)))
    return rows


def payer_section(m):
    payer = m.get("payer_builds") or []
    if not payer:
        return []
    plain = {b["size"]: b for b in m["builds"]}
    lines = ["", "## Build with a payer directory", "",
             "The same synthetic clinic feed with a synthetic `plan_net` feed as long (`bench/synthetic.py`",
             "`write_payer_feed`: half the listings name the synthetic clinics' NPIs, half NPIs no clinic has;",
             "a tenth inactive), against the build without it in the same run.", "",
             "| Clinic records | Payer listings | Build s | Without s | Network steps s | Without s "
             "| Evidence rows | Peak RSS MB | Without MB |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for b in payer:
        without = plain[b["size"]]
        lines.append(f"| {b['size']:,} | {b['payer_lines']:,} | {_f(b['seconds'], 2)} | {_f(without['seconds'], 2)} "
                     f"| {_f(_network_seconds(b), 2)} | {_f(_network_seconds(without), 2)} | {b['evidence_rows']:,} "
                     f"| {_f(b['peak_mb'])} | {_f(without['peak_mb'])} |")
    return lines


def near_section(m):
    near = m["near"]
    largest = max(near)
    big_near = near[largest]
    lines = ["", f"## `clinics_near_zip` (bounding box) against a full haversine scan, {MILES} miles", "",
             "Through Datasette's own client, configured as `make serve` (serve.datasette_for). Baseline: the",
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
    lines += ["", f"Per ZIP at {largest:,} rows (medians; SQL ms is Datasette's own `query_ms`):", "",
              "| ZIP | Area | Rows | Box ms | Box SQL ms | Scan ms | Scan SQL ms | Speed-up | Result |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for z in big_near["zips"]:
        lines.append(f"| {z['zip']} | {'dense' if z['dense'] else 'sparse'} | {z['rows']} | {_f(z['box_ms'], 2)} "
                     f"| {_f(z['box_sql_ms'], 2)} | {_f(z['scan_ms'], 2)} | {_f(z['scan_sql_ms'], 2)} "
                     f"| {_f(z['scan_ms'] / z['box_ms'])}x | {z['same']} |")
    return lines


def pages_section(m):
    lines = ["", "## Faceted clinics JSON page", "",
             f"\"Repeated\": the median of {m['page_runs']} requests to one server after a warm-up (what visitors get:",
             "serve.py's workers count the unfiltered facets at start-up). \"First\": the median of",
             f"{m['page_runs']} fresh servers' first request to the page (after one unfaceted request), before",
             "plugins/facets.py remembers any facet answer. Baseline: the unfaceted page (`_nofacet=1`); the plain",
             "`clinics.json` computes the facets metadata.yml configures for the table (7). A facet \"timed out\"",
             "when it is missing from `facet_results` or marked there `\"timed_out\": true`.", "",
             "| Rows | Page | Repeated ms | vs unfaceted | First ms | vs unfaceted | Facets computed | Timed out |",
             "|---:|---|---:|---:|---:|---:|---:|---|"]
    for size, results in m["pages"].items():
        for label, r in results.items():
            lines.append(f"| {size:,} | {label} | {_f(r['ms'])} | {_f(r['ratio'])}x | {_f(r['first_ms'])} "
                         f"| {_f(r['first_ratio'])}x | {r['facets']} | {_timed_out(r['timed_out']) or 'none'} |")
    facet_sql = m.get("facet_sql")
    if facet_sql:
        lines += ["", "Each array facet's SQL alone (sqlite3 on the same file, no Datasette, no time limit): as",
                  "Datasette 0.65 writes it (`select distinct j.value, inner.*` over every column of every row, to",
                  "de-duplicate), de-duplicating by the primary key, a plain count over the JSON, and the count",
                  "through the link table plugins/facets.py runs (all give the same counts here):", "",
                  "| Rows | Column | Datasette 0.65 SQL ms | Distinct by `id` ms | Plain count ms | Link table ms | Same counts |",
                  "|---:|---|---:|---:|---:|---:|---|"]
        for size, columns in facet_sql.items():
            for column, t in columns.items():
                lines.append(f"| {size:,} | {column} | {_f(t['datasette'])} | {_f(t['by_pk'])} | {_f(t['plain'])} "
                             f"| {_f(t['link'])} | {_met(t['same_counts']).lower()} |")
    lines += ["", "## Patient pages that grew with the directory", "",
              f"Median of {m['page_runs']} requests after a warm-up, HTML, as above. The state page lists its clinics",
              "100 at a time; the checklist reads typical prices from the build's `price_stats` table.", "",
              "| Rows | Page | Median ms | KB |", "|---:|---|---:|---:|"]
    for size, results in m["patient"].items():
        for label, r in results.items():
            lines.append(f"| {size:,} | {label} | {_f(r['ms'])} | {_f(r['bytes'] / 1024)} |")
    return lines


def profile_section(profile):
    rows, total = profile["rows"], profile["total"]
    return (["", f"## Build profile ({profile['size']:,} records, cProfile, own time; total {_f(total, 1)} s "
             "under the profiler)", "", "| Own s | Cumulative s | Calls | Function |", "|---:|---:|---:|---|"]
            + [f"| {_f(own, 2)} | {_f(cum, 2)} | {calls:,} | `{where}` |" for own, cum, calls, where in rows])


def report(m, kept=""):
    """The whole of BENCHMARKS.md; `kept` is the sections other benchmarks wrote (kept_sections)."""
    lines = header(m) + targets(m) + build_section(m) + payer_section(m) + near_section(m) + pages_section(m)
    if m.get("load"):
        lines += [""] + load_bench.report_lines(m["load"], "the checked-in data (built into a temporary folder)")
    if m.get("profile"):
        lines += profile_section(m["profile"])
    return "\n".join(lines) + "\n" + kept


# Sections of BENCHMARKS.md that a benchmark of their own writes (too long for `make bench`):
# `make bench` keeps them as they are.
OWN_SECTIONS = ("## Negotiated rates",)


def _section_span(text, heading):
    """(start, end) of the section under `heading` (to the next `## ` heading), or None."""
    start = text.find("\n" + heading + "\n")
    if start < 0:
        return None
    following = text.find("\n## ", start + 1)
    return start + 1, len(text) if following < 0 else following + 1


def kept_sections(text):
    """The OWN_SECTIONS in a BENCHMARKS.md's text, to carry into the next one."""
    spans = [span for heading in OWN_SECTIONS if (span := _section_span(text, heading))]
    return "".join("\n" + text[start:end].rstrip("\n") + "\n" for start, end in spans)


def put_section(path, lines):
    """Write a section (its `## ` heading first) into the BENCHMARKS.md at `path`, in place of the
    section under the same heading or after the others."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = "\n".join(lines).rstrip("\n") + "\n"
    span = _section_span(text, lines[0])
    if span:
        text = text[:span[0]] + section + ("\n" if span[1] < len(text) else "") + text[span[1]:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")
