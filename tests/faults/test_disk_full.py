#!/usr/bin/python3
"""Fault: the disk fills up while `grove serve` runs.

Two ways, both on a running server:

- RLIMIT_FSIZE (works for any user, on any file system): the test lowers the
  server's soft file-size limit with prlimit(2) to the current size of its
  database files, so the next append to the write-ahead log fails. The
  kernel then sends SIGXFSZ, which kills a process by default: grove must
  ignore it and report the EFBIG error instead. Raising the limit again is
  "space is back".
- A real full file system: the database lives (GROVE_DB) on a 4 MiB tmpfs
  that a filler file fills to the last byte (ENOSPC); deleting the filler is
  "space is back". Mounting needs root; the test re-runs itself in a private
  mount namespace (`unshare -m`) so the mount disappears with it, and skips
  this case, saying so, where mounting is not possible.

Checks: checkpoints fail with a message that says the disk is full and names
the database; a spawn fails the same way and leaves no worktree and no
branch; reads still answer; the process lives; once space is back the same
server writes again; and every acknowledged row is in the file afterwards
while no refused one is.

usage: test_disk_full.py GROVE
"""
import os
import resource
import shutil
import sqlite3
import subprocess
import sys

import faultlib

NS_MARK = "GROVE_FAULTS_MOUNT_NS"


class DiskFull(faultlib.FaultCase):
    def rows(self, db):
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        try:
            return ([r for r in con.execute(
                "SELECT instance_id, phase, sequence FROM grove_checkpoints ORDER BY id")],
                    [r[0] for r in con.execute("SELECT id FROM grove_instances ORDER BY id")])
        finally:
            con.close()

    def exercise(self, s, db, fill, free):
        """The shared scenario: fill (disk full), check the failures, free, check recovery."""
        inst = s.ok("spawn_work_instance", issue=5, prompt="work")["instance"]
        s.ok("log_checkpoint", instance_id=inst["id"], phase="plan")
        branches = self.git("branch", "--list")
        wts = sorted(os.listdir(self.base))
        before = self.outside_state()

        fill()
        for n in range(3):
            text = s.error("log_checkpoint", instance_id=inst["id"], phase="full-%d" % n,
                           data={"notes": "x" * 20000})
            self.assert_mentions(text, "disk is full", db)
        text = s.error("spawn_work_instance", issue=6, prompt="more")
        self.assert_mentions(text, "disk is full", db)
        self.assertEqual(sorted(os.listdir(self.base)), wts, "a failed spawn left a worktree")
        self.assertEqual(self.git("branch", "--list"), branches, "a failed spawn left a branch")
        self.assertEqual(s.ok("get_checkpoint", instance_id=inst["id"])["checkpoint"]["phase"],
                         "plan")
        self.assert_serving(s)

        free()
        cp = s.ok("log_checkpoint", instance_id=inst["id"], phase="implement",
                  data={"notes": "x" * 20000})["checkpoint"]
        self.assertEqual(cp["sequence"], 2)
        again = s.ok("spawn_work_instance", issue=6, prompt="more")["instance"]
        self.assert_serving(s)
        s.close()
        cps, ids = self.rows(db)
        self.assertEqual(cps, [(inst["id"], "plan", 1), (inst["id"], "implement", 2)])
        self.assertEqual(ids, sorted([inst["id"], again["id"]]))
        self.assert_outside_unchanged(before)

    def test_file_size_limit(self):
        s = self.serve()

        def fill():
            size = max(os.path.getsize(self.db + suffix) for suffix in ("", "-wal")
                       if os.path.exists(self.db + suffix))
            resource.prlimit(s.pid, resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))

        def free():
            resource.prlimit(s.pid, resource.RLIMIT_FSIZE,
                             (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

        self.exercise(s, self.db, fill, free)

    def test_full_tmpfs(self):
        if os.environ.get(NS_MARK) != "1":
            self.skipTest("mounting a tmpfs needs root and a private mount namespace "
                          "(unshare -m), not available here")
        small = os.path.join(self.tmp, "small")
        os.makedirs(small)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "grove-faults",
                            small], capture_output=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs: %s" % r.stderr.decode().strip())
        self.cleanups.append(lambda: subprocess.run(["umount", "-l", small], capture_output=True))
        db = os.path.join(small, "grove.db")
        filler = os.path.join(small, "filler")
        s = self.serve(env={"GROVE_DB": db})

        def fill():
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                for size in (65536, 4096, 1):  # big blocks, then the last bytes
                    try:
                        while True:
                            os.write(fd, b"\0" * size)
                    except OSError:
                        pass
            finally:
                os.close(fd)

        def free():
            os.unlink(filler)

        self.exercise(s, db, fill, free)


def in_private_mount_namespace():
    """Re-runs this script in a private mount namespace when root and possible."""
    if os.environ.get(NS_MARK) or os.geteuid() != 0 or not shutil.which("unshare"):
        return
    if subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                      capture_output=True).returncode != 0:
        return
    os.environ[NS_MARK] = "1"
    os.execvp("unshare", ["unshare", "-m", "--propagation", "private", sys.executable,
                          os.path.abspath(__file__), *sys.argv[1:]])


if __name__ == "__main__":
    in_private_mount_namespace()
    faultlib.run_main()
