"""The manifest of processed files (`<out>/manifest.json`): per file address, its size, ETag or
Last-Modified, the `last_updated_on` it states, the status of the last attempt (`done` or
`failed`, with the error), what it yielded and where its partial result is. A re-run skips a
file that is `done` and unchanged (same ETag, or same size and modification time) and retries
every file that failed. The file is rewritten whole, atomically, after every finished file, so
an interrupted run keeps what it finished."""

import json
import os
from pathlib import Path

DONE, FAILED = "done", "failed"


class Manifest:
    def __init__(self, path):
        self.path = Path(path)
        self.entries = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}

    def get(self, url):
        return self.entries.get(url)

    def record(self, entry):
        self.entries[entry["url"]] = entry
        temporary = self.path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.entries, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temporary, self.path)

    def done(self, urls):
        """The entries of these addresses that are done, in address order."""
        return [self.entries[url] for url in sorted(urls) if (self.entries.get(url) or {}).get("status") == DONE]
