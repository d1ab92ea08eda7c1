"""The build at one size, in a fresh subprocess, and its baseline: a raw sqlite-utils insert of the
same feed rows with the build's settings.

Every build runs in its own subprocess, so its peak memory belongs to that build alone: the peak
RSS (VmHWM) the child reads in /proc/self/status once it is done, and the largest of its workers'
(kad/parallel.py; each counts the pages it shares with the build since the fork). Not ru_maxrss, from os.wait4 or
getrusage: Linux carries a process's maximum over exec, so a child forked from a parent of 480 MB
reports 480 MB however little it uses (bench.run's parent grows as it serves the page benchmarks).
"""

import cProfile
import contextlib
import io
import json
import pstats
import subprocess
import sys
import time
from pathlib import Path

from bench import own_peak_rss_kb

ROOT = Path(__file__).resolve().parent.parent
RAW_BATCH_SIZE = 1000  # insert_all's chunk for the baseline (sqlite-utils caps it by its variable limit)


def _child_build(feeds, seed, db, result_path, profile_path=None):
    """Runs in the subprocess: one build, timed step by step."""
    sys.path.insert(0, str(ROOT))
    import build_db
    from kad import parallel

    steps = []

    class TimedBuild(build_db.Build):
        @contextlib.contextmanager
        def step(self, title):
            started = time.perf_counter()
            yield
            steps.append((title, time.perf_counter() - started))

    build = TimedBuild(db, feeds_dir=feeds, clinic_files=[seed], changes=None, quiet=True)
    setup_kb = own_peak_rss_kb()
    started = time.perf_counter()
    if profile_path:
        profiler = cProfile.Profile()
        profiler.runcall(build.run)
        profiler.dump_stats(profile_path)
    else:
        build.run()
    seconds = time.perf_counter() - started
    Path(result_path).write_text(json.dumps({
        "seconds": seconds, "steps": steps, "setup_peak_kb": setup_kb, "peak_kb": own_peak_rss_kb(),
        "clinics": build.counts["clinics"], "evidence_rows": build.counts["network_evidence"],
        "merged": build.merged, "precision": build.precision,
        "dropped": build.report.dropped, "problems": len(build.report.problems),
        "inputs": build.inputs, "processes": parallel.process_count(), "worker_peak_kb": parallel.worker_peak_kb,
    }))


def _child_raw_insert(feed, db, result_path):
    """Runs in the subprocess: the feed's rows inserted as they are, with the build's pragmas."""
    import sqlite_utils

    from build_db import PRAGMAS

    database = sqlite_utils.Database(db)
    for pragma in PRAGMAS:
        database.conn.execute(f"PRAGMA {pragma}")
    started = time.perf_counter()
    with open(feed, encoding="utf-8") as lines:
        database["records"].insert_all((json.loads(line) for line in lines), batch_size=RAW_BATCH_SIZE)
    seconds = time.perf_counter() - started
    rows = database["records"].count
    database.close()
    Path(result_path).write_text(json.dumps({"seconds": seconds, "rows": rows, "peak_kb": own_peak_rss_kb(),
                                             "pragmas": PRAGMAS}))


def _run_child(arguments, what):
    """Run `python -m bench.builds ARGUMENTS` until it ends."""
    process = subprocess.Popen([sys.executable, "-m", "bench.builds", *map(str, arguments)], cwd=ROOT)
    try:
        returncode = process.wait()
    except BaseException:
        process.kill()
        raise
    if returncode:
        raise RuntimeError(f"{what} failed (exit {returncode})")


def build(size, workdir, seed=0, profile=False, payer_lines=0):
    """Generate `size` synthetic records (and a payer directory of `payer_lines` listings) and build
    them into workdir/<size>/ketamine.db in a fresh subprocess. Returns the measurements (seconds,
    peak_mb, steps, ...) and the db path."""
    from bench import synthetic  # here, not in the children: it loads the ZIP table

    folder = Path(workdir) / str(size)
    feeds = folder / "feeds"
    started = time.perf_counter()
    synthetic.write_feed(feeds, size, seed=seed)
    if payer_lines:
        synthetic.write_payer_feed(feeds, payer_lines, size, seed=seed)
    generated = time.perf_counter() - started
    seed_path = folder / "seed.jsonl"
    seed_path.write_text("")  # no curated clinics: the feed is the whole input
    db = folder / "ketamine.db"
    result_path = folder / "result.json"
    arguments = ["build", feeds, seed_path, db, result_path]
    if profile:
        arguments += [folder / "build.prof"]
    started = time.perf_counter()
    _run_child(arguments, f"the {size}-row build")
    wall = time.perf_counter() - started
    result = json.loads(result_path.read_text())
    result.update(size=size, payer_lines=payer_lines, db=str(db), feed=str(feeds / f"{synthetic.FEED_NAME}.jsonl"),
                  generate_seconds=generated,
                  process_seconds=wall, peak_mb=result["peak_kb"] / 1024, setup_mb=result["setup_peak_kb"] / 1024,
                  worker_peak_mb=result["worker_peak_kb"] / 1024,
                  rows_per_second=size / result["seconds"])
    if profile:
        result["profile"] = str(folder / "build.prof")
    return result


def raw_insert(feed, workdir):
    """The baseline for the build's speed: the same feed lines inserted with sqlite-utils, nothing else."""
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    result_path = folder / "raw.json"
    _run_child(["raw", feed, folder / "raw.db", result_path], "the raw insert")
    result = json.loads(result_path.read_text())
    result.update(peak_mb=result["peak_kb"] / 1024, batch_size=RAW_BATCH_SIZE, rows_per_second=result["rows"] / result["seconds"])
    (folder / "raw.db").unlink()
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


if __name__ == "__main__":  # the subprocess side of build() and raw_insert()
    kind, *arguments = sys.argv[1:]
    (_child_build if kind == "build" else _child_raw_insert)(*arguments)
