#!/usr/bin/python3
"""Fault: symbolic links planted in the worktrees folder, pointing outside it.

- <base>/work-a2 -> <tmp>/outside, named like the next instance id: spawn
  must not follow it; the id is skipped (work-a3 is made) and the link and
  what it points to stay as they were.
- <base>/work-a9 -> <tmp>/outside with a matching fake row in
  grove_instances: get_instance and log_checkpoint answer (no git state:
  the target is no worktree); terminate_instance with remove_worktree is
  refused, with and without force, naming the worktrees folder; plain
  terminate only marks the row; `grove gc` and `grove gc --dry-run` leave
  it alone.
- <base>/work-a8 -> <tmp>/outside/fake-wt, a folder dressed up as a
  worktree of this repository (a .git file pointing at a real admin entry
  <common dir>/worktrees/work-a8 and an existing branch grove/work-a8), with
  no row: `grove gc` reports the link and leaves it, its branch and git's
  entry alone (it must never delete or write through a link).

After each step the outside folder (every file, mode and link) is compared
with its snapshot. ping and reads still answer.

usage: test_symlink_planted.py GROVE
"""
import os
import sqlite3
import subprocess

import faultlib


class SymlinkPlanted(faultlib.FaultCase):
    def gc(self, *args):
        p = subprocess.run([faultlib.GROVE, "gc", *args], cwd=self.repo,
                           env=dict(self.env, GROVE_LOG="error"), capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode()

    def test_links_out_of_the_worktrees_folder(self):
        s = self.serve()
        first = s.ok("spawn_work_instance", prompt="first")["instance"]
        self.assertEqual(first["id"], "work-a1")
        link2 = os.path.join(self.base, "work-a2")
        os.symlink(self.outside, link2)
        before = self.outside_state()

        # spawn does not follow a link named like the next id
        nxt = s.ok("spawn_work_instance", prompt="second")["instance"]
        self.assertNotEqual(nxt["id"], "work-a2")
        self.assertEqual(os.path.realpath(os.path.dirname(nxt["worktree_path"])), self.base)
        self.assertEqual(os.readlink(link2), self.outside)
        self.assert_outside_unchanged(before)

        # a fake row whose worktree is a link out of the folder
        link9 = os.path.join(self.base, "work-a9")
        os.symlink(self.outside, link9)
        con = sqlite3.connect(self.db, timeout=30)
        con.execute("INSERT INTO grove_instances (id, type, status, worktree_path, branch_name,"
                    " base_branch, base_commit, agent_number) VALUES"
                    " ('work-a9', 'work', 'running', ?, 'grove/work-a9', 'main', ?, 9)",
                    (link9, first["base_commit"]))
        con.commit()
        con.close()
        before = self.outside_state()

        self.assertIsNone(s.ok("get_instance", instance_id="work-a9")["git"])
        cp = s.ok("log_checkpoint", instance_id="work-a9", phase="p")["checkpoint"]
        self.assertIsNone(cp["commit_sha"])
        for force in (False, True):
            text = s.error("terminate_instance", instance_id="work-a9", remove_worktree=True,
                           force=force)
            self.assert_mentions(text, "refusing", "not inside the worktrees folder")
            self.assert_outside_unchanged(before)
        for name, args in (("fork_instance", {"instance_id": "work-a9"}),
                           ("spawn_review_instance", {"work_instance_id": "work-a9"}),
                           ("create_pull_request", {"instance_id": "work-a9", "title": "t"})):
            s.error(name, **args)
            self.assert_outside_unchanged(before)
        res = s.ok("terminate_instance", instance_id="work-a9")
        self.assertFalse(res["worktree_removed"])
        self.assertEqual(res["instance"]["status"], "terminated")
        self.assertEqual(os.readlink(link9), self.outside)
        self.assert_serving(s)

        # a link dressed up as a worktree of this repository, with no row
        fake = os.path.join(self.outside, "fake-wt")
        os.makedirs(fake)
        admin = os.path.join(self.repo, ".git", "worktrees", "work-a8")
        link8 = os.path.join(self.base, "work-a8")
        self.git("branch", "grove/work-a8", "main")
        os.makedirs(admin)
        with open(os.path.join(admin, "gitdir"), "w") as f:
            f.write(os.path.join(link8, ".git") + "\n")
        with open(os.path.join(admin, "commondir"), "w") as f:
            f.write("../..\n")
        with open(os.path.join(admin, "HEAD"), "w") as f:
            f.write("ref: refs/heads/grove/work-a8\n")
        with open(os.path.join(fake, ".git"), "w") as f:
            f.write("gitdir: %s\n" % admin)
        faultlib.sh("git --work-tree=. --git-dir=\"$1\" read-tree HEAD && "
                    "git --work-tree=. --git-dir=\"$1\" checkout-index -a", fake, self.env, admin)
        os.symlink(fake, link8)
        before = self.outside_state()

        for args in (["--dry-run"], []):
            out = self.gc(*args)
            self.assert_outside_unchanged(before)
            for link, target in ((link2, self.outside), (link9, self.outside), (link8, fake)):
                self.assertEqual(os.readlink(link), target, "gc %s: %s" % (args, out))
            self.assertRegex(out, r"work-a8: a symbolic link")
            self.assertNotEqual(self.git("branch", "--list", "grove/work-a8"), "")
        self.assertTrue(os.path.isdir(first["worktree_path"]))
        self.assertTrue(os.path.isdir(nxt["worktree_path"]))
        self.assert_serving(s)
        s.close()
        self.assert_outside_unchanged(before)


if __name__ == "__main__":
    faultlib.run_main()
