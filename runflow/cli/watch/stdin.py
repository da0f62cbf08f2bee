"""``runflow watch -``: standard input played as it is read.

The main use is a live pipe (``curl -N ... | runflow watch -``), so nothing waits for
the end of the input: :func:`open_stdin` reads only until the stream's format and
protocol can be told (its first event a protocol claims is whole, as
:func:`~runflow.adapters.recording.sniff_head` says, part by part: the first line of a short live
stream is shown as soon as it comes; at most its first 64 KiB), then
:func:`play_piped` feeds each event to the flow as it arrives, reading what the pipe
has (``read1``), never more than a chunk ahead. A JSON line is held until its line
break only up to ``Limits.max_event_bytes``: a longer one is skipped, one
``malformed_event`` naming its line and the byte offset where it began.

Pacing (``--speed``): an event waits only when its timestamp says it is due later
than now, counting from when reading began (waiting for the pipe counts); an event
without a timestamp is shown as it arrives, not spread over the gap to the next
timestamp as a file is (that one is not read yet). A live stream is thus shown at
its own pace; a file piped in, at the pace of its timestamps.

An input that ends before its protocol is told is small, and is played as a file
held in memory (:class:`~runflow.adapters.recording.Recording`) is, with the same
cap on a JSON line (the flow's ``Limits.max_event_bytes``).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from runflow.cli.watch.pace import MAX_PAUSE, Block, blocks, feed_block, play, stream_blocks

if TYPE_CHECKING:
    from runflow.adapters.recording import Format, Recording
    from runflow.engine.flow import Flow

__all__ = ["Piped", "open_stdin", "play_piped"]


@dataclass
class Piped:
    """Standard input, its head read (see the module docstring), the rest to come."""

    format: Format
    protocol: str
    head: bytes
    stream: BinaryIO
    chunk: int
    started: float
    """When reading began (the clock :func:`open_stdin` was given): the time spent
    reading the head counts as waited."""
    name: str = "-"

    def chunks(self) -> Iterator[bytes]:
        """The head, then what the pipe has each time, at most :attr:`chunk` bytes."""
        from runflow.adapters.recording import RecordingError

        yield self.head
        while True:
            try:
                part = _read_some(self.stream, self.chunk)
            except (OSError, ValueError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                raise RecordingError(f"-: cannot read standard input ({reason})") from None
            if not part:
                return
            yield part

    def close(self) -> None:
        """Standard input is not ours to close."""


def _read_some(stream: BinaryIO, size: int) -> bytes:
    """What the stream has now (at least a byte, blocking until one comes), at most
    ``size``: ``read1`` where the stream has it, else ``read``."""
    read1: Callable[[int], bytes] | None = getattr(stream, "read1", None)
    return read1(size) if read1 is not None else stream.read(size)


def open_stdin(stream: BinaryIO | None, clock: Callable[[], float] = time.monotonic
               ) -> Piped | Recording:
    """Standard input as :class:`Piped` once its format and protocol can be told
    (:func:`~runflow.adapters.recording.sniff_head`: as soon as its first event a
    protocol claims is whole); all of it as a :class:`Recording` when it ends first.
    Raises :class:`~runflow.adapters.recording.RecordingError` as reading a file
    does."""
    from runflow.adapters.recording import CHUNK, HeadSniffer, RecordingError, read_recording

    if stream is None:
        raise RecordingError("-: standard input is closed")
    started = clock()
    sniffer = HeadSniffer()  # each part looked at once: a pipe of short lines is linear
    while True:
        try:
            part = _read_some(stream, CHUNK)
        except (OSError, ValueError) as exc:  # ValueError: a closed file object
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise RecordingError(f"-: cannot read standard input ({reason})") from None
        if not part:  # all of it: read as a file held in memory is
            return read_recording("-", stdin=io.BytesIO(sniffer.head))
        told = sniffer.add(part)
        if told is not None:
            return Piped(*told, sniffer.head, stream, CHUNK, started)


def play_piped(piped: Piped | Recording, flow: Flow, speed: float,
               sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
    """Feed standard input into ``flow`` as it is read (see the module docstring): an
    event whose timestamp is ``t`` seconds after the first one's is due ``t / speed``
    seconds after reading began, and waits only if it came earlier; a wait is never
    longer than :data:`~runflow.cli.watch.pace.MAX_PAUSE` (the due times after it move
    by what it was shortened). An input :func:`open_stdin` read whole (a
    :class:`~runflow.adapters.recording.Recording`) is played as a file held in memory."""
    most = flow.limits.max_event_bytes  # the longest JSON line held
    if not isinstance(piped, Piped):
        play(flow, blocks(piped, most), speed, sleep)
        return
    flow.begin_stream()
    origin: float | None = None
    before = 0.0  # the time of the latest timestamp, from the first
    anchor = piped.started
    block: Block
    for block in stream_blocks(piped.format, piped.chunks(), most):
        item, stamp = block
        if stamp is not None:
            if origin is None:
                origin = stamp
            before = max(before, stamp - origin)
            if speed > 0:
                wait = anchor + before / speed - clock()
                if wait > MAX_PAUSE:
                    anchor -= wait - MAX_PAUSE
                    wait = MAX_PAUSE
                if wait > 0:
                    sleep(wait)
        feed_block(flow, item)
    flow.close()
