#!/usr/bin/env python3
"""Serve the directory: Datasette with metadata.yml, plugins/ and templates/ over the immutable
database, in as many worker processes as the machine has cores (uvicorn's supervisor restarts a
worker that dies). `make serve` runs this after the build.

    python serve.py [--db data/ketamine.db] [--host 127.0.0.1] [--port 8001] [--workers N]

Each worker builds the same Datasette app `datasette serve -i DB --metadata metadata.yml
--plugins-dir plugins --template-dir templates --setting ...` builds (`datasette_for`), so the
pages, the API and the plugins behave as they do under `datasette serve`. The database is opened
immutable (read-only, no locking, counts computed once), which is what lets workers share one file
and plugins/caching.py tie ETags to the build. Workers share one signing secret
(DATASETTE_SECRET, made up at start when unset) so a signed cookie from one worker holds on another.
"""

import argparse
import os
import secrets
import sys
from pathlib import Path

import uvicorn
from datasette.app import Datasette
from datasette.cli import check_databases, run_sync
from datasette.utils import parse_metadata
from datasette.utils.asgi import AsgiLifespan

ROOT = Path(__file__).resolve().parent
DATABASE = ROOT / "data" / "ketamine.db"
METADATA = ROOT / "metadata.yml"
SETTINGS = {"sql_time_limit_ms": 3000, "facet_time_limit_ms": 1000}
DB_VARIABLE = "KAD_SERVE_DB"  # how the parent tells each worker which database to serve
# uvicorn restarts a worker that does not answer its supervisor's ping within this time (5 s by
# default); a worker starting on a busy machine can take longer than that just to import.
HEALTHCHECK_SECONDS = 30


def default_workers():
    """The cores this process may run on (cgroup/affinity aware where the OS says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def datasette_for(db_path, secret=None, metadata=None):
    """The Datasette instance `datasette serve` would make for this project and database
    (`metadata`: a dict to use instead of metadata.yml's, as the benchmarks' extra query)."""
    return Datasette(
        immutables=[str(db_path)],
        metadata=metadata or parse_metadata(METADATA.read_text(encoding="utf-8")),
        plugins_dir=str(ROOT / "plugins"),
        template_dir=str(ROOT / "templates"),
        settings=dict(SETTINGS),
        secret=secret,
        cache_headers=True,
    )


async def warm_up(datasette):
    """Start Datasette and open, once, each table whose facets metadata.yml chooses, so the facet
    answers plugins/facets.py remembers are there before the first visitor (the unfiltered clinics
    page counts 100,000 clinics' facets in a few hundred ms; a remembered answer costs nothing)."""
    await datasette.invoke_startup()
    for database in datasette.databases:
        tables = datasette.metadata("tables", database=database, fallback=False) or {}
        for table in (name for name, config in tables.items() if config.get("facets")):
            await datasette.client.get(datasette.urls.table(database, table, format="json") + "?_size=0")


def create_app():
    """uvicorn's app factory, called in each worker: the ASGI app, warmed up (warm_up) before
    uvicorn lets the worker accept requests."""
    datasette = datasette_for(os.environ[DB_VARIABLE], secret=os.environ.get("DATASETTE_SECRET"))
    return AsgiLifespan(datasette.app(), on_startup=[lambda: warm_up(datasette)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=DATABASE, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default=8001, type=int)
    parser.add_argument("--workers", default=default_workers(), type=int,
                        help="worker processes (default: the machine's cores, here %(default)s)")
    parser.add_argument("--log-level", default="info", help="uvicorn's; 'warning' drops the access log")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        parser.error(f"no database at {args.db}: run `python build_db.py` (or `make serve`) first")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    os.environ[DB_VARIABLE] = str(args.db.resolve())
    os.environ.setdefault("DATASETTE_SECRET", secrets.token_hex(32))
    # Fail here, once, with Datasette's own message, rather than in every worker.
    checked = datasette_for(args.db)
    run_sync(checked.invoke_startup)
    run_sync(lambda: check_databases(checked))
    print(f"Serving {args.db} at http://{args.host}:{args.port}/ with {args.workers} worker process"
          f"{'es' if args.workers > 1 else ''}", flush=True)
    uvicorn.run("serve:create_app", factory=True, app_dir=str(ROOT), host=args.host, port=args.port,
                workers=args.workers, lifespan="on", log_level=args.log_level,
                timeout_worker_healthcheck=HEALTHCHECK_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
