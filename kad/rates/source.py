"""Opening a price-transparency file: a local path or an http(s) address, gzip'd or plain JSON.

`open_source` returns the response or file as it is (with a fingerprint: size, ETag,
Last-Modified, read from the response headers or the file's stat, so a re-run can tell an
unchanged file without downloading it), and `json_stream` wraps it so readers see plain JSON
bytes whatever the compression (a context manager, so the inflater is closed). A remote
file can be copied to disk while it is read (`tee`), so a second pass over it (provider
references after the rates) reads the local copy instead of downloading tens of gigabytes again.
"""

import gzip
import io
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from isal import igzip, isal_zlib

# The crawlers' identifying user agent (crawlers/settings.py), without importing Scrapy.
USER_AGENT = ("KetamineAccessDirectory/0.1 (+https://github.com/ketamine-access-directory/directory; "
              "data@ketamine-access-directory.org)")
TIMEOUT = 60
RETRIES = 3
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK"


class SourceError(Exception):
    """A file that cannot be read as a price-transparency JSON document."""


@dataclass
class Fingerprint:
    size: int | None = None
    etag: str | None = None
    last_modified: str | None = None

    def same_as(self, other):
        """True when both describe the same published file: equal ETags when the server gives
        them, otherwise equal size and modification time. Unknown is never the same."""
        if not other:
            return False
        if self.etag and other.get("etag"):
            return self.etag == other["etag"]
        return (self.size is not None and self.last_modified is not None
                and self.size == other.get("size") and self.last_modified == other.get("last_modified"))


def is_remote(location):
    return urlparse(str(location)).scheme in ("http", "https")


@contextmanager
def open_source(location):
    """Yield (binary stream, Fingerprint) for a path or an http(s) address. A remote address is
    retried a few times on connection errors and 5xx answers before giving up."""
    if not is_remote(location):
        path = Path(urlparse(str(location)).path if str(location).startswith("file:") else location)
        stat = path.stat()
        with open(path, "rb") as stream:
            yield stream, Fingerprint(stat.st_size, None, str(stat.st_mtime_ns))
        return
    request = urllib.request.Request(location, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    for attempt in range(RETRIES):
        try:
            response = urllib.request.urlopen(request, timeout=TIMEOUT)
            break
        except urllib.error.HTTPError as error:
            if error.code < 500 or attempt == RETRIES - 1:
                raise SourceError(f"HTTP {error.code} for {location}") from error
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            if attempt == RETRIES - 1:
                raise SourceError(f"cannot fetch {location}: {error}") from error
        time.sleep(2 ** attempt)
    with response:
        length = response.headers.get("Content-Length")
        yield response, Fingerprint(int(length) if length and length.isdigit() else None,
                                    response.headers.get("ETag"), response.headers.get("Last-Modified"))


class _Tee:
    """A reader that copies every byte it reads into `copy`."""

    def __init__(self, stream, copy):
        self.stream, self.copy = stream, copy

    def read(self, size=-1):
        data = self.stream.read(size)
        self.copy.write(data)
        return data


@contextmanager
def json_stream(raw, tee=None):
    """Plain JSON bytes from `raw`: inflated when it starts with the gzip magic number, by ISA-L
    (python-isal: 3x zlib here, so inflating is a tenth of the extractor's time). It inflates in
    the reader's thread: a thread of its own (isal.igzip_threaded) measured slower, and a task
    that keeps to one core lets a machine's cores run that many tasks. With `tee` (an open
    binary file), the raw bytes are also written there as they are read."""
    reader = _Tee(raw, tee) if tee is not None else raw
    head = reader.read(2)
    if head == ZIP_MAGIC:
        raise SourceError("a zip archive, not gzip'd or plain JSON (not supported)")
    joined = _Prefixed(head, reader)
    if head != GZIP_MAGIC:
        yield joined
        return
    with igzip.open(joined, "rb") as plain:
        yield plain


class _Prefixed(io.RawIOBase):
    """`reader` with `head` (already read) put back in front, as a raw binary stream."""

    def __init__(self, head, reader):
        super().__init__()
        self.head, self.reader = head, reader

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def read(self, size=-1):
        if self.head and size != 0:
            head, self.head = self.head, b""
            if size is None or size < 0:
                return head + self.reader.read()
            return head + self.reader.read(max(size - len(head), 0))
        return self.reader.read(size)


class Checked:
    """A reader that turns a truncated or corrupt gzip into SourceError and lets `watch` see
    every block read (the header reader), until `watch` returns False."""

    def __init__(self, stream, watch=None):
        self.stream, self.watch = stream, watch

    def read(self, size=-1):
        try:
            data = self.stream.read(size)
        except EOFError as error:
            raise SourceError(f"truncated gzip: {error}") from error
        except (gzip.BadGzipFile, isal_zlib.error) as error:
            raise SourceError(f"corrupt gzip: {error}") from error
        if data and self.watch is not None and not self.watch(data):
            self.watch = None
        return data
