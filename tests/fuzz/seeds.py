#!/usr/bin/python3
"""Seed corpora for the fuzz targets, made at run time from the fixtures.

usage: seeds.py SOURCE_ROOT OUTDIR

Writes OUTDIR/fuzz_framing, OUTDIR/fuzz_dispatch and OUTDIR/fuzz_schema:

- every "send" message, "send_raw" text and "send_hex" bytes of
  fixtures/transcripts/*.jsonl (and each transcript's whole stream), with
  the target's leading selector bytes (see fuzz_framing.c, fuzz_dispatch.c);
- every tool's inputSchema and outputSchema (from the recorded tools/list
  results) paired with the arguments and structured results recorded for it,
  as "SCHEMA\\0INSTANCE", plus the JSON-Schema-Test-Suite's draft 7 cases when
  installed (/usr/share/json-schema-test-suite).

Prints how many files each corpus got.
"""
import glob
import hashlib
import json
import os
import sys

MAX_LEN = 65536
VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
SUITE = "/usr/share/json-schema-test-suite/tests/draft7"


def compact(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def sent_items(steps):
    """The bytes of each message a transcript sends, in order (without its newline)."""
    out = []
    for s in steps:
        if "send" in s:
            out.append(compact(s["send"]))
        elif "send_raw" in s:
            out.extend(l for l in s["send_raw"].encode("utf-8", "surrogatepass").split(b"\n") if l)
        elif "send_hex" in s:
            out.extend(l for l in bytes.fromhex(s["send_hex"]).split(b"\n") if l)
        elif "send_repeat" in s:
            prefix, char, count, suffix = s["send_repeat"]
            if len(prefix) + count + len(suffix) < MAX_LEN:
                out.append((prefix + char * count + suffix).encode().rstrip(b"\n"))
    return out


class Corpus:
    def __init__(self, root):
        self.root = root
        self.count = 0
        os.makedirs(root, exist_ok=True)

    def add(self, data):
        data = data[:MAX_LEN]
        name = hashlib.sha1(data).hexdigest()
        path = os.path.join(self.root, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            self.count += 1


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    src, outdir = sys.argv[1:]
    framing = Corpus(os.path.join(outdir, "fuzz_framing"))
    dispatch = Corpus(os.path.join(outdir, "fuzz_dispatch"))
    schema = Corpus(os.path.join(outdir, "fuzz_schema"))
    schemas = {}  # tool -> (inputSchema, outputSchema)
    args, results = [], []  # (tool, value)

    for path in sorted(glob.glob(os.path.join(src, "fixtures", "transcripts", "*.jsonl"))):
        steps = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
        items = sent_items(steps)
        version = 3
        pending = {}
        for s in steps:
            m = s.get("send")
            if isinstance(m, dict) and m.get("method") == "initialize":
                pv = (m.get("params") or {}).get("protocolVersion")
                version = VERSIONS.index(pv) if pv in VERSIONS else 4
            if isinstance(m, dict) and m.get("method") == "tools/call":
                p = m.get("params") or {}
                pending[json.dumps(m.get("id"))] = p.get("name")
                if "arguments" in p:
                    args.append((p.get("name"), p["arguments"]))
            e = s.get("expect")
            if isinstance(e, dict) and isinstance(e.get("result"), dict):
                r = e["result"]
                for t in r.get("tools", []):
                    if "outputSchema" in t:
                        schemas[t["name"]] = (t["inputSchema"], t["outputSchema"])
                if "structuredContent" in r and json.dumps(e.get("id")) in pending:
                    results.append((pending[json.dumps(e.get("id"))], r["structuredContent"]))
        stream = b"".join(i + b"\n" for i in items)
        # framing: byte 0 the line cap (0xff: 16 MiB; 0x40: 64 bytes), byte 1 the read pattern,
        # byte 2 the server (0: not initialized, 1-4: initialized with VERSIONS[n - 1])
        framing.add(b"\xff\x00\x00" + stream)
        framing.add(b"\xff\x07" + bytes([min(version + 1, 4)]) + stream.replace(b"\n", b"\r\n"))
        framing.add(b"\x40\x03" + bytes([min(version + 1, 4)]) + stream)
        # dispatch: byte 0 picks the opening; 5 = none (the stream initializes itself)
        dispatch.add(b"\x05" + stream)
        for i in items:
            framing.add(b"\xff\x01" + bytes([min(version + 1, 4)]) + i)
            dispatch.add(bytes([version]) + i)

    for tool, (ins, outs) in sorted(schemas.items()):
        schema.add(compact(ins) + b"\0{}")
        schema.add(compact(outs) + b"\0{}")
        for t, a in args:
            if t == tool:
                schema.add(compact(ins) + b"\0" + compact(a))
        for t, r in results:
            if t == tool:
                schema.add(compact(outs) + b"\0" + compact(r))
    for _, a in args:
        schema.add(compact(a))
    for path in sorted(glob.glob(os.path.join(SUITE, "*.json"))):
        for group in json.load(open(path, encoding="utf-8")):
            for test in group["tests"]:
                schema.add(compact(group["schema"]) + b"\0" + compact(test["data"]))
                schema.add(compact([group["schema"], test["data"]]))

    for c in (framing, dispatch, schema):
        print("%s: %d seed inputs" % (os.path.basename(c.root), c.count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
