"""The name a site gives itself, for when its structured data gives none: og:site_name, else a
<title> that names one thing besides the page ("FAQ | Synthetic Clinic"), else the copyright
line of its footer ("© 2025 Synthetic Clinic, LLC. All rights reserved."). A title with two
candidates ("Synthetic Clinic – Ketamine in Austin") is not guessed from."""

import re

from kad.normalise import clean_text

MAX_NAME = 80
_TITLE_PARTS = re.compile(r"\s+[-–—:]\s+|\s*[|·•»]\s*")
# What a title names besides the site: the page itself, or a placeholder.
_PAGE_WORDS = re.compile(
    r"(?:home(?: ?page)?|welcome|contact(?: us)?|about(?: us)?|faqs?|frequently asked questions|"
    r"insurance(?: (?:and|&) (?:payment|pricing))?|payment|pricing|prices|fees|costs?|services|"
    r"treatments|conditions(?: we treat)?|locations?|directions|blog|news|book(?: now| online)?|"
    r"appointments?|schedule|new patients|our team|team|careers|privacy policy|"
    r"coming soon|under construction|maintenance|untitled|index|page not found|not found|404|error|"
    r"just another wordpress site|my blog|home page)", re.I)
_COPYRIGHT = re.compile(r"(?:©|\(c\)|copyright\b)\s*(?:©\s*)?(?:\d{4}(?:\s*[-–]\s*\d{4})?)?\s*[-–—,:.]?\s*"
                        r"(?P<name>[^|•·©]+)", re.I)
# Where a copyright line's name ends: a full stop before the next sentence, or the usual tails.
_NAME_END = re.compile(r"(?<!\bInc)(?<!\bCorp)(?<!\bLtd)(?<!\bCo)\.(?:\s|$)|(?:^|\s+)(?:all rights|powered by|"
                       r"website by|designed by|site by|built by|privacy|terms)\b", re.I)
_FOOTERS = "//footer | //*[contains(@class, 'footer') or contains(@id, 'footer')]"


def _plausible(name):
    return bool(name and len(name) <= MAX_NAME and re.search(r"[A-Za-z]{2}", name))


def title_name(title):
    """The one part of a page title that is not about the page, or None."""
    parts = [clean_text(part) for part in _TITLE_PARTS.split(title or "")]
    names = [part for part in parts if part and not _PAGE_WORDS.fullmatch(part)]
    return names[0] if len(names) == 1 and _plausible(names[0]) else None


def footer_name(response):
    """The name in the footer's copyright line, or None."""
    for footer in response.xpath(_FOOTERS):
        match = _COPYRIGHT.search(clean_text(" ".join(footer.xpath(".//text()").getall())) or "")
        if match:
            name = clean_text(_NAME_END.split(match.group("name"), 1)[0].strip(" ,-–—"))
            if _plausible(name):
                return name
    return None


def site_name(response):
    """og:site_name, else the title's name, else the footer's."""
    return (clean_text(response.css('meta[property="og:site_name"]::attr(content)').get())
            or title_name(response.css("title::text").get()) or footer_name(response))
