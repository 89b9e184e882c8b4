"""Shared helpers of the stress tests (tests/stress/*.py): a temporary repository,
`grove serve` clients over pipes, and checks of the database and of git's view.

Python 3 standard library only. Sizes are multiplied by GROVE_STRESS_SCALE (a
float, default 1; the ASan build uses a smaller one); GROVE_STRESS_SEED fixes the
random choices of a run (the seed is printed either way).
"""
import json
import os
import random
import select
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time

SCALE = float(os.environ.get("GROVE_STRESS_SCALE", "1") or "1")
READ_TIMEOUT = float(os.environ.get("GROVE_STRESS_READ_TIMEOUT", "120"))
PROTOCOL = "2025-11-25"


def scaled(n, minimum=1):
    """n times GROVE_STRESS_SCALE, at least `minimum`."""
    return max(minimum, int(round(n * SCALE)))


def seed():
    s = os.environ.get("GROVE_STRESS_SEED")
    s = int(s) if s else random.SystemRandom().randrange(1 << 30)
    print("seed %d (GROVE_STRESS_SEED=%d reproduces the choices)" % (s, s), flush=True)
    return s


class Failure(AssertionError):
    pass


def check(cond, msg, *args):
    if not cond:
        raise Failure(msg % args if args else msg)


def clean_env(tmp):
    """The environment of every git and grove process: nothing from the caller's git/grove set-up."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GROVE_", "GIT_", "GITHUB_", "GH_"))}
    env.update(HOME=tmp, XDG_CONFIG_HOME=os.path.join(tmp, "xdg"), GIT_CONFIG_NOSYSTEM="1",
               GROVE_LOG="warn", TMUX_TMPDIR=tmp, LC_ALL="C")
    return env


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
        subprocess.run(["bash", "-ec", """
            git init -q -b main "$1" && cd "$1"
            git config user.name 'Stress Test' && git config user.email stress@example.com
            printf '# stress\\n' > README.md
            for d in 1 2 3 4 5 6 7 8; do
                mkdir -p src/d$d && for i in $(seq 1 40); do echo "line $d $i" > src/d$d/f$i.txt; done
            done
            git add -A && git commit -qm 'initial commit'
            git init -q --bare "$2"
            git remote add origin "$2"
            git push -q origin main
        """, "x", self.path, self.origin], check=True, env=self.env, stdout=subprocess.DEVNULL)

    def close(self):
        if os.environ.get("GROVE_STRESS_KEEP"):
            print("kept %s (GROVE_STRESS_KEEP)" % self.tmp)
            return
        shutil.rmtree(self.tmp, ignore_errors=True)

    def git(self, *args, cwd=None, check_rc=True):
        p = subprocess.run(["git", *args], cwd=cwd or self.path, env=self.env,
                           capture_output=True, timeout=120)
        if check_rc and p.returncode != 0:
            raise Failure("git %s failed in %s: %s" % (" ".join(args), cwd or self.path,
                                                       p.stderr.decode(errors="replace")))
        return p.stdout.decode()

    def run_grove(self, *args, timeout=300):
        return subprocess.run([self.grove, *args], cwd=self.path, env=self.env,
                              capture_output=True, timeout=timeout)

    def server(self, name="server"):
        return Server(self, name)

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
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=30)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute("SELECT * FROM grove_instances ORDER BY id")]
        except sqlite3.OperationalError as e:
            if "no such table" not in str(e):
                raise
            return []  # a server killed before its first migration had committed
        finally:
            con.close()

    def sql(self, query, *params):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=30)
        try:
            return con.execute(query, params).fetchall()
        finally:
            con.close()

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


# ---- a `grove serve` client ------------------------------------------------


def jsonrpc_ok(msg):
    """1 when msg is a JSON-RPC 2.0 response or notification object."""
    if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
        return False
    if "method" in msg:
        return isinstance(msg["method"], str)
    return "id" in msg and (("result" in msg) != ("error" in msg))


class Server:
    """One `grove serve` child. Every line it prints is checked to be JSON-RPC."""

    def __init__(self, repo, name="server"):
        self.repo = repo
        self.name = name
        self.stderr_path = os.path.join(repo.tmp, "%s.stderr" % name)
        self.stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([repo.grove, "serve"], cwd=repo.path, env=repo.env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        self.buf = b""
        self.next_id = 1
        self.lines = 0

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def request_bytes(self, method, params=None):
        rid = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        return rid, (json.dumps(msg) + "\n").encode()

    def send(self, method, params=None):
        rid, data = self.request_bytes(method, params)
        self.write(data)
        return rid

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.write((json.dumps(msg) + "\n").encode())

    def read(self, timeout=READ_TIMEOUT):
        """The next message; None at EOF."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("%s: no message within %.0f s" % (self.name, timeout))
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    check(self.buf == b"", "%s: a partial line at EOF: %r", self.name,
                          self.buf[:200])
                    return None
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        self.lines += 1
        try:
            msg = json.loads(line)
        except ValueError:
            raise Failure("%s: stdout line is not JSON: %r" % (self.name, line[:300]))
        check(jsonrpc_ok(msg), "%s: stdout line is not JSON-RPC: %r", self.name, line[:300])
        return msg

    def response(self, rid, timeout=READ_TIMEOUT):
        """Reads up to the response with id rid (notifications are skipped)."""
        while True:
            msg = self.read(timeout)
            if msg is None:
                raise Failure("%s: EOF before the response to %s (exit %s)" %
                              (self.name, rid, self.proc.poll()))
            if "method" in msg:
                continue
            check(msg.get("id") == rid, "%s: response to %r while waiting for %r", self.name,
                  msg.get("id"), rid)
            return msg

    def initialize(self):
        rid = self.send("initialize", {"protocolVersion": PROTOCOL, "capabilities": {},
                                       "clientInfo": {"name": "stress", "version": "1"}})
        msg = self.response(rid)
        check("result" in msg, "%s: initialize failed: %s", self.name, msg)
        self.notify("notifications/initialized")
        return msg["result"]

    def call(self, tool, **args):
        """tools/call, waiting for the answer; returns the structuredContent. Fails on any error."""
        rid = self.send("tools/call", {"name": tool, "arguments": args})
        return tool_result(self.name, tool, self.response(rid))

    def close(self, timeout=30):
        """Closes stdin; the server must print nothing more but JSON-RPC and exit 0."""
        self.proc.stdin.close()
        while self.read(timeout) is not None:
            pass
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure("%s: did not exit on stdin EOF" % self.name)
        self.stderr.close()
        check(rc == 0, "%s: exit status %s on stdin EOF (stderr: %s)", self.name, rc,
              self.stderr_tail())
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        if not self.stderr.closed:
            self.stderr.close()

    def stderr_tail(self, n=2000):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""


def tool_result(name, tool, msg):
    check("error" not in msg, "%s: %s: JSON-RPC error %s", name, tool, msg.get("error"))
    res = msg["result"]
    if res.get("isError"):
        text = " ".join(c.get("text", "") for c in res.get("content", []))
        raise Failure("%s: %s: isError: %s" % (name, tool, text))
    check(isinstance(res.get("structuredContent"), dict), "%s: %s: no structuredContent: %s",
          name, tool, res)
    return res["structuredContent"]


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
