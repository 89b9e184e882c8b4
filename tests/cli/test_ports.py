#!/usr/bin/python3
"""Port blocks (CONTRACT §6): each running instance holds its own block of ports, handed to
its setup command and agent as GROVE_PORT / GROVE_PORTS; through the real binary.

usage: test_ports.py GROVE
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import grovetest as G  # noqa: E402

GROVE = None


class Ports(unittest.TestCase):
    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-ports-"))
        self.repo = os.path.join(self.tmp, "repo")
        self.sock = "grove-ports-test-%d" % os.getpid()
        self.env = G.clean_env(self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "xdg"),
                               GROVE_LOG="error", GROVE_TMUX_SOCKET=self.sock)
        G.make_repo(self.repo, self.env, files={"README.md": "hi\n", ".gitignore": ".ports\n"})
        self.config("ports.range", "31000-31029")
        self.config("ports.per_instance", "10")

    def tearDown(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def config(self, key, value):
        p = subprocess.run([GROVE, "config", "set", key, value], cwd=self.repo, env=self.env,
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)

    def server(self, env=None):
        s = G.Server(GROVE, self.repo, env or self.env)
        s.initialize()
        return s

    def ports(self, inst):
        return (inst["ports"]["first"], inst["ports"]["count"]) if inst["ports"] else None

    def test_blocks_unique_exhausted_and_freed(self):
        s = self.server()
        try:
            made = [s.ok("spawn_work_instance", launch=False)["instance"] for _ in range(3)]
            self.assertEqual([self.ports(i) for i in made], [(31000, 10), (31010, 10), (31020, 10)])
            # The range is full: a clear refusal, and nothing is made.
            before = G.sql(G.db_path(self.repo), "SELECT count(*) FROM grove_instances")[0][0]
            text = s.error("spawn_work_instance", launch=False)
            self.assertIn("no free block of 10 ports in ports.range 31000-31029", text)
            self.assertIn("3 running instances", text)
            self.assertEqual(G.sql(G.db_path(self.repo), "SELECT count(*) FROM grove_instances")[0][0],
                             before)
            self.assertEqual(sorted(os.listdir(os.path.join(self.tmp, "repo.worktrees"))),
                             sorted(i["id"] for i in made))
            # Terminating frees the block: the next instance gets it.
            gone = s.ok("terminate_instance", instance_id=made[1]["id"])["instance"]
            self.assertIsNone(gone["ports"])
            again = s.ok("spawn_work_instance", launch=False)["instance"]
            self.assertEqual(self.ports(again), (31010, 10))
            got = s.ok("get_instance", instance_id=made[0]["id"])["instance"]
            self.assertEqual(self.ports(got), (31000, 10))
        finally:
            s.close()

    def test_setup_command_and_agent_get_their_ports(self):
        self.config("worktrees.setup_command",
                    json.dumps(["sh", "-c", 'echo "$GROVE_PORT $GROVE_PORTS" > .ports']))
        env = dict(self.env)
        env["GROVE_AGENT_COMMAND"] = json.dumps(
            ["sh", "-c", 'echo "$GROVE_PORT $GROVE_PORTS" > .agent-ports; exec sleep 60'])
        s = self.server(env)
        try:
            first = s.ok("spawn_work_instance", launch=False)["instance"]
            second = s.ok("spawn_work_instance")["instance"]
            self.assertEqual(self.ports(second), (31010, 10))
            with open(os.path.join(first["worktree_path"], ".ports")) as f:
                self.assertEqual(f.read(), "31000 31000-31009\n")
            with open(os.path.join(second["worktree_path"], ".ports")) as f:
                self.assertEqual(f.read(), "31010 31010-31019\n")
            path = os.path.join(second["worktree_path"], ".agent-ports")
            for _ in range(200):
                if os.path.exists(path) and os.path.getsize(path):
                    break
                time.sleep(0.05)
            with open(path) as f:
                self.assertEqual(f.read(), "31010 31010-31019\n")
            s.ok("terminate_instance", instance_id=second["id"])
        finally:
            s.close()

    def test_concurrent_spawns_never_share_a_block(self):
        self.config("ports.range", "31000-31079")  # exactly 8 blocks
        servers = [self.server() for _ in range(8)]
        results, errors = [None] * 8, []

        def spawn(k):
            try:
                results[k] = servers[k].ok("spawn_work_instance", launch=False)["instance"]
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=spawn, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for s in servers:
            s.close()
        self.assertEqual(errors, [])
        firsts = sorted(self.ports(r)[0] for r in results)
        self.assertEqual(firsts, list(range(31000, 31080, 10)))

    def test_bad_configuration_is_refused_before_anything_is_made(self):
        for key, value, words in (("ports.range", "abc", "is not a range of ports"),
                                  ("ports.range", "40000-30000", "is not a range of ports"),
                                  ("ports.range", "1-70000", "is not a range of ports"),
                                  ("ports.per_instance", "0", "is not a number from 1 to 1000"),
                                  ("ports.per_instance", "50", "fewer than ports.per_instance")):
            self.config("ports.range", "31000-31029")
            self.config("ports.per_instance", "10")
            self.config(key, value)
            s = self.server()
            try:
                text = s.error("spawn_work_instance", launch=False)
            finally:
                s.close()
            self.assertIn(words, text, (key, value))
            self.assertEqual(G.sql(G.db_path(self.repo), "SELECT count(*) FROM grove_instances")[0][0],
                             0)
            self.assertFalse(os.path.exists(os.path.join(self.tmp, "repo.worktrees")) and
                             os.listdir(os.path.join(self.tmp, "repo.worktrees")))
            self.assertEqual(G.git(self.env, self.repo, "branch", "--list", "grove/*"), "")


if __name__ == "__main__":
    GROVE = os.path.realpath(sys.argv.pop(1))
    unittest.main(verbosity=2)
