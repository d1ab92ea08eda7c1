"""Links worth following on a clinic's site: same-site (host and port) links that look like
contact, locations, insurance, prices, FAQ, services or conditions pages, most useful first."""

import re
from urllib.parse import urldefrag, urljoin, urlsplit

from kad.normalise import site_host

LINK_TOPICS = (  # (priority, pattern on the URL path or the anchor text)
    (0, re.compile(r"insurance|in-network|coverage|pricing|prices?\b|costs?\b|fees?\b|payment|"
                   r"financ|rates\b|self-pay", re.I)),
    (1, re.compile(r"contact|locations?\b|offices?\b|directions|find-us|visit", re.I)),
    (2, re.compile(r"\bfaqs?\b|questions", re.I)),
    (3, re.compile(r"services?|treatments?|conditions?|spravato|esketamine|ketamine|what-we-treat|"
                   r"therapy|infusion", re.I)),
)
_SKIP_PATHS = re.compile(
    r"/(?:blog|news|articles?|posts?|press|tag|category|author|wp-content|wp-json|feed|cart|"
    r"shop|login|account|careers?|jobs?)(?:/|$)|\.(?:pdf|jpe?g|png|gif|svg|webp|zip|docx?|mp4|mp3)$",
    re.I)


# The page of one location: /locations/austin, /office/dallas-tx.
_LOCATION_PAGE = re.compile(r"/(?:locations?|offices?|clinics?)/[^/]+", re.I)
DEFAULT_PORTS = {"http": 80, "https": 443}


def _site(url):
    """(host without www., port) of an address, the scheme's default port as None; None when
    it is not an http(s) address (or its port is not a number)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS:
        return None
    return site_host(url), None if port == DEFAULT_PORTS[parts.scheme] else port


def same_site(url, home_url):
    """The same host (with or without www.) on the same port: http://x and https://x are one
    site (a site moves to https), http://x:8080 is another."""
    site = _site(url)
    return site is not None and site == _site(home_url)


def is_location_page(url):
    return bool(_LOCATION_PAGE.search(urlsplit(url).path))


def follow_links(response, limit, exclude=()):
    """Up to `limit` same-site URLs that look useful, most useful first."""
    chosen = {}
    seen = {urldefrag(u)[0].rstrip("/") for u in (response.url, *exclude)}
    for order, anchor in enumerate(response.css("a[href]")):
        href = anchor.attrib.get("href", "").strip()
        if not href or href.startswith(("mailto:", "tel:", "javascript:", "#")):
            continue
        url = urldefrag(urljoin(response.url, href))[0]
        if not same_site(url, response.url) or _SKIP_PATHS.search(urlsplit(url).path):
            continue
        key = url.rstrip("/")
        if key in seen:
            continue
        label = " ".join(anchor.css("::text").getall()) + " " + urlsplit(url).path
        priority = next((p for p, pattern in LINK_TOPICS if pattern.search(label)), None)
        if priority is None:
            continue
        seen.add(key)
        chosen[url] = (priority, order)
    return sorted(chosen, key=chosen.get)[:limit]
