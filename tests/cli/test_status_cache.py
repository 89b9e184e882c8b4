#!/usr/bin/python3
"""get_instance keeps each worktree's git state between calls (inotify) and must never give a
stale answer: in one `grove serve`, files are edited, added, deleted, renamed, folders made and
moved, changes staged and committed, ignore rules and settings changed, each immediately before a
get_instance call, and every answer is compared with `git status --porcelain` and `git rev-parse
HEAD` run at that moment. Six instances are used in turn, more than the cache keeps.

usage: test_status_cache.py GROVE
"""
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import grovetest as G  # noqa: E402

GROVE = None

FILES = {"README.md": "hello\n", "src/main.c": "int main(void) { return 0; }\n",
         "src/util/a.c": "a\n", "src/util/b.c": "b\n", "doc/guide.md": "guide\n",
         "run.sh": "#!/bin/sh\n"}


def porcelain_paths(env, wt):
    """The paths `git status --porcelain` lists (both sides of a rename), sorted and unique.
    --no-optional-locks: git must not refresh the index, whose write would itself drop
    the server's cached answer and hide a missed change."""
    out = G.git(env, wt, "--no-optional-locks", "status", "--porcelain", "-z")
    parts = out.split("\0")
    paths, i = set(), 0
    while i < len(parts):
        entry = parts[i]
        i += 1
        if not entry:
            continue
        paths.add(entry[3:])
        if entry[0] in "RC":  # the original path follows
            paths.add(parts[i])
            i += 1
    return sorted(paths)


class StatusCache(unittest.TestCase):
    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-statcache-"))
        self.repo = os.path.join(self.tmp, "repo")
        self.xdg = os.path.join(self.tmp, "xdg")
        self.env = G.clean_env(self.tmp, XDG_CONFIG_HOME=self.xdg, GROVE_LOG="error")
        G.make_repo(self.repo, self.env, files=FILES)
        self.s = G.Server(GROVE, self.repo, self.env)
        self.s.initialize()
        self.checked = 0

    def tearDown(self):
        self.s.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def spawn(self):
        inst = self.s.ok("spawn_work_instance", launch=False)["instance"]
        return inst["id"], inst["worktree_path"]

    def check(self, iid, wt, what):
        got = self.s.ok("get_instance", instance_id=iid)["git"]
        want = porcelain_paths(self.env, wt)
        head = G.git(self.env, wt, "rev-parse", "HEAD").strip()
        self.assertEqual(got["dirty_files"], want, "after: %s" % what)
        self.assertEqual(got["head"], head, "after: %s" % what)
        self.checked += 1

    def git(self, wt, *args):
        G.git(self.env, wt, *args)

    def write(self, path, text):
        with open(path, "w") as f:
            f.write(text)

    def test_every_kind_of_change(self):
        iid, wt = self.spawn()
        p = lambda *a: os.path.join(wt, *a)  # noqa: E731
        self.git(wt, "config", "user.name", "T")
        self.git(wt, "config", "user.email", "t@example.com")
        steps = [
            ("nothing yet", lambda: None),
            ("same-size edit", lambda: self.write(p("README.md"), "HELLO\n")),
            ("edit undone", lambda: self.write(p("README.md"), "hello\n")),
            ("new file", lambda: self.write(p("new.txt"), "x\n")),
            ("new folder with a file", lambda: (os.mkdir(p("newdir")),
                                                self.write(p("newdir", "f"), "f\n"))),
            ("nested folders at once", lambda: (os.makedirs(p("src", "deep", "er", "est")),
                                                self.write(p("src", "deep", "er", "est", "g"),
                                                           "g\n"))),
            ("file in an untracked folder", lambda: self.write(p("newdir", "h"), "h\n")),
            ("edit in a folder made since", lambda: self.write(p("src", "util", "a.c"), "A2\n")),
            ("stage", lambda: self.git(wt, "add", "src/util/a.c", "new.txt")),
            ("commit", lambda: self.git(wt, "commit", "-qm", "one")),
            ("delete a tracked file", lambda: os.unlink(p("doc", "guide.md"))),
            ("rename a tracked file", lambda: os.rename(p("src", "main.c"), p("src", "main2.c"))),
            ("rename a folder of tracked files",
             lambda: os.rename(p("src", "util"), p("src", "tools"))),
            ("edit in the renamed folder", lambda: self.write(p("src", "tools", "b.c"), "B\n")),
            ("chmod", lambda: os.chmod(p("run.sh"), 0o755)),
            ("core.fileMode off", lambda: self.git(wt, "config", "core.fileMode", "false")),
            ("core.fileMode on", lambda: self.git(wt, "config", "core.fileMode", "true")),
            ("touch, no change", lambda: os.utime(p("README.md"))),
            (".gitignore", lambda: self.write(p(".gitignore"), "newdir/\n*.txt\n")),
            (".gitignore gone", lambda: os.unlink(p(".gitignore"))),
            ("info/exclude", lambda: self.write(os.path.join(self.repo, ".git", "info", "exclude"),
                                                "newdir/\n")),
            ("user excludes file", lambda: (os.makedirs(os.path.join(self.xdg, "git"),
                                                        exist_ok=True),
                                            self.write(os.path.join(self.xdg, "git", "ignore"),
                                                       "src/deep/\n"))),
            ("stage everything", lambda: self.git(wt, "add", "-A")),
            ("commit everything", lambda: self.git(wt, "commit", "-qm", "two")),
            ("reset --soft", lambda: self.git(wt, "reset", "-q", "--soft", "HEAD~1")),
            ("reset --hard", lambda: self.git(wt, "reset", "-q", "--hard", "HEAD")),
            ("remove a folder tree", lambda: shutil.rmtree(p("src"))),
            ("restore", lambda: self.git(wt, "checkout", "-q", "--", ".")),
            ("another branch", lambda: self.git(wt, "checkout", "-q", "-b", "other", "HEAD~1")),
            ("commit on it", lambda: (self.write(p("README.md"), "other\n"),
                                      self.git(wt, "commit", "-qam", "three"))),
            ("its ref moved by another process",
             lambda: self.git(self.repo, "update-ref", "refs/heads/other", "HEAD")),
            ("pack the refs", lambda: self.git(self.repo, "pack-refs", "--all")),
            ("a packed ref moved",
             lambda: self.git(self.repo, "update-ref", "refs/heads/other",
                              G.git(self.env, wt, "rev-parse", "other@{1}").strip())),
            ("the folder of a new file made after a move",
             lambda: (os.makedirs(p("m1")), os.rename(p("m1"), p("m2")),
                      self.write(p("m2", "k"), "k\n"))),
        ]
        for what, act in steps:
            act()
            self.check(iid, wt, what)
        self.assertEqual(self.checked, len(steps))

    def test_random_changes_over_many_worktrees(self):
        wts = [self.spawn() for _ in range(6)]  # more than the cache keeps
        rng = random.Random(1717)
        for iid, wt in wts:
            self.git(wt, "config", "user.name", "T")
            self.git(wt, "config", "user.email", "t@example.com")

        def files(wt):
            out = []
            for root, dirs, names in os.walk(wt):
                dirs[:] = [d for d in dirs if d != ".git"]
                out += [os.path.join(root, n) for n in names if n != ".git"]
            return out

        def dirs(wt):
            out = [wt]
            for root, ds, _ in os.walk(wt):
                ds[:] = [d for d in ds if d != ".git"]
                out += [os.path.join(root, d) for d in ds]
            return out

        for step in range(240):
            iid, wt = wts[rng.randrange(len(wts)) if rng.random() < 0.5 else step % 2]
            op = rng.choice(["edit", "edit", "add", "delete", "rename", "mkdir", "stage", "commit",
                             "chmod", "rmdir", "mvdir"])
            fs = files(wt)
            if op == "edit" and fs:
                f = rng.choice(fs)
                self.write(f, "%d\n" % rng.randrange(100))
            elif op == "add":
                self.write(os.path.join(rng.choice(dirs(wt)), "n%d" % step), "n\n")
            elif op == "delete" and fs:
                os.unlink(rng.choice(fs))
            elif op == "rename" and fs:
                os.rename(rng.choice(fs), os.path.join(rng.choice(dirs(wt)), "r%d" % step))
            elif op == "mkdir":
                d = os.path.join(rng.choice(dirs(wt)), "d%d" % step, "sub")
                os.makedirs(d)
                if rng.random() < 0.7:
                    self.write(os.path.join(d, "x"), "x\n")
            elif op == "stage":
                self.git(wt, "add", "-A")
            elif op == "commit":
                self.git(wt, "commit", "-qam", "c%d" % step, "--allow-empty")
            elif op == "chmod" and fs:
                f = rng.choice(fs)
                os.chmod(f, os.stat(f).st_mode ^ stat.S_IXUSR)
            elif op == "rmdir":
                ds = dirs(wt)[1:]
                if ds:
                    shutil.rmtree(rng.choice(ds))
            elif op == "mvdir":
                ds = dirs(wt)[1:]
                if ds:
                    src = rng.choice(ds)
                    dst = os.path.join(wt, "moved%d" % step)
                    os.rename(src, dst)
            self.check(iid, wt, "step %d: %s" % (step, op))
            # the other worktrees' answers stay right too
            other_id, other_wt = wts[(step * 7) % len(wts)]
            self.check(other_id, other_wt, "step %d: %s (another worktree)" % (step, op))


if __name__ == "__main__":
    GROVE = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
