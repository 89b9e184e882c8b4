#!/usr/bin/python3
"""Fault: the database file is deleted while `grove serve` runs.

SQLite would go on reading and writing the orphaned file, so every row
"committed" after the deletion would be lost. grove must notice it: every
tool that needs the database fails with a message naming the deleted file,
nothing is made (no worktree, no branch), ping still answers, the process
lives and exits 0 on EOF. A grove started meanwhile, or after the first one
exited, refuses the orphaned write-ahead log (SQLite keeps it: it may be the
only copy of the data) instead of mixing it into a new database; once the log
is moved away, a new grove starts with a fresh database and never reuses an
instance id whose branch or folder is still there.

usage: test_db_deleted.py GROVE
"""
import os

import faultlib


class DatabaseDeleted(faultlib.FaultCase):
    def test_deleted_while_serving(self):
        a = self.serve()
        inst = a.ok("spawn_work_instance", issue=7, prompt="work")["instance"]
        a.ok("log_checkpoint", instance_id=inst["id"], phase="plan")
        branches = self.git("branch", "--list")
        before = self.outside_state()
        wts_before = sorted(os.listdir(self.base))

        os.unlink(self.db)

        text = a.error("log_checkpoint", instance_id=inst["id"], phase="implement")
        self.assert_mentions(text, "deleted", self.db)
        for name, args in (("query_instances", {}), ("get_checkpoint", {"instance_id": inst["id"]}),
                           ("get_instance", {"instance_id": inst["id"]}),
                           ("query_events", {})):
            self.assert_mentions(a.error(name, **args), "deleted", self.db)
        text = a.error("spawn_work_instance", issue=8, prompt="more")
        self.assert_mentions(text, "deleted", self.db)
        text = a.error("terminate_instance", instance_id=inst["id"], remove_worktree=True,
                       force=True)
        self.assert_mentions(text, "deleted")
        # nothing was made or removed on the way
        self.assertEqual(sorted(os.listdir(self.base)), wts_before)
        self.assertEqual(self.git("branch", "--list"), branches)
        self.assertFalse(os.path.exists(self.db), "grove re-created the deleted database")
        self.assert_serving(a)

        # A second server while the first still holds the orphaned log: refused, clearly.
        b = self.serve()
        text = b.error("query_instances")
        self.assert_mentions(text, "write-ahead log", self.db)
        self.assert_serving(b)
        b.close()

        a.close()
        # SQLite keeps the log of a moved database (it may be the only copy of the data), so a
        # new server keeps refusing until someone deals with it, as the message says.
        c = self.serve()
        self.assert_mentions(c.error("query_instances"), "write-ahead log")
        c.close()
        aside = os.path.join(self.tmp, "aside")
        os.makedirs(aside)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(self.db + suffix):
                os.rename(self.db + suffix, os.path.join(aside, "grove.db" + suffix))

        # Restarted: a new, empty database; the leftover branch and folder are never reused.
        c = self.serve()
        self.assertEqual(c.ok("query_instances")["instances"], [])
        again = c.ok("spawn_work_instance", issue=7, prompt="again")["instance"]
        self.assertNotEqual(again["id"], inst["id"])
        self.assertTrue(os.path.isdir(inst["worktree_path"]))
        self.assert_serving(c)
        c.close()
        self.assert_outside_unchanged(before)


if __name__ == "__main__":
    faultlib.run_main()
