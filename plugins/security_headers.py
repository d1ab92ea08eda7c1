"""Security headers on every response of this Datasette: the patient pages and their JSON, and
Datasette's own pages, JSON, CSV, database download and static files (an ASGI wrapper, so
nothing is missed).

* ``X-Content-Type-Options: nosniff``: a response is only ever what its Content-Type says.
* ``Referrer-Policy: strict-origin-when-cross-origin``: a search address (which may hold a ZIP
  code, an insurer and a condition) never leaves the site; the OpenStreetMap tile server, whose
  usage policy asks for a referer, sees only the origin.
* ``Content-Security-Policy``: scripts, styles, fonts and requests from this server only, images
  from this server and the OpenStreetMap tile servers, forms sent to this server only, no
  plugins (``object``), no ``<base>``, never framed. The patient pages (plugins/kad_pages) and
  every response that is not one of Datasette's own HTML pages get this policy with no inline
  script or style at all. Datasette 0.65's own HTML pages (tables, rows, queries) write inline
  scripts and style attributes, and datasette-cluster-map adds an inline script with its settings
  and builds its popups with style attributes, so their policy also allows inline script and
  style, and the ``{a,b,c}.tile.openstreetmap.org`` tiles the cluster map asks for.

Caching headers are another plugin's business (not set or changed here).
"""

import re
import sys
from pathlib import Path

from datasette import hookimpl

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from kad_pages.views import ROUTES  # noqa: E402

TILES = ("https://tile.openstreetmap.org", "https://*.tile.openstreetmap.org")


def content_security_policy(inline):
    """The policy; `inline` allows inline script and style (Datasette's own pages only)."""
    extra = " 'unsafe-inline'" if inline else ""
    return "; ".join([
        "default-src 'none'",
        f"script-src 'self'{extra}",
        f"style-src 'self'{extra}",
        f"img-src 'self' data: {TILES[0]}" + (f" {TILES[1]}" if inline else ""),
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ])


STRICT = content_security_policy(inline=False)
DATASETTE_PAGES = content_security_policy(inline=True)
COMMON = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"strict-origin-when-cross-origin"))
OURS = {name for name, _ in COMMON} | {b"content-security-policy"}
_PATIENT_PAGES = [re.compile(pattern) for pattern, _ in ROUTES]


def policy_for(path, content_type):
    """Datasette's own HTML pages need inline script and style; nothing else does."""
    if content_type.startswith(b"text/html") and not any(p.match(path) for p in _PATIENT_PAGES):
        return DATASETTE_PAGES
    return STRICT


def with_security_headers(headers, path):
    content_type = next((value for name, value in headers if name.lower() == b"content-type"), b"")
    kept = [(name, value) for name, value in headers if name.lower() not in OURS]
    return [*kept, *COMMON, (b"content-security-policy", policy_for(path, content_type).encode())]


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def secured(scope, receive, send):
            if scope["type"] != "http":
                await app(scope, receive, send)
                return

            async def send_secured(message):
                if message["type"] == "http.response.start":
                    message = {**message, "headers": with_security_headers(message.get("headers") or [],
                                                                           scope.get("path", ""))}
                await send(message)

            await app(scope, receive, send_secured)
        return secured
    return wrap
