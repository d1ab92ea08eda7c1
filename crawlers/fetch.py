"""Shared helpers for spiders that re-read pages someone cited: what a failed request means,
and a fingerprint of a page's content that ignores what changes on every visit.

* ``failure_outcome(failure)``: the reason a request failed (``http_404``,
  ``robots_txt_disallowed``, ``CannotResolveHostError``...), the HTTP status when there was
  one, the URL it ended at, and whether the address is *unreachable* (an error status, or no
  answer at all) rather than merely not asked (robots.txt, a page too big to download).
* ``content_sha256(response)``: the SHA-256 of an HTML page's normalised visible text (so
  rotating tokens, scripts, ads in frames and markup changes do not look like a new text), or
  of the bytes of anything else (PDF, plain text, JSON).
"""

import hashlib
from dataclasses import dataclass

from scrapy.exceptions import DownloadCancelledError, IgnoreRequest, UnsupportedURLSchemeError
from scrapy.http import HtmlResponse
from scrapy.spidermiddlewares.httperror import HttpError

from crawlers.extract import segments

# Failures that say nothing about the address itself: it was not asked for, or not read whole.
NOT_ASKED = (IgnoreRequest, DownloadCancelledError, UnsupportedURLSchemeError)


@dataclass
class Outcome:
    reason: str
    http_status: int | None
    final_url: str
    unreachable: bool


def failure_outcome(failure):
    request = failure.request
    if failure.check(HttpError):
        response = failure.value.response
        return Outcome(f"http_{response.status}", response.status, response.url, True)
    if failure.check(IgnoreRequest) and "robots.txt" in str(failure.value):
        return Outcome("robots_txt_disallowed", None, request.url, False)
    if failure.check(DownloadCancelledError):
        return Outcome("too_large", None, request.url, False)
    return Outcome(type(failure.value).__name__, None, request.url, not failure.check(*NOT_ASKED))


def visible_text(response):
    """The page's visible text, one block a line, whitespace collapsed."""
    return "\n".join(segment.text for segment in segments(response))


def content_sha256(response):
    """(hash, how): how is ``text`` for an HTML page's visible text, ``bytes`` otherwise."""
    if isinstance(response, HtmlResponse):
        return hashlib.sha256(visible_text(response).encode("utf-8")).hexdigest(), "text"
    return hashlib.sha256(response.body).hexdigest(), "bytes"


def is_pdf(response):
    content_type = response.headers.get("Content-Type", b"").decode("latin-1").lower()
    return "pdf" in content_type or response.body[:5] == b"%PDF-"
