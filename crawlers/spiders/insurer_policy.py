"""insurer_policy: do the insurers' policy pages still state what the curated rows say?

What it crawls: for every row of data/curated/insurer_policies.yml (or ``-a policies=FILE``)
that names a policy (a ``policy_id`` or a ``policy_title``), the row's first source, the policy
itself; a page several rows cite is fetched once.

What it reads: what the page states machine-readably (``crawlers/policy.py``): the policy
number, title, effective date and last-reviewed date, from meta tags, schema.org data and
labelled text ("Policy Number:", "Effective Date:", "Last Review:"). PDFs are not read: no PDF
text extractor is installed, so a PDF is counted (``insurer_policy/skipped/pdf``) and its rows
say ``error = "pdf_not_read"``.

What it yields: one record per curated row (``crawlers.items.POLICY_PAGE_FIELDS``): the row's
id in insurer_policies (insurer:market:state-or-US:treatment:condition), the page, what the page
states, and ``differs``, the fields whose found value is present and not the curated one
(a changed review date, another title or number). A page that fails or is not read still yields
its rows, with the reason in ``error``. The build keeps these in ``policy_page_checks`` and flags
the rows with differences for review.

How politely: robots.txt obeyed, the project's user agent, one request at a time per site with a
delay of about 1.5 s stretched by AutoThrottle (crawlers/settings.py); about twenty pages a run.

How often: monthly, and after an insurer announces policy updates (most review their policies
once a year).

Stats: ``insurer_policy/pages``, ``/rows``, ``/rows_left_out`` (rows the build would leave out),
``/read``, ``/found/<field>``, ``/differs``, ``/skipped/pdf``, ``/skipped/not_html``,
``/failed/<reason>``.
"""

from pathlib import Path

import scrapy
import yaml
from scrapy.http import HtmlResponse

from kad import CURATED
from kad.laws import policy_row_id

from crawlers.fetch import failure_outcome, is_pdf
from crawlers.items import POLICY_PAGE, new_record
from crawlers.policy import CuratedPolicy, differences, policy_facts

POLICIES = CURATED / "insurer_policies.yml"


def policy_pages(path=POLICIES):
    """({url: [CuratedPolicy]} for the rows that name a policy, rows left out)."""
    pages, left_out = {}, 0
    for row in yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []:
        if not (row.get("policy_id") or row.get("policy_title")):
            continue
        row_id = policy_row_id(row)
        if row_id is None:
            left_out += 1
            continue
        policy = CuratedPolicy.from_row(row_id, row)
        pages.setdefault(policy.url, []).append(policy)
    return pages, left_out


class InsurerPolicySpider(scrapy.Spider):
    name = "insurer_policy"
    item_kind = POLICY_PAGE

    def __init__(self, policies=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pages, self.left_out = policy_pages(policies or POLICIES)

    def count(self, key, amount=1):
        if getattr(self, "crawler", None):
            self.crawler.stats.inc_value(f"insurer_policy/{key}", amount)

    async def start(self):
        if self.left_out:
            self.count("rows_left_out", self.left_out)
        for url, policies in self.pages.items():
            self.count("pages")
            self.count("rows", len(policies))
            yield scrapy.Request(url, callback=self.parse, errback=self.failed, dont_filter=True,
                                 cb_kwargs={"url": url})

    def parse(self, response, url):
        if is_pdf(response):
            self.count("skipped/pdf")
            yield from self.records(url, error="pdf_not_read", source=response.url)
            return
        if not isinstance(response, HtmlResponse):
            self.count("skipped/not_html")
            yield from self.records(url, error="not_html", source=response.url)
            return
        self.count("read")
        found = policy_facts(response)
        for field, value in found.items():
            if value:
                self.count(f"found/{field}")
        yield from self.records(url, found=found, source=response.url)

    def failed(self, failure):
        url = failure.request.cb_kwargs["url"]
        outcome = failure_outcome(failure)
        self.count(f"failed/{outcome.reason}")
        self.logger.info("Policy page not read (%s): %s", outcome.reason, url)
        yield from self.records(url, error=outcome.reason, source=url)

    def records(self, url, found=None, error=None, source=None):
        found = found or {}
        for policy in self.pages[url]:
            differs = differences(found, policy)
            if differs:
                self.count("differs")
            yield new_record(
                POLICY_PAGE,
                policy_row=policy.row_id,
                url=url,
                found_policy_id=found.get("policy_id"),
                found_title=found.get("title"),
                found_effective_date=found.get("effective_date"),
                found_last_reviewed=found.get("last_reviewed"),
                differs=differs,
                error=error,
                sources=[source or url],
            )
