"""Shared helpers of the fault tests (tests/faults/test_*.py).

Each test drives a real `grove serve` over stdio in a fresh temporary
repository (made with the git CLI; HOME and XDG_CONFIG_HOME point into the
temporary folder, GIT_CONFIG_NOSYSTEM=1, every GROVE_* variable cleared),
injects one fault from outside, and checks three things:

- the fault gives an `isError` result (or JSON-RPC error) whose text names
  what happened;
- nothing outside the worktrees base is touched (snapshots of the main
  worktree, the origin and any "outside" folder before and after);
- the server keeps serving what it still can: `ping` and a read tool still
  answer, the process does not die, and every line it writes on stdout is a
  JSON-RPC 2.0 message.

Tests run as unittest cases; `run_main()` takes the grove binary from argv. The
server, repository and git helpers are tests/lib/grovetest.py's.
GROVE_WRAPPER runs every `grove serve` under a wrapper command (valgrind, ...).
"""
import hashlib
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import grovetest as G  # noqa: E402

GROVE = None
# GROVE_WRAPPER (as in tests/transcript/runner.py) runs each `grove serve` under a wrapper
# such as valgrind; its non-zero exit fails the test at close().
WRAPPER = shlex.split(os.environ.get("GROVE_WRAPPER", ""))
# Generous: a fault test must never fail because a machine is slow.
READ_TIMEOUT = float(os.environ.get("GROVE_FAULTS_TIMEOUT", "300" if WRAPPER else "60"))


def git_env(tmp):
    return G.clean_env(tmp, XDG_CONFIG_HOME=os.path.join(tmp, "xdg"),
                       TMUX_TMPDIR=os.path.join(tmp, "tmux"))


def sh(script, cwd, env, *args):
    """bash -ec script; raises with stderr on failure; returns stdout."""
    p = subprocess.run(["bash", "-ec", script, "sh", *args], cwd=cwd, env=env,
                       capture_output=True)
    if p.returncode != 0:
        raise AssertionError("shell step failed (%d): %s\n%s" % (
            p.returncode, script, p.stderr.decode(errors="replace")))
    return p.stdout.decode()


def make_repo(tmp, env):
    """<tmp>/repo on main with one commit and an `origin` remote (<tmp>/origin.git)."""
    return G.make_repo(os.path.join(tmp, "repo"), env, origin=os.path.join(tmp, "origin.git"),
                       push=True)


def snapshot(root, skip=()):
    """{relative path: (kind, mode, content digest or link target)} of everything under root,
    not following symlinks; `skip` holds absolute paths whose subtrees are left out."""
    out = {}
    skip = {os.path.normpath(s) for s in skip}
    if not os.path.lexists(root):
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in skip]
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            if p in skip:
                continue
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), "")
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", stat.S_IMODE(st.st_mode),
                                hashlib.sha256(f.read()).hexdigest())
    return out


class FaultCase(unittest.TestCase):
    """A fresh temporary repository per test, and a `grove serve` on demand."""

    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-faults-"))
        self.env = git_env(self.tmp)
        os.makedirs(self.env["XDG_CONFIG_HOME"])
        os.makedirs(self.env["TMUX_TMPDIR"], mode=0o700)
        self.repo = make_repo(self.tmp, self.env)
        self.base = self.repo + ".worktrees"
        self.db = os.path.join(self.repo, ".git", "grove", "grove.db")
        self.outside = os.path.join(self.tmp, "outside")
        os.makedirs(os.path.join(self.outside, "keep"))
        with open(os.path.join(self.outside, "keep", "precious.txt"), "w") as f:
            f.write("must survive\n")
        with open(os.path.join(self.outside, "README.md"), "w") as f:
            f.write("outside the worktrees base\n")
        self.servers = []
        self.cleanups = []

    def tearDown(self):
        for s in self.servers:
            s.kill()
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:  # a cleanup must not hide the test's result
                print("cleanup failed: %s" % e, file=sys.stderr)
        subprocess.run(["tmux", "-L", "grove", "kill-server"], env=self.env, capture_output=True)
        subprocess.run(["chmod", "-R", "u+rwX", self.tmp], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def serve(self, argv=(), env=None, cwd=None, preexec_fn=None):
        e = dict(self.env, GROVE_LOG="warn")
        if env:
            e.update(env)
        s = G.Server(GROVE, cwd or self.repo, e, argv, wrapper=WRAPPER,
                     name="server%d" % len(self.servers), read_timeout=READ_TIMEOUT,
                     preexec_fn=preexec_fn)
        self.servers.append(s)
        s.initialize("grove-faults")
        return s

    def git(self, *args, cwd=None):
        return G.git(self.env, cwd or self.repo, *args)

    def commit_file(self, wt, name, text):
        """Writes <wt>/<name> and commits it there: a commit ahead of the base."""
        with open(os.path.join(wt, name), "w") as f:
            f.write(text)
        self.git("add", name, cwd=wt)
        self.git("commit", "-qm", name, cwd=wt)

    def outside_state(self, extra_skip=()):
        """Everything grove must leave alone: the main worktree (its .git aside: the database
        and git's worktree records live there), the origin, and the outside folder."""
        return {
            "repo": snapshot(self.repo, skip=[os.path.join(self.repo, ".git"), *extra_skip]),
            "origin": snapshot(os.path.join(self.tmp, "origin.git")),
            "outside": snapshot(self.outside),
        }

    def assert_outside_unchanged(self, before, extra_skip=()):
        after = self.outside_state(extra_skip)
        for k in before:
            self.assertEqual(before[k], after[k], "grove changed '%s' outside its worktrees" % k)

    def assert_serving(self, s, read=True):
        """ping answers, a read tool answers (isError or not), and the process lives."""
        s.ping()
        if read:
            res = s.call("query_instances")
            self.assertIn("content", res)
        s.alive()

    def assert_mentions(self, text, *needles):
        for n in needles:
            self.assertIn(n.lower(), text.lower(), "error text does not mention %r: %s" % (n, text))


def run_main():
    global GROVE
    if len(sys.argv) < 2:
        print("usage: %s GROVE [unittest args]" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    GROVE = os.path.realpath(sys.argv[1])
    sys.argv[1:2] = []
    result = unittest.main(verbosity=2, exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.skipped:
        # meson's SKIP: a skipped case is not a pass (tests/run.sh counts it as failed)
        print("%d of %d cases skipped: exit 77" % (len(result.skipped), result.testsRun))
        sys.exit(77)
    sys.exit(0)
