#!/usr/bin/python3
"""Fault: the database (and its folder) made read-only while `grove serve` runs.

How it is made read-only: chmod does not stop root (CI runs the tests as
root), and it does not affect files a process already has open either, so a
running grove would never notice it. What does stop writes through already
open descriptors, for root too, is the immutable attribute: `chattr +i` on
the database folder and everything in it (the database, its `-wal` log,
grove's journals and logs) makes every write(2) fail with EPERM (checked
first on a probe file; the test is skipped, saying so, on a file system
without it or without CAP_LINUX_IMMUTABLE). Two files stay writable: the
`-shm` file, which SQLite maps into memory (a write to an immutable mapping
is a SIGBUS that no program can turn into an error reply; SQLite documents
that the -shm file must be writable in WAL mode), and `git.lock`, which grove
opens read-write only to flock it.

A read-only bind mount was tried first: remounting read-only fails with
EBUSY while a process has a file open for writing through that mount, so it
cannot fault a running server.

Checks: writes (log_checkpoint, spawn_work_instance) fail with a message that
says "read-only" and names the database, and the spawn leaves no worktree or
branch behind; reads (get_checkpoint, query_instances, get_instance) still
answer; a second grove started meanwhile opens the database read-only, reads,
and says why it cannot write; once writable again, the same server writes
again and every acknowledged row is in the file. Without root, a server
started on a database made read-only with chmod (which does stop a non-root
process from opening it for writing) is checked instead.

usage: test_db_readonly.py GROVE
"""
import os
import sqlite3
import stat
import subprocess

import faultlib


def chattr(flag, paths):
    return subprocess.run(["chattr", flag, *paths], capture_output=True)


def immutable_works(folder):
    """True when chattr +i really stops writes through an open descriptor here."""
    probe = os.path.join(folder, ".grove-chattr-probe")
    fd = os.open(probe, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if chattr("+i", [probe]).returncode != 0:
            return False
        try:
            os.pwrite(fd, b"x", 0)
            return False
        except OSError:
            return True
        finally:
            chattr("-i", [probe])
    finally:
        os.close(fd)
        os.unlink(probe)


class DatabaseReadOnly(faultlib.FaultCase):
    def read_only_paths(self):
        """The database folder and everything in it (grove's journals and logs too), but the
        -shm file and git.lock (see above)."""
        folder = os.path.dirname(self.db)
        paths = [folder]
        for dirpath, dirnames, filenames in os.walk(folder):
            for name in dirnames + filenames:
                if not name.endswith("-shm") and name != "git.lock":
                    paths.append(os.path.join(dirpath, name))
        return paths

    def checkpoints(self):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            return [r for r in con.execute(
                "SELECT instance_id, phase, sequence FROM grove_checkpoints ORDER BY id")]
        finally:
            con.close()

    def test_read_only_while_serving(self):
        if os.geteuid() != 0:
            self.skipTest("making a database read-only under a running process needs "
                          "chattr +i (CAP_LINUX_IMMUTABLE); not root")
        a = self.serve()
        inst = a.ok("spawn_work_instance", issue=3, prompt="work")["instance"]
        a.ok("log_checkpoint", instance_id=inst["id"], phase="plan")
        if not immutable_works(os.path.dirname(self.db)):
            self.skipTest("chattr +i is not supported on this file system")
        before = self.outside_state()
        branches = self.git("branch", "--list")
        wts = sorted(os.listdir(self.base))
        paths = self.read_only_paths()
        self.cleanups.append(lambda: chattr("-i", paths))
        r = chattr("+i", paths)
        self.assertEqual(r.returncode, 0, r.stderr)

        text = a.error("log_checkpoint", instance_id=inst["id"], phase="implement",
                       data={"files": ["a.c"]})
        self.assert_mentions(text, "read-only", self.db)
        # the spawn fails on the first file it has to write there, the database or one of
        # grove's journals beside it, and says which
        text = a.error("spawn_work_instance", issue=4, prompt="more")
        self.assert_mentions(text, os.path.dirname(self.db))
        self.assertTrue("read-only" in text or "Operation not permitted" in text, text)
        self.assertEqual(sorted(os.listdir(self.base)), wts, "a failed spawn left a worktree")
        self.assertEqual(self.git("branch", "--list"), branches, "a failed spawn left a branch")
        # reads still work
        cp = a.ok("get_checkpoint", instance_id=inst["id"])["checkpoint"]
        self.assertEqual(cp["phase"], "plan")
        self.assertEqual([i["id"] for i in a.ok("query_instances")["instances"]], [inst["id"]])
        self.assertEqual(a.ok("get_instance", instance_id=inst["id"])["instance"]["id"], inst["id"])
        self.assert_serving(a)

        # a server started now opens it read-only: reads answer, writes say why not
        b = self.serve()
        self.assertEqual([i["id"] for i in b.ok("query_instances")["instances"]], [inst["id"]])
        text = b.error("log_checkpoint", instance_id=inst["id"], phase="b")
        self.assert_mentions(text, "read-only", self.db)
        self.assert_serving(b)
        b.close()

        r = chattr("-i", paths)
        self.assertEqual(r.returncode, 0, r.stderr)
        cp = a.ok("log_checkpoint", instance_id=inst["id"], phase="implement")["checkpoint"]
        self.assertEqual(cp["sequence"], 2)
        a.close()
        # every acknowledged row is there, nothing from the refused calls
        self.assertEqual(self.checkpoints(), [(inst["id"], "plan", 1), (inst["id"], "implement", 2)])
        self.assert_outside_unchanged(before)

    def test_read_only_at_start_chmod(self):
        a = self.serve()
        inst = a.ok("spawn_work_instance", issue=3, prompt="work")["instance"]
        a.ok("log_checkpoint", instance_id=inst["id"], phase="plan")
        a.close()
        folder = os.path.dirname(self.db)
        self.cleanups.append(lambda: os.chmod(folder, 0o700))
        for p in self.read_only_paths():
            os.chmod(p, stat.S_IMODE(os.stat(p).st_mode) & ~0o222)
        b = self.serve()
        # SQLite cannot even read a WAL database whose folder does not let it create its -shm
        # file: then reads fail too, and say why.
        res = b.call("query_instances")
        if res.get("isError"):
            self.assert_mentions(res["content"][0]["text"], "read-only", self.db)
        else:
            self.assertEqual([i["id"] for i in res["structuredContent"]["instances"]],
                             [inst["id"]])
        self.assert_mentions(b.error("log_checkpoint", instance_id=inst["id"], phase="b"),
                             "read-only", self.db)
        self.assert_serving(b)
        b.close()


# chmod does not stop root: as root the case above cannot happen, and a server started on a
# read-only database is covered by test_read_only_while_serving (its second server). So it
# exists only for other users (for whom test_read_only_while_serving skips: exit 77).
if os.geteuid() == 0:
    del DatabaseReadOnly.test_read_only_at_start_chmod


if __name__ == "__main__":
    faultlib.run_main()
