"""Shared helpers of the stress tests (tests/stress/*.py): a temporary repository
with its `grove serve` clients (tests/lib/grovetest.py's), and checks of the database
and of git's view.

Python 3 standard library only. Sizes are multiplied by GROVE_STRESS_SCALE (a
float, default 1; the ASan build uses a smaller one); GROVE_STRESS_SEED fixes the
random choices of a run (the seed is printed either way).
"""
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import grovetest as G  # noqa: E402

SCALE = float(os.environ.get("GROVE_STRESS_SCALE", "1") or "1")
READ_TIMEOUT = float(os.environ.get("GROVE_STRESS_READ_TIMEOUT", "120"))


def scaled(n, minimum=1):
    """n times GROVE_STRESS_SCALE, at least `minimum`."""
    return max(minimum, int(round(n * SCALE)))


def seed():
    s = os.environ.get("GROVE_STRESS_SEED")
    s = int(s) if s else random.SystemRandom().randrange(1 << 30)
    print("seed %d (GROVE_STRESS_SEED=%d reproduces the choices)" % (s, s), flush=True)
    return s


Failure = G.Failure
check = G.check
tool_result = G.tool_result
jsonrpc_ok = G.jsonrpc_ok


def clean_env(tmp):
    """The environment of every git and grove process: nothing from the caller's git/grove set-up."""
    return G.clean_env(tmp, XDG_CONFIG_HOME=os.path.join(tmp, "xdg"), GROVE_LOG="warn",
                       TMUX_TMPDIR=tmp, LC_ALL="C")


# The repository: a README and 8 folders of 40 files
FILES = dict({"README.md": "# stress\n"},
             **{"src/d%d/f%d.txt" % (d, i): "line %d %d\n" % (d, i)
                for d in range(1, 9) for i in range(1, 41)})


class Repo:
    """A fresh repository in a temporary folder, with a bare `origin` beside it."""

    def __init__(self, grove, prefix):
        self.grove = grove
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix=prefix))
        self.path = os.path.join(self.tmp, "repo")
        self.origin = os.path.join(self.tmp, "origin.git")
        self.env = clean_env(self.tmp)
        self.db = os.path.join(self.path, ".git", "grove", "grove.db")
        self.base = self.path + ".worktrees"
        G.make_repo(self.path, self.env, files=FILES, origin=self.origin, push=True)

    def close(self):
        if os.environ.get("GROVE_STRESS_KEEP"):
            print("kept %s (GROVE_STRESS_KEEP)" % self.tmp)
            return
        shutil.rmtree(self.tmp, ignore_errors=True)

    def git(self, *args, cwd=None, check_rc=True):
        return G.git(self.env, cwd or self.path, *args, check_rc=check_rc)

    def run_grove(self, *args, timeout=300):
        return subprocess.run([self.grove, *args], cwd=self.path, env=self.env,
                              capture_output=True, timeout=timeout)

    def server(self, name="server"):
        """A `grove serve` in the repository; its stderr in <tmp>/<name>.stderr."""
        return G.Server(self.grove, self.path, self.env, name=name, read_timeout=READ_TIMEOUT,
                        stderr_path=os.path.join(self.tmp, "%s.stderr" % name))

    # ---- what is really there ------------------------------------------

    def worktrees(self):
        """`git worktree list --porcelain` as {path: {"branch": b, "locked": reason|None, ...}}."""
        out = self.git("worktree", "list", "--porcelain")
        result, cur = {}, None
        for line in out.splitlines() + [""]:
            if not line:
                cur = None
                continue
            key, _, val = line.partition(" ")
            if key == "worktree":
                cur = result.setdefault(val, {"branch": None, "locked": None, "prunable": None})
            elif cur is not None and key == "branch":
                cur["branch"] = val[len("refs/heads/"):] if val.startswith("refs/heads/") else val
            elif cur is not None and key in ("locked", "prunable"):
                cur[key] = val
        return result

    def branches(self, prefix="grove/"):
        out = self.git("for-each-ref", "--format=%(refname:short)", "refs/heads/" + prefix)
        return set(out.split())

    def folders(self):
        if not os.path.isdir(self.base):
            return set()
        return {os.path.join(self.base, n) for n in os.listdir(self.base)}

    def admin_entries(self):
        d = os.path.join(self.path, ".git", "worktrees")
        return set(os.listdir(d)) if os.path.isdir(d) else set()

    def journals(self):
        """Leftover creation/removal journals of grove's (none once everything has finished)."""
        out = []
        for sub in ("creating", "removing"):
            d = os.path.join(self.path, ".git", "grove", sub)
            if os.path.isdir(d):
                out += [os.path.join(sub, n) for n in os.listdir(d)]
        return sorted(out)

    def rows(self):
        if not os.path.exists(self.db):
            return []
        try:
            return G.rows(self.db, "SELECT * FROM grove_instances ORDER BY id")
        except sqlite3.OperationalError as e:
            if "no such table" not in str(e):
                raise
            return []  # a server killed before its first migration had committed

    def sql(self, query, *params):
        return G.sql(self.db, query, *params)

    def integrity(self):
        return self.sql("PRAGMA integrity_check")[0][0]

    def check_consistent(self, allow_kept=(), allow_branches=()):
        """Rows, folders, worktree entries and grove/* branches agree.

        allow_kept, allow_branches: folders and branches gc reported it keeps
        (removing them would lose work): they may exist without a row.
        """
        rows = self.rows()
        wts = self.worktrees()
        branches = self.branches()
        folders = self.folders()
        by_path = {r["worktree_path"]: r for r in rows}
        row_branches = {r["branch_name"] for r in rows}
        for r in rows:
            if r["status"] == "running":
                check(os.path.isdir(r["worktree_path"]), "running %s: folder %s is missing",
                      r["id"], r["worktree_path"])
                check(r["worktree_path"] in wts, "running %s: no git worktree entry", r["id"])
                check(r["branch_name"] in branches, "running %s: branch %s is missing",
                      r["id"], r["branch_name"])
        for path, wt in wts.items():
            check(wt["locked"] is None or "initializing" not in wt["locked"],
                  "worktree %s is left locked %r", path, wt["locked"])
            check(wt["locked"] is None or "removing" not in wt["locked"],
                  "worktree %s is left locked %r", path, wt["locked"])
            check(wt["prunable"] is None, "worktree entry %s is prunable: %s", path,
                  wt["prunable"])
        for f in folders:
            check(f in by_path or f in allow_kept,
                  "folder %s has no row and gc did not report keeping it", f)
        for b in branches:
            check(b in row_branches or b in allow_branches,
                  "branch %s has no row and gc did not report keeping it", b)
        check(self.journals() == [], "journals left: %s", self.journals())
        check(self.integrity() == "ok", "integrity_check: %s", self.integrity())
        return rows


def run_in_repo(grove, prefix, fn):
    """fn(repo) in a fresh Repo, removed afterwards (unless GROVE_STRESS_KEEP); prints the
    total time."""
    started = time.monotonic()
    repo = Repo(grove, prefix)
    try:
        fn(repo)
    finally:
        repo.close()
    print("total %.1f s" % (time.monotonic() - started))


def run_threads(fns):
    """Runs each fn in its own thread; re-raises the first failure after all finished."""
    errors = []

    def wrap(fn):
        try:
            fn()
        except BaseException as e:  # noqa: B902 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
