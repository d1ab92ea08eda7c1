"""serve.py (`make serve`): Datasette as `datasette serve` configures it, over the immutable
database, in several worker processes on 127.0.0.1, stopping cleanly."""

import asyncio
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from datasette.database import Database

import serve
from builds import build, synthetic
from utils import free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    return build(tmp_path_factory.mktemp("serve"), feeds={"clinic_site": [
        synthetic("A", postal_code="78701", insurers=["Aetna"])]}).db_path


def test_the_app_is_datasette_serve_with_the_projects_settings(db_path):
    ds = serve.datasette_for(db_path)
    assert (ds.setting("sql_time_limit_ms"), ds.setting("facet_time_limit_ms")) == (3000, 1000)
    assert not ds.get_database("ketamine").is_mutable
    assert ds.metadata("title") == "Ketamine Access Directory"

    async def plugins():
        return (await ds.client.get("/-/plugins.json")).json()
    names = {p["name"] for p in asyncio.run(plugins())}
    assert {"caching.py", "facets.py", "patient_pages.py", "datasette-cluster-map"} <= names


def test_a_worker_counts_the_chosen_facets_before_it_accepts_visitors(db_path, monkeypatch):
    monkeypatch.setenv(serve.DB_VARIABLE, str(db_path))
    app = serve.create_app()
    facet_queries = []
    execute = Database.execute

    async def counting(self, sql, *args, **kwargs):
        if "count(*) as count" in sql:
            facet_queries.append(sql)
        return await execute(self, sql, *args, **kwargs)

    monkeypatch.setattr(Database, "execute", counting)

    async def start_then_visit():
        messages, sent = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}], []

        async def receive():
            return messages.pop(0)

        async def send(message):
            sent.append(message["type"])
        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
        counted_at_start = len(facet_queries)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            response = await client.get("/ketamine/clinics.json?_facet_array=insurers")
        return sent, counted_at_start, response

    sent, counted_at_start, response = asyncio.run(start_then_visit())
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert counted_at_start >= 7  # metadata.yml's seven clinics facets, among others
    assert response.status_code == 200 and response.json()["facet_results"]["insurers"]["results"]
    assert len(facet_queries) == counted_at_start  # the visitor's facets were all remembered


def test_workers_default_to_the_cores_this_process_may_use():
    assert serve.default_workers() == len(__import__("os").sched_getaffinity(0))


def _children(pid, marker):
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if marker in cmdline:
                found.append(int(child))
    return found


def test_two_workers_serve_the_pages_and_stop_with_the_server(db_path):
    port = free_port()
    server = subprocess.Popen([sys.executable, "serve.py", "--db", str(db_path), "--port", str(port), "--workers", "2",
                               "--log-level", "warning"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            assert server.poll() is None, server.stderr.read().decode()
            try:
                urllib.request.urlopen(url + "/-/versions.json", timeout=2)
                break
            except OSError:
                assert time.time() < deadline, "serve.py did not answer within 60 seconds"
                time.sleep(0.3)
        workers = _children(server.pid, b"spawn_main")
        assert len(workers) == 2

        def status(path):
            with urllib.request.urlopen(url + path, timeout=30) as response:
                return response.status, response.headers["ETag"]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(status, ["/state/TX", "/ketamine/clinics.json?_facet_array=insurers"] * 8))
        assert {code for code, _ in answers} == {200} and len({tag for _, tag in answers}) == 1
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_serve_refuses_a_missing_database(tmp_path):
    done = subprocess.run([sys.executable, "serve.py", "--db", str(tmp_path / "none.db")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "run `python build_db.py`" in done.stderr
