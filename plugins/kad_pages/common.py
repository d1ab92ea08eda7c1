"""What every patient page shares: the database, queries, addresses of pages and Datasette
views, the vocabularies, and the errors a page can raise."""

from urllib.parse import urlencode

from datasette.utils import tilde_decode, tilde_encode

from . import words

DATABASE = "ketamine"
SELF_PAY = "self"  # the insurer choice "I pay myself"
MAX_INPUT = 100  # longer than any real ZIP, city, state, insurer or condition value


def arg(args, key):
    """A query-string value, stripped and cut to MAX_INPUT characters ('' when absent)."""
    return (args.get(key) or "").strip()[:MAX_INPUT]


class NotFound(Exception):
    """The page asked for does not exist (unknown clinic or state)."""


class Misconfigured(Exception):
    """The server lacks something the pages need (e.g. the canned query)."""


# -- plumbing ----------------------------------------------------------------------------------

def database(datasette):
    if DATABASE in datasette.databases:
        return datasette.databases[DATABASE]
    for name, db in datasette.databases.items():
        if not name.startswith("_"):
            return db
    raise Misconfigured("no database is attached")


async def fetch(db, sql, params=None):
    results = await db.execute(sql, params or {})
    return [dict(row) for row in results.rows]


class Links:
    """Addresses of the patient pages and of the Datasette views behind them."""

    def __init__(self, datasette, db):
        self.ds = datasette
        self.db = db.name

    def path(self, path, **params):
        params = {k: v for k, v in params.items() if v not in (None, "")}
        url = str(self.ds.urls.path(path))
        return url + ("?" + urlencode(params) if params else "")

    def clinic(self, clinic_id, **params):
        prefix, sep, rest = clinic_id.partition(":")
        if not sep:
            prefix, rest = "-", clinic_id
        return self.path(f"/clinic/{tilde_encode(prefix)}/{tilde_encode(rest)}", **params)

    def json(self, url):
        """The .json twin of one of our page addresses."""
        path, sep, query = url.partition("?")
        if path.rstrip("/") == str(self.ds.urls.path("")).rstrip("/"):
            path = str(self.ds.urls.path("/search"))
        return path + ".json" + sep + query

    def table(self, table, fmt=None, **params):
        params = {k: v for k, v in params.items() if v not in (None, "")}
        url = str(self.ds.urls.table(self.db, table, format=fmt))
        return url + ("?" + urlencode(params) if params else "")

    def query(self, name, fmt=None, **params):
        url = str(self.ds.urls.query(self.db, name, format=fmt))
        return url + ("?" + urlencode(params) if params else "")

    def row(self, table, pk, fmt=None):
        return str(self.ds.urls.row(self.db, table, tilde_encode(pk), format=fmt))

    def sql(self, sql, fmt=None, **params):
        url = str(self.ds.urls.database(self.db, format=fmt))
        return url + "?" + urlencode({"sql": sql, **params})

    def data_home(self):
        return str(self.ds.urls.database(self.db))


def clinic_id_from_path(prefix, rest):
    prefix, rest = tilde_decode(prefix), tilde_decode(rest)
    return rest if prefix == "-" else f"{prefix}:{rest}"


async def vocabularies(db):
    insurers = await fetch(db, "select id, name, kind, fehb_carrier from insurers order by name collate nocase")
    conditions = await fetch(db, "select id, name from conditions order by name collate nocase")
    treatments = await fetch(db, "select id, name from treatments")
    states = await fetch(db, "select code, name, clinic_count from states order by name")
    return {"insurers": insurers, "conditions": conditions,
            "treatments": {t["id"]: t["name"] for t in treatments}, "states": states}


def pick(value, allowed):
    return value if value in allowed else None


def source_links(urls):
    return [{"url": str(url), "link": words.safe_url(url)} for url in words.json_list(urls)]
