"""Datasette in process, as `make serve` configures it (serve.datasette_for: immutable database,
metadata.yml, the project's plugins/ and templates/, its settings): `clinics_near_zip` against a
full scan, the faceted clinics page (repeated and first requests), the state page and the
checklist, and the array facets' SQL on its own."""

import re
import sqlite3
import statistics
import time
from collections import Counter
from pathlib import Path

import yaml

import serve

ROOT = Path(__file__).resolve().parent.parent
METADATA = ROOT / "metadata.yml"
DATABASE = "ketamine"
QUERY = "clinics_near_zip"
FULL_SCAN = "clinics_near_zip_full_scan"
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
# The patient pages whose cost grew with the directory (issue 13): label -> path.
PATIENT_PAGES = {
    "state page (`/state/TX`)": "/state/TX",
    "checklist (`/checklist?state=TX&insurer=aetna&condition=depression`)":
        "/checklist?state=TX&insurer=aetna&condition=depression",
}
WARM_UP = f"/{DATABASE}/clinics.json?_nofacet=1&_size=1"  # a fresh server's first request, before the timed one


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


async def datasette(db_path):
    """A fresh Datasette as `make serve` makes it (plus the full-scan query), started."""
    ds = serve.datasette_for(db_path, metadata=bench_metadata())
    await ds.invoke_startup()
    return ds


async def _get(ds, path, json=True):
    started = time.perf_counter()
    response = await ds.client.get(path)
    seconds = time.perf_counter() - started
    if not json:
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}")
        return seconds, response.content
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
    ds = await datasette(db_path)
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


def _missing_facets(path, data):
    """Facets absent from facet_results or reported there as timed out."""
    returned = Counter(f["name"] for f in data.get("facet_results", {}).values() if not f.get("timed_out"))
    return _expected_facets(path) - returned


async def bench_pages(db_path, runs=5):
    """Per page in PAGES: the median of `runs` repeated requests to one server (after a warm-up),
    the median of `runs` first requests to fresh servers (nothing remembered yet), and which
    facets timed out (missing from the JSON, or there marked timed_out)."""
    ds = await datasette(db_path)
    results = {}
    for label, path in PAGES.items():
        await _get(ds, path)  # warm-up
        times, first_times, timed_out = [], [], Counter()
        for _ in range(runs):
            seconds, data = await _get(ds, path)
            times.append(seconds)
            timed_out |= _missing_facets(path, data)
            fresh = await datasette(db_path)
            await _get(fresh, WARM_UP)
            seconds, data = await _get(fresh, path)
            first_times.append(seconds)
            timed_out |= _missing_facets(path, data)
        results[label] = {"path": path, "ms": 1000 * statistics.median(times),
                          "first_ms": 1000 * statistics.median(first_times),
                          "facets": sum(_expected_facets(path).values()),
                          "timed_out": sorted(timed_out.elements())}
    baseline = results[next(iter(PAGES))]
    for result in results.values():
        result["ratio"] = result["ms"] / baseline["ms"]
        result["first_ratio"] = result["first_ms"] / baseline["first_ms"]
    return results


async def bench_patient_pages(db_path, runs=5):
    """Median latency and size of the pages in PATIENT_PAGES."""
    ds = await datasette(db_path)
    results = {}
    for label, path in PATIENT_PAGES.items():
        await _get(ds, path, json=False)  # warm-up
        times, size = [], 0
        for _ in range(runs):
            seconds, body = await _get(ds, path, json=False)
            times.append(seconds)
            size = len(body)
        results[label] = {"path": path, "ms": 1000 * statistics.median(times), "bytes": size}
    return results


def array_facet_sql(db_path, columns=("insurers", "conditions", "treatments")):
    """Why the faceted page was slow: each array facet's SQL alone (sqlite3, no Datasette, no time
    limit), as Datasette 0.65 writes it, two cheaper forms over the JSON, and the count through the
    link table that plugins/facets.py runs; all give the same counts here."""
    connection = sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)
    every = ", ".join(f"[{row[1]}]" for row in connection.execute("PRAGMA table_info(clinics)"))
    inner = f"select {every} from clinics"  # what Datasette facets over: every column
    links = {"insurers": ("clinic_insurers", "join insurers v on v.id = l.insurer_id "
                                             "where l.network_status is not 'payer_only'", "v.name"),
             "conditions": ("clinic_conditions", "", "l.condition_id"),
             "treatments": ("clinic_treatments", "", "l.treatment_id")}
    forms = {
        "datasette": ("with inner as ({inner}), deduped_array_items as (select distinct j.value, inner.* "
                      "from json_each([inner].{col}) j join inner) select value as value, count(*) as count "
                      "from deduped_array_items group by value order by count(*) desc, value limit 31"),
        "by_pk": ("select value, count(*) as count from (select distinct j.value, t.id from ({inner}) t "
                  "join json_each(t.{col}) j) group by value order by count desc, value limit 31"),
        "plain": ("select j.value as value, count(*) as count from ({inner}) t join json_each(t.{col}) j "
                  "group by j.value order by count desc, value limit 31"),
        "link": ("select {label} as value, count(*) as count from {link} l {join} group by {label} "
                 "order by count desc, value limit 31"),
    }
    results = {}
    for column in columns:
        link, join, label = links[column]
        timings, answers = {}, {}
        for name, sql in forms.items():
            started = time.perf_counter()
            answers[name] = connection.execute(sql.format(inner=inner, col=column, link=link, join=join,
                                                          label=label)).fetchall()
            timings[name] = 1000 * (time.perf_counter() - started)
        timings["same_counts"] = answers["datasette"] == answers["by_pk"] == answers["plain"] == answers["link"]
        results[column] = timings
    connection.close()
    return results
