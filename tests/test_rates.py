"""kad.rates: the streaming extractor, the table-of-contents reader, the manifest and the Dask
run, on synthetic files in the CMS schema's shape (tests/files/rates/)."""

import gzip
import json
import warnings

import ijson
import pytest

from kad.rates import __main__ as cli
from kad.rates import extract as extractor
from kad.rates.run import reduce_to_feed, run_files
from kad.rates.source import open_source
from kad.rates.toc import read_toc
from rates_site import RATES, fixture_text, rates_site

WANTED = ("G2082", "G2083", "J0013", "S0013", "J3490", "96365", "96366")


def extract_path(path, tmp_dir, codes=WANTED):
    rows = []
    with open_source(path) as (raw, _):
        outcome = extractor.extract(str(path), raw, codes,
                                    lambda fields, npis: rows.extend({**fields, "npi": npi} for npi in npis), tmp_dir)
    return rows, outcome


def _module_rows(name):
    import tempfile
    with tempfile.TemporaryDirectory() as work:
        return extract_path(RATES / name, work)


FIRST_ROWS, FIRST = _module_rows("refs_first.json")
LAST_ROWS, LAST = _module_rows("refs_last.json")


def one(rows, **match):
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, found
    return found[0]


G2082 = one(FIRST_ROWS, billing_code="G2082", npi="1234567893", negotiated_rate=601.25)


# -- one row, field by field (provider_references before in_network) ----------------------------

def test_billing_code():
    assert G2082["billing_code"] == "G2082"


def test_billing_code_type():
    assert G2082["billing_code_type"] == "HCPCS"


def test_service_name():
    assert G2082["service_name"] == "Esketamine nasal self admin up to 56 mg"


def test_negotiation_arrangement():
    assert G2082["negotiation_arrangement"] == "ffs"


def test_negotiated_type():
    assert G2082["negotiated_type"] == "negotiated"


def test_billing_class():
    assert G2082["billing_class"] == "professional"


def test_setting():
    assert G2082["setting"] == "outpatient"


def test_service_codes():
    assert json.loads(G2082["service_codes"]) == ["11", "22"]


def test_expiration_date():
    assert G2082["expiration_date"] == "9999-12-31"


def test_modifiers_empty():
    assert json.loads(G2082["modifiers"]) == []


def test_tin():
    assert G2082["tin"] == "11-1111111"


def test_tin_type():
    assert G2082["tin_type"] == "ein"


def test_tin_business_name():
    assert G2082["tin_business_name"] == "Synthetic Infusion Group"


def test_network_names():
    assert json.loads(G2082["network_names"]) == ["Synthetic Choice"]


# -- what is kept ---------------------------------------------------------------------------------

def test_only_wanted_codes_are_kept():
    assert sorted({r["billing_code"] for r in FIRST_ROWS}) == ["96365", "G2082", "G2083", "J0013"]


def test_items_seen_and_kept():
    assert (FIRST.items_seen, FIRST.items_kept) == (6, 4)


def test_one_row_per_npi_of_every_referenced_group():
    assert sorted(r["npi"] for r in FIRST_ROWS if r["billing_code"] == "J0013") == ["1234567893", "1548300213", "1760511117"]


def test_modifier_price_is_its_own_row():
    assert json.loads(one(FIRST_ROWS, billing_code="G2082", npi="1234567893", negotiated_rate=540.0)["modifiers"]) == ["95", "GT"]


def test_percentage_rate_keeps_its_type():
    row = one(FIRST_ROWS, billing_code="96365")
    assert (row["negotiated_type"], row["negotiated_rate"], row["billing_class"]) == ("percentage", 65.5, "institutional")


def test_bundle_keeps_its_codes():
    row = one(FIRST_ROWS, billing_code="G2083", npi="1548300213")
    assert (row["negotiation_arrangement"], json.loads(row["bundled_codes"])) == ("bundle", ["HCPCS J0013"])


def test_header_is_read():
    assert (FIRST.header["version"], FIRST.header["last_updated_on"]) == ("2.0.0", "2026-11-01")


def test_c_backend_is_used():
    assert FIRST.json_backend == "yajl2_c"


# -- in_network before provider_references, header at the end -------------------------------------

def test_references_after_rates_are_resolved():
    assert one(LAST_ROWS, billing_code="S0013")["npi"] == "1234567893"


def test_header_after_the_arrays_is_read():
    assert (LAST.header["version"], LAST.header["last_updated_on"]) == ("2.1.0", "2026-11-02")


def test_unknown_reference_is_counted():
    assert LAST.dropped["provider reference not found"] == 1


def test_tin_only_group_gives_a_row_without_npi():
    row = one(LAST_ROWS, billing_code="96366")
    assert (row["npi"], row["tin"]) == (None, "44-4444444")


def test_key_order_does_not_change_the_rows(tmp_path):
    document = json.loads(fixture_text("refs_first.json"))
    reordered = {"in_network": document.pop("in_network"), **document}
    path = tmp_path / "reordered.json.gz"
    path.write_bytes(gzip.compress(json.dumps(reordered).encode("utf-8")))
    rows, _ = extract_path(path, tmp_path)
    assert rows == FIRST_ROWS


def test_codes_are_configurable(tmp_path):
    rows, _ = extract_path(RATES / "refs_first.json", tmp_path, codes=["99213"])
    assert [(r["billing_code"], r["npi"], r["negotiated_rate"]) for r in rows] == [("99213", "1999999992", 95.0)]


def test_unknown_schema_version_is_refused(tmp_path):
    with pytest.raises(extractor.UnsupportedVersion, match="3.0.0"):
        extract_path(RATES / "unknown_version.json", tmp_path)


# -- the C backend --------------------------------------------------------------------------------

def test_without_the_c_backend_it_refuses(monkeypatch):
    def missing(name):
        raise ImportError(f"no {name}")
    monkeypatch.setattr(ijson, "get_backend", missing)
    monkeypatch.delenv(extractor.ALLOW_SLOW_JSON, raising=False)
    with pytest.raises(RuntimeError, match="yajl2_c"):
        extractor.json_backend()


def test_slow_backend_only_when_asked_and_with_a_warning(monkeypatch):
    real = ijson.get_backend

    def only_python(name):
        if name == "yajl2_c":
            raise ImportError("no yajl2_c")
        return real(name)
    monkeypatch.setattr(ijson, "get_backend", only_python)
    monkeypatch.setenv(extractor.ALLOW_SLOW_JSON, "1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backend = extractor.json_backend()
    assert backend.backend_name == "python" and "slow" in str(caught[0].message)


# -- table of contents, remote files, manifest, Dask ----------------------------------------------

@pytest.fixture
def site():
    with rates_site() as served:
        yield served


def test_toc_lists_each_in_network_file_once_with_all_its_plans(site):
    header, jobs = read_toc(f"http://127.0.0.1:{site.port}/toc.json")
    by_name = {job.url.rsplit("/", 1)[1]: job for job in jobs}
    assert sorted(by_name) == ["groups_v1.json.gz", "refs_first.json.gz", "refs_last.json.gz",
                               "truncated.json.gz", "unknown_version.json.gz"]
    assert [p["plan_name"] for p in by_name["refs_first.json.gz"].plans] == [
        "Synthetic PPO", "Synthetic HMO", "Synthetic Employer Plan"]
    assert header["reporting_entity_name"] == "Synthetic Health Plan"


def test_in_item_groups_and_a_remote_provider_reference_file(site, tmp_path):
    rows, _ = extract_path(f"http://127.0.0.1:{site.port}/groups_v1.json.gz", tmp_path)
    assert sorted((r["npi"], r["negotiated_type"], r["negotiated_rate"]) for r in rows) == [
        ("1548300213", "negotiated", 150.0), ("1760511117", "derived", 175.0)]
    assert "/provider_reference.json" in site.requested


def run_toc(site, out, client=None):
    header, jobs = read_toc(f"http://127.0.0.1:{site.port}/toc.json")
    messages = []
    manifest = run_files([job.url for job in jobs], out, WANTED, client, report=messages.append)
    return manifest, jobs, messages


def status(manifest, name):
    return next(e for url, e in manifest.entries.items() if url.endswith("/" + name))


def test_truncated_gzip_is_reported_and_the_other_files_go_through(site, tmp_path):
    manifest, _, _ = run_toc(site, tmp_path)
    assert status(manifest, "truncated.json.gz")["status"] == "failed"
    assert "truncated gzip" in status(manifest, "truncated.json.gz")["error"]
    assert [status(manifest, n)["status"] for n in ("refs_first.json.gz", "refs_last.json.gz", "groups_v1.json.gz")] == ["done"] * 3


def test_unknown_version_is_reported_in_the_manifest(site, tmp_path):
    manifest, _, _ = run_toc(site, tmp_path)
    entry = status(manifest, "unknown_version.json.gz")
    assert (entry["status"], "unsupported schema version '3.0.0'" in entry["error"]) == ("failed", True)


def test_manifest_records_size_etag_and_date(site, tmp_path):
    manifest, _, _ = run_toc(site, tmp_path)
    entry = status(manifest, "refs_first.json.gz")
    assert entry["size"] > 0 and entry["etag"].startswith('"') and entry["last_updated_on"] == "2026-11-01"


def test_rerun_skips_what_is_done_and_retries_what_failed(site, tmp_path):
    run_toc(site, tmp_path)
    _, _, messages = run_toc(site, tmp_path)
    skipped = sorted(m.rsplit("/", 1)[1] for m in messages if m.startswith("unchanged"))
    failed = sorted(m.split(": ", 2)[1].rsplit("/", 1)[1] for m in messages if m.startswith("FAILED"))
    assert skipped == ["groups_v1.json.gz", "refs_first.json.gz", "refs_last.json.gz"]
    assert failed == ["truncated.json.gz", "unknown_version.json.gz"]


def test_a_changed_file_is_read_again(tmp_path):
    overrides = {}
    with rates_site(overrides) as site:
        run_toc(site, tmp_path)
        changed = json.loads(fixture_text("refs_first.json"))
        changed["last_updated_on"] = "2026-12-01"
        overrides["/refs_first.json.gz"] = gzip.compress(json.dumps(changed).encode())
        manifest, _, messages = run_toc(site, tmp_path)
    assert status(manifest, "refs_first.json.gz")["last_updated_on"] == "2026-12-01"


def feed_lines(path):
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        line.pop("retrieved_at", None)
    return lines


def test_feed_has_a_file_line_then_its_rows(site, tmp_path):
    manifest, jobs, _ = run_toc(site, tmp_path / "out")
    count = reduce_to_feed(manifest, jobs, tmp_path / "out", tmp_path / "feed.jsonl")
    lines = feed_lines(tmp_path / "feed.jsonl")
    assert [line["kind"] for line in lines].count("price_file") == 3
    assert count == len(lines) - 3 == len(FIRST_ROWS) + len(LAST_ROWS) + 2
    current = None
    for line in lines:
        current = line["file_url"] if line["kind"] == "price_file" else current
        assert line["file_url"] == current, line


def test_dask_local_cluster_gives_the_single_process_rows(site, tmp_path):
    from distributed import Client, LocalCluster

    manifest, jobs, _ = run_toc(site, tmp_path / "single")
    reduce_to_feed(manifest, jobs, tmp_path / "single", tmp_path / "single.jsonl")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        manifest, jobs, _ = run_toc(site, tmp_path / "dask", client)
    reduce_to_feed(manifest, jobs, tmp_path / "dask", tmp_path / "dask.jsonl")
    assert feed_lines(tmp_path / "dask.jsonl") == feed_lines(tmp_path / "single.jsonl")
    assert status(manifest, "truncated.json.gz")["status"] == "failed"


def test_command_line_writes_the_feed_and_exits_1_on_failures(site, tmp_path):
    code = cli.main(["--toc", f"http://127.0.0.1:{site.port}/toc.json", "--workers", "0", "--insurer", "aetna",
                     "--out", str(tmp_path / "out"), "--feed", str(tmp_path / "feed.jsonl")])
    files = [line for line in feed_lines(tmp_path / "feed.jsonl") if line["kind"] == "price_file"]
    assert code == 1 and {f["insurer_id"] for f in files} == {"aetna"}


def test_insurer_is_mapped_from_the_reporting_entity_name():
    assert cli.insurer_for(None, ["UnitedHealthcare Insurance Company"]) == "unitedhealthcare"
