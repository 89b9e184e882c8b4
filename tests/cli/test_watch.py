#!/usr/bin/python3
"""`grove watch` and `grove attach` (CONTRACT §7) through the real binary: the plain-text
table when stdout is no terminal; the live view in a pseudo-terminal (TERM=xterm-256color,
its size set with TIOCSWINSZ), read back through pyte (a terminal emulator: the screen as a
person would see it): waiting instances first, a state change shown within two seconds,
resizing, the agent's output, attaching and detaching, `q`. Agents are stand-ins (`sh`) in
tmux sessions on a tmux server of this test's own (GROVE_TMUX_SOCKET), killed at the end.

usage: test_watch.py GROVE [TEST...]
"""
import fcntl
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import grovetest as G  # noqa: E402

try:
    import pyte
except ImportError:  # Debian: python3-pyte (.ci/install)
    pyte = None

GROVE = None
AGENT = ["sh", "-c", "echo hello from the agent $GROVE_INSTANCE_ID; exec sleep 300"]


class Term:
    """A program in a pseudo-terminal of rows x cols, its screen kept by pyte."""

    def __init__(self, argv, cwd, env, rows=30, cols=120):
        self.rows, self.cols = rows, cols
        self.master, slave = os.openpty()
        self.set_size(rows, cols, fd=slave)
        self.proc = subprocess.Popen(argv, cwd=cwd, env=dict(env, TERM="xterm-256color"),
                                     stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True, pass_fds=(),
                                     preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""

    def set_size(self, rows, cols, fd=None):
        fcntl.ioctl(self.master if fd is None else fd, termios.TIOCSWINSZ,
                    struct.pack("HHHH", rows, cols, 0, 0))

    def resize(self, rows, cols):
        self.rows, self.cols = rows, cols
        self.screen.resize(rows, cols)
        self.set_size(rows, cols)
        os.killpg(self.proc.pid, signal.SIGWINCH)

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([self.master], [], [], left)
            if not r:
                return
            try:
                data = os.read(self.master, 65536)
            except OSError:  # the program is gone
                time.sleep(min(left, 0.05))
                return
            if not data:
                return
            self.raw += data
            self.stream.feed(data)

    def lines(self):
        return [line.rstrip() for line in self.screen.display]

    def text(self):
        return "\n".join(self.lines())

    def wait_for(self, pred, timeout=10.0, what="the screen"):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.pump(0.05)
            if pred(self):
                return time.monotonic()
        raise AssertionError("timed out waiting for %s; screen:\n%s" % (what, self.text()))

    def send(self, data):
        os.write(self.master, data)

    def wait_exit(self, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.pump(0.05)
            if self.proc.poll() is not None:
                return self.proc.returncode
        raise AssertionError("still running; screen:\n%s" % self.text())

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)


def rows_of(term):
    """The ids of the instance rows on the list screen, top to bottom."""
    out = []
    lines = term.lines()
    for i, line in enumerate(lines):
        if line.startswith("ID "):
            for row in lines[i + 1:]:
                if row.startswith("work-"):
                    out.append(row.split()[0])
            break
    return out


def state_of(term, iid):
    for line in term.lines():
        parts = line.split()
        if parts and parts[0] == iid:
            return parts[1]
    return None


class Watch(unittest.TestCase):
    def setUp(self):
        if pyte is None:
            self.skipTest("python3-pyte is not installed")
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-watch-"))
        self.repo = os.path.join(self.tmp, "repo")
        self.sock = "grove-watch-test-%d" % os.getpid()
        self.env = G.clean_env(self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "xdg"),
                               GROVE_LOG="error", GROVE_TMUX_SOCKET=self.sock, LANG="C.UTF-8")
        G.make_repo(self.repo, self.env, files={"README.md": "hi\n", "a.txt": "1\n2\n3\n"})
        self.db = G.db_path(self.repo)
        self.terms = []

    def tearDown(self):
        for t in self.terms:
            t.close()
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers

    def grove(self, *args, env=None, timeout=60):
        return subprocess.run([GROVE, *args], cwd=self.repo, env=env or self.env,
                              capture_output=True, timeout=timeout)

    def call(self, tool, env=None, **args):
        p = self.grove("call", tool, json.dumps(args), env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def spawn(self, agent=False):
        if agent:
            env = dict(self.env, GROVE_AGENT_COMMAND=json.dumps(AGENT))
            return self.call("spawn_work_instance", env=env)["instance"]["id"]
        return self.call("spawn_work_instance", launch=False)["instance"]["id"]

    def set_state(self, iid, state, ago):
        """agent_state of iid: `state` since `ago` seconds."""
        G.sql(self.db, "UPDATE grove_instances SET agent_state = ?, agent_state_since ="
              " strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?) WHERE id = ?",
              state, "-%d seconds" % ago, iid, readonly=False)

    def term(self, *args, rows=30, cols=120):
        t = Term([GROVE, *args], self.repo, self.env, rows=rows, cols=cols)
        self.terms.append(t)
        return t

    def worktree(self, iid):
        return os.path.join(self.tmp, "repo.worktrees", iid)

    def commit(self, iid, rel, text):
        wt = self.worktree(iid)
        with open(os.path.join(wt, rel), "w") as f:
            f.write(text)
        G.git(self.env, wt, "commit", "-qam", "change " + rel)

    # -- plain text

    def test_plain_text_when_stdout_is_no_terminal(self):
        a, b, c, d = (self.spawn() for _ in range(4))
        self.set_state(a, "idle", 50)
        self.set_state(b, "waiting", 5)
        self.set_state(c, "waiting", 90)
        self.set_state(d, "working", 3)
        # b and c change the same line: they conflict; c has an uncommitted file too.
        self.commit(b, "a.txt", "B\n2\n3\n")
        self.commit(c, "a.txt", "C\n2\n3\n")
        with open(os.path.join(self.worktree(c), "new.txt"), "w") as f:
            f.write("x\n")
        self.call("log_checkpoint", instance_id=a, phase="build", name="tests", status="completed")
        p = self.grove("watch")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.decode().splitlines()
        self.assertEqual(lines[0].split(), ["ID", "STATE", "FOR", "AHEAD/BEHIND", "DIRTY",
                                            "CHECKPOINT", "CONFLICTS", "PORTS"])
        rows = {line.split()[0]: line for line in lines[1:]}
        # Waiting first (the longest waiting first), then working, idle, no agent.
        self.assertEqual([line.split()[0] for line in lines[1:]], [c, b, d, a], p.stdout)
        self.assertEqual(rows[c].split()[1:5], ["waiting", "1m30s", "+1/-0", "1"])
        self.assertEqual(rows[b].split()[1:5], ["waiting", "5s", "+1/-0", "0"])
        self.assertIn("#1 build/tests completed, 0s ago", rows[a])
        self.assertIn(" 1 inst ", rows[b])
        self.assertIn(" 1 inst ", rows[c])
        self.assertIn(" none ", rows[a])
        self.assertTrue(rows[a].rstrip().endswith("20000-20009"), rows[a])
        self.assertEqual(self.grove("watch", "--once").stdout, p.stdout)

    def test_plain_text_no_instances_and_bad_flags(self):
        p = self.grove("watch")
        self.assertEqual((p.returncode, p.stdout), (0, b"no instances\n"), p.stderr)
        p = self.grove("watch", "--interval", "0")
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--interval expects seconds", p.stderr)
        p = self.grove("watch", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"usage: grove watch", p.stdout)
        self.assertIn(b"watch", self.grove("--help").stdout)
        self.assertIn(b"attach", self.grove("--help").stdout)

    # -- the live view

    def test_live_order_state_change_and_quit(self):
        a, b, c = (self.spawn() for _ in range(3))
        self.set_state(a, "idle", 100)
        self.set_state(b, "working", 10)
        self.set_state(c, "waiting", 20)
        t = self.term("watch")
        t.wait_for(lambda t: len(rows_of(t)) == 3, what="three rows")
        self.assertEqual(rows_of(t), [c, b, a], t.text())
        self.assertIn("1 waiting", t.lines()[0])
        # a starts waiting, longer ago than c: first within two seconds.
        changed = time.monotonic()
        self.set_state(a, "waiting", 60)
        seen = t.wait_for(lambda t: rows_of(t) == [a, c, b], timeout=5, what="a first")
        self.assertLess(seen - changed, 2.0, "the change took %.2f s to show" % (seen - changed))
        self.assertEqual(state_of(t, a), "waiting")
        # Time in state goes on without a change of state.
        t.wait_for(lambda t: any(line.split()[:3] == [b, "working", "12s"] for line in t.lines()),
                   timeout=5, what="b working for 12s")
        t.send(b"q")
        self.assertEqual(t.wait_exit(), 0)

    def test_live_resize_and_selection(self):
        ids = [self.spawn() for _ in range(3)]
        t = self.term("watch", "--interval", "0.5", rows=24, cols=120)
        t.wait_for(lambda t: len(rows_of(t)) == 3, what="three rows")
        t.resize(12, 60)
        t.wait_for(lambda t: t.lines()[0].startswith("grove watch") and len(rows_of(t)) == 3
                   and "PORTS" not in t.lines()[1], what="the narrow layout")
        # The last line is the key help, on the last row of the new size.
        t.wait_for(lambda t: t.lines()[11].startswith("j/k"), what="the help line")
        t.resize(30, 140)
        t.wait_for(lambda t: "PORTS" in t.lines()[1] and t.lines()[29].startswith("j/k"),
                   what="the wide layout")
        # The selected row (reverse video) moves with j and k.
        def selected(t):
            for y in range(t.rows):
                if t.screen.buffer[y][0].reverse:
                    return t.lines()[y].split()[0]
            return None
        t.wait_for(lambda t: selected(t) == ids[0], what="the first row selected")
        t.send(b"j")
        t.wait_for(lambda t: selected(t) == ids[1], what="the second row selected")
        t.send(b"\x1bOB")  # arrow down, as xterm sends it in keypad mode (terminfo kcud1)
        t.wait_for(lambda t: selected(t) == ids[2], what="the third row selected")
        t.send(b"k")
        t.wait_for(lambda t: selected(t) == ids[1], what="the second row again")
        t.send(b"q")
        self.assertEqual(t.wait_exit(), 0)

    def test_live_output_and_attach(self):
        plain = self.spawn()
        agent = self.spawn(agent=True)
        self.set_state(agent, "waiting", 5)
        t = self.term("watch")
        t.wait_for(lambda t: rows_of(t) == [agent, plain], what="two rows")
        t.send(b"o")
        t.wait_for(lambda t: ("hello from the agent " + agent) in t.text(), what="its output")
        self.assertIn("output of " + agent, t.lines()[0])
        t.send(b"o")
        t.wait_for(lambda t: rows_of(t) == [agent, plain], what="the list again")
        # Attach: tmux takes the terminal and shows the agent's screen; detach comes back.
        t.send(b"a")
        t.wait_for(lambda t: ("hello from the agent " + agent) in t.text()
                   and "grove watch" not in t.text(), what="the agent's tmux session")
        subprocess.run(["tmux", "-L", self.sock, "detach-client", "-s", "grove-" + agent],
                       check=True, capture_output=True)
        t.wait_for(lambda t: rows_of(t) == [agent, plain] and "grove watch" in t.lines()[0],
                   what="the list after detaching")
        # An instance without an agent cannot be attached: said on the status line.
        t.send(b"j")
        t.send(b"a")
        t.wait_for(lambda t: "cannot attach" in t.text() and "has no tmux session" in t.text(),
                   what="the refusal")
        t.send(b"q")
        self.assertEqual(t.wait_exit(), 0)

    # -- grove attach

    def test_attach(self):
        plain = self.spawn()
        agent = self.spawn(agent=True)
        p = self.grove("attach", "work-a99")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, b"grove attach: instance 'work-a99' not found\n")
        p = self.grove("attach", plain)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"instance '%s' has no tmux session" % plain.encode(), p.stderr)
        self.assertEqual(self.grove("attach").returncode, 2)
        t = self.term("attach", agent)
        t.wait_for(lambda t: ("hello from the agent " + agent) in t.text(), what="the session")
        subprocess.run(["tmux", "-L", self.sock, "detach-client", "-s", "grove-" + agent],
                       check=True, capture_output=True)
        self.assertEqual(t.wait_exit(), 0)
        # Another's session under the instance's name is refused (the owner mark). It is made
        # before the agent's goes, so that the tmux server never runs out of sessions (and exits).
        def tmux(*args):
            subprocess.run(["tmux", "-L", self.sock, *args], check=True, capture_output=True,
                           env=self.env)
        tmux("new-session", "-d", "-s", "impostor", "sleep", "300")
        tmux("kill-session", "-t", "=grove-" + agent)
        tmux("rename-session", "-t", "=impostor", "grove-" + agent)
        p = self.grove("attach", agent)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"is not instance", p.stderr)


def main():
    global GROVE
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    GROVE = os.path.abspath(sys.argv.pop(1))  # the rest: unittest's (a test's name)
    if pyte is None:
        print("skipped: python3-pyte is not installed", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
