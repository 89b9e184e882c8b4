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

Tests run as unittest cases; `run_main()` takes the grove binary from argv.
GROVE_WRAPPER runs every `grove serve` under a wrapper command (valgrind, ...).
"""
import hashlib
import json
import os
import select
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

GROVE = None
# GROVE_WRAPPER (as in tests/transcript/runner.py) runs each `grove serve` under a wrapper
# such as valgrind; its non-zero exit fails the test at close().
WRAPPER = shlex.split(os.environ.get("GROVE_WRAPPER", ""))
# Generous: a fault test must never fail because a machine is slow.
READ_TIMEOUT = float(os.environ.get("GROVE_FAULTS_TIMEOUT", "300" if WRAPPER else "60"))


def git_env(tmp):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GROVE_", "GIT_", "GITHUB_", "GH_"))}
    env.update(HOME=tmp, XDG_CONFIG_HOME=os.path.join(tmp, "xdg"), GIT_CONFIG_NOSYSTEM="1",
               TMUX_TMPDIR=os.path.join(tmp, "tmux"))
    return env


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
    repo = os.path.join(tmp, "repo")
    sh("""
        git init -q -b main "$1"
        cd "$1"
        git config user.name 'Fault Test'
        git config user.email faults@example.com
        printf '# demo\\n' > README.md
        mkdir -p src && printf 'int main(void) { return 0; }\\n' > src/main.c
        git add -A && git commit -qm 'initial commit'
        git init -q --bare ../origin.git
        git remote add origin "$(dirname "$PWD")/origin.git"
        git push -q origin main
    """, tmp, env, repo)
    return repo


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


class Server:
    """One `grove serve` child. Every line it prints is parsed and checked to be JSON-RPC."""

    def __init__(self, grove, cwd, env, argv=(), preexec_fn=None):
        self.stderr_path = os.path.join(env["HOME"], "grove-stderr-%d.log" % id(self))
        # stderr is a pipe drained into a file by us, not a file grove writes itself: with
        # RLIMIT_FSIZE set on grove, a file would hit the limit too.
        self.err_file = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([*WRAPPER, grove, "serve", *argv], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, preexec_fn=preexec_fn)
        self.buf = b""
        self.next_id = 1
        self.notifications = []
        init = self.request("initialize", {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "grove-faults", "version": "1"}})
        assert "result" in init, init
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    @property
    def pid(self):
        return self.proc.pid

    def stderr_text(self):
        if not self.err_file.closed:
            self._drain_stderr(0)
            self.err_file.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def _drain_stderr(self, timeout):
        while self.proc.stderr and not self.proc.stderr.closed:
            ready, _, _ = select.select([self.proc.stderr], [], [], timeout)
            if not ready:
                return
            chunk = os.read(self.proc.stderr.fileno(), 1 << 16)
            if not chunk:
                return
            self.err_file.write(chunk)
            timeout = 0

    def send(self, msg):
        self.proc.stdin.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
        self.proc.stdin.flush()

    def read_message(self):
        deadline = time.monotonic() + READ_TIMEOUT
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("grove sent no response within %.0f s; stderr:\n%s" % (
                    READ_TIMEOUT, self.stderr_text()[-2000:]))
            ready, _, _ = select.select([self.proc.stdout, self.proc.stderr], [], [], left)
            if self.proc.stderr in ready:
                self._drain_stderr(0)
            if self.proc.stdout in ready:
                chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    raise AssertionError("grove closed stdout (exit status %s); stderr:\n%s" % (
                        self.proc.poll() if self.proc.poll() is not None else self.proc.wait(5),
                        self.stderr_text()[-2000:]))
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            msg = json.loads(line)
        except ValueError:
            raise AssertionError("grove wrote a line that is not JSON on stdout: %r" % line[:300])
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
            raise AssertionError("grove wrote a line that is not JSON-RPC 2.0: %r" % line[:300])
        return msg

    def request(self, method, params=None):
        rid = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        while True:
            m = self.read_message()
            if "id" in m and m["id"] == rid and "method" not in m:
                return m
            if m.get("method") == "notifications/progress":
                self.notifications.append(m)
                continue
            raise AssertionError("unexpected message from grove: %r" % m)

    def call(self, name, **arguments):
        """tools/call; returns the result object (asserting it is one)."""
        r = self.request("tools/call", {"name": name, "arguments": arguments})
        if "result" not in r:
            raise AssertionError("tools/call %s: JSON-RPC error %r" % (name, r.get("error")))
        return r["result"]

    def ok(self, name, **arguments):
        res = self.call(name, **arguments)
        if res.get("isError"):
            raise AssertionError("%s(%s) failed: %s" % (name, json.dumps(arguments),
                                                        res["content"][0]["text"]))
        return res["structuredContent"]

    def error(self, name, **arguments):
        """The isError text of a call that must fail."""
        res = self.call(name, **arguments)
        if not res.get("isError"):
            raise AssertionError("%s(%s) should have failed, got %s" % (
                name, json.dumps(arguments), json.dumps(res.get("structuredContent"))[:500]))
        text = res["content"][0]["text"]
        assert isinstance(text, str) and text, res
        return text

    def ping(self):
        r = self.request("ping")
        if r.get("result") != {}:
            raise AssertionError("ping answered %r" % r)

    def alive(self):
        if self.proc.poll() is not None:
            raise AssertionError("grove died (status %s); stderr:\n%s" % (
                self.proc.returncode, self.stderr_text()[-2000:]))

    def close(self, expect_exit=0):
        """EOF on stdin: grove must exit with expect_exit and print nothing more."""
        self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout=READ_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("grove did not exit after EOF")
        rest = self.buf + self.proc.stdout.read()
        for line in rest.splitlines():
            if line.strip():
                raise AssertionError("grove wrote after EOF: %r" % line[:300])
        self._drain_stderr(0)
        self.err_file.close()
        self.proc.stdout.close()
        self.proc.stderr.close()
        if code != expect_exit:
            raise AssertionError("grove exited with %s (expected %s); stderr:\n%s" % (
                code, expect_exit, open(self.stderr_path, errors="replace").read()[-2000:]))
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if f:
                    f.close()
            except (OSError, ValueError):
                pass
        if not self.err_file.closed:
            self.err_file.close()


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
        subprocess.run(["tmux", "kill-server"], env=self.env, capture_output=True)
        subprocess.run(["chmod", "-R", "u+rwX", self.tmp], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def serve(self, argv=(), env=None, cwd=None, preexec_fn=None):
        e = dict(self.env, GROVE_LOG="warn")
        if env:
            e.update(env)
        s = Server(GROVE, cwd or self.repo, e, argv, preexec_fn)
        self.servers.append(s)
        return s

    def git(self, *args, cwd=None):
        p = subprocess.run(["git", *args], cwd=cwd or self.repo, env=self.env,
                           capture_output=True)
        if p.returncode != 0:
            raise AssertionError("git %s: %s" % (" ".join(args), p.stderr.decode()))
        return p.stdout.decode()

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
