#!/usr/bin/python3
"""Adversarial corpus runner: hostile and broken input against ONE `grove serve` per corpus.

usage: runner.py GROVE CORPUS.jsonl...           the cases of each file
       runner.py GROVE --mutations N --seed S TRANSCRIPTS_DIR
                                                 N random mutations of the messages the
                                                 transcripts send (byte flips, truncations,
                                                 splices, ...), reproducible from the seed

Each corpus line is one case (lines {"comment": ...} are skipped):

  {"send": MESSAGE}             a JSON value, written as one line
  {"send_raw": "TEXT"}          text written as is; must end with "\\n"
  {"send_hex": "HEX"}           bytes written as is; must end with 0a
  {"send_gen": ["repeat", PREFIX, TEXT, N, SUFFIX]}   PREFIX + TEXT*N + SUFFIX + "\\n"
  {"send_gen": ["nest", PREFIX, OPEN, CLOSE, N, SUFFIX]}
                                PREFIX + OPEN*N + CLOSE*N + SUFFIX + "\\n"
  "expect": the outcome class:
      "none"                    no output at all
      "result"                  one response with a result (not isError)
      "isError"                 one response with a result that has isError: true
      CODE (an integer)         one response with an error of that code
      {"batch": [E, ...]}       one batch response, element by element ("result",
                                "isError" or CODE)
      {"batch": {"n": N, "each": E}}
      "any"                     at most one response, whatever it is
  "id": the id the response must carry (JSON type included); by default the sent
        message's id when it is a string or a number, else null
  "id_gen": [TEXT, N]: the id is TEXT*N (a huge id echoed)

After every case the runner sends a ping and reads up to its answer, which proves
the server still serves and that nothing else came out. Every line on stdout must
be a valid JSON-RPC 2.0 message: a response, a batch of responses, or a
notifications/progress before the response it belongs to. Ends with the number of
cases run; exit 1 on any failure.
"""
import json
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import grovetest as G  # noqa: E402

INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1


class Failure(Exception):
    pass


def reject_constant(name):
    raise ValueError("non-JSON constant %s" % name)


def strict_loads(raw):
    """JSON from bytes that must be UTF-8, without NaN/Infinity or lone surrogates."""
    text = raw.decode("utf-8")  # UnicodeDecodeError: not UTF-8
    value = json.loads(text, parse_constant=reject_constant)
    check_strings(value)
    return value


def check_strings(v):
    if isinstance(v, str):
        v.encode("utf-8")  # a lone surrogate (from a "\\ud800" escape) fails here
    elif isinstance(v, list):
        for x in v:
            check_strings(x)
    elif isinstance(v, dict):
        for k, x in v.items():
            check_strings(k)
            check_strings(x)


def is_id(v):
    return isinstance(v, (str, int, float)) and not isinstance(v, bool)


def same(a, b):
    return type(a) is type(b) and a == b


def response_problem(m):
    if not isinstance(m, dict):
        return "a response is not an object"
    if m.get("jsonrpc") != "2.0":
        return '"jsonrpc" is not "2.0"'
    if "id" not in m or not (m["id"] is None or is_id(m["id"])):
        return 'no usable "id"'
    if ("result" in m) == ("error" in m):
        return 'not exactly one of "result" and "error"'
    if set(m) != {"jsonrpc", "id", "result" if "result" in m else "error"}:
        return "unexpected members %s" % sorted(m)
    if "result" in m and not isinstance(m["result"], dict):
        return "a result that is not an object"
    if "error" in m:
        e = m["error"]
        if not (isinstance(e, dict) and type(e.get("code")) is int
                and isinstance(e.get("message"), str) and e["message"]):
            return "an error without an integer code and a message"
        if INT_MIN > e["code"] or e["code"] > INT_MAX:
            return "an error code out of range"
    return None


def outcome_problem(expect, m):
    """Does response m (one object) match outcome class `expect`?"""
    if isinstance(expect, int) and not isinstance(expect, bool):
        if "error" not in m:
            return "expected error %d, got a result" % expect
        if m["error"]["code"] != expect:
            return "expected error %d, got %d (%s)" % (expect, m["error"]["code"],
                                                       m["error"]["message"][:200])
        return None
    if expect in ("result", "isError"):
        if "result" not in m:
            return "expected %s, got error %d (%s)" % (expect, m["error"]["code"],
                                                       m["error"]["message"][:200])
        is_error = m["result"].get("isError") is True
        if is_error != (expect == "isError"):
            text = json.dumps(m["result"])[:300]
            return "expected %s, got %s: %s" % (expect, "isError" if is_error else "result", text)
        return None
    return "unknown outcome class %r" % (expect,)


def case_bytes(case):
    if "send" in case:
        return json.dumps(case["send"], separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8", "surrogatepass") + b"\n"
    if "send_raw" in case:
        data = case["send_raw"].encode("utf-8", "surrogatepass")
    elif "send_hex" in case:
        data = bytes.fromhex(case["send_hex"])
    elif "send_gen" in case:
        g = case["send_gen"]
        if g[0] == "repeat":
            _, prefix, text, n, suffix = g
            data = (prefix + text * n + suffix + "\n").encode("utf-8", "surrogatepass")
        elif g[0] == "nest":
            _, prefix, opening, closing, n, suffix = g
            data = (prefix + opening * n + closing * n + suffix + "\n").encode()
        else:
            raise Failure("unknown generator %r" % g[0])
    else:
        raise Failure("a case with nothing to send: %s" % json.dumps(case)[:200])
    if not data.endswith(b"\n"):
        raise Failure("raw case does not end with a newline: %r" % data[-40:])
    return data


def expected_id(case):
    if "id_gen" in case:
        return case["id_gen"][0] * case["id_gen"][1]
    if "id" in case:
        return case["id"]
    m = case.get("send")
    if isinstance(m, dict) and is_id(m.get("id")):
        return m["id"]
    return None


class Session:
    def __init__(self, grove, tmp):
        self.repo = G.make_repo(os.path.join(tmp, "repo"), G.clean_env(tmp),
                                origin=os.path.join(tmp, "origin.git"))
        self.server = G.Server(grove, self.repo, G.clean_env(tmp, GROVE_LOG="error"),
                               read_timeout=20.0, stderr_path=os.path.join(tmp, "stderr.log"))
        self.pings = 0

    def exchange(self, data):
        """Sends data, then a ping; returns the parsed lines that came before the ping's answer."""
        self.pings += 1
        ping_id = "corpus-ping-%d" % self.pings
        self.server.write(data)
        self.server.write(b'{"jsonrpc":"2.0","id":"%s","method":"ping"}\n' % ping_id.encode())
        out = []
        while True:
            raw = self.server.read_line()
            try:
                m = strict_loads(raw)
            except (UnicodeError, ValueError) as e:
                raise Failure("stdout line is not valid JSON (%s): %r" % (e, raw[:300]))
            if isinstance(m, dict) and m.get("id") == ping_id:
                if m != {"jsonrpc": "2.0", "id": ping_id, "result": {}}:
                    raise Failure("bad answer to the ping: %r" % raw[:300])
                return out
            out.append(m)

    def close(self):
        try:
            code = self.server.wait_exit()
            if code != 0:
                raise Failure("exit code %s at end of input" % code)
        finally:
            self.server.kill()


def check_output(out, expect, want_id):
    """The messages one case produced against its outcome class."""
    responses = []
    for m in out:
        if isinstance(m, dict) and "method" in m:
            if m.get("method") != "notifications/progress" or "id" in m or m.get(
                    "jsonrpc") != "2.0":
                return "unexpected message %s" % json.dumps(m)[:300]
            if responses:
                return "a notification after the response"
            continue
        if isinstance(m, list):
            if not m:
                return "an empty batch response"
            for x in m:
                p = response_problem(x)
                if p:
                    return "batch element: %s: %s" % (p, json.dumps(x)[:300])
        else:
            p = response_problem(m)
            if p:
                return "%s: %s" % (p, json.dumps(m)[:300])
        responses.append(m)
    if len(responses) > 1:
        return "%d responses to one message" % len(responses)
    if expect == "any":
        return None
    if expect == "none":
        return "expected no output, got %s" % json.dumps(out)[:300] if out else None
    if not responses:
        return "expected %s, got no response" % json.dumps(expect)
    r = responses[0]
    if isinstance(expect, dict) and "batch" in expect:
        if not isinstance(r, list):
            return "expected a batch response, got %s" % json.dumps(r)[:300]
        b = expect["batch"]
        each = [b["each"]] * b["n"] if isinstance(b, dict) else b
        if len(each) != len(r):
            return "batch of %d responses, expected %d" % (len(r), len(each))
        for i, (e, x) in enumerate(zip(each, r)):
            p = outcome_problem(e, x)
            if p:
                return "batch element %d: %s" % (i, p)
        return None
    if isinstance(r, list):
        return "expected %s, got a batch response %s" % (json.dumps(expect), json.dumps(r)[:300])
    p = outcome_problem(expect, r)
    if p:
        return p
    if not same(r["id"], want_id):
        return "response id %s, expected %s" % (json.dumps(r["id"]), json.dumps(want_id))
    return None


def run_cases(grove, name, cases):
    tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-corpus-"))
    failures = []
    session = None
    try:
        session = Session(grove, tmp)
        for n, case in cases:
            label = "%s:%s%s" % (name, n, " (%s)" % case["name"] if "name" in case else "")
            try:
                data = case_bytes(case)
                out = session.exchange(data)
            except (AssertionError, OSError) as e:  # read timeout, closed stdout, broken pipe
                failures.append("%s: %s (server exit status %s)" % (
                    label, e, session.server.proc.poll()))
                break
            except Failure as e:
                failures.append("%s: %s" % (label, e))
                break
            p = check_output(out, case["expect"], expected_id(case))
            if p:
                failures.append("%s: %s\n    sent: %r" % (label, p, data[:300]))
        try:
            session.close()
        except (AssertionError, Failure, OSError) as e:
            failures.append("%s: end: %s" % (name, e))
        session = None
        log = os.path.join(tmp, "stderr.log")
        if failures and os.path.exists(log):
            failures.append("server stderr (tail):\n" + open(log, errors="replace").read()[-2000:])
    finally:
        if session is not None:
            session.server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return failures


def load_corpus(path):
    cases = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            case = json.loads(line)
            if "comment" in case:
                continue
            if "expect" not in case:
                raise SystemExit("%s:%d: a case without expect" % (path, n))
            cases.append((n, case))
    return cases


def sources(transcripts):
    """Every message the transcripts send, as bytes without the newline."""
    out = []
    for name in sorted(os.listdir(transcripts)):
        if not name.endswith(".jsonl"):
            continue
        for line in open(os.path.join(transcripts, name), encoding="utf-8"):
            if not line.strip():
                continue
            step = json.loads(line)
            if "send" in step:
                out.append(json.dumps(step["send"], separators=(",", ":"),
                                      ensure_ascii=False).encode("utf-8", "surrogatepass"))
            elif "send_raw" in step:
                out.extend(l for l in step["send_raw"].encode("utf-8", "surrogatepass")
                           .split(b"\n") if l.strip())
    return out


def mutate(rng, msgs):
    """One mutated message: a few random edits of a fixture message (no newline inside)."""
    data = bytearray(rng.choice(msgs))
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:  # flip a bit
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1 and data:  # replace a byte
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == 2:  # truncate
            del data[pos:]
        elif op == 3:  # splice with another message
            other = rng.choice(msgs)
            data = data[:pos] + other[rng.randrange(len(other) + 1):]
        elif op == 4:  # insert interesting bytes
            data[pos:pos] = rng.choice([b"\x00", b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"{",
                                        b"[", b"\"", b"\\", b"\\u0000", b"\\ud800", b"1e400",
                                        b"-0", b"null", b",", b"\r", b"\xef\xbb\xbf"])
        elif op == 5 and data:  # delete a range
            del data[pos:pos + rng.randint(1, 16)]
        elif op == 6:  # duplicate a range
            data[pos:pos] = data[pos:pos + rng.randint(1, 32)]
    return bytes(data).replace(b"\n", b" ")


def main():
    argv = sys.argv[1:]
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    grove = os.path.realpath(argv.pop(0))
    failures = []
    total = 0
    if argv[0] == "--mutations":
        count, seed, transcripts = int(argv[1]), int(argv[3]), argv[4]
        rng = random.Random(seed)
        msgs = sources(transcripts)
        init = {"send": {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "corpus", "version": "1"}}}, "expect": "result"}
        cases = [(0, init)] + [(i + 1, {"send_hex": (mutate(rng, msgs) + b"\n").hex(),
                                        "expect": "any"}) for i in range(count)]
        failures += run_cases(grove, "mutations(seed %d)" % seed, cases)
        total = count
        print("%d mutations of %d fixture messages (seed %d)" % (count, len(msgs), seed))
    else:
        for path in argv:
            cases = load_corpus(path)
            failures += run_cases(grove, os.path.basename(path), cases)
            total += len(cases)
            print("%s: %d cases" % (os.path.basename(path), len(cases)))
    if failures:
        print("FAIL\n" + "\n".join(failures))
        return 1
    print("ok: %d cases, every stdout line valid JSON-RPC, the server answered a ping after each"
          % total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
