#!/usr/bin/python3
"""`grove call TOOL [ARGS_JSON | -]` (CONTRACT §8): one tool from a shell script through the
same dispatch as `grove serve`, with the real binary.

usage: test_call.py GROVE
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


class Call(unittest.TestCase):
    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-call-"))
        self.repo = os.path.join(self.tmp, "repo")
        self.env = G.clean_env(self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "xdg"),
                               GROVE_LOG="error")
        G.make_repo(self.repo, self.env, files={"README.md": "hi\n"})

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def call(self, *args, stdin=b"", env=None, cwd=None):
        return subprocess.run([GROVE, "call", *args], cwd=cwd or self.repo, input=stdin,
                              capture_output=True, env=env or self.env, timeout=60)

    def ok(self, *args, **kw):
        p = self.call(*args, **kw)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.count(b"\n"), 1, p.stdout)
        return json.loads(p.stdout)

    def test_repository_from_claude_project_dir(self):
        """--repo > GROVE_REPO > CLAUDE_PROJECT_DIR > the working directory (contract §8)."""
        other = os.path.join(self.tmp, "other")
        G.make_repo(other, self.env, files={"o.txt": "o\n"})
        outside = os.path.join(self.tmp, "outside")
        os.makedirs(outside)
        env = dict(self.env, CLAUDE_PROJECT_DIR=self.repo)
        r = self.call("spawn_work_instance", '{"prompt": "p"}', env=env, cwd=outside)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(json.loads(r.stdout)["instance"]["worktree_path"].startswith(
            self.repo + ".worktrees/"))
        # GROVE_REPO wins over it
        r = self.call("spawn_work_instance", '{"prompt": "p"}',
                      env=dict(env, GROVE_REPO=other), cwd=outside)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(json.loads(r.stdout)["instance"]["worktree_path"].startswith(
            other + ".worktrees/"))

    def test_list(self):
        p = self.call("--list")
        self.assertEqual(p.returncode, 0)
        names = [line.split()[0] for line in p.stdout.decode().splitlines()]
        for tool in ("spawn_work_instance", "log_checkpoint", "query_events", "terminate_instance"):
            self.assertIn(tool, names)
        self.assertTrue(all(len(line.split(None, 1)) == 2 for line in p.stdout.decode().splitlines()))

    def test_success_stdin_and_the_event(self):
        inst = self.ok("spawn_work_instance", '{"launch": false}')["instance"]
        self.assertEqual(inst["id"], "work-a1")
        cp = self.ok("log_checkpoint", "-",
                     stdin=json.dumps({"instance_id": "work-a1", "phase": "plan"}).encode())
        self.assertEqual(cp["checkpoint"]["phase"], "plan")
        got = self.ok("get_checkpoint", '{"instance_id": "work-a1"}')
        self.assertEqual(got["checkpoint"]["sequence"], 1)
        # Recorded like a served call, arguments included.
        rows = G.sql(G.db_path(self.repo), "SELECT tool_name, success, metadata FROM"
                     " grove_mcp_events ORDER BY id")
        self.assertEqual([(r[0], r[1]) for r in rows],
                         [("spawn_work_instance", 1), ("log_checkpoint", 1), ("get_checkpoint", 1)])
        self.assertEqual(json.loads(rows[1][2]), {"instance_id": "work-a1", "phase": "plan"})

    def test_tool_failure_exits_1_with_its_text(self):
        p = self.call("get_instance", '{"instance_id": "work-a9"}')
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, b"")
        self.assertIn(b"instance 'work-a9' not found", p.stderr)

    def test_usage_errors_exit_2(self):
        for args, words in ((["nope"], b"unknown tool 'nope'"),
                            (["query_instances", "[1]"], b"must be a JSON object"),
                            (["query_instances", "{"], b"not JSON"),
                            (["query_instances", '{"a": 1, "a": 2}'], b"not JSON"),
                            (["query_instances", '{"limit": 9999}'], b"invalid arguments"),
                            (["log_checkpoint", "{}"], b"missing required property 'phase'"),
                            ([], b"usage: grove call"),
                            (["query_instances", "{}", "extra"], b"usage: grove call"),
                            (["--bogus"], b"--bogus")):
            p = self.call(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertEqual(p.stdout, b"", args)
            self.assertIn(words, p.stderr, args)
        # A refused call is recorded as one, like a served one.
        rows = G.sql(G.db_path(self.repo), "SELECT tool_name, success FROM grove_mcp_events")
        self.assertIn(("log_checkpoint", 0), rows)

    def test_caller_rights_apply(self):
        self.ok("spawn_work_instance", '{"launch": false}')
        self.ok("spawn_work_instance", '{"launch": false}')
        env = dict(self.env, GROVE_INSTANCE_ID="work-a1")
        p = self.call("log_checkpoint", '{"instance_id": "work-a2", "phase": "x"}', env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"refused by the caller rights", p.stderr)
        # From inside work-a1's worktree too.
        wt = os.path.join(self.tmp, "repo.worktrees", "work-a1")
        p = self.call("terminate_instance", '{"instance_id": "work-a2", "force": true}', cwd=wt)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"refused by the caller rights", p.stderr)
        self.ok("log_checkpoint", '{"phase": "mine"}', cwd=wt)

    def test_progress_on_stderr(self):
        self.ok("spawn_work_instance", '{"launch": false}')
        p = self.call("terminate_instance", '{"instance_id": "work-a1", "remove_worktree": true}',
                      "--progress")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stderr.decode().splitlines()
        self.assertEqual(lines[0], "grove call terminate_instance: 1/4 started")
        self.assertEqual(lines[-1], "grove call terminate_instance: 4/4 done")
        self.assertTrue(json.loads(p.stdout)["worktree_removed"])


if __name__ == "__main__":
    GROVE = os.path.realpath(sys.argv.pop(1))
    unittest.main(verbosity=2)
