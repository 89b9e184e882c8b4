#!/usr/bin/python3
"""The bytes of a tool's success response (issue 17): the server serialises a result's
structuredContent once, for its text block, and puts that same text in as the value of
structuredContent (mcp/server.c dump_reusing_text()). Every response line must still be
exactly the compact serialisation of the whole message, members in the order they were
made, in every protocol era and in a group commit of pipelined calls.

usage: test_response_bytes.py GROVE
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import grovetest as G  # noqa: E402

GROVE = None
MODERN_META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
               "io.modelcontextprotocol/clientCapabilities": {}}
# Strings that need escaping, in the text block twice over; no real numbers and no escapes
# with hex letters, which Python and jansson would write differently.
DATA = {"quote": "say \"hi\"", "slash": "a/b\\c", "nl": "line\nnext\ttab\u0001",
        "utf8": "caf\u00e9 \u2603", "n": [1, -2, {"deep": None, "t": True}]}


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class ResponseBytes(unittest.TestCase):
    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-bytes-"))
        self.repo = os.path.join(self.tmp, "repo")
        self.env = G.clean_env(self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "xdg"),
                               GROVE_LOG="error")
        G.make_repo(self.repo, self.env, files={"README.md": "hi\n"})
        p = subprocess.run([GROVE, "init"], cwd=self.repo, env=self.env, capture_output=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        p, out = G.serve_once(GROVE, self.repo, self.env, [G.initialize_message()] + G.tool_calls(
            [("spawn_work_instance", {"launch": False, "prompt": "bytes"})]))
        self.iid = out[1]["result"]["structuredContent"]["instance"]["id"]

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def serve(self, messages):
        data = "".join(json.dumps(m) + "\n" for m in messages).encode()
        p = subprocess.run([GROVE, "serve"], cwd=self.repo, env=self.env, input=data,
                           capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode("utf-8").splitlines()

    def check_line(self, line, order):
        """line is the compact form of its message, and its result's members come in `order`;
        returns the message."""
        msg = json.loads(line)  # dicts keep the order of the line
        self.assertEqual(line, compact(msg))
        self.assertEqual(list(msg), ["jsonrpc", "id", "result"])
        res = msg["result"]
        self.assertEqual(list(res), order, line)
        self.assertFalse(res["isError"], line)
        self.assertEqual(res["content"][0]["text"], compact(res["structuredContent"]))
        return msg

    def checkpoint(self, rid, meta=None):
        params = {"name": "log_checkpoint",
                  "arguments": {"instance_id": self.iid, "phase": "p", "data": DATA,
                                "message": "m \"q\" \u00e9"}}
        if meta:
            params["_meta"] = meta
        return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}

    def test_pipelined_calls_in_one_group(self):
        msgs = [G.initialize_message(), {"jsonrpc": "2.0", "method": "notifications/initialized"}]
        msgs += [self.checkpoint(i) for i in range(1, 9)]
        msgs += G.tool_calls([("get_checkpoint", {"instance_id": self.iid})], first_id=9)
        lines = self.serve(msgs)
        self.assertEqual(len(lines), 10)
        for i, line in enumerate(lines[1:]):
            msg = self.check_line(line, ["content", "isError", "structuredContent"])
            self.assertEqual(msg["id"], i + 1)
            self.assertEqual(msg["result"]["structuredContent"]["checkpoint"]["data"], DATA)

    def test_modern_era_members_after_structured_content(self):
        """2026-07-28 adds resultType and _meta after structuredContent: they stay after it."""
        lines = self.serve([self.checkpoint(1, MODERN_META), self.checkpoint(2, MODERN_META)])
        self.assertEqual(len(lines), 2)
        for line in lines:
            self.check_line(line, ["content", "isError", "structuredContent", "resultType",
                                   "_meta"])

    def test_before_structured_content(self):
        """2025-03-26 has no structuredContent: the text block alone, in a batch too."""
        init = G.initialize_message()
        init["params"]["protocolVersion"] = "2025-03-26"
        lines = self.serve([init, self.checkpoint(1), [self.checkpoint(2), self.checkpoint(3)]])
        self.assertEqual(len(lines), 3)
        msg = json.loads(lines[1])
        self.assertEqual(lines[1], compact(msg))
        self.assertEqual(list(msg["result"]), ["content", "isError"])
        batch = json.loads(lines[2])
        self.assertEqual(lines[2], compact(batch))
        self.assertEqual([m["id"] for m in batch], [2, 3])


if __name__ == "__main__":
    GROVE = os.path.realpath(sys.argv.pop(1))
    unittest.main()
