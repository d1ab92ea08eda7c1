"""Scrapy settings of the Ketamine Access Directory crawlers.

Polite by default: robots.txt is obeyed, the user agent names the project and a contact address,
one request at a time per site with a delay that AutoThrottle stretches when a site is slow.
"""

from kad import FEEDS

BOT_NAME = "kad"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

# Placeholder contact details: the README names the address to use before a public crawl.
USER_AGENT = (
    "KetamineAccessDirectory/0.1 "
    "(+https://github.com/ketamine-access-directory/directory; data@ketamine-access-directory.org)"
)
ROBOTSTXT_OBEY = True

CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.5
AUTOTHROTTLE_MAX_DELAY = 30
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 5 * 1024 * 1024  # a clinic page is never this big
RETRY_ENABLED = True
RETRY_TIMES = 2  # 429, 5xx and connection errors; RETRY_HTTP_CODES keeps Scrapy's list
HTTPCACHE_ENABLED = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # no listening port during a crawl
LOG_LEVEL = "INFO"

ITEM_PIPELINES = {
    # every kind: the validation layer the build uses too (kad/records.py)
    "crawlers.pipelines.records.RecordPipeline": 100,
    # clinics only (each pipeline loads only for its kinds)
    "crawlers.pipelines.vocabulary.VocabularyPipeline": 300,
}

# The feed goes to <FEED_DIR>/<spider>.jsonl.partial; the feed guard renames it over
# <FEED_DIR>/<spider>.jsonl only after a good crawl (see crawlers/feedguard.py).
FEED_DIR = str(FEEDS)
FEED_GUARD_MIN_RATIO = 0.5  # a new feed must keep at least half the lines of the previous one
FEED_EXPORT_ENCODING = "utf-8"
FEEDS = {
    "%(feed_dir)s/%(name)s.jsonl.partial": {
        "format": "jsonlines",
        "encoding": "utf-8",
        "overwrite": True,
        "store_empty": True,
        "uri_params": "crawlers.feedguard.feed_uri_params",
    },
}
EXTENSIONS = {
    "crawlers.feedguard.FeedGuard": 500,
}

# clinic_site: how many pages besides the home page it reads on one site.
CLINIC_SITE_MAX_PAGES = 8

# openstates: the API key comes from the environment (OPENSTATES_API_KEY), never from a file in
# the repository. The free tier allows 10 requests a minute (the spider waits 7 s between
# requests) and 250 a day: one run asks for at most this many pages.
OPENSTATES_MAX_REQUESTS = 200
