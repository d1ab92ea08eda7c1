"""Serving under load: `serve.py` (what `make serve` runs) on 127.0.0.1, driven by simulated
visitors on a realistic mix of requests, at several numbers of concurrent clients.

    python -m bench.load [--db PATH] [--clients 1,32,128] [--duration 20] [--warmup 5] [--workers N]

Measures requests/s and p50/p95/p99 latency per route at each client count (with the default
number of workers, one per core); worker scaling (the same mix with 1 and 2 workers); and the
304 effect (the same mix when every visitor revalidates with the ETag it holds). Each phase starts
a fresh server, loads it for --warmup seconds unmeasured (every worker started, caches warm), then
--duration seconds measured, and stops it: bounded, loopback only, nothing left running.

The database is the checked-in data built into a temporary folder (or --db). Clients are one
asyncio process speaking plain HTTP/1.1 with keep-alive (a connection per visit of a few
requests), light enough to leave the cores to the server; the CPU both sides used is reported.
"""

import argparse
import asyncio
import contextlib
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from datasette.utils import tilde_encode

import serve
from build_db import Build

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # loopback only
REQUEST_TIMEOUT = 30.0  # seconds; a request that takes longer counts as an error
START_TIMEOUT = 90.0
CLIENTS = (1, 32, 128)
SCALING_CLIENTS = 32
VISIT_REQUESTS = 10  # a client opens a new connection after a visit of 1 to this many requests
TARGET_SCALING = 1.7  # 2 workers / 1 worker, requests per second
# route -> share of requests (percent), as the mix: patient pages, the API and its heaviest route.
MIX = {
    "search by ZIP": 20,
    "search by ZIP, insurer and condition": 12,
    "clinic page": 15,
    "state page": 10,
    "checklist": 10,
    "clinics JSON, insurer facet": 13,
    "near-ZIP query (JSON)": 20,
}


# -- what the visitors ask for -------------------------------------------------------------------

def request_paths(db_path, count=400, seed=0):
    """route -> paths, drawn from the database's own ZIP codes, clinics, states and vocabularies."""
    connection = sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)
    column = lambda sql: [row[0] for row in connection.execute(sql)]
    zips = column("select distinct postal_code from clinics where postal_code is not null and latitude is not null")
    clinics = column("select id from clinics")
    states = column("select distinct state from clinics")
    insurers = column("select distinct insurer_id from clinic_insurers")
    conditions = column("select distinct condition_id from clinic_conditions")
    connection.close()
    if not (zips and clinics and insurers and conditions):
        raise ValueError(f"{db_path} has too few clinics with ZIP codes, insurers and conditions to load it")
    rng = random.Random(seed)

    def clinic_path(clinic_id):
        prefix, _, rest = clinic_id.partition(":")
        return f"/clinic/{tilde_encode(prefix)}/{tilde_encode(rest)}"

    makers = {
        "search by ZIP": lambda: "/search?" + urlencode({"zip": rng.choice(zips)}),
        "search by ZIP, insurer and condition": lambda: "/search?" + urlencode(
            {"zip": rng.choice(zips), "miles": rng.choice((25, 50, 100)), "insurer": rng.choice(insurers),
             "condition": rng.choice(conditions)}),
        "clinic page": lambda: clinic_path(rng.choice(clinics)),
        "state page": lambda: f"/state/{rng.choice(states)}",
        "checklist": lambda: "/checklist?" + urlencode(
            {"state": rng.choice(states), "insurer": rng.choice(insurers), "condition": rng.choice(conditions)}),
        "clinics JSON, insurer facet": lambda: "/ketamine/clinics.json?_facet_array=insurers",
        "near-ZIP query (JSON)": lambda: "/ketamine/clinics_near_zip.json?" + urlencode(
            {"zip": rng.choice(zips), "miles": 25, "_shape": "objects"}),
    }
    return {route: [make() for _ in range(count)] for route, make in makers.items()}


# -- a minimal HTTP/1.1 client -------------------------------------------------------------------

async def fetch(reader, writer, path, headers=()):
    """One GET on an open keep-alive connection: (status, body bytes, ETag or None, whether the
    server closes the connection after it)."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n{extra}\r\n".encode("latin-1"))
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length, chunked, etag, close = None, False, None, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif name == "etag":
            etag = value
        elif name == "connection":
            close = value.lower() == "close"
    size = 0
    if status in (204, 304):
        pass
    elif chunked:
        while (chunk := int((await reader.readline()).split(b";")[0], 16)):
            size += len(await reader.readexactly(chunk + 2)) - 2
        while await reader.readline() not in (b"\r\n", b""):  # trailers
            pass
    elif length is not None:
        size = len(await reader.readexactly(length))
    else:
        size = len(await reader.read())
        close = True
    return status, size, etag, close


async def _connect(port):
    return await asyncio.open_connection(HOST, port)


async def _visitor(number, port, paths, window, record, headers, seed):
    """One client: requests from the mix back to back until the window ends, in visits of 1 to
    VISIT_REQUESTS requests on one keep-alive connection each, as a browser keeps one for a while.
    (Connections held for a whole run would stay with whichever worker accepted them first.)"""
    rng = random.Random(seed * 1000 + number)
    routes, weights = list(MIX), list(MIX.values())
    reader = writer = None
    left = 0
    while time.perf_counter() < window[1]:
        route = rng.choices(routes, weights)[0]
        path = rng.choice(paths[route])
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await _connect(port)
                left = rng.randint(1, VISIT_REQUESTS)
            status, size, _, close = await asyncio.wait_for(fetch(reader, writer, path, headers), REQUEST_TIMEOUT)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            status, size, close = None, 0, True
        record(route, started, time.perf_counter(), status, size)
        left -= 1
        if (close or left <= 0) and writer is not None:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def drive(port, paths, clients, warmup, duration, headers=(), seed=0):
    """Run `clients` visitors for warmup + duration seconds; measure the requests that both start
    and finish inside the last `duration` seconds."""
    start = time.perf_counter()
    window = (start + warmup, start + warmup + duration)
    samples = []

    def record(route, began, ended, status, size):
        if window[0] <= began and ended <= window[1]:
            samples.append((route, ended - began, status, size))

    cpu = {}

    async def mark_cpu():
        await asyncio.sleep(warmup)
        cpu["start"] = (time.process_time(), server_cpu_seconds(port))
        await asyncio.sleep(duration)
        cpu["end"] = (time.process_time(), server_cpu_seconds(port))

    await asyncio.gather(mark_cpu(), *(_visitor(n, port, paths, window, record, headers, seed) for n in range(clients)))
    return summarise(samples, duration, clients,
                     client_cpu=(cpu["end"][0] - cpu["start"][0]) / duration,
                     server_cpu=(cpu["end"][1] - cpu["start"][1]) / duration)


def _percentile(sorted_values, share):
    return sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))]


def _latency(seconds):
    ordered = sorted(seconds)
    if not ordered:
        return {"count": 0}
    return {"count": len(ordered), "p50": 1000 * statistics.median(ordered), "p95": 1000 * _percentile(ordered, 0.95),
            "p99": 1000 * _percentile(ordered, 0.99)}


def summarise(samples, duration, clients, client_cpu=None, server_cpu=None):
    done = [s for s in samples if s[2] is not None and s[2] < 400]
    statuses = {}
    for _, _, status, _ in samples:
        statuses[str(status) if status else "error"] = statuses.get(str(status) if status else "error", 0) + 1
    return {
        "clients": clients, "seconds": duration, "requests": len(done), "rps": len(done) / duration,
        "errors": len(samples) - len(done), "statuses": statuses,
        "all": _latency([s[1] for s in done]),
        "routes": {route: _latency([s[1] for s in done if s[0] == route]) for route in MIX},
        "client_cpu": client_cpu, "server_cpu": server_cpu,
    }


# -- the server ----------------------------------------------------------------------------------

_servers = {}  # port -> Popen, for server_cpu_seconds


def _free_port():
    import socket
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _tree(pid):
    """pid and its descendants (Linux /proc)."""
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                queue += [int(child) for child in (task / "children").read_text().split()]
    return pids


def server_cpu_seconds(port):
    """User + system CPU seconds used so far by the server on `port` and its workers."""
    total = 0
    for pid in _tree(_servers[port].pid):
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server(db_path, workers, log):
    """serve.py on a free loopback port, as `make serve` runs it; stopped on leaving."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "serve.py", "--db", str(db_path), "--host", HOST, "--port", str(port),
                                "--workers", str(workers)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    _servers[port] = process
    try:
        asyncio.run(_wait_until_up(port, process))
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        del _servers[port]


async def _wait_until_up(port, process):
    deadline = time.perf_counter() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"serve.py stopped (exit {process.returncode}); see its log")
        with contextlib.suppress(OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            reader, writer = await _connect(port)
            try:
                if (await fetch(reader, writer, "/-/versions.json"))[0] == 200:
                    return
            finally:
                writer.close()
        if time.perf_counter() > deadline:
            raise RuntimeError(f"serve.py did not answer within {START_TIMEOUT:.0f} s")
        await asyncio.sleep(0.2)


async def _current_etag(port):
    reader, writer = await _connect(port)
    try:
        status, _, etag, _ = await fetch(reader, writer, "/")
    finally:
        writer.close()
    if status != 200 or not etag:
        raise RuntimeError("the home page carries no ETag: is plugins/caching.py loaded?")
    return etag


# -- the phases ----------------------------------------------------------------------------------

def run(db_path, clients=CLIENTS, duration=20.0, warmup=5.0, workers=None, log=None, seed=0, progress=print):
    """Every phase; returns the measurements (see summarise) per phase."""
    workers = workers or serve.default_workers()
    paths = request_paths(db_path, seed=seed)
    log = log or subprocess.DEVNULL
    result = {"workers": workers, "duration": duration, "warmup": warmup, "mix": dict(MIX), "by_clients": []}

    def phase(title, count, worker_count, revalidate=False):
        progress(f"    load: {title} ...")
        with server(db_path, worker_count, log) as port:
            headers = [("If-None-Match", asyncio.run(_current_etag(port)))] if revalidate else ()
            measured = asyncio.run(drive(port, paths, count, warmup, duration, headers, seed))
        measured.update(workers=worker_count, revalidate=revalidate)
        progress(f"        {measured['rps']:.1f} requests/s, p50 {measured['all'].get('p50', 0):.0f} ms, "
                 f"errors {measured['errors']}")
        return measured

    for count in clients:
        result["by_clients"].append(phase(f"{count} clients, {workers} workers", count, workers))
    scaling_clients = SCALING_CLIENTS if SCALING_CLIENTS in clients else max(clients)
    one = phase(f"{scaling_clients} clients, 1 worker", scaling_clients, 1)
    two = next((r for r in result["by_clients"] if r["clients"] == scaling_clients and r["workers"] == 2), None) \
        or phase(f"{scaling_clients} clients, 2 workers", scaling_clients, 2)
    result["scaling"] = {"clients": scaling_clients, "one": one, "two": two, "ratio": two["rps"] / one["rps"]}
    plain = next(r for r in result["by_clients"] if r["clients"] == scaling_clients)
    revalidating = phase(f"{scaling_clients} clients revalidating with If-None-Match", scaling_clients, workers,
                         revalidate=True)
    result["revalidation"] = {"clients": scaling_clients, "plain": plain, "revalidating": revalidating,
                              "ratio": revalidating["rps"] / plain["rps"]}
    return result


# -- the report ----------------------------------------------------------------------------------

def _ms(latency, key):
    return f"{latency[key]:,.0f}" if latency.get("count") else ""


def _share(value):
    return "" if value is None else f"{value:.2f}"


def target_rows(result):
    """(target, measured, met) rows for BENCHMARKS.md's targets table."""
    scaling, revalidation = result["scaling"], result["revalidation"]
    return [
        (f"2 workers at least {TARGET_SCALING:g}x the requests/s of 1 worker on the mix ({scaling['clients']} clients)",
         f"{scaling['ratio']:.2f}x ({scaling['one']['rps']:.1f} -> {scaling['two']['rps']:.1f} requests/s)",
         "yes" if scaling["ratio"] >= TARGET_SCALING else "NO"),
        (f"Cache-Control and a build ETag; repeat visits answered 304 ({revalidation['clients']} clients)",
         f"{revalidation['ratio']:.1f}x the requests/s ({revalidation['plain']['rps']:.1f} -> "
         f"{revalidation['revalidating']['rps']:.1f}); p50 {_ms(revalidation['plain']['all'], 'p50')} -> "
         f"{_ms(revalidation['revalidating']['all'], 'p50')} ms; "
         f"{revalidation['revalidating']['statuses'].get('304', 0):,} answers 304",
         "measured"),
    ]


def report_lines(result, db_note):
    lines = [
        "## Serving under load (`bench/load.py`)", "",
        f"`serve.py` as `make serve` runs it ({result['workers']} worker processes unless said otherwise) on "
        f"{db_note}, on 127.0.0.1. Each phase starts a fresh server, loads it {result['warmup']:g} s unmeasured,",
        f"then {result['duration']:g} s measured: requests that start and end inside the window. Clients send the mix",
        f"below back to back, each on a keep-alive connection it keeps for a visit of 1 to {VISIT_REQUESTS} requests,",
        "from one asyncio process on the same machine (its CPU is in the \"client CPU\" column, in cores;",
        "\"server CPU\" is the server's processes).", "",
        "Mix: " + ", ".join(f"{route} {share}%" for route, share in result["mix"].items()) + ".", "",
        "| Clients | Workers | Requests/s | p50 ms | p95 ms | p99 ms | Errors | Server CPU | Client CPU |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    phases = result["by_clients"] + [result["scaling"]["one"]]
    if result["scaling"]["two"] not in phases:
        phases.append(result["scaling"]["two"])
    for r in phases:
        lines.append(f"| {r['clients']} | {r['workers']} | {r['rps']:,.1f} | {_ms(r['all'], 'p50')} | {_ms(r['all'], 'p95')} "
                     f"| {_ms(r['all'], 'p99')} | {r['errors']} | {_share(r['server_cpu'])} | {_share(r['client_cpu'])} |")
    lines += ["", f"Per route, {result['workers']} workers (ms, p50 / p95 / p99):", "",
              "| Route | " + " | ".join(f"{r['clients']} clients" for r in result["by_clients"]) + " |",
              "|---|" + "---:|" * len(result["by_clients"])]
    for route in result["mix"]:
        cells = [" / ".join(_ms(r["routes"][route], k) for k in ("p50", "p95", "p99")) for r in result["by_clients"]]
        lines.append(f"| {route} | " + " | ".join(cells) + " |")
    scaling, revalidation = result["scaling"], result["revalidation"]
    lines += ["", f"Worker scaling at {scaling['clients']} clients: 1 worker {scaling['one']['rps']:.1f} requests/s, "
              f"2 workers {scaling['two']['rps']:.1f}: {scaling['ratio']:.2f}x.", "",
              f"Revalidation at {revalidation['clients']} clients (every request carries the current ETag in "
              f"If-None-Match, as a returning browser or a CDN does): {revalidation['revalidating']['rps']:.1f} "
              f"requests/s against {revalidation['plain']['rps']:.1f} for first visits "
              f"({revalidation['ratio']:.1f}x); p50 {_ms(revalidation['revalidating']['all'], 'p50')} ms against "
              f"{_ms(revalidation['plain']['all'], 'p50')} ms. Answers: "
              + ", ".join(f"{k} x{v:,}" for k, v in sorted(revalidation['revalidating']['statuses'].items())) + "."]
    return lines


def checked_in_database(folder):
    """The checked-in data built into `folder` (never into data/)."""
    path = Path(folder) / "ketamine.db"
    Build(path, quiet=True).run()
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, help="a built database (default: the checked-in data, built in a temporary folder)")
    parser.add_argument("--clients", default=",".join(map(str, CLIENTS)), help="comma-separated client counts")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds per phase")
    parser.add_argument("--workers", type=int, help="worker processes (default: serve.py's, the machine's cores)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kad-load-") as folder:
        db = args.db or checked_in_database(folder)
        with open(Path(folder) / "serve.log", "w") as log:
            result = run(db, clients=[int(c) for c in args.clients.split(",")], duration=args.duration,
                         warmup=args.warmup, workers=args.workers, log=log)
    print("\n".join(report_lines(result, f"`{db}`" if args.db else "the checked-in data")))
    for target, measured, met in target_rows(result):
        print(f"- {target}: {measured} ({met})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
