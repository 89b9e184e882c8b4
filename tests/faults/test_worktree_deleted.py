#!/usr/bin/python3
"""Fault: the user deletes an instance's worktree folder (rm -rf) behind grove's back.

Checks: get_instance answers with `git: null`; log_checkpoint still records,
with `commit_sha: null`; create_pull_request says the worktree is gone;
terminate_instance with remove_worktree cleans up git's own entry
(<common dir>/worktrees/<id>, so `git worktree list` no longer shows it)
and the branch when that loses nothing, and refuses — naming the commits —
when the branch holds commits that exist nowhere else, unless force.
Nothing outside the worktrees base is touched; ping and reads still answer.

usage: test_worktree_deleted.py GROVE
"""
import os
import shutil

import faultlib


class WorktreeDeleted(faultlib.FaultCase):
    def admin(self, inst_id):
        return os.path.join(self.repo, ".git", "worktrees", inst_id)

    def test_deleted_folder(self):
        s = self.serve()
        inst = s.ok("spawn_work_instance", issue=11, prompt="work")["instance"]
        before = self.outside_state()
        shutil.rmtree(inst["worktree_path"])

        got = s.ok("get_instance", instance_id=inst["id"])
        self.assertIsNone(got["git"])
        self.assertEqual(got["instance"]["status"], "running")
        cp = s.ok("log_checkpoint", instance_id=inst["id"], phase="after-rm")["checkpoint"]
        self.assertIsNone(cp["commit_sha"])
        self.assertEqual(cp["sequence"], 1)
        text = s.error("create_pull_request", instance_id=inst["id"], title="nothing")
        self.assert_mentions(text, "gone", inst["worktree_path"])
        self.assert_serving(s)

        self.assertIn(inst["worktree_path"], self.git("worktree", "list", "--porcelain"))
        res = s.ok("terminate_instance", instance_id=inst["id"], remove_worktree=True)
        self.assertTrue(res["worktree_removed"])
        self.assertEqual(res["instance"]["status"], "terminated")
        self.assertNotIn(inst["worktree_path"], self.git("worktree", "list", "--porcelain"))
        self.assertFalse(os.path.exists(self.admin(inst["id"])))
        self.assertEqual(self.git("branch", "--list", inst["branch_name"]), "")
        self.assertFalse(os.path.lexists(inst["worktree_path"]))
        self.assert_serving(s)
        s.close()
        self.assert_outside_unchanged(before)

    def test_deleted_folder_with_unpushed_commits(self):
        s = self.serve()
        inst = s.ok("spawn_work_instance", issue=12, prompt="work")["instance"]
        faultlib.sh("echo change > new.txt && git add new.txt && git commit -qm work",
                    inst["worktree_path"], self.env)
        head = self.git("rev-parse", inst["branch_name"]).strip()
        before = self.outside_state()
        shutil.rmtree(inst["worktree_path"])

        cp = s.ok("log_checkpoint", instance_id=inst["id"], phase="after-rm")["checkpoint"]
        self.assertIsNone(cp["commit_sha"])
        # the commit lives on in the branch: terminate refuses to delete it without force
        text = s.error("terminate_instance", instance_id=inst["id"], remove_worktree=True)
        self.assert_mentions(text, "1 commit", "force")
        self.assertEqual(self.git("rev-parse", inst["branch_name"]).strip(), head)
        self.assertEqual(s.ok("get_instance", instance_id=inst["id"])["instance"]["status"],
                         "running")
        # a fork still works from the branch
        fork = s.ok("fork_instance", instance_id=inst["id"], prompt="carry on")["instance"]
        self.assertEqual(self.git("rev-parse", fork["branch_name"]).strip(), head)
        res = s.ok("terminate_instance", instance_id=inst["id"], remove_worktree=True, force=True)
        self.assertTrue(res["worktree_removed"])
        self.assertNotIn(inst["worktree_path"], self.git("worktree", "list", "--porcelain"))
        self.assertFalse(os.path.exists(self.admin(inst["id"])))
        self.assert_serving(s)
        s.close()
        self.assert_outside_unchanged(before)


if __name__ == "__main__":
    faultlib.run_main()
