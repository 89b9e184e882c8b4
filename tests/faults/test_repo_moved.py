#!/usr/bin/python3
"""Fault: the repository is moved away (mv repo repo-moved) while `grove serve` runs.

Checks: every tool fails with a message that says the repository is gone and
names the missing path; nothing is re-created at the old path and nothing is
changed in the moved repository or the worktrees; ping still answers and the
process lives. When the repository is moved back, the same server works
again and has lost nothing.

usage: test_repo_moved.py GROVE
"""
import os

import faultlib

CALLS = (
    ("query_instances", {}),
    ("get_instance", {"instance_id": "$ID"}),
    ("get_checkpoint", {"instance_id": "$ID"}),
    ("query_events", {}),
    ("log_checkpoint", {"instance_id": "$ID", "phase": "moved"}),
    ("spawn_work_instance", {"issue": 32, "prompt": "p"}),
    ("fork_instance", {"instance_id": "$ID", "prompt": "p"}),
    ("spawn_review_instance", {"work_instance_id": "$ID"}),
    ("send_feedback", {"instance_id": "$ID", "feedback": "f", "feedback_type": "suggestions"}),
    ("create_pull_request", {"instance_id": "$ID", "title": "t"}),
    ("terminate_instance", {"instance_id": "$ID", "remove_worktree": True, "force": True}),
)


class RepoMoved(faultlib.FaultCase):
    def test_moved_away_and_back(self):
        s = self.serve()
        inst = s.ok("spawn_work_instance", issue=31, prompt="work")["instance"]
        s.ok("log_checkpoint", instance_id=inst["id"], phase="plan")
        moved = self.repo + "-moved"
        repo_before = faultlib.snapshot(self.repo)
        base_before = faultlib.snapshot(self.base)
        before = self.outside_state()
        os.rename(self.repo, moved)

        for name, args in CALLS:
            args = {k: (inst["id"] if v == "$ID" else v) for k, v in args.items()}
            text = s.error(name, **args)
            self.assert_mentions(text, "repository is gone", self.repo)
        s.ping()
        s.alive()
        self.assertFalse(os.path.lexists(self.repo), "grove re-created the old repository path")
        self.assertEqual(faultlib.snapshot(moved), repo_before)
        self.assertEqual(faultlib.snapshot(self.base), base_before)

        os.rename(moved, self.repo)
        cp = s.ok("log_checkpoint", instance_id=inst["id"], phase="back")["checkpoint"]
        self.assertEqual(cp["sequence"], 2)
        self.assertEqual([i["id"] for i in s.ok("query_instances")["instances"]], [inst["id"]])
        self.assert_serving(s)
        s.close()
        self.assert_outside_unchanged(before)

    def test_moved_after_pipelined_calls(self):
        """Pipelined calls share a group commit, in which the repository is checked once; the
        next call after the group checks again, and so does the first call of a group."""
        s = self.serve()
        inst = s.ok("spawn_work_instance", issue=33, prompt="work")["instance"]

        def pipelined(n, phase):
            data = b""
            rids = []
            for i in range(n):
                rid, line = s.request_bytes("tools/call", {"name": "log_checkpoint", "arguments": {
                    "instance_id": inst["id"], "phase": phase}})
                rids.append(rid)
                data += line
            s.write(data)
            return [s.response(rid)["result"] for rid in rids]

        self.assertTrue(all(not r.get("isError") for r in pipelined(40, "before")))
        moved = self.repo + "-moved"
        os.rename(self.repo, moved)
        self.assert_mentions(s.error("log_checkpoint", instance_id=inst["id"], phase="single"),
                             "repository is gone", self.repo)
        results = pipelined(40, "moved")
        self.assertTrue(results[0].get("isError"))
        self.assert_mentions(results[0]["content"][0]["text"], "repository is gone", self.repo)
        os.rename(moved, self.repo)
        self.assertTrue(all(not r.get("isError") for r in pipelined(40, "back")))
        cps = s.ok("get_checkpoint", instance_id=inst["id"])["checkpoint"]
        self.assertEqual(cps["phase"], "back")
        s.close()


if __name__ == "__main__":
    faultlib.run_main()
