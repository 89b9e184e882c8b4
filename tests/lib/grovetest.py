"""What grove's Python test harnesses share: a temporary repository, `grove serve` over
pipes, and the database.

Used by tests/transcript, tests/corpus, tests/faults, tests/stress, tests/beads and
tests/cli. Each script puts this folder on sys.path relative to its own file:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    import grovetest as G

Python 3 standard library only.
"""
import json
import os
import select
import sqlite3
import subprocess
import threading
import time

PROTOCOL = "2025-11-25"
IDENTITY = ("Grove Test", "test@example.com")


class Failure(AssertionError):
    pass


class Eof(Failure):
    """grove closed its stdout."""


def check(cond, msg, *args):
    if not cond:
        raise Failure(msg % args if args else msg)


# ---- environment and repositories ----------------------------------------------------


def clean_env(tmp, **extra):
    """The caller's environment without its git, grove and GitHub settings; HOME in tmp,
    no system git config; then `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GROVE_", "GIT_", "GITHUB_", "GH_"))}
    env.update(HOME=tmp, GIT_CONFIG_NOSYSTEM="1")
    env.update(extra)
    return env


DEMO_FILES = {"README.md": "# demo\n", "src/main.c": "int main(void) { return 0; }\n"}


def make_repo(path, env, files=None, origin=None, push=False, message="initial commit"):
    """`git init` of path on main with one commit of `files` ({relative path: text},
    DEMO_FILES by default). With `origin` (a path), a bare repository there is the remote
    `origin`; with push, main is pushed to it. Returns path."""
    subprocess.run(["git", "init", "-q", "-b", "main", path], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    for rel, text in (DEMO_FILES if files is None else files).items():
        full = os.path.join(path, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    script = """
        git config user.name "$2" && git config user.email "$3"
        git add -A && git commit -qm "$1"
    """
    if origin:
        script += """
        git init -q --bare "$4"
        git remote add origin "$4"
        """
        if push:
            script += "git push -q origin main\n"
    subprocess.run(["bash", "-ec", script, "make_repo", message, *IDENTITY, origin or ""],
                   cwd=path, check=True, env=env, stdout=subprocess.DEVNULL)
    return path


def git(env, cwd, *args, check_rc=True, timeout=120):
    """git ARGS in cwd: its stdout; a Failure with its stderr when it fails (check_rc)."""
    p = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, timeout=timeout)
    if check_rc and p.returncode != 0:
        raise Failure("git %s failed in %s: %s" % (" ".join(args), cwd,
                                                   p.stderr.decode(errors="replace")))
    return p.stdout.decode()


# ---- the database ----------------------------------------------------------------------


def db_path(repo):
    """grove's database of a repository (the default place)."""
    return os.path.join(repo, ".git", "grove", "grove.db")


def sql(db, query, *params, readonly=True):
    """All rows of one statement, on a connection of its own (read-only by default)."""
    con = (sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30) if readonly
           else sqlite3.connect(db, timeout=30))
    try:
        rows = con.execute(query, params).fetchall()
        if not readonly:
            con.commit()
        return rows
    finally:
        con.close()


def rows(db, query, *params):
    """Read-only: each row of query as a dict."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(query, params)]
    finally:
        con.close()


# ---- `grove serve` ---------------------------------------------------------------------


def initialize_message(client="grove-test", rid=0):
    return {"jsonrpc": "2.0", "id": rid, "method": "initialize",
            "params": {"protocolVersion": PROTOCOL, "capabilities": {},
                       "clientInfo": {"name": client, "version": "1"}}}


def tool_calls(calls, first_id=1):
    """tools/call requests for [(tool, arguments)], ids from first_id on."""
    return [{"jsonrpc": "2.0", "id": first_id + i, "method": "tools/call",
             "params": {"name": n, "arguments": a}} for i, (n, a) in enumerate(calls)]


def serve_once(grove, cwd, env, messages, wrapper=(), timeout=120):
    """One `grove serve` given messages then EOF: the CompletedProcess, and the messages
    it printed (parsed)."""
    data = "".join(json.dumps(m) + "\n" for m in messages).encode()
    p = subprocess.run([*wrapper, grove, "serve"], cwd=cwd, env=env, input=data,
                       capture_output=True, timeout=timeout)
    return p, [json.loads(line) for line in p.stdout.decode().splitlines()]



def jsonrpc_ok(msg):
    """1 when msg is a JSON-RPC 2.0 response or notification object."""
    if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
        return False
    if "method" in msg:
        return isinstance(msg["method"], str)
    return "id" in msg and (("result" in msg) != ("error" in msg))


class Server:
    """One `grove serve` child over pipes. Its stderr is copied into stderr_path by a thread
    (a pipe, not a file grove writes: an RLIMIT_FSIZE on grove must not limit it, and a
    full pipe must never block it).

    Bytes: write(), read_line(), unread(). Messages (each line checked to be JSON-RPC 2.0):
    send(), send_request(), notify(), read_message(), response(), request(). Tools: call()
    (the result), ok() (the structuredContent; fails on isError), error() (the isError text).
    End: close() (EOF, exit status), wait_exit() (EOF or a signal, the exit status), kill().
    """

    def __init__(self, grove, cwd, env, argv=(), wrapper=(), name="server", stderr_path=None,
                 read_timeout=60.0, preexec_fn=None):
        self.name = name
        self.read_timeout = read_timeout
        self.stderr_path = stderr_path or os.path.join(
            env.get("HOME", "/tmp"), "grove-stderr-%s-%d.log" % (name, id(self)))
        self.err_file = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([*wrapper, grove, "serve", *argv], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, preexec_fn=preexec_fn)
        self.err_thread = threading.Thread(target=self._copy_stderr, daemon=True)
        self.err_thread.start()
        self.buf = b""
        self.next_id = 1
        self.lines = 0
        self.notifications = []

    def _copy_stderr(self):
        try:
            for chunk in iter(lambda: os.read(self.proc.stderr.fileno(), 1 << 16), b""):
                self.err_file.write(chunk)
                self.err_file.flush()
        except (OSError, ValueError):
            pass

    @property
    def pid(self):
        return self.proc.pid

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stderr_tail(self, n=2000):
        return self.stderr_text()[-n:]

    # -- bytes

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def read_line(self, timeout=None):
        """The next line grove writes (without its newline); a Failure at EOF or timeout."""
        timeout = self.read_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("%s: no response within %.0f s; stderr:\n%s" % (
                    self.name, timeout, self.stderr_tail()))
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    raise Eof("%s: grove closed stdout (exit %s)" % (
                        self.name, self.proc.poll()))
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        self.lines += 1
        return line

    def unread(self, line):
        self.buf = line + b"\n" + self.buf

    # -- messages

    def send(self, msg):
        self.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")

    def request_bytes(self, method, params=None):
        """A new request id and the request's line, not sent (to pipeline many at once)."""
        rid = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        return rid, json.dumps(msg, separators=(",", ":")).encode() + b"\n"

    def send_request(self, method, params=None):
        """Sends a request; its id."""
        rid, data = self.request_bytes(method, params)
        self.write(data)
        return rid

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def read_message(self, timeout=None):
        """The next message (checked to be JSON-RPC 2.0); None at EOF (after a whole line)."""
        try:
            line = self.read_line(timeout)
        except Eof:
            check(self.buf == b"", "%s: a partial line at EOF: %r", self.name, self.buf[:200])
            return None
        try:
            msg = json.loads(line)
        except ValueError:
            raise Failure("%s: grove wrote a line that is not JSON on stdout: %r" % (
                self.name, line[:300]))
        check(jsonrpc_ok(msg), "%s: grove wrote a line that is not JSON-RPC 2.0: %r",
              self.name, line[:300])
        return msg

    def response(self, rid, timeout=None):
        """Reads up to the response with id rid; notifications/progress are kept in
        self.notifications, any other message fails."""
        while True:
            m = self.read_message(timeout)
            if m is None:
                raise Failure("%s: EOF before the response to %s (exit %s); stderr:\n%s" % (
                    self.name, rid, self.proc.poll(), self.stderr_tail()))
            if m.get("method") == "notifications/progress":
                self.notifications.append(m)
                continue
            check("method" not in m and m.get("id") == rid,
                  "%s: unexpected message while waiting for the response to %r: %r",
                  self.name, rid, m)
            return m

    def request(self, method, params=None):
        return self.response(self.send_request(method, params))

    def initialize(self, client="grove-test"):
        msg = self.request("initialize", {"protocolVersion": PROTOCOL, "capabilities": {},
                                          "clientInfo": {"name": client, "version": "1"}})
        check("result" in msg, "%s: initialize failed: %s", self.name, msg)
        self.notify("notifications/initialized")
        return msg["result"]

    def ping(self):
        r = self.request("ping")
        check(r.get("result") == {}, "%s: ping answered %r", self.name, r)

    def alive(self):
        check(self.proc.poll() is None, "%s: grove died (status %s); stderr:\n%s", self.name,
              self.proc.returncode, self.stderr_tail())

    # -- tools

    def call(self, tool, /, **arguments):
        """tools/call; the result object (a JSON-RPC error fails)."""
        r = self.request("tools/call", {"name": tool, "arguments": arguments})
        check("result" in r, "%s: tools/call %s: JSON-RPC error %r", self.name, tool,
              r.get("error"))
        return r["result"]

    def ok(self, tool, /, **arguments):
        """tools/call that must succeed: its structuredContent."""
        msg = self.request("tools/call", {"name": tool, "arguments": arguments})
        return tool_result(self.name, tool, msg, arguments)

    def error(self, tool, /, **arguments):
        """The isError text of a call that must fail."""
        res = self.call(tool, **arguments)
        check(res.get("isError"), "%s(%s) should have failed, got %s", tool,
              json.dumps(arguments), json.dumps(res.get("structuredContent"))[:500])
        text = res["content"][0]["text"]
        check(isinstance(text, str) and text, "%s: empty error text: %s", tool, res)
        return text

    # -- the end

    def _finish_stderr(self):
        self.err_thread.join(timeout=30)
        if not self.err_file.closed:
            self.err_file.close()

    def wait_exit(self, sig=None, timeout=30.0):
        """Closes stdin (or sends sig); the exit status. Fails when grove does not exit
        within timeout or prints anything more."""
        if sig:
            self.proc.send_signal(sig)
        else:
            self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure("%s: grove did not exit within %.0f s" % (self.name, timeout))
        rest = self.buf + self.proc.stdout.read()
        self.buf = b""
        check(not rest.strip(), "%s: grove wrote at exit: %r", self.name, rest[:300])
        self._finish_stderr()
        return code

    def close(self, expect_exit=0, timeout=None, pending_ok=False):
        """EOF on stdin: grove must exit with expect_exit. pending_ok: what it still prints
        must be JSON-RPC; otherwise it must print nothing more."""
        timeout = self.read_timeout if timeout is None else timeout
        if pending_ok:
            self.proc.stdin.close()
            while self.read_message(timeout) is not None:
                pass
        try:
            code = self.wait_exit(timeout=timeout) if not pending_ok else \
                self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure("%s: grove did not exit after EOF" % self.name)
        self._finish_stderr()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()
        check(code == expect_exit, "%s: grove exited with %s (expected %s); stderr:\n%s",
              self.name, code, expect_exit, self.stderr_tail())
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        self._finish_stderr()
        try:
            self.proc.stderr.close()
        except (OSError, ValueError):
            pass


def tool_result(name, tool, msg, arguments=None):
    """The structuredContent of the response msg to a tools/call that must succeed."""
    check("error" not in msg, "%s: %s: JSON-RPC error %s", name, tool, msg.get("error"))
    res = msg["result"]
    if res.get("isError"):
        text = " ".join(c.get("text", "") for c in res.get("content", []))
        raise Failure("%s: %s(%s) failed: %s" % (name, tool, json.dumps(arguments or {}), text))
    check(isinstance(res.get("structuredContent"), dict), "%s: %s: no structuredContent: %s",
          name, tool, res)
    return res["structuredContent"]
