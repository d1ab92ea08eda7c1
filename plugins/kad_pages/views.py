"""Route handlers: each page as HTML, or as JSON with `?_format=json` or its `.json` twin."""

from pathlib import Path

from datasette.utils.asgi import Response

from . import checklist, clinic, common, search, seo, state

STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml"}
LEAFLET = ("datasette-leaflet", "leaflet-v1.7.1.min.js", "leaflet-v1.7.1.css")


def _wants_json(request):
    return bool(request.url_vars.get("fmt")) or request.args.get("_format") == "json"


def _helpers(datasette):
    return {
        "static": lambda name: str(datasette.urls.path(f"/-/kad/static/{name}")),
        "leaflet_js": str(datasette.urls.static_plugins(LEAFLET[0], LEAFLET[1])),
        "leaflet_css": str(datasette.urls.static_plugins(LEAFLET[0], LEAFLET[2])),
        "home": str(datasette.urls.path("/")),
        "states": str(datasette.urls.path("/states")),
        "checklist": str(datasette.urls.path("/checklist")),
        "data": str(datasette.urls.database(common.database(datasette).name)),
    }


async def _respond(datasette, request, template, build):
    as_json = _wants_json(request)
    try:
        page = await build()
        status = 200
    except common.NotFound as error:
        page, status, template = {"page": "not_found", "title": "Not found", "error": str(error),
                                  "links": {}}, 404, "kad_error.html"
    except common.Misconfigured as error:
        page, status, template = {"page": "error", "title": "This page is not set up",
                                  "error": str(error), "links": {}}, 500, "kad_error.html"
    if as_json:
        return Response.json(page, status=status, default=str)
    html = await datasette.render_template(
        template, {"page": page, "kad": _helpers(datasette), "seo": seo.head(datasette, request, page)}, request=request)
    return Response.html(html, status=status)


async def search_view(datasette, request):
    return await _respond(datasette, request, "kad_search.html", lambda: search.search(datasette, request.args))


async def clinic_view(datasette, request):
    clinic_id = common.clinic_id_from_path(request.url_vars["prefix"], request.url_vars["rest"])
    return await _respond(datasette, request, "kad_clinic.html",
                          lambda: clinic.clinic(datasette, clinic_id, request.args))


async def states_view(datasette, request):
    return await _respond(datasette, request, "kad_states.html", lambda: state.states_index(datasette))


async def state_view(datasette, request):
    return await _respond(datasette, request, "kad_state.html",
                          lambda: state.state(datasette, request.url_vars["code"], request.args))


async def checklist_view(datasette, request):
    return await _respond(datasette, request, "kad_checklist.html", lambda: checklist.checklist(datasette, request.args))


async def static_view(request):
    name = request.url_vars["name"]
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file() or path.suffix not in STATIC_TYPES:
        return Response.text("Not found", status=404)
    return Response(path.read_bytes(), content_type=STATIC_TYPES[path.suffix],
                    headers={"Cache-Control": "max-age=3600"})


async def sitemap_view(datasette, request):
    return Response(await seo.sitemap(datasette, request), content_type="application/xml; charset=utf-8")


async def state_redirect(datasette):
    return Response.redirect(str(datasette.urls.path("/states")))


ROUTES = [
    (r"^/$", search_view),
    (r"^/search(?P<fmt>\.json)?$", search_view),
    (r"^/clinic/(?P<prefix>[A-Za-z0-9_~-]+)/(?P<rest>[A-Za-z0-9_~-]+?)(?P<fmt>\.json)?$", clinic_view),
    (r"^/states(?P<fmt>\.json)?$", states_view),
    (r"^/state/?$", state_redirect),
    (r"^/state/(?P<code>[A-Za-z]{2})(?P<fmt>\.json)?$", state_view),
    (r"^/checklist(?P<fmt>\.json)?$", checklist_view),
    (r"^/-/kad/static/(?P<name>[A-Za-z0-9_.-]+)$", static_view),
    (r"^/sitemap\.xml$", sitemap_view),
]
