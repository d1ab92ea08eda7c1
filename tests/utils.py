"""Helpers for the crawler tests: saved responses, an offline run of a spider's callbacks,
and a small local website served from a thread."""

import asyncio
import os
import re
import socket
import subprocess
import sys
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

FILES = Path(__file__).parent / "files"
# Debian's Chromium, which the browser tests drive; `make test` passes the Makefile's CHROMIUM
# here, so the path without a browser can be tried on a machine that has one.
CHROMIUM = os.environ.get("KAD_CHROMIUM") or "/usr/bin/chromium"


def file_response(path, url, request=None, status=200):
    """A Scrapy response for a saved file under tests/files/ (or an absolute path)."""
    path = Path(path)
    if not path.is_absolute():
        path = FILES / path
    request = request or Request(url)
    cls = HtmlResponse if path.suffix in (".html", ".htm") else TextResponse
    return cls(url=url, request=request, body=path.read_bytes(), encoding="utf-8", status=status)


def start_requests(spider):
    async def collect():
        return [request async for request in spider.start()]

    return asyncio.run(collect())


def crawl_offline(spider, pages):
    """Run a spider's callbacks and errbacks as Scrapy would, without a network.

    `pages` maps a URL to a saved file, to an HTTP status for a page that fails, or to
    (status, location) for a redirect; a URL that is not in `pages` fails with 404. Returns
    (items, requested URLs in order)."""
    queue = deque(start_requests(spider))
    items, requested = [], []
    while queue:
        request = queue.popleft()
        requested.append(request.url)
        page = pages.get(request.url, 404)
        if isinstance(page, tuple):
            status, location = page
            response = HtmlResponse(request.url, status=status, request=request,
                                    headers={"Location": location})
            output = request.callback(response, **request.cb_kwargs)
        elif isinstance(page, int):
            failure = Failure(HttpError(HtmlResponse(request.url, status=page, request=request)))
            failure.request = request
            output = request.errback(failure)
        else:
            output = request.callback(file_response(page, request.url, request), **request.cb_kwargs)
        for result in output or ():
            (queue.append if isinstance(result, Request) else items.append)(result)
    return items, requested


def free_port():
    """A port on 127.0.0.1 that nothing listens on (at the moment of asking)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalSite:
    """A website on 127.0.0.1 at a random port, serving `routes` (path -> (status, headers,
    body), or a function of the path that returns one or None) and recording every path asked
    for (and the headers of each request, in `headers`). A path it does not know is a 404."""

    def __init__(self, routes):
        self.routes = routes
        self.requested = []
        self.headers = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                site.requested.append(self.path)
                site.headers.append(dict(self.headers))
                route = site.routes(self.path) if callable(site.routes) else site.routes.get(self.path)
                status, headers, body = route or (404, {}, "Not found")
                data = body.encode("utf-8") if isinstance(body, str) else body
                self.send_response(status)
                headers = {"Content-Type": "text/html; charset=utf-8", **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def scrapy_crawl(spider, *arguments, feed_dir, env=None):
    """`scrapy crawl SPIDER` from the repository root, writing its feed to `feed_dir`, without
    delays; returns the log. The extra arguments are `-a`/`-s` options; `env` replaces the
    environment when given."""
    command = [sys.executable, "-m", "scrapy", "crawl", spider, *arguments, "-s", f"FEED_DIR={feed_dir}",
               "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=INFO"]
    done = subprocess.run(command, cwd=FILES.parent.parent, capture_output=True, text=True, timeout=60,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def crawl_stats(log):
    """The integer stats of the 'Dumping Scrapy stats' block of a crawl log."""
    block = log.split("Dumping Scrapy stats:", 1)[1]
    return {key: int(value) for key, value in re.findall(r"'([^']+)': (\d+)[,}]", block)}
