"""Recordings of enriched events (``lanner sensor --record FILE``), gzip-compressed.

A recording is lanner's record format (``lanner.wire``: a versioned header, then each
thread's process part once per change and each event's own fields), one JSON line each,
written through gzip. ``lanner scan --source syscall FILE`` replays it: the reader tells
gzip from plain JSON lines by the file's first bytes, never by its name, so a recording
made before compression (or with ``compress=False``) replays the same.

The file is written at the path the user gave, as given: no suffix is added or changed
(``capture.jsonl.gz`` reads best; ``zcat FILE`` or ``gzip -dc FILE`` shows the lines).

Compression level 1 (zlib's fastest): a recording of a busy node still gets about 13 times
smaller, for a fifth of what encoding the events costs already; higher levels gain a
third more at two to five times the cost (the figures: ``Recorder``'s docstring).

A sensor stopped by SIGTERM or SIGINT closes the stream, which ends the gzip file
properly. A sensor killed outright (SIGKILL, the OOM killer) cannot; the recorder
therefore flushes the compressor about once a second while events come (a zlib sync
flush: the bytes so far decompress on their own), so such a file loses only the events
since the last flush; ``lanner scan`` reads the rest, then reports the file truncated.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import time
from collections.abc import Callable
from typing import IO, Any

from lanner import wire

RECORD_HEADER = wire.HEADER

COMPRESS_LEVEL = 1
# How often the compressor is flushed to the file, in seconds (see the module's docstring).
FLUSH_EVERY = 1.0


class Recorder:
    """Writes enriched events to ``out`` in lanner's record format, one JSON line each.

    The same interface as the recorder ``sensor.run.run`` takes: constructed on an open
    text stream, which it writes the header to, then ``write(doc)`` per event. While events
    come, the stream is flushed every ``flush_every`` seconds (by the first write after
    that long): for a stream from :func:`open_recording`, the compressor's sync flush.

    Measured on a live recording of a busy 2-core machine (289,000 events in 40 s, 418 MB
    of plain record lines, 1.45 KB an event; CPU time, the machine shared): encoding an
    event and its ``json.dumps`` cost 25 us; compressing its line 4 us at level 1 (418 ->
    33 MB, 12.7 times smaller), 10 us at level 6 (18.5 times), 20 us at level 9 (18.8
    times). A second live recording through this writer: 272 MB of lines in 20 MB.
    """

    def __init__(
        self,
        out: IO[str],
        *,
        flush_every: float = FLUSH_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out
        self._encoder = wire.Encoder()
        self._flush_every = flush_every
        self._clock = clock
        self._flushed = clock()
        out.write(json.dumps(RECORD_HEADER) + "\n")

    def write(self, doc: dict[str, Any]) -> None:
        for line in self._encoder.encode(doc):
            # ASCII only (json.dumps escapes the rest): a file name that is not UTF-8
            # (lone surrogates) is recorded as its escape, which replays as the same value.
            self.out.write(json.dumps(line, separators=(",", ":"), default=str) + "\n")
        now = self._clock()
        if now - self._flushed >= self._flush_every:
            self._flushed = now
            self.out.flush()


def open_recording(
    path: str | os.PathLike[str], *, compress: bool = True, level: int = COMPRESS_LEVEL
) -> IO[str]:
    """The text stream a recording is written to: gzip at ``path`` (plain JSON lines when
    ``compress`` is false). Closing it ends the gzip file; an OSError says why it cannot
    be opened."""
    if not compress:
        return open(path, "w", encoding="utf-8")
    # mtime 0: the same events make the same bytes (the file's own mtime says when).
    gz = gzip.GzipFile(path, mode="wb", compresslevel=level, mtime=0)
    return io.TextIOWrapper(gz, encoding="utf-8", newline="\n")
