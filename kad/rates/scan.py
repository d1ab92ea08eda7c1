"""Reading a price-transparency document's big arrays without building the items nobody wants.

ijson builds a Python object for every value it parses, and an in-network file is hundreds of
thousands of items of which a few are wanted, so it parses at a fraction of the speed gzip
inflates. This reader cuts the arrays into chunks of many items and lets msgspec (C) decode
each chunk into small structs holding only the one field a pass needs (the billing code, or the
provider group id); the chunk's items are built as Python objects only when one is wanted.

Cuts are guessed and then proved. An array's items are objects, and items written by one
program start with the same key: the first item's first key K gives the pattern of a cut,
`}` `,` `{"K":`. A chunk runs from the start of an item to a guessed cut and is decoded as
`[` chunk `]`: JSON's grammar is unambiguous, so the decode succeeds only when the chunk is whole
items, and fails when the guess fell inside an item, inside a string (braces, brackets and
quotes inside strings cannot fool it) or on bad JSON. A failed guess tries an earlier cut or
the array's end; when no guess proves right within a bounded window (items with varying key
order, a giant item, a malformed file), the reader gives up with `Fallback`, whose `remainder`
is the unread rest of the document made whole again (`{"K":[` + the unread bytes), so the
caller finishes it with ijson: nothing read twice, nothing lost, bad JSON reported by ijson as
before. Top-level members other than arrays of objects (objects, very long scalars) also hand
over to ijson.

msgspec does not check UTF-8 inside strings it skips; chunks that are not pure ASCII are
decoded as UTF-8 first, so a file with invalid UTF-8 fails here as it fails in ijson.
"""

import re

import msgspec

WS = rb"[ \t\n\r]*"
OPEN = re.compile(WS + rb"\{")
CLOSE_OBJECT = re.compile(WS + rb"\}")
KEY = re.compile(WS + rb'"([^"\\]*)"' + WS + rb":" + WS)
SCALAR = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|-?[0-9][0-9.eE+-]*|true|false|null')
AFTER_MEMBER = re.compile(WS + rb"([,}])")
EMPTY_ARRAY = re.compile(WS + rb"\]")
FIRST_KEY = re.compile(WS + rb'\{' + WS + rb'"([^"\\]*)"' + WS + rb":")
TRAILING_AT = re.compile(r"trailing characters \(byte (\d+)\)")
TRAILING = re.compile(WS + rb"\Z")
KEY_COLON = re.compile(WS + rb":")
SPACE = b" \t\n\r"

CHUNK = 4 << 20  # bytes of items decoded at a time
MAX_WINDOW = 64 << 20  # no proven cut within this many bytes: hand over to ijson
LOOKAHEAD = 64 << 10  # a key or a scalar longer than this is handed over
READ = 1 << 20  # bytes asked of the stream at a time
EARLIER_CUTS = 4  # guessed cuts tried before the array's end is tried
RAW_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])
RAW = msgspec.json.Decoder(msgspec.Raw)


class Fallback(Exception):
    """The fast reader stopped at something it does not read; `remainder` is a stream of the rest
    of the document, itself a whole JSON document, for ijson to finish."""

    def __init__(self, why, remainder):
        super().__init__(why)
        self.remainder = remainder


class Array:
    """What to do with one top-level array: `decoder` decodes a chunk (`[` items `]`) into
    per-item structs, `handle(chunk, decoded)` takes them and returns False to stop reading."""

    def __init__(self, decoder, handle):
        self.decoder, self.handle = decoder, handle


class FastReader:
    """Reads a top-level JSON object from `stream`: scalars go to `on_scalar(key, token)` (the
    JSON text of the value), every array's start to `on_array(key)`, and the items of the arrays
    named in `arrays` ({key: Array}) to their handler; other arrays are checked and skipped."""

    def __init__(self, stream, arrays, on_scalar, on_array):
        self.stream, self.arrays, self.on_scalar, self.on_array = stream, arrays, on_scalar, on_array
        self.buf, self.pos, self.eof = bytearray(), 0, False
        self.items = 0  # items read by the fast path (the rest, if any, by ijson)

    def read(self):
        """Read to the end of the document, or until a handler stops; raises Fallback."""
        self._fill(LOOKAHEAD)
        opened = OPEN.match(self.buf, self.pos)
        if not opened:
            raise self._fallback("the document is not a JSON object", b"")
        self.pos = opened.end()
        if CLOSE_OBJECT.match(self.buf, self.pos):
            return self._end(CLOSE_OBJECT.match(self.buf, self.pos).end())
        while True:
            self._fill(self.pos + LOOKAHEAD)
            member = self.pos
            key = KEY.match(self.buf, self.pos)
            if not key:
                raise self._fallback("a member key it does not read", b"{")
            raw_name = bytes(key.group(1))  # a copy: the buffer moves under a match
            name = raw_name.decode("utf-8", "replace")
            self.pos = key.end()
            first = self.buf[self.pos:self.pos + 1]
            if first == b"[":
                self.pos += 1
                self.on_array(name)
                if not self._array(name, raw_name):
                    return None
            elif first == b"{":
                self.pos = member
                raise self._fallback(f"an object under {name!r}", b"{")
            else:
                scalar = SCALAR.match(self.buf, self.pos)
                if not scalar or (scalar.end() == len(self.buf) and not self.eof) or not _valid(scalar.group()):
                    self.pos = member
                    raise self._fallback(f"a value under {name!r} it does not read", b"{")
                self.on_scalar(name, bytes(scalar.group()))
                self.pos = scalar.end()
            self._fill(self.pos + LOOKAHEAD)
            after = AFTER_MEMBER.match(self.buf, self.pos)
            if not after:
                raise self._fallback("something other than ',' or '}' after a member", b'{"":null')
            self.pos = after.end()
            if after.group(1) == b"}":
                return self._end(self.pos)

    def _end(self, position):
        """The document closed at `position`: only whitespace may follow."""
        self.pos = position
        while not self.eof:
            self._fill(self.pos + READ)
            if not TRAILING.match(self.buf, self.pos):
                break
            self.pos = len(self.buf)
        if not TRAILING.match(self.buf, self.pos):
            raise self._fallback("data after the document", b'{"":null')
        return None

    def _array(self, name, key):
        """Read one array from just after its `[`; False when a handler stopped the reading."""
        spec = self.arrays.get(name)
        self._fill(self.pos + LOOKAHEAD)
        empty = EMPTY_ARRAY.match(self.buf, self.pos)
        if empty:
            self.pos = empty.end()
            return True
        first = FIRST_KEY.match(self.buf, self.pos)
        if not first:
            raise self._fallback(f"{name!r} items that are not objects it reads", b'{"' + key + b'":[')
        first_key, window = bytes(first.group(1)), CHUNK
        while True:
            self._fill(self.pos + window)
            cut = self._cut(first_key, spec.decoder if spec else RAW, min(len(self.buf), self.pos + window))
            if cut is None:
                if window >= MAX_WINDOW or (self.eof and self.pos + window >= len(self.buf)):
                    raise self._fallback(f"no proven cut in {name!r} within {window >> 20} MB", b'{"' + key + b'":[')
                window *= 2
                continue
            chunk, decoded, resume, closed = cut
            self.pos, window = resume, CHUNK
            if spec is not None:
                self.items += len(decoded)
                if not spec.handle(chunk, decoded):
                    return False
            if closed:
                return True

    def _cut(self, key, decoder, limit):
        """(chunk, decoded, where to go on, whether the array closed) for the last cut in the
        window that proves right, or None. Guesses are found from the window's end backwards:
        `"K"` (a fast substring search), then `}`, `,` and `{` before it, whitespace aside."""
        quoted, end, tried = b'"' + key + b'"', limit, 0
        while tried <= EARLIER_CUTS:
            found = self.buf.rfind(quoted, self.pos, end)
            if found < 0:
                break
            end = found
            close = self._separator_before(found)
            if close is None or not KEY_COLON.match(self.buf, found + len(quoted)):
                continue
            tried += 1
            decoded = self._decode(decoder, self.pos, close + 1, b"]")
            if decoded is not None:
                return decoded[0], decoded[1], self.buf.index(b"{", close + 1), False
        return self._array_end(decoder, limit)

    def _separator_before(self, found):
        """The position of the `}` when `}` `,` `{` (whitespace between) come just before
        `found`, else None."""
        position = found
        for expected in b"{,}":
            position -= 1
            while position > self.pos and self.buf[position] in SPACE:
                position -= 1
            if position <= self.pos or self.buf[position] != expected:
                return None
        return position

    def _array_end(self, decoder, limit):
        """The cut at the array's own `]`, when it lies in the window. Decoding `[` + window stops
        at that bracket, and msgspec names the byte after it ("trailing characters (byte N)");
        the bracket is then proved by decoding exactly up to it."""
        whole = self._decode(decoder, self.pos, limit, b"", errors=True)
        if not isinstance(whole, Exception):
            return whole[0], whole[1], limit, True
        trailing = TRAILING_AT.search(str(whole))
        if not trailing:
            return None
        # byte N of `[` + window is buf[pos + N - 1]; the bracket is the last one before it
        end = self.buf.rfind(b"]", self.pos, min(limit, self.pos + int(trailing.group(1)) - 1)) + 1
        decoded = self._decode(decoder, self.pos, end, b"") if end else None
        if decoded is None:
            return None
        return decoded[0], decoded[1], end, True

    def _decode(self, decoder, start, end, closing, errors=False):
        """(`[` + buf[start:end] + closing, its decoding), or None (or the error, with `errors`)
        when that is not valid JSON of the decoder's type."""
        view = memoryview(self.buf)
        try:
            chunk = b"".join((b"[", view[start:end], closing))
        finally:
            view.release()
        try:
            decoded = decoder.decode(chunk)
            if not chunk.isascii():
                chunk.decode("utf-8")
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as error:
            return error if errors else None
        return chunk, decoded

    def _fill(self, wanted):
        """Read until the buffer holds `wanted` bytes (or the stream ends), dropping what was read."""
        if self.pos > READ and self.pos > len(self.buf) // 2:
            del self.buf[:self.pos]
            wanted -= self.pos
            self.pos = 0
        while len(self.buf) < wanted and not self.eof:
            block = self.stream.read(max(READ, wanted - len(self.buf)))
            if block:
                self.buf += block
            else:
                self.eof = True

    def _fallback(self, why, prefix):
        return Fallback(why, Remainder(prefix + bytes(self.buf[self.pos:]), self.stream))


class Remainder:
    """`head` then the rest of `stream`: the unread part of a document, for ijson."""

    def __init__(self, head, stream):
        self.head, self.stream = head, stream

    def read(self, size=-1):
        if self.head:
            if size is None or size < 0:
                head, self.head = self.head, b""
                return head + self.stream.read()
            head, self.head = self.head[:size], self.head[size:]
            return head
        return self.stream.read(size)


def _valid(token):
    try:
        RAW.decode(token)
    except msgspec.DecodeError:
        return False
    return True
