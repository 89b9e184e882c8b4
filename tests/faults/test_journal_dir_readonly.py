#!/usr/bin/python3
"""Fault: grove's folder in the git common dir (<common>/grove) becomes read-only after
the first worktree was made, before the first one is removed.

grove keeps its crash journals in <common>/grove/creating and <common>/grove/removing. Both
are made together the first time grove takes its repository lock, so a removal never has to
create its folder later, when that may no longer be possible: a removal without its journal
cannot be finished by `grove gc` after a crash.

How it is made read-only: chattr +i on the folder itself (chmod does not stop root; CI runs
as root). Only the folder: the database, its log and the two journal folders inside stay
writable, so that only new entries directly in <common>/grove fail. Skipped, saying so,
where chattr +i does not work.

Checks: a spawn before the fault leaves both journal folders; after it, terminate_instance
with remove_worktree removes the worktree and writes its journal (no "without a journal"
warning), a new spawn and its removal work too, and `grove gc` has nothing to finish.

usage: test_journal_dir_readonly.py GROVE
"""
import json
import os
import subprocess

import faultlib


def chattr(flag, paths):
    return subprocess.run(["chattr", flag, *paths], capture_output=True)


def immutable_works(folder):
    """True when chattr +i on a folder stops creating entries in it, for this process."""
    probe = os.path.join(folder, ".grove-chattr-probe")
    os.mkdir(probe)
    try:
        if chattr("+i", [probe]).returncode != 0:
            return False
        try:
            os.mkdir(os.path.join(probe, "x"))
            os.rmdir(os.path.join(probe, "x"))
            return False
        except OSError:
            return True
        finally:
            chattr("-i", [probe])
    finally:
        os.rmdir(probe)


class JournalDirReadOnly(faultlib.FaultCase):
    def test_grove_folder_read_only_after_first_spawn(self):
        grove_dir = os.path.join(self.repo, ".git", "grove")
        s = self.serve()
        first = s.ok("spawn_work_instance", issue=1, prompt="first")["instance"]
        self.assertTrue(os.path.isdir(os.path.join(grove_dir, "creating")))
        if not immutable_works(grove_dir):
            self.skipTest("chattr +i is not supported here (or not root)")
        before = self.outside_state()
        self.cleanups.append(lambda: chattr("-i", [grove_dir]))
        r = chattr("+i", [grove_dir])
        self.assertEqual(r.returncode, 0, r.stderr)
        with self.assertRaises(OSError):
            os.mkdir(os.path.join(grove_dir, "probe"))

        res = s.ok("terminate_instance", instance_id=first["id"], remove_worktree=True)
        self.assertTrue(res["worktree_removed"])
        self.assertFalse(os.path.exists(first["worktree_path"]))
        second = s.ok("spawn_work_instance", issue=2, prompt="second")["instance"]
        res = s.ok("terminate_instance", instance_id=second["id"], remove_worktree=True)
        self.assertTrue(res["worktree_removed"])
        self.assert_serving(s)
        self.assertNotIn("without a journal", s.stderr_text(),
                         "a removal ran without its crash journal")
        self.assertNotIn("cannot create folder", s.stderr_text())
        for name in ("creating", "removing"):
            self.assertEqual(os.listdir(os.path.join(grove_dir, name)), [],
                             "journals left in grove/%s" % name)
        chattr("-i", [grove_dir])
        s.close()
        p = subprocess.run([faultlib.GROVE, "gc", "--json"], cwd=self.repo, env=self.env,
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), [])
        self.assertEqual(sorted(os.listdir(self.base)), [])
        self.assertEqual(self.git("branch", "--list", "grove/*"), "")
        self.assert_outside_unchanged(before)


if __name__ == "__main__":
    faultlib.run_main()
