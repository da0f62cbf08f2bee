"""runflow benchmark of the command line: ``runflow check`` against the library's own
``feed_sse`` loop on the same large recording, time and peak resident set.

    python benchmarks/cli.py                       # 10 MB and 100 MB, both protocols
    python benchmarks/cli.py --sizes 10,100,1000   # also 1 GB (minutes, and 1 GB of disk)
    python benchmarks/cli.py --protocol responses  # one protocol's rows only
    python benchmarks/cli.py --quick               # 1 MB only (CI smoke)
    python benchmarks/cli.py --types               # check --types (the SDK's types too)

Each file is one clean stream in the wire shape of the real captures, written on
the fly, piece by piece, to a temporary directory and deleted at the end; nothing is
committed.

assistants  one run (as ``streams.text_answer``): run created, queued, in_progress,
            then message_creation steps each with a message of 2,000 text deltas
            (about 160 bytes each), as many as the size asks (at most 4,900: steps
            plus messages stay within ``Limits.max_entities``), then the run
            completed and ``done``.
responses   one response (``response.created`` ... ``response.completed``,
            ``sequence_number`` counting up), as :func:`write_responses` writes it:
            output items of about 1 MB each in turn a message (output_text
            deltas), a function call (argument deltas) and a reasoning item
            (summary deltas), as many as the size asks. One response, because a
            file is one: ``runflow check`` feeds a file to one flow, and a second
            response after the first repeats its sequence numbers (the flow drops
            them as a resumed stream's replay) or follows a ``[DONE]`` (an
            ``event_after_done``). The final ``response.completed`` lists every
            item with its text, so it must fit ``Limits.max_event_bytes`` (16 MiB):
            the deltas are short (3.75 characters on average; the captures'
            3.4-5), which keeps the final event of 1 GB at about 14 MB.

library  ``RunFlow().feed_sse(chunk)`` (or ``ResponseFlow``) over the file read in
         64 KiB chunks, then ``close()`` -- what an application streaming the same
         bytes pays;
check    ``runflow check -q FILE`` (``runflow.cli.main``): the same validation plus
         the payload, order and grouping layers of the command line, reading the file
         in chunks.

Time: both run in one fresh child process, alternating, ``--rounds`` times; the
fastest of each is printed, and their ratio: CPU seconds (``process_time``: on a
shared machine, wall time also counts the waits for a core), and the wall-clock
ratio beside it. Peak RSS: each runs once more in a
fresh child of its own, which reports its own high-water mark (``VmHWM``: a child's
``ru_maxrss`` would count the parent it was forked from).

Targets of issue 25 print PASS/FAIL and never change the exit code: check within
1.3x the library's time, and a peak RSS of at most 150 MB.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import machine, verdict
from streams import text_answer

from runflow.cli.output import Output

MAX_CHECK_OVER_LIBRARY = 1.3
MAX_PEAK_MB = 150
DELTAS_PER_MESSAGE = 2000
MAX_MESSAGES = 4900
DELTAS_PER_ITEM = 3400
"""Deltas of one Responses output item: about 1 MB of wire."""
MAX_ITEMS = 1000
"""Output items of one response: their ``output_index`` stays below ``Limits.max_index``."""
PROTOCOLS = ("responses", "assistants")
FLOW_CLASS = {"assistants": "runflow.protocols.assistants.flow:RunFlow",
              "responses": "runflow.protocols.responses.flow:ResponseFlow"}

HIGH_WATER = """
def high_water_mb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

LIBRARY = """
def library(path, flow_class):
    import importlib
    module, _, name = flow_class.partition(":")
    flow = getattr(importlib.import_module(module), name)()
    if path is None:
        return 0
    with open(path, "rb") as f:
        while chunk := f.read(65536):
            flow.feed_sse(chunk)
    flow.close()
    return len(flow.violations)
"""

CHECK = """
def check(path, *options):
    import contextlib, io
    from runflow.cli import main
    with contextlib.redirect_stdout(io.StringIO()) as said:
        code = main(["check", "-q", *options, path])
    return code, said.getvalue()[:300]
"""

TIMED = HIGH_WATER + LIBRARY + CHECK + """
import json, sys, time
import runflow.cli.check, runflow.conform.recorded  # imported before any timing
path, rounds, flow_class, options = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
library(None, flow_class)  # the flow class imported, on no input
best = {}
for r in range(rounds):
    for key in (("library", "check") if r % 2 == 0 else ("check", "library")):
        start, cpu = time.perf_counter(), time.process_time()
        result = library(path, flow_class) if key == "library" else check(path, *options)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        best[key] = min(best.get(key, cpu), cpu)
        best[key + " wall"] = min(best.get(key + " wall", seconds), seconds)
        if key == "library":
            best["violations"] = result
        else:
            best["code"], best["said"] = result
print(json.dumps(best))
"""

ALONE = HIGH_WATER + LIBRARY + CHECK + """
import json, sys
result = (library(sys.argv[2], sys.argv[3]) if sys.argv[1] == "library"
          else check(sys.argv[2], *sys.argv[4:]))
print(json.dumps({"mb": high_water_mb(), "result": result}))
"""


def write_recording(path: Path, megabytes: int) -> int:
    """One clean run of about ``megabytes`` MB, written piece by piece; returns its
    size in bytes."""
    template = text_answer(DELTAS_PER_MESSAGE).split(b"\n\n")[:-1]
    blocks = [b + b"\n\n" for b in template]
    head, message, tail = blocks[:3], b"".join(blocks[3:-2]), blocks[-2:]
    step_id = json.loads(blocks[3].split(b"data: ", 1)[1])["id"].encode()
    msg_id = json.loads(blocks[5].split(b"data: ", 1)[1])["id"].encode()
    count = min(MAX_MESSAGES, max(1, round(megabytes * 1_000_000 / len(message))))
    size = 0
    with path.open("wb") as out:
        for block in head:
            size += out.write(block)
        for i in range(count):
            mark = b"%05d" % i
            size += out.write(message.replace(step_id, step_id[:-5] + mark)
                              .replace(msg_id, msg_id[:-5] + mark))
        for block in tail:
            size += out.write(block)
    return size


_ALNUM = string.ascii_letters + string.digits
_TOKENS = tuple(json.dumps(t)[1:-1] for t in (
    " the", " of", ",", " a", " to", " is", " it", ".", " in", " and", " we", " on",
    " item", " call", " out", " text", "\n\n", " state", " by", " as", " stream",
    " delta", " order", " each"))
"""Text deltas as JSON string bodies: 3.75 characters on average (the captures: 3.4-5)."""
_FUNCTION_TOOL = {"type": "function", "name": "get_weather", "description": "The weather.",
                  "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                 "required": ["city"], "additionalProperties": False},
                  "strict": False}


class _ResponseWriter:
    """One Responses stream written to ``out`` as it is made, in the wire shape of the
    2025 OpenAI captures (``event:`` + ``data:`` frames of compact JSON, ``type`` then
    ``sequence_number`` first, ids of 50 hex digits, an ``obfuscation`` on deltas)."""

    def __init__(self, out: BinaryIO, seed: int = 1) -> None:
        self.out = out
        self.rng = random.Random(seed)
        self.seq = 0
        self.size = 0
        self.response_id = self.id("resp")

    def id(self, prefix: str) -> str:
        return f"{prefix}_{self.rng.getrandbits(200):050x}"

    def emit(self, kind: str, **fields: Any) -> None:
        body = json.dumps({"type": kind, "sequence_number": self.seq, **fields},
                          separators=(",", ":"), ensure_ascii=False)
        self.seq += 1
        self.size += self.out.write(f"event: {kind}\ndata: {body}\n\n".encode())

    def deltas(self, kind: str, where: str, pieces: list[str], tail: str = "") -> None:
        """One delta event per piece (already a JSON string body), written as text:
        ``where`` is the fields between the sequence number and the delta."""
        rng, seq, out = self.rng, self.seq, []
        head = f'event: {kind}\ndata: {{"type":"{kind}","sequence_number":'
        for piece in pieces:
            obfuscation = "".join(rng.choices(_ALNUM, k=rng.randint(3, 15)))
            out.append(f'{head}{seq},{where},"delta":"{piece}"{tail},'
                       f'"obfuscation":"{obfuscation}"}}\n\n')
            seq += 1
        self.seq = seq
        self.size += self.out.write("".join(out).encode())

    def response(self, status: str, output: list[dict[str, Any]],
                 usage: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "id": self.response_id, "object": "response", "created_at": 1774963893,
            "status": status, "background": False, "error": None,
            "incomplete_details": None, "instructions": None, "max_output_tokens": None,
            "max_tool_calls": None, "model": "gpt-5-2025-08-07", "output": output,
            "parallel_tool_calls": True, "previous_response_id": None,
            "prompt_cache_key": None, "reasoning": {"effort": "low", "summary": "detailed"},
            "safety_identifier": None,
            "service_tier": "default" if status == "completed" else "auto",
            "store": True, "temperature": 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto", "tools": [_FUNCTION_TOOL], "top_logprobs": 0,
            "top_p": 1.0, "truncation": "disabled", "usage": usage, "user": None,
            "metadata": {},
        }

    def words(self, n: int) -> list[str]:
        return self.rng.choices(_TOKENS, k=n)

    def message(self, index: int, n: int) -> dict[str, Any]:
        mid = self.id("msg")
        item = {"id": mid, "type": "message", "status": "in_progress", "content": [],
                "role": "assistant"}
        self.emit("response.output_item.added", output_index=index, item=item)
        empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        where = {"item_id": mid, "output_index": index, "content_index": 0}
        self.emit("response.content_part.added", **where, part=empty)
        words = self.words(n)
        self.deltas("response.output_text.delta",
                    f'"item_id":"{mid}","output_index":{index},"content_index":0',
                    words, ',"logprobs":[]')
        text = json.loads('"' + "".join(words) + '"')
        self.emit("response.output_text.done", **where, text=text, logprobs=[])
        part = {**empty, "text": text}
        self.emit("response.content_part.done", **where, part=part)
        done = {**item, "status": "completed", "content": [part]}
        self.emit("response.output_item.done", output_index=index, item=done)
        return done

    def function_call(self, index: int, n: int) -> dict[str, Any]:
        fid, call_id = self.id("fc"), f"call_{self.rng.getrandbits(96):024x}"
        item = {"id": fid, "type": "function_call", "status": "in_progress",
                "arguments": "", "call_id": call_id, "name": "get_weather"}
        self.emit("response.output_item.added", output_index=index, item=item)
        notes = json.loads('"' + "".join(self.words(n)) + '"')
        arguments = json.dumps({"city": "Paris", "notes": notes}, separators=(",", ":"))
        pieces, at = [], 0
        while at < len(arguments):  # 1 to 5 characters, as the captures cut arguments
            step = self.rng.randint(1, 5)
            pieces.append(json.dumps(arguments[at:at + step])[1:-1])
            at += step
        self.deltas("response.function_call_arguments.delta",
                    f'"item_id":"{fid}","output_index":{index}', pieces)
        # ``name`` is absent from .done in every capture (RESPONSES.md section 3)
        self.emit("response.function_call_arguments.done", item_id=fid, output_index=index,
                  arguments=arguments)
        done = {**item, "status": "completed", "arguments": arguments}
        self.emit("response.output_item.done", output_index=index, item=done)
        return done

    def reasoning(self, index: int, n: int) -> dict[str, Any]:
        rid = self.id("rs")
        secret = "gAAAAAB" + "".join(self.rng.choices(_ALNUM, k=600))
        item = {"id": rid, "type": "reasoning", "encrypted_content": secret, "summary": []}
        self.emit("response.output_item.added", output_index=index, item=item)
        parts = []
        for s, count in enumerate((n // 2, n - n // 2)):  # two summary parts
            where = {"item_id": rid, "output_index": index, "summary_index": s}
            self.emit("response.reasoning_summary_part.added", **where,
                      part={"type": "summary_text", "text": ""})
            words = ["**Thinking**\\n\\n", *self.words(count - 1)]
            self.deltas("response.reasoning_summary_text.delta",
                        f'"item_id":"{rid}","output_index":{index},"summary_index":{s}',
                        words)
            text = json.loads('"' + "".join(words) + '"')
            self.emit("response.reasoning_summary_text.done", **where, text=text)
            part = {"type": "summary_text", "text": text}
            self.emit("response.reasoning_summary_part.done", **where, part=part)
            parts.append(part)
        done = {**item, "summary": parts, "encrypted_content": secret[::-1]}
        self.emit("response.output_item.done", output_index=index, item=done)
        return done


def write_responses(path: Path, megabytes: int) -> int:
    """One clean response of about ``megabytes`` MB (see the module docstring), written
    piece by piece; returns its size in bytes."""
    count = min(MAX_ITEMS, max(1, megabytes))
    with path.open("wb") as out:
        w = _ResponseWriter(out)
        for kind in ("response.created", "response.in_progress"):
            w.emit(kind, response=w.response("in_progress", []))
        items = (w.message, w.function_call, w.reasoning)
        output = [items[i % 3](i, DELTAS_PER_ITEM) for i in range(count)]
        tokens = count * DELTAS_PER_ITEM
        usage = {"input_tokens": 36, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": tokens, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": 36 + tokens}
        w.emit("response.completed", response=w.response("completed", output, usage))
        return w.size


WRITERS = {"assistants": write_recording, "responses": write_responses}


def child(code: str, *args: str) -> dict[str, object]:
    """The JSON a fresh child process running ``code`` prints last."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise SystemExit(f"benchmark child failed ({done.returncode}): "
                         f"{(done.stderr or done.stdout)[-2000:]}")
    return dict(json.loads(lines[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", default="10,100",
                        help="file sizes in MB, comma-separated (default 10,100; 1 GB: 1000)")
    parser.add_argument("--protocol", choices=(*PROTOCOLS, "both"), default="both",
                        help="whose generated stream (default both)")
    parser.add_argument("--quick", action="store_true", help="a 1 MB file only (CI smoke)")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs of each (default 2)")
    parser.add_argument("--types", action="store_true",
                        help="time runflow check --types (the openai SDK's types layer too)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress line (it is shown only on a terminal anyway)")
    parser.add_argument("--progress", action="store_true",
                        help="show the progress line even when stderr is not a terminal")
    args = parser.parse_args(argv)
    try:
        sizes = [1] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes: whole numbers of MB, comma-separated (got {args.sizes!r})")
    if not sizes or min(sizes) < 1:
        parser.error("--sizes: at least one size, each 1 MB or more")
    out = Output()
    out.progress_enabled = (out.progress_enabled or args.progress) and not args.quiet
    options = ["--types"] if args.types else []
    print("runflow command-line benchmark" + (" --quick" if args.quick else "")
          + (": check --types" if args.types else ""))
    for line in machine():
        print("  " + line)
    print(f"  time: CPU seconds in one fresh child, {args.rounds} round(s) alternating, "
          "fastest of each; peak RSS: a fresh child each (VmHWM)")
    print()
    head = (f"{'protocol':<12}{'file':>8}{'library s':>11}{'check s':>10}"
            f"{'check/library':>15}{'':5}{'library MB':>12}{'check MB':>10}{'':5}  exit"
            f"{'wall ratio':>12}")
    print(head)
    print("-" * len(head))
    notes: list[str] = []
    protocols = PROTOCOLS if args.protocol == "both" else (args.protocol,)
    rows = [(protocol, mb) for protocol in protocols for mb in sizes]
    with tempfile.TemporaryDirectory(prefix="runflow-cli-bench-") as tmp:
        for number, (protocol, mb) in enumerate(rows, start=1):
            path = Path(tmp) / f"{protocol}_{mb}mb.sse"
            step = f"[{number}/{len(rows)}] {protocol} {mb} MB"
            out.status(f"{step}: writing the recording")
            size = WRITERS[protocol](path, mb)
            out.status(f"{step}: timing library and check, {args.rounds} round(s)")
            flow_class = FLOW_CLASS[protocol]
            timed = child(TIMED, str(path), str(args.rounds), flow_class, *options)
            out.status(f"{step}: peak RSS of the library loop")
            library = child(ALONE, "library", str(path), flow_class)
            out.status(f"{step}: peak RSS of runflow check")
            check = child(ALONE, "check", str(path), flow_class, *options)
            out.clear_progress()
            name = f"{protocol} {size / 1e6:.0f} MB"
            if timed["violations"] != 0:
                notes.append(f"WARNING: {name}: the library reported "
                             f"{timed['violations']} violation(s) on a clean recording")
            if timed["code"] != 0:
                notes.append(f"WARNING: {name}: check exited {timed['code']}: "
                             f"{timed['said']}")
            lib_s, check_s = float(str(timed["library"])), float(str(timed["check"]))
            lib_mb, check_mb = float(str(library["mb"])), float(str(check["mb"]))
            over = check_s / lib_s
            wall = float(str(timed["check wall"])) / float(str(timed["library wall"]))
            print(f"{protocol:<12}{size / 1e6:>5.0f} MB{lib_s:>11.2f}{check_s:>10.2f}"
                  f"{over:>11.2f} {verdict(over <= MAX_CHECK_OVER_LIBRARY)}"
                  f"{lib_mb:>12.0f}{check_mb:>10.0f} "
                  f"{verdict(check_mb <= MAX_PEAK_MB)}  {timed['code']:>4}{wall:>12.2f}",
                  flush=True)
            path.unlink()
    print()
    print(f"targets: check/library ≤ {MAX_CHECK_OVER_LIBRARY:g}, check peak RSS ≤ "
          f"{MAX_PEAK_MB} MB (timings never fail the run)")
    for note in notes:
        print("note: " + note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
