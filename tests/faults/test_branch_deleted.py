#!/usr/bin/python3
"""Fault: an instance's branch is deleted behind grove's back (`git update-ref -d`;
`git branch -D` refuses a branch checked out in a worktree).

Checks: fork_instance, spawn_review_instance and create_pull_request fail
with a message saying the branch no longer exists and naming it, and make
nothing (no worktree, no branch, nothing pushed to origin); get_instance and
log_checkpoint still answer (the worktree's HEAD is unborn: git null,
commit_sha null); terminate_instance refuses to remove the worktree without
force (grove cannot tell what it would lose) and removes it, with git's
entry, with force. Nothing outside the worktrees base is touched; ping and
reads still answer.

usage: test_branch_deleted.py GROVE
"""
import os

import faultlib


class BranchDeleted(faultlib.FaultCase):
    def test_branch_deleted(self):
        s = self.serve()
        inst = s.ok("spawn_work_instance", issue=21, prompt="work")["instance"]
        faultlib.sh("echo change > new.txt && git add new.txt && git commit -qm work",
                    inst["worktree_path"], self.env)
        self.git("update-ref", "-d", "refs/heads/" + inst["branch_name"])
        branches = self.git("branch", "--list")
        wts = sorted(os.listdir(self.base))
        before = self.outside_state()

        for name, args in (("fork_instance", {"instance_id": inst["id"], "prompt": "p"}),
                           ("spawn_review_instance", {"work_instance_id": inst["id"]}),
                           ("create_pull_request", {"instance_id": inst["id"], "title": "t"})):
            text = s.error(name, **args)
            self.assert_mentions(text, "no longer exists", inst["branch_name"])
        self.assertEqual(self.git("branch", "--list"), branches)
        self.assertEqual(sorted(os.listdir(self.base)), wts)

        got = s.ok("get_instance", instance_id=inst["id"])
        self.assertIsNone(got["git"])
        cp = s.ok("log_checkpoint", instance_id=inst["id"], phase="orphaned")["checkpoint"]
        self.assertIsNone(cp["commit_sha"])
        self.assert_serving(s)

        text = s.error("terminate_instance", instance_id=inst["id"], remove_worktree=True)
        self.assert_mentions(text, "no longer exists", inst["branch_name"], "force")
        self.assertTrue(os.path.isdir(inst["worktree_path"]))
        self.assertEqual(s.ok("get_instance", instance_id=inst["id"])["instance"]["status"],
                         "running")
        res = s.ok("terminate_instance", instance_id=inst["id"], remove_worktree=True, force=True)
        self.assertTrue(res["worktree_removed"])
        self.assertFalse(os.path.lexists(inst["worktree_path"]))
        self.assertNotIn(inst["worktree_path"], self.git("worktree", "list", "--porcelain"))
        self.assert_serving(s)
        s.close()
        self.assert_outside_unchanged(before)


if __name__ == "__main__":
    faultlib.run_main()
