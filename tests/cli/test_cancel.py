#!/usr/bin/python3
"""Cancellation (contract §8) through the real binary, without a kill: a tools/call of
spawn_work_instance (on a generated repository of a few thousand files), land_instance or
create_pull_request is cancelled with notifications/cancelled after each progress step; the
server sends no response to it, answers the next request, and nothing of it is left: no
worktree, branch, row, port block or moved ref. GROVE_TEST_CANCEL_WAIT_MS makes each safe point
wait for the cancel, so that it lands at the step the test chose (no timing).

usage: test_cancel.py GROVE
"""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import grovetest as G  # noqa: E402

GROVE = None
FILES = 3000


class Cancel(unittest.TestCase):
    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-cancel-"))
        self.repo = os.path.join(self.tmp, "repo")
        self.env = G.clean_env(self.tmp, GROVE_LOG="error", GROVE_TEST_CANCEL_WAIT_MS="1500")
        files = {"d%02d/f%04d.txt" % (i % 50, i): "line %d\n" % i * 8 for i in range(FILES)}
        G.make_repo(self.repo, self.env, files=files)
        self.db = G.db_path(self.repo)
        self.s = G.Server(GROVE, self.repo, self.env)
        self.s.initialize()

    def tearDown(self):
        self.s.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def git(self, *args):
        return G.git(self.env, self.repo, *args).strip()

    def nothing_left(self, rows_before, branches_before):
        wt = self.repo + ".worktrees"
        left = sorted(os.listdir(wt)) if os.path.isdir(wt) else []
        self.assertEqual(G.sql(self.db, "SELECT count(*) FROM grove_instances")[0][0],
                         rows_before)
        self.assertEqual(G.sql(self.db, "SELECT count(*) FROM grove_port_blocks")[0][0],
                         rows_before)
        self.assertEqual(self.git("branch", "--format=%(refname:short)"), branches_before)
        self.assertEqual(len(left), rows_before, left)
        self.assertNotIn("prunable", self.git("worktree", "list", "--porcelain"))

    def cancel_after(self, tool, args, step):
        """Calls tool with a progress token, cancels it once progress `step` arrives; returns
        the steps seen. The call must get no response: the next message is the ping's."""
        rid = self.s.send_request("tools/call", {"name": tool, "arguments": args,
                                                 "_meta": {"progressToken": "t%d" % step}})
        seen = []
        while True:
            m = self.s.read_message()
            self.assertIsNotNone(m)
            self.assertEqual(m.get("method"), "notifications/progress", m)
            seen.append(m["params"]["progress"])
            if m["params"]["progress"] >= step:
                break
        self.s.notify("notifications/cancelled", {"requestId": rid, "reason": "test"})
        pid = self.s.send_request("ping")
        after = []
        while True:
            m = self.s.read_message()
            if m.get("method") == "notifications/progress":
                after.append(m["params"]["progress"])  # steps before its next safe point
                continue
            self.assertEqual(m.get("id"), pid, "a response to the cancelled call: %r" % m)
            break
        return seen, after

    def test_spawn_cancelled_at_each_step(self):
        branches = self.git("branch", "--format=%(refname:short)")
        # the safe points: after "started" (1), after the worktree is made ("checked out",
        # 3), after setup (4): a cancel seen at step k stops before the step after its safe point
        for step, allowed in ((1, []), (2, [3]), (3, []), (4, [])):
            seen, after = self.cancel_after("spawn_work_instance",
                                            {"prompt": "p", "launch": False}, step)
            self.assertEqual(seen[-1], step)
            self.assertEqual(after, allowed)
            self.nothing_left(0, branches)
        # the events say so
        ev = self.s.ok("query_events", tool="spawn_work_instance")["events"]
        self.assertEqual(len(ev), 4)
        self.assertTrue(all(not e["success"] and "cancelled" in e["error_message"] for e in ev))
        # uncancelled, the same call works, and a cancel that comes after the response is
        # ignored
        r = self.s.request("tools/call", {"name": "spawn_work_instance",
                                          "arguments": {"prompt": "p", "launch": False}})
        iid = r["result"]["structuredContent"]["instance"]["id"]
        self.s.notify("notifications/cancelled", {"requestId": r["id"]})
        self.assertEqual(self.s.ok("get_instance", instance_id=iid)["instance"]["status"],
                         "running")

    def test_land_cancelled_moves_nothing(self):
        inst = self.s.ok("spawn_work_instance", prompt="p", launch=False)["instance"]
        with open(os.path.join(inst["worktree_path"], "new.txt"), "w") as f:
            f.write("new\n")
        G.git(self.env, inst["worktree_path"], "add", "new.txt")
        G.git(self.env, inst["worktree_path"], "-c", "user.name=t", "-c", "user.email=t@t",
              "commit", "-qm", "new")
        main = self.git("rev-parse", "main")
        for step in (1, 2):
            seen, after = self.cancel_after("land_instance", {"instance_id": inst["id"]}, step)
            self.assertEqual(after, [])
            self.assertEqual(self.git("rev-parse", "main"), main)
            self.assertEqual(self.git("status", "--porcelain"), "")
            self.assertIsNone(self.s.ok("get_instance", instance_id=inst["id"])
                              ["instance"]["landed_commit"])
        r = self.s.ok("land_instance", instance_id=inst["id"])
        self.assertTrue(r["landed"])


if __name__ == "__main__":
    GROVE = os.path.realpath(sys.argv.pop(1))
    unittest.main(verbosity=2)
