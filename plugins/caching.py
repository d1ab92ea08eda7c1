"""Cache headers for an immutable, rebuilt-weekly database (issue 13).

Every successful GET of a page, a JSON view or a static file gets `Cache-Control: public,
max-age=MAX_AGE` and an ETag naming what the answer depends on: the build (build_info's built_at,
or the file's SHA-256 for a database without one), the code and configuration that render it
(plugins/, templates/, the metadata, Datasette's version), and the UTC date (pages say "prepared on"
today and flag facts older than a year). A request whose If-None-Match names the current ETag is
answered 304 before any query runs, so a browser's repeat visit or a CDN's revalidation costs
almost nothing.

Left alone: anything while a served database is mutable (its answers can change under a tag),
requests that carry a login (`ds_actor` cookie, Authorization), Datasette's own `/-/` pages other
than static files, non-200 answers, and answers that already say `private`, `no-store` or
`no-cache` (Datasette's `?_ttl=0`, cookie-setting pages) or whose request set `?_ttl=`.
`max_age` can be set in metadata.yml (`plugins: caching: max_age: 600`).
"""

import hashlib
import json
import sqlite3
import weakref
from datetime import datetime, timezone
from pathlib import Path

import datasette as datasette_package
from datasette import hookimpl

PLUGIN = "caching"
MAX_AGE = 3600  # an hour: the data changes weekly, the date on the pages daily
STATIC_PREFIXES = ("/-/static/", "/-/static-plugins/", "/-/kad/static/")
KEEP = (b"private", b"no-store", b"no-cache")
_tags = weakref.WeakKeyDictionary()  # Datasette -> its build tag


def cacheable(scope):
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        return False
    path = scope["path"]
    if path.startswith("/-/") and not path.startswith(STATIC_PREFIXES):
        return False
    headers = dict(scope["headers"])
    if b"authorization" in headers or b"ds_actor=" in headers.get(b"cookie", b""):
        return False
    return b"_ttl=" not in scope.get("query_string", b"")


def matches(if_none_match, etag):
    """If-None-Match holds `*` or a list of tags; a weak comparison (W/ ignored) as RFC 9110 asks."""
    bare = etag.removeprefix("W/")
    return any(tag.strip() == "*" or tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


def build_tag(datasette):
    """The part of the ETag fixed for the life of this Datasette: worked out once, when its app is
    made, before it serves anything (Datasette adds to its metadata as it serves pages). "" when a
    served database is mutable: then nothing is tagged."""
    if datasette not in _tags:
        digest = hashlib.sha256()
        for name, db in datasette.databases.items():
            if name == "_internal":
                continue
            if db.is_mutable or db.is_memory:
                _tags[datasette] = ""
                return ""
            digest.update(name.encode() + b"\0" + _build_of(db.path).encode() + b"\0")
        digest.update(_code_fingerprint(datasette).encode())
        _tags[datasette] = digest.hexdigest()[:20]
    return _tags[datasette]


def _build_of(path):
    """build_info's built_at, or the SHA-256 of a database file that has none."""
    connection = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        built = connection.execute("select value from build_info where item = 'built_at'").fetchone()
    except sqlite3.OperationalError:  # no build_info table
        built = None
    finally:
        connection.close()
    if built:
        return built[0]
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _code_fingerprint(datasette):
    digest = hashlib.sha256(datasette_package.__version__.encode())
    digest.update(json.dumps(datasette.metadata(), sort_keys=True, default=str).encode())
    for folder in (datasette.plugins_dir, datasette.template_dir):
        if folder:
            for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts):
                digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def etag_of(tag):
    return f'W/"{tag}-{datetime.now(timezone.utc):%Y%m%d}"'


@hookimpl
def asgi_wrapper(datasette):
    tag = build_tag(datasette)

    def wrap(app):
        async def caching(scope, receive, send):
            if not tag or not cacheable(scope):
                return await app(scope, receive, send)
            etag = etag_of(tag)
            cache_control = f"public, max-age={(datasette.plugin_config(PLUGIN) or {}).get('max_age', MAX_AGE)}"
            if matches(dict(scope["headers"]).get(b"if-none-match", b"").decode("latin-1"), etag):
                await send({"type": "http.response.start", "status": 304,
                            "headers": [(b"etag", etag.encode()), (b"cache-control", cache_control.encode())]})
                await send({"type": "http.response.body", "body": b""})
                return

            async def send_with_headers(message):
                if message["type"] == "http.response.start" and message["status"] == 200:
                    headers = message.get("headers", [])
                    if not any(k.lower() == b"cache-control" and any(w in v.lower() for w in KEEP) for k, v in headers):
                        headers = [(k, v) for k, v in headers if k.lower() not in (b"cache-control", b"etag")]
                        headers += [(b"cache-control", cache_control.encode()), (b"etag", etag.encode())]
                        message = {**message, "headers": headers}
                await send(message)

            await app(scope, receive, send_with_headers)

        return caching

    return wrap
