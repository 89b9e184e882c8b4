#!/usr/bin/python3
"""Transcript runner: replays fixtures/transcripts/*.jsonl against `grove serve`.

Each fixture line is one JSON object, one step:

  {"comment": "..."}                    ignored
  {"env": {"K": "V"}}                   environment for the server (before the first send)
  {"sh": "commands"}                    bash in the test repository ($REPO, $WT, $TMP, $GROVE
                                        and the "env" steps' variables set)
  {"send": MESSAGE}                     one JSON-RPC message, written as one line
  {"send_raw": "TEXT"}                  raw text, written as is (add "\\n" yourself)
  {"send_hex": "HEX"}                   raw bytes
  {"send_repeat": [PREFIX, CHAR, N, SUFFIX]}  PREFIX + CHAR*N + SUFFIX (big messages)
  {"cwd": "DIR"}                        working directory of the next server ($TMP expands)
  {"expect": MESSAGE}                   the next line the server writes, after normalising
  {"progress": [TOKEN, MIN]}            at least MIN notifications/progress for TOKEN (how many
                                        varies, e.g. with push transfer progress), strictly
                                        increasing, each with total; then the next step reads on
  {"close_input": true}                 close stdin; "expect" steps still read what follows
  {"expect_exit": 0}                    close stdin; the server must exit with this code
  {"signal": "TERM", "expect_exit": 0}  send a signal instead of closing stdin

Normalisation replaces, in every string of the actual message: the temporary
folder by <TMP> (so the repo is <TMP>/repo and worktrees <TMP>/repo.worktrees),
ISO timestamps by <TIME>, 40-hex commit ids by <SHA1>, <SHA2>, ...; `duration_ms`
values become "<MS>", `next_cursor` values "<CURSOR1>", ... (they are opaque) and
integer `pid`s "<PID1>", .... Commit ids, cursors and pids are numbered in order of
first appearance in the transcript (requests and responses, across servers), so a
fixture says which value equals which: the same commit is the same <SHAn>, a
different one a different number. A live agent's `agent_state` (starting, working, idle:
which one depends on timing) becomes "<ALIVE>". In expected messages "<ANY>" matches any
value.
The string "$CURSOR" in a sent message is replaced by the last next_cursor a tool
returned, and "$TMP" inside any string of it by the temporary folder.

Every tools/call result with structuredContent is validated against the tool's
outputSchema (from tools/list) with python3-jsonschema, an implementation
independent of grove's own validator.

GROVE_WRAPPER (environment) runs every `grove serve` under a wrapper command,
e.g. "valgrind --error-exitcode=99 --leak-check=full -q": the wrapper's exit
code is the server's (so a valgrind error fails the transcript), and the
per-step read timeout is relaxed (x10).

After its stdin is closed (or a signal) a server must exit; how fast is not
checked (a sanitizer or valgrind slows it down), only a generous timeout keeps a
hanging server from hanging the test.

usage: runner.py GROVE FIXTURE [--record]
  --record rewrites the fixture's expect steps with what the server printed.
"""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

import jsonschema

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import grovetest as G  # noqa: E402

TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")
SHA_RE = re.compile(r"\b[0-9a-f]{40}\b")
# A wrapper such as valgrind makes grove many times slower: relax the time limits.
WRAPPER = shlex.split(os.environ.get("GROVE_WRAPPER", ""))
READ_TIMEOUT = 200.0 if WRAPPER else 20.0
EXIT_TIMEOUT = 120.0 if WRAPPER else 30.0  # only so that a hanging server fails the test
STDERR_TAIL = 30000 if WRAPPER else 2000  # valgrind's reports are long


# A live agent's state without hooks follows its output in time: one placeholder for them
# (waiting, exited and none stay apart).
ALIVE = ("starting", "working", "idle")


class Normaliser:
    """Replaces what varies from run to run by placeholders; numbers commit ids, cursors
    and pids in order of first appearance, one numbering for a whole transcript."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.seen = {"SHA": {}, "CURSOR": {}, "PID": {}}

    def number(self, kind, value):
        ids = self.seen[kind]
        if value not in ids:
            ids[value] = "<%s%d>" % (kind, len(ids) + 1)
        return ids[value]

    def __call__(self, value):
        if isinstance(value, dict):
            return {k: ("<MS>" if k == "duration_ms" and isinstance(v, (int, float)) else
                        self.number("CURSOR", v) if k == "next_cursor" and isinstance(v, str) else
                        self.number("PID", str(v)) if k == "pid" and isinstance(v, int) else
                        "<ALIVE>" if k == "agent_state" and v in ALIVE else
                        self(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, str):
            value = value.replace(self.tmp, "<TMP>")
            value = TIME_RE.sub("<TIME>", value)
            value = SHA_RE.sub(lambda m: self.number("SHA", m.group(0)), value)
            # durations, cursors and pids inside text blocks (JSON dumped as a string)
            value = re.sub(r'"duration_ms":\s*[0-9.e+-]+', '"duration_ms":"<MS>"', value)
            value = re.sub(r'"next_cursor":\s*"([^"]*)"',
                           lambda m: '"next_cursor":"%s"' % self.number("CURSOR", m.group(1)),
                           value)
            value = re.sub(r'"pid":\s*([0-9]+)',
                           lambda m: '"pid":"%s"' % self.number("PID", m.group(1)), value)
            value = re.sub(r"after [0-9]+ ms", "after <N> ms", value)  # curl's connect timings
            value = re.sub(r'"agent_state":\s*"(starting|working|idle)"',
                           '"agent_state":"<ALIVE>"', value)
            return value
        return value


def matches(expected, actual):
    if expected == "<ANY>":
        return True
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and expected.keys() == actual.keys()
                and all(matches(expected[k], actual[k]) for k in expected))
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(expected) == len(actual)
                and all(matches(e, a) for e, a in zip(expected, actual)))
    # keep JSON types apart: 1 is not 1.0 is not true
    return type(expected) is type(actual) and expected == actual


def make_repo(tmp):
    """<tmp>/repo with one commit and a bare origin beside it, <tmp>/origin.git."""
    return G.make_repo(os.path.join(tmp, "repo"), G.clean_env(tmp),
                       origin=os.path.join(tmp, "origin.git"))


def start_server(grove, cwd, tmp, extra_env):
    """`grove serve` under GROVE_WRAPPER; its stderr (every server's) in <tmp>/stderr.log."""
    env = G.clean_env(tmp, GROVE_LOG="error")
    env.update(extra_env)
    return G.Server(grove, cwd, env, wrapper=WRAPPER, read_timeout=READ_TIMEOUT,
                    stderr_path=os.path.join(tmp, "stderr.log"))


def wrapper_hint():
    """Why an exit code may be the wrapper's rather than grove's."""
    if not WRAPPER:
        return ""
    return " (under GROVE_WRAPPER '%s': a non-zero exit may be the wrapper reporting errors)" % (
        " ".join(WRAPPER))


def output_schemas(grove, tmp):
    """tools/list under the latest version: {name: outputSchema}."""
    repo = os.path.join(tmp, "schemas")
    os.makedirs(repo)
    p = subprocess.run(WRAPPER + [grove, "serve"], cwd=repo, capture_output=True,
                       timeout=READ_TIMEOUT,
                       input=b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":'
                             b'{"protocolVersion":"2025-11-25","capabilities":{},'
                             b'"clientInfo":{"name":"runner","version":"1"}}}\n'
                             b'{"jsonrpc":"2.0","id":2,"method":"tools/list"}\n',
                       env=dict(os.environ, GROVE_LOG="error"))
    if p.returncode != 0:
        raise AssertionError("the tools/list server exited with %d%s:\n%s" % (
            p.returncode, wrapper_hint(), p.stderr.decode(errors="replace")[-STDERR_TAIL:]))
    lines = p.stdout.decode().splitlines()
    tools = json.loads(lines[1])["result"]["tools"]
    return {t["name"]: t["outputSchema"] for t in tools}


def run(grove, fixture, record):
    steps = [json.loads(l) for l in open(fixture, encoding="utf-8") if l.strip()]
    tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-transcript-"))
    failures = []
    validated = 0
    pending = {}  # request id (as JSON text) -> tool name
    env = {}
    normalise = Normaliser(tmp)
    try:
        try:
            schemas = output_schemas(grove, tmp)
        except (AssertionError, subprocess.TimeoutExpired) as e:
            return ["tools/list: %s" % e], 0
        repo = make_repo(tmp)
        cwd = repo
        cursor = None
        server = None
        out_steps = []
        for n, step in enumerate(steps, 1):
            out_steps.append(step)
            if "env" in step:
                env.update(step["env"])
                continue
            if "comment" in step:
                continue
            if "cwd" in step:
                cwd = step["cwd"].replace("$TMP", tmp)
                continue
            if "sh" in step:
                shenv = dict(os.environ, HOME=tmp, REPO=repo, WT=repo + ".worktrees", TMP=tmp,
                             GIT_CONFIG_NOSYSTEM="1", GROVE=grove)
                shenv.update({k: v.replace("$TMP", tmp) for k, v in env.items()})
                r = subprocess.run(["bash", "-ec", step["sh"]], cwd=repo, env=shenv,
                                   capture_output=True)
                if r.returncode != 0:
                    failures.append("step %d: sh failed: %s" % (n, r.stderr.decode()[-500:]))
                    break
                continue
            if server is None:
                server = start_server(grove, cwd, tmp,
                                      {k: v.replace("$TMP", tmp) for k, v in env.items()})
            if "send" in step:
                msg = json.loads(json.dumps(step["send"]).replace('"$CURSOR"',
                                                                  json.dumps(cursor))
                                 .replace("$TMP", tmp))
                if isinstance(msg, dict) and msg.get("method") == "tools/call":
                    pending[json.dumps(msg.get("id"))] = msg.get("params", {}).get("name")
                normalise(msg)  # number the ids it names, in order of appearance
                server.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
            elif "send_raw" in step:
                server.write(step["send_raw"].encode("utf-8", "surrogatepass"))
            elif "send_hex" in step:
                server.write(bytes.fromhex(step["send_hex"]))
            elif "send_repeat" in step:
                prefix, char, count, suffix = step["send_repeat"]
                server.write(prefix.encode() + char.encode() * count + suffix.encode())
            elif "expect" in step:
                try:
                    raw = server.read_line()
                except AssertionError as e:
                    failures.append("step %d: %s" % (n, e))
                    break
                actual = json.loads(raw)
                # validate structured results against the tool's output schema
                for m in actual if isinstance(actual, list) else [actual]:
                    res = m.get("result") if isinstance(m, dict) else None
                    tool = pending.get(json.dumps(m.get("id"))) if isinstance(m, dict) else None
                    if isinstance(res, dict) and "next_cursor" in res.get("structuredContent", {}):
                        cursor = res["structuredContent"]["next_cursor"]
                    if isinstance(res, dict) and "structuredContent" in res and tool:
                        try:
                            jsonschema.Draft202012Validator(schemas[tool]).validate(
                                res["structuredContent"])
                            validated += 1
                            text = res["content"][0]["text"]
                            if json.loads(text) != res["structuredContent"]:
                                failures.append("step %d: text block differs from "
                                                "structuredContent" % n)
                        except jsonschema.ValidationError as e:
                            failures.append("step %d: %s result violates its outputSchema: %s"
                                            % (n, tool, e.message))
                norm = normalise(actual)
                if record:
                    out_steps[-1] = {"expect": norm}
                elif not matches(step["expect"], norm):
                    failures.append("step %d: mismatch\n  expected: %s\n  actual:   %s" % (
                        n, json.dumps(step["expect"], sort_keys=True),
                        json.dumps(norm, sort_keys=True)))
            elif "progress" in step:
                token, minimum = step["progress"]
                seen, last = 0, None
                while True:
                    raw = server.read_line()
                    m = json.loads(raw)
                    if not (isinstance(m, dict) and m.get("method") == "notifications/progress"):
                        server.unread(raw)
                        break
                    p = m["params"]
                    if p.get("progressToken") != token or type(p["progressToken"]) is not type(token):
                        failures.append("step %d: progress for token %r" % (n, p.get("progressToken")))
                    if last is not None and not p["progress"] > last:
                        failures.append("step %d: progress %s after %s" % (n, p["progress"], last))
                    if not isinstance(p.get("total"), (int, float)) or p["progress"] > p["total"]:
                        failures.append("step %d: bad total in %s" % (n, p))
                    last = p["progress"]
                    seen += 1
                if seen < minimum:
                    failures.append("step %d: %d progress notifications, expected at least %d" % (
                        n, seen, minimum))
            elif "close_input" in step:
                server.proc.stdin.close()
            elif "expect_exit" in step:
                sig = getattr(signal, "SIG" + step["signal"]) if "signal" in step else None
                try:
                    code = server.wait_exit(sig=sig, timeout=EXIT_TIMEOUT)
                    if code != step["expect_exit"]:
                        failures.append("step %d: exit code %s, expected %s%s" % (
                            n, code, step["expect_exit"], wrapper_hint()))
                except AssertionError as e:
                    failures.append("step %d: %s" % (n, e))
                server.kill()
                server = None
            else:
                failures.append("step %d: unknown step %s" % (n, list(step)))
        if server is not None:
            # Every transcript also ends cleanly: EOF -> exit 0.
            try:
                code = server.wait_exit(timeout=EXIT_TIMEOUT)
                if code != 0:
                    failures.append("end: exit code %s%s" % (code, wrapper_hint()))
            except AssertionError as e:
                failures.append("end: %s" % e)
            server.kill()
        if record and not failures:
            with open(fixture, "w", encoding="utf-8") as f:
                for s in out_steps:
                    f.write(json.dumps(s, ensure_ascii=False) + "\n")
        log = os.path.join(tmp, "stderr.log")
        if failures and os.path.exists(log):
            failures.append("server stderr:\n" + open(log, errors="replace").read()[-STDERR_TAIL:])
    finally:
        if "TMUX_TMPDIR" in env:
            # the tmux server of this transcript's agents
            subprocess.run(["tmux", "-L", "grove", "kill-server"], capture_output=True,
                           env=dict(os.environ, TMUX_TMPDIR=env["TMUX_TMPDIR"].replace("$TMP", tmp)))
        shutil.rmtree(tmp, ignore_errors=True)
    return failures, validated


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    record = "--record" in sys.argv
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    failures, validated = run(os.path.realpath(args[0]), args[1], record)
    name = os.path.basename(args[1])
    if failures:
        print("FAIL %s\n%s" % (name, "\n".join(failures)))
        return 1
    print("ok %s (%d structured results validated against their outputSchema)" % (
        name, validated))
    return 0


if __name__ == "__main__":
    sys.exit(main())
