#!/usr/bin/python3
"""Fault: a push into a local-path remote was killed and left the remote's ref locked.

libgit2 writes a local (path or file://) remote in-process, so a `grove serve` killed with
SIGKILL in the middle of create_pull_request can leave refs/heads/<branch>.lock in the
remote; every later push of that branch then fails there. grove cannot know whether another
push is still under way, so it does not delete the file itself: like git ("Unable to create
'....lock': File exists ... remove the file manually to continue"), its error names the lock
file and says how to clear it.

Checks: create_pull_request fails with an isError naming the remote's lock file, saying it
is locked and to remove the file when no push is running; nothing is pushed; the server
keeps serving; once the file is removed the same call succeeds.

usage: test_remote_ref_locked.py GROVE
"""
import os

import faultlib


class RemoteRefLocked(faultlib.FaultCase):
    def test_stale_lock_in_local_remote(self):
        s = self.serve()
        inst = s.ok("spawn_work_instance", issue=5, prompt="push me")["instance"]
        self.commit_file(inst["worktree_path"], "feature.txt", "feature\n")

        origin = os.path.join(self.tmp, "origin.git")
        lock = os.path.join(origin, "refs", "heads", inst["branch_name"] + ".lock")
        os.makedirs(os.path.dirname(lock), exist_ok=True)
        with open(lock, "w") as f:
            f.write("")  # what a push killed after taking the lock leaves

        text = s.error("create_pull_request", instance_id=inst["id"], title="feature")
        self.assert_mentions(text, lock, "locked", "remove")
        self.assertIn("rm '%s'" % lock, text, text)
        self.assertEqual(self.git("--git-dir", origin, "branch", "--list",
                                  inst["branch_name"]), "", "pushed despite the lock")
        self.assert_serving(s)

        os.unlink(lock)
        res = s.ok("create_pull_request", instance_id=inst["id"], title="feature")
        self.assertTrue(res["pushed"])
        self.assertEqual(self.git("--git-dir", origin, "rev-parse", inst["branch_name"]).strip(),
                         res["head_commit"])
        s.close()


if __name__ == "__main__":
    faultlib.run_main()
