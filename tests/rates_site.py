"""The price-transparency fixtures (tests/files/rates/, synthetic) served gzip'd from 127.0.0.1,
as payers publish them, with an ETag per body; plus a truncated gzip."""

import gzip
import hashlib

from utils import FILES, LocalSite

RATES = FILES / "rates"


def fixture_text(name, base=""):
    return (RATES / name).read_text(encoding="utf-8").replace("{BASE}", base)


def rates_site(overrides=None):
    """A LocalSite serving the fixtures; `overrides` maps a path to replacement bytes."""
    site = LocalSite(lambda path: None)

    def body(path):
        if overrides and path in overrides:
            return overrides[path]
        base = f"http://127.0.0.1:{site.port}"
        name = path.lstrip("/")
        if name == "toc.json" or name == "provider_reference.json":
            return fixture_text(name, base).encode("utf-8")
        if name == "truncated.json.gz":
            whole = gzip.compress(fixture_text("refs_first.json", base).encode("utf-8"))
            return whole[: len(whole) // 2]
        if name.endswith(".json.gz") and (RATES / name[:-3]).exists():
            return gzip.compress(fixture_text(name[:-3], base).encode("utf-8"), mtime=0)
        return None

    def route(path):
        data = body(path)
        if data is None:
            return None
        return 200, {"Content-Type": "application/octet-stream", "ETag": '"' + hashlib.sha256(data).hexdigest()[:16] + '"'}, data

    site.routes = route
    return site
