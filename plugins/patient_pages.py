"""Patient-facing pages (issue 4): find care near me, a clinic, a state's rules, a coverage checklist.

Datasette loads every *.py file in plugins/ as a plugin; the code lives in the kad_pages package
beside this file (not loaded on its own), which this module puts on the import path.
Routes: /  /search(.json)  /clinic/<source>/<slug>(.json)  /states(.json)  /state/TX(.json)
/checklist(.json)  /sitemap.xml  /-/kad/static/<file>. Every page also answers ?_format=json.
"""

import sys
from pathlib import Path

from datasette import hookimpl

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from kad_pages import seo, views, words  # noqa: E402


@hookimpl
def register_routes():
    return views.ROUTES


@hookimpl
def block_robots_extra_lines(datasette, request):
    # datasette-block-robots serves /robots.txt (metadata.yml); this adds the sitemap to it.
    return seo.robots_lines(datasette, request)


@hookimpl
def prepare_jinja2_environment(env):
    env.filters["safe_url"] = words.safe_url
    env.filters["money"] = words.money
    env.filters["nice_date"] = words.nice_date


@hookimpl
def extra_template_vars(datasette):
    # For Datasette's own pages (templates/base.html): links back to the patient pages.
    return {"kad_nav": [
        {"href": str(datasette.urls.path("/")), "label": "Find care"},
        {"href": str(datasette.urls.path("/states")), "label": "State rules"},
        {"href": str(datasette.urls.path("/checklist")), "label": "Coverage checklist"},
    ]}
