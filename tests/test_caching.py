"""plugins/caching.py: Cache-Control and an ETag tied to the build on pages, JSON and static files;
If-None-Match answered with 304 before any query; nothing personal or changeable cached."""

import asyncio
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml
from datasette.app import Datasette
from datasette.database import Database

from builds import build, synthetic

ROOT = Path(__file__).resolve().parents[1]
METADATA = yaml.safe_load((ROOT / "metadata.yml").read_text())
ETAG = re.compile(r'W/"[0-9a-f]{20}-\d{8}"')
CACHEABLE = ["/", "/state/TX", "/state/TX.json", "/checklist?state=TX&insurer=aetna&condition=depression",
             "/ketamine/clinics", "/ketamine/clinics.json?_facet_array=insurers", "/-/kad/static/site.css"]


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    return build(tmp_path_factory.mktemp("caching"), feeds={"clinic_site": [
        synthetic("A", postal_code="78701", insurers=["Aetna"])]}).db_path


def client(db_path, mutable=False, metadata=METADATA):
    ds = Datasette([str(db_path)] if mutable else [], immutables=[] if mutable else [str(db_path)],
                   metadata=metadata, plugins_dir=str(ROOT / "plugins"), template_dir=str(ROOT / "templates"))

    def get(path, **headers):
        return asyncio.run(ds.client.get(path, headers=headers))
    return get


@pytest.fixture(scope="module")
def get(db_path):
    return client(db_path)


@pytest.mark.parametrize("path", CACHEABLE)
def test_pages_json_and_static_files_carry_cache_headers(get, path):
    response = get(path)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert ETAG.fullmatch(response.headers["etag"])


def test_one_build_one_tag(get):
    assert len({get(path).headers["etag"] for path in CACHEABLE}) == 1


@pytest.mark.parametrize("path", CACHEABLE)
def test_a_repeat_visit_with_the_tag_gets_304(get, path):
    etag = get(path).headers["etag"]
    for if_none_match in (etag, f'W/"other", {etag}', etag.removeprefix("W/"), "*"):
        response = get(path, **{"If-None-Match": if_none_match})
        assert response.status_code == 304 and response.content == b""
        assert response.headers["etag"] == etag and response.headers["cache-control"] == "public, max-age=3600"


def test_another_tag_gets_the_page(get):
    assert get("/state/TX", **{"If-None-Match": 'W/"0123456789abcdef0123-20200101"'}).status_code == 200


def test_a_304_runs_no_query(get, monkeypatch):
    etag = get("/state/TX").headers["etag"]
    ran = []
    execute = Database.execute

    async def recording(self, sql, *args, **kwargs):
        ran.append(sql)
        return await execute(self, sql, *args, **kwargs)

    monkeypatch.setattr(Database, "execute", recording)
    assert get("/state/TX", **{"If-None-Match": etag}).status_code == 304
    assert ran == []


def test_a_new_build_has_a_new_tag(db_path, get, tmp_path):
    rebuilt = tmp_path / "ketamine.db"
    shutil.copy(db_path, rebuilt)
    connection = sqlite3.connect(rebuilt)
    connection.execute("update build_info set value = '2027-01-01T00:00:00+00:00' where item = 'built_at'")
    connection.commit()
    connection.close()
    old_tag = get("/state/TX").headers["etag"]
    response = client(rebuilt)("/state/TX", **{"If-None-Match": old_tag})
    assert response.status_code == 200 and ETAG.fullmatch(response.headers["etag"])
    assert response.headers["etag"] != old_tag


def test_a_database_without_build_info_is_tagged_by_its_content(db_path, tmp_path):
    copies = []
    for name, value in (("one", "1"), ("two", "2")):
        copy = tmp_path / name / "ketamine.db"
        copy.parent.mkdir()
        shutil.copy(db_path, copy)
        connection = sqlite3.connect(copy)
        connection.execute("drop table build_info")
        connection.execute("create table synthetic_marker (value text)")
        connection.execute("insert into synthetic_marker values (?)", [value])
        connection.commit()
        connection.close()
        copies.append(client(copy)("/state/TX").headers["etag"])
    assert all(ETAG.fullmatch(tag) for tag in copies) and copies[0] != copies[1]


@pytest.mark.parametrize("path, headers", [
    ("/-/actor.json", {}),                                       # Datasette's own pages
    ("/state/TX", {"Cookie": "ds_actor=synthetic"}),              # a signed-in visitor
    ("/state/TX", {"Authorization": "Bearer synthetic"}),
    ("/ketamine/clinics.json?_ttl=0", {}),                        # the request chose its own caching
])
def test_personal_and_self_chosen_answers_are_left_alone(get, path, headers):
    etag = get("/state/TX").headers["etag"]
    response = get(path, **headers, **{"If-None-Match": etag})
    assert response.status_code == 200
    assert "etag" not in response.headers and "public" not in response.headers.get("cache-control", "")


def test_a_missing_page_gets_no_tag(get):
    response = get("/state/ZZ")
    assert response.status_code == 404 and "etag" not in response.headers


def test_a_mutable_database_is_never_tagged(db_path, tmp_path):
    copy = tmp_path / "ketamine.db"
    shutil.copy(db_path, copy)
    response = client(copy, mutable=True)("/state/TX")
    assert response.status_code == 200 and "etag" not in response.headers


def test_max_age_can_be_set_in_metadata(db_path):
    metadata = {**METADATA, "plugins": {**METADATA.get("plugins", {}), "caching": {"max_age": 600}}}
    assert client(db_path, metadata=metadata)("/state/TX").headers["cache-control"] == "public, max-age=600"
