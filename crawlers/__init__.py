"""The Scrapy project of the Ketamine Access Directory: spiders fetch and parse, pipelines
clean, normalise, map to the vocabularies and validate, and the feed guard only replaces
``data/feeds/<spider>.jsonl`` after a good crawl."""
