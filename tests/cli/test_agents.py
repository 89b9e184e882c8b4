#!/usr/bin/python3
"""Agents you can see (CONTRACT §7) through the real binary, real tmux and stand-in agent
CLIs (tests/agents/standin.py on PATH as claude, codex and gemini): the built-in profiles
connect each agent to grove from its first second (the stand-in starts the MCP server it
was handed and logs a checkpoint through it), Claude Code's hooks report its state, the
state of agents without hooks comes from tmux, read_agent_output, notify.command,
resume_instance and `grove resume`, best-of-N, and the bad inputs.

usage: test_agents.py GROVE
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import grovetest as G  # noqa: E402

GROVE = None
STANDIN = os.path.join(HERE, "..", "agents", "standin.py")


def wait(pred, timeout=20.0, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class Agents(unittest.TestCase):
    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-agents-"))
        self.repo = os.path.join(self.tmp, "repo")
        self.bin = os.path.join(self.tmp, "bin")
        os.makedirs(self.bin)
        for name in ("claude", "codex", "gemini"):
            os.symlink(os.path.realpath(STANDIN), os.path.join(self.bin, name))
        self.log = os.path.join(self.tmp, "standin.log")
        self.go = os.path.join(self.tmp, "go")
        self.exit = os.path.join(self.tmp, "exit")
        self.sock = "grove-agents-%d" % os.getpid()
        self.env = G.clean_env(self.tmp, GROVE_LOG="error", GROVE_TMUX_SOCKET=self.sock,
                               TMUX_TMPDIR=self.tmp, STANDIN_LOG=self.log,
                               STANDIN_GO=self.go, STANDIN_EXIT=self.exit,
                               PATH=self.bin + ":" + os.environ["PATH"],
                               ANTHROPIC_API_KEY="sk-ant-test-0123456789abcdef")
        G.make_repo(self.repo, self.env)
        self.db = G.db_path(self.repo)
        self.s = G.Server(GROVE, self.repo, self.env)
        self.s.initialize()

    def tearDown(self):
        self.s.close()
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers

    def records(self, **match):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            out = [json.loads(line) for line in f if line.strip()]
        return [r for r in out if all(r.get(k) == v for k, v in match.items())]

    def state(self, iid):
        return self.s.ok("get_instance", instance_id=iid)["instance"]["agent_state"]

    def grove(self, *args, input=None):
        return subprocess.run([GROVE] + list(args), cwd=self.repo, env=self.env, input=input,
                              capture_output=True, text=True, timeout=60)

    def config(self, key, value):
        r = self.grove("config", "set", key, value)
        self.assertEqual(r.returncode, 0, r.stderr)

    def checkpoint_of(self, iid):
        return wait(lambda: self.s.ok("get_checkpoint", instance_id=iid)["checkpoint"],
                    what="a checkpoint of " + iid)

    # -- the loop: agent to grove and back

    def test_claude_is_connected_and_its_hooks_report_its_state(self):
        notified = os.path.join(self.tmp, "notified")
        notifier = os.path.join(self.tmp, "notify.py")
        with open(notifier, "w") as f:
            f.write("#!/usr/bin/python3\nimport sys, json\n"
                    "open(%r, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n" % notified)
        os.chmod(notifier, 0o755)
        self.config("notify.command", json.dumps([notifier, "{instance_id}", "{state}",
                                                  "{message}"]))
        home_before = sorted(os.listdir(self.tmp))
        inst = self.s.ok("spawn_work_instance", agent="claude", issue=5,
                         prompt="-n fix the bug; it's 'quoted'")["instance"]
        iid = inst["id"]
        self.assertEqual(inst["agent_profile"], "claude")
        cp = self.checkpoint_of(iid)
        # the checkpoint came through the server it was handed, as that instance
        self.assertEqual(cp["phase"], "standin")
        self.assertEqual(cp["message"], "-n fix the bug; it's 'quoted'")
        run = self.records(cli="claude")[0]
        p = run["parsed"]
        self.assertEqual(p["prompt"], "-n fix the bug; it's 'quoted'")  # after "--", whole
        self.assertEqual(p["allowedTools"], ["mcp__grove"])
        server = run["servers"]["grove"]
        self.assertEqual(server["command"], os.path.realpath(GROVE))
        self.assertEqual(server["args"], ["serve"])
        self.assertEqual(server["env"]["GROVE_INSTANCE_ID"], iid)
        self.assertEqual(run["instance_env"], iid)
        # its session id is grove's choice, recorded for resume
        sid = G.sql(self.db, "SELECT agent_session_id FROM grove_instances WHERE id = ?",
                     iid)[0][0]
        self.assertRegex(sid, r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                              r"[0-9a-f]{12}$")
        self.assertEqual(p["session-id"], sid)
        # a credential the profile passes reaches it (through a private file, read once)
        self.assertEqual(run["anthropic_key"], "sk-ant-test-0123456789abcdef")
        self.assertFalse(os.path.exists(os.path.join(self.repo, ".git", "grove", "agents",
                                                     iid + ".env")))
        # hooks never fail the agent
        self.assertTrue(all(h["exit"] == 0 and h["stdout"] == "" for h in
                            self.records(cli="claude") if "hook" in h))
        # Notification(permission_prompt) -> waiting, and the person is told
        wait(lambda: self.state(iid) == "waiting", what="waiting")
        w = self.s.ok("query_instances", agent_state="waiting")["instances"]
        self.assertEqual([i["id"] for i in w], [iid])
        msgs = wait(lambda: os.path.exists(notified) and open(notified).read(),
                    what="notify.command")
        self.assertEqual(json.loads(msgs.splitlines()[0]),
                         [iid, "waiting", "Claude needs your permission to use Bash"])
        # Stop -> idle
        open(self.go, "w").close()
        wait(lambda: self.state(iid) == "idle", what="idle")
        events = [e["tool_name"] for e in self.s.ok("query_events", instance_id=iid,
                                                    limit=50)["events"]]
        for ev in ("hook:UserPromptSubmit", "hook:PreToolUse", "hook:PostToolUse",
                   "hook:Notification", "hook:Stop"):
            self.assertIn(ev, events)
        # nothing was written in the worktree or the user's configuration
        self.assertEqual(G.git(self.env, inst["worktree_path"], "status", "--porcelain",
                               "--ignored").strip(), "")
        self.assertEqual([n for n in os.listdir(self.tmp) if n.startswith(".")],
                         [n for n in home_before if n.startswith(".")])  # HOME: no new config
        # SessionEnd -> exited; the instance ends and the person is told
        open(self.exit, "w").close()
        wait(lambda: self.s.ok("get_instance", instance_id=iid)["instance"]["status"] ==
             "terminated", what="terminated")
        self.assertEqual(self.state(iid), "exited")
        wait(lambda: len(open(notified).read().splitlines()) >= 2, what="exit notification")
        self.assertEqual(json.loads(open(notified).read().splitlines()[1])[:2], [iid, "exited"])

    def test_codex_and_gemini_are_connected(self):
        for agent in ("codex", "gemini"):
            iid = self.s.ok("spawn_work_instance", agent=agent,
                            prompt="do " + agent)["instance"]["id"]
            cp = self.checkpoint_of(iid)
            self.assertEqual(cp["message"], "do " + agent)
            run = self.records(cli=agent)[0]
            self.assertEqual(run["instance_env"], iid)
            self.assertIsNone(run["anthropic_key"])  # not in its profile's pass_env
            if agent == "codex":
                server = run["config"]["mcp_servers.grove"]
                self.assertEqual(server["default_tools_approval_mode"], "approve")
                self.assertEqual(run["prompt"], "do codex")
            else:
                server = run["defaults"]["mcpServers"]["grove"]
                self.assertTrue(server["trust"])
                self.assertEqual(run["prompt"], "do gemini")
                # the defaults file is grove's own, private, outside the worktree
                self.assertFalse(run["defaults_path"].startswith(self.repo + ".worktrees"))
                self.assertEqual(os.stat(run["defaults_path"]).st_mode & 0o777, 0o600)
            self.assertEqual(server["command"], os.path.realpath(GROVE))
            self.assertEqual(server["env"]["GROVE_INSTANCE_ID"], iid)
            # no hooks: the state comes from tmux; its prompt matches the waiting pattern
            wait(lambda: self.state(iid) == "waiting", what=agent + " waiting")

    # -- without hooks

    def test_state_from_tmux_output_and_exit(self):
        script = os.path.join(self.tmp, "agent.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nprintf '\\033[1mworking\\033[0m on %s\\n' \"$1\"\n"
                    "while [ ! -e \"$STANDIN_GO\" ]; do echo tick; sleep 0.2; done\n"
                    "echo 'Proceed? (yes/no)'\n"
                    "while [ ! -e \"$STANDIN_EXIT\" ]; do sleep 0.1; done\necho bye; exit 4\n")
        os.chmod(script, 0o755)
        self.config("agent.profiles", json.dumps({"mine": {
            "command": [script, "{prompt}"], "waiting_pattern": "Proceed\\? \\(yes/no\\)$"}}))
        iid = self.s.ok("spawn_work_instance", agent="mine", prompt="p1")["instance"]["id"]
        wait(lambda: self.state(iid) == "working", what="working")
        out = self.s.ok("read_agent_output", instance_id=iid, lines=2)
        self.assertEqual(out["text"].splitlines()[-1], "tick")
        self.assertEqual(out["lines"], 2)
        full = self.s.ok("read_agent_output", instance_id=iid)["text"]
        self.assertTrue(full.startswith("working on p1\n"), full)  # escapes removed
        open(self.go, "w").close()
        wait(lambda: self.state(iid) == "waiting", what="waiting", timeout=30)
        open(self.exit, "w").close()
        wait(lambda: self.state(iid) == "exited", what="exited")
        inst = self.s.ok("get_instance", instance_id=iid)["instance"]
        self.assertEqual(inst["status"], "terminated")
        # its last output stays readable
        out = self.s.ok("read_agent_output", instance_id=iid)
        self.assertTrue(out["text"].endswith("Proceed? (yes/no)\nbye"), out["text"])
        self.assertEqual(out["agent_state"], "exited")
        # resume: running again in the same worktree, with a new block of ports
        os.unlink(self.go)
        os.unlink(self.exit)
        again = self.s.ok("resume_instance", instance_id=iid, prompt="p2")["instance"]
        self.assertEqual(again["status"], "running")
        self.assertEqual(again["worktree_path"], inst["worktree_path"])
        self.assertIsNotNone(again["ports"])
        wait(lambda: "working on p2" in self.s.ok("read_agent_output",
                                                  instance_id=iid)["text"], what="resumed")
        # a live agent is not resumed twice
        self.assertIn("still running", self.s.error("resume_instance", instance_id=iid))
        open(self.exit, "w").close()
        open(self.go, "w").close()
        wait(lambda: self.state(iid) == "exited", what="exited again")
        # grove resume --all after a "reboot": the tmux server is gone
        os.unlink(self.exit)
        os.unlink(self.go)
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], env=self.env)
        r = self.grove("resume", "--all")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(iid + "\tresumed", r.stdout)
        self.assertEqual(self.s.ok("get_instance", instance_id=iid)["instance"]["status"],
                         "running")
        # terminated on request: not resumed by --all
        self.s.ok("terminate_instance", instance_id=iid)
        r = self.grove("resume", "--all")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "nothing to resume"))

    def test_long_output_and_redaction(self):
        token = "ghp_" + "A1b2C3d4" * 4 + "xyzw"
        self.config("agent.profiles", json.dumps({"loud": {"command": [
            "sh", "-c", "seq 1 6000; echo \"secret $ANTHROPIC_API_KEY and %s\"; sleep 30" % token],
            "pass_env": ["ANTHROPIC_API_KEY"]}}))
        iid = self.s.ok("spawn_work_instance", agent="loud", prompt="x")["instance"]["id"]
        out = wait(lambda: (lambda o: o if "secret" in o["text"] else None)(
            self.s.ok("read_agent_output", instance_id=iid, lines=5000)), what="output")
        lines = out["text"].split("\n")
        self.assertEqual(out["lines"], 5000)
        self.assertEqual(len(lines), 5000)
        self.assertEqual(lines[0], "1002")  # 6000 numbers and the last line: the last 5000
        self.assertEqual(lines[-2], "6000")
        # the values of grove's credential variables and GitHub tokens are redacted
        self.assertEqual(lines[-1], "secret [redacted] and [redacted]")

    def test_best_of_n(self):
        r = self.s.ok("spawn_work_instance", agent="codex", issue=9, prompt="race", count=3)
        ids = [i["id"] for i in r["instances"]]
        self.assertEqual(ids, ["work-9-a1", "work-9-a2", "work-9-a3"])
        self.assertEqual(r["instance"]["id"], ids[0])
        self.assertEqual(len({i["worktree_path"] for i in r["instances"]}), 3)
        self.assertEqual(len({i["ports"]["first"] for i in r["instances"]}), 3)
        self.assertEqual(len({i["session_name"] for i in r["instances"]}), 3)
        for iid in ids:
            self.checkpoint_of(iid)

    # -- bad input

    def test_bad_input(self):
        def nothing_made():
            self.assertEqual(G.sql(self.db, "SELECT count(*) FROM grove_instances")[0][0], 0)
            wt = self.repo + ".worktrees"
            self.assertEqual(os.listdir(wt) if os.path.isdir(wt) else [], [])
        r = self.s.call("spawn_work_instance", prompt="x", count=11)
        self.assertTrue(r.get("isError"))
        self.assertIn("unknown agent profile 'nope' (known: claude, codex, gemini, custom",
                      self.s.error("spawn_work_instance", agent="nope", prompt="x"))
        self.config("agent.profiles", json.dumps({"gone": {"command": ["/no/such/agent"]},
                                                  "bad": {"command": "claude"}}))
        self.assertIn("its program '/no/such/agent' is not an executable file",
                      self.s.error("spawn_work_instance", agent="gone", prompt="x"))
        self.assertIn("command must be a non-empty JSON array",
                      self.s.error("spawn_work_instance", agent="bad", prompt="x"))
        nothing_made()
        # the hook: unknown instance, garbage, a missing database: exit 0, said on stderr
        for args, stdin, says in (
                (["working", "--instance", "work-a9", "--db", self.db], "{}", "not found"),
                (["working", "--instance", "work-a9", "--db", self.db], "\x00garbage", "not found"),
                (["working", "--instance", "x", "--db", self.tmp + "/none.db"], "", "not there"),
                (["bogus", "--instance", "x", "--db", self.db], "", "unknown state"),
                ([], "", "expected one STATE")):
            r = self.grove("hook", *args, input=stdin)
            self.assertEqual(r.returncode, 0)
            self.assertEqual(r.stdout, "")
            self.assertIn(says, r.stderr)
        self.assertFalse(os.path.exists(self.tmp + "/none.db"))
        # garbage on stdin of a real instance still records the state
        iid = self.s.ok("spawn_work_instance", agent="codex", prompt="x")["instance"]["id"]
        r = self.grove("hook", "idle", "--instance", iid, "--db", self.db, input="not json")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        ev = self.s.ok("query_events", instance_id=iid, tool="hook:idle")["events"][0]
        self.assertEqual(ev["metadata"]["input"], "not a JSON object")
        # resume refuses an instance whose worktree is gone
        self.s.ok("terminate_instance", instance_id=iid, remove_worktree=True, force=True)
        self.assertIn("has no worktree any more", self.s.error("resume_instance",
                                                                instance_id=iid))


if __name__ == "__main__":
    GROVE = os.path.realpath(sys.argv.pop(1))
    unittest.main(verbosity=2)
