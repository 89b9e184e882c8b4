#!/usr/bin/python3
"""A hostile repository runs nothing (CONTRACT §5, issue 13: "what held up must keep holding").

A clone can carry, or a local user can plant, git configuration that names programs: clean
and smudge filters (with a .gitattributes that applies them), core.fsmonitor,
core.hooksPath and hooks, core.sshCommand, core.pager, diff external drivers. git itself
runs them; grove (libgit2) must not, through any tool. Each program here would leave a
marker file; after spawning, reading, reviewing, forking, pushing and terminating, there is
none.

usage: test_hostile_repo.py GROVE
"""
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import grovetest as G  # noqa: E402

GROVE = None
HOOKS = ("pre-commit", "post-checkout", "post-commit", "pre-push", "reference-transaction",
         "post-merge", "pre-rebase", "post-rewrite", "pre-auto-gc", "fsmonitor-watchman")


class HostileRepo(unittest.TestCase):
    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-hostile-"))
        self.repo = os.path.join(self.tmp, "repo")
        self.marks = os.path.join(self.tmp, "marks")
        os.mkdir(self.marks)
        self.env = G.clean_env(self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "xdg"),
                               GROVE_LOG="error")
        G.make_repo(self.repo, self.env, origin=os.path.join(self.tmp, "origin.git"), push=True,
                    files={"README.md": "hi\n", "src/a.txt": "a\n",
                           ".gitattributes": "* filter=evil diff=evil\n"})

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def program(self, name):
        """A program that leaves marks/<name> when run."""
        path = os.path.join(self.tmp, "bin-" + name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\ntouch '%s/%s'\ncat\n" % (self.marks, name))
        os.chmod(path, stat.S_IRWXU)
        return path

    def arm(self):
        """The hostile configuration, set after the first commit (git itself would run it)."""
        cfg = {
            "filter.evil.clean": self.program("filter-clean"),
            "filter.evil.smudge": self.program("filter-smudge"),
            "filter.evil.process": self.program("filter-process"),
            "filter.evil.required": "true",
            "diff.evil.command": self.program("diff-command"),
            "diff.evil.textconv": self.program("diff-textconv"),
            "core.fsmonitor": self.program("fsmonitor"),
            "core.sshCommand": self.program("ssh-command"),
            "core.pager": self.program("pager"),
            "core.askPass": self.program("askpass"),
            "credential.helper": self.program("credential-helper"),
            "gc.auto": "1",
            "core.hooksPath": os.path.join(self.tmp, "hooks"),
        }
        for key, value in cfg.items():
            G.git(self.env, self.repo, "config", key, value)
        for folder in (os.path.join(self.tmp, "hooks"), os.path.join(self.repo, ".git", "hooks")):
            os.makedirs(folder, exist_ok=True)
            for hook in HOOKS:
                shutil.copy(self.program("hook-" + hook), os.path.join(folder, hook))

    def marks_left(self):
        return sorted(os.listdir(self.marks))

    def test_no_tool_runs_what_the_repository_names(self):
        op = G.Server(GROVE, self.repo, self.env, name="operator")
        op.initialize()
        work = op.ok("spawn_work_instance", launch=False)["instance"]
        wt = work["worktree_path"]
        # The agent's work, committed with git's own hooks and filters not yet armed.
        with open(os.path.join(wt, "src", "a.txt"), "w") as f:
            f.write("a changed\n")
        G.git(self.env, wt, "commit", "-q", "-am", "work")
        self.arm()
        with open(os.path.join(wt, "untracked.txt"), "w") as f:
            f.write("new\n")
        try:
            got = op.ok("get_instance", instance_id=work["id"])
            self.assertIn("untracked.txt", got["git"]["dirty_files"])
            op.ok("log_checkpoint", instance_id=work["id"], phase="p")
            op.ok("spawn_review_instance", work_instance_id=work["id"], launch=False)
            fork = op.ok("fork_instance", instance_id=work["id"], launch=False)["instance"]
            op.ok("spawn_work_instance", launch=False)
            pr = op.ok("create_pull_request", instance_id=work["id"], title="t", allow_dirty=True)
            self.assertTrue(pr["pushed"])
            op.ok("terminate_instance", instance_id=fork["id"], remove_worktree=True)
            op.ok("query_events")
        finally:
            op.close()
        for args in (["gc"], ["ls", "--all"], ["show", work["id"]], ["stats"]):
            p = subprocess.run([GROVE, *args], cwd=self.repo, env=self.env, capture_output=True,
                               timeout=120)
            self.assertEqual(p.returncode, 0, (args, p.stderr))
        self.assertEqual(self.marks_left(), [])
        # The markers work: git itself runs them (so the test would see grove run one).
        G.git(self.env, self.repo, "status", "--porcelain", check_rc=False)
        self.assertIn("fsmonitor", self.marks_left())


if __name__ == "__main__":
    GROVE = os.path.realpath(sys.argv.pop(1))
    unittest.main(verbosity=2)
