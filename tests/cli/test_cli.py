#!/usr/bin/python3
"""Command-line tests: grove's commands, exit codes and files, in a temporary repository.

usage: test_cli.py GROVE
"""
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import unittest

GROVE = None


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def git_env(tmp):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GROVE_", "GIT_"))}
    env.update(HOME=tmp, XDG_CONFIG_HOME=os.path.join(tmp, "xdg"), GIT_CONFIG_NOSYSTEM="1",
               GROVE_LOG="error")
    return env


class Cli(unittest.TestCase):
    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-cli-"))
        self.repo = os.path.join(self.tmp, "repo")
        self.env = git_env(self.tmp)
        subprocess.run(["bash", "-ec", """
            git init -q -b main "$1" && cd "$1"
            git config user.name t && git config user.email t@e
            echo hi > README.md && git add -A && git commit -qm init
        """, "x", self.repo], check=True, env=self.env)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def grove(self, *args, cwd=None, stdin=b"", env=None):
        return subprocess.run([GROVE, *args], cwd=cwd or self.repo, input=stdin,
                              capture_output=True, env=env or self.env, timeout=60)

    def serve(self, *lines, env=None):
        data = "".join(json.dumps(l) + "\n" for l in lines).encode()
        p = self.grove("serve", stdin=data, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [json.loads(l) for l in p.stdout.decode().splitlines()]

    def spawn(self, **args):
        init = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": "cli-test", "version": "1"}}}
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "spawn_work_instance", "arguments": args}}
        out = self.serve(init, call)
        return out[1]["result"]["structuredContent"]["instance"]

    def test_version_and_help(self):
        p = self.grove("--version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout.decode(), r"^grove \d+\.\d+\.\d+\n$")
        p = self.grove("--help")
        self.assertEqual(p.returncode, 0)
        for cmd in ("serve", "demo", "init", "ls", "show", "migrate", "export", "import",
                    "stats", "gc", "config"):
            self.assertIn(cmd, p.stdout.decode())
        for cmd in ("serve", "demo", "init", "ls", "show", "migrate", "config"):
            p = self.grove(cmd, "--help")
            self.assertEqual(p.returncode, 0, cmd)
            self.assertIn("usage: grove " + cmd, p.stdout.decode())
            self.assertEqual(p.stderr, b"")

    def test_usage_errors_exit_2(self):
        for args in (["frobnicate"], ["ls", "--bogus"], ["serve", "--nope"], ["show"],
                     ["migrate"], ["migrate", "sideways"], ["migrate", "apply", "--to", "x"],
                     ["ls", "--repo"], ["init", "extra"], ["config", "get"], []):
            p = self.grove(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertEqual(p.stdout, b"", args)
            self.assertNotEqual(p.stderr, b"", args)

    def test_init_creates_private_database(self):
        p = self.grove("init")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode()
        db = os.path.join(self.repo, ".git", "grove", "grove.db")
        self.assertIn(db, out)
        self.assertIn(self.repo + ".worktrees", out)
        self.assertEqual(stat.S_IMODE(os.stat(db).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(db)).st_mode), 0o700)
        con = sqlite3.connect(db)
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table','view')")}
        for t in ("grove_instances", "grove_instance_relationships", "grove_mcp_events",
                  "grove_checkpoints", "grove_feedback", "grove_github_issues",
                  "grove_user_config", "grove_schema_migrations", "grove_running_instances",
                  "grove_recent_failures", "grove_stale_checkpoints", "grove_tool_success_rate"):
            self.assertIn(t, tables)
        self.assertEqual(con.execute("PRAGMA journal_mode").fetchone()[0], "wal")
        con.close()

    def test_init_outside_a_repository_fails_clearly(self):
        p = self.grove("init", cwd=self.tmp)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"grove init:", p.stderr)

    def test_ls_and_show(self):
        p = self.grove("ls")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"no instances", p.stdout)
        inst = self.spawn(issue=9, prompt="do it")
        p = self.grove("ls", "--json")
        self.assertEqual(p.returncode, 0)
        listed = json.loads(p.stdout)
        self.assertEqual([i["id"] for i in listed], ["work-9-a1"])
        self.assertEqual(listed[0], inst)
        p = self.grove("ls")
        self.assertIn(b"work-9-a1", p.stdout)
        self.assertIn(b"#9", p.stdout)
        # terminated rows appear with --all only
        db = os.path.join(self.repo, ".git", "grove", "grove.db")
        con = sqlite3.connect(db)
        con.execute("UPDATE grove_instances SET status='terminated' WHERE id='work-9-a1'")
        con.commit()
        con.close()
        self.assertNotIn(b"work-9-a1", self.grove("ls").stdout)
        self.assertIn(b"work-9-a1", self.grove("ls", "--all").stdout)
        p = self.grove("show", "work-9-a1", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        shown = json.loads(p.stdout)
        self.assertEqual(shown["instance"]["id"], "work-9-a1")
        self.assertEqual(shown["git"]["ahead"], 0)
        self.assertEqual(shown["recent_events"], [])
        p = self.grove("show", "work-9-a1")
        self.assertIn(b"grove/work-9-a1", p.stdout)
        p = self.grove("show", "work-a404")
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"work-a404", p.stderr)

    def test_migrate_status_rollback_apply(self):
        p = self.grove("migrate", "status", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        st = json.loads(p.stdout)
        self.assertEqual(st[0]["version"], 1)
        self.assertEqual(st[0]["state"], "pending")
        self.assertEqual(self.grove("migrate", "apply").returncode, 0)
        st = json.loads(self.grove("migrate", "status", "--json").stdout)
        self.assertEqual(st[0]["state"], "applied")
        self.assertEqual(len(st[0]["checksum"]), 64)
        p = self.grove("migrate", "rollback", "--to", "0")
        self.assertEqual(p.returncode, 0, p.stderr)
        db = os.path.join(self.repo, ".git", "grove", "grove.db")
        con = sqlite3.connect(db)
        left = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE name LIKE 'grove_%' AND name != 'grove_schema_migrations'")]
        con.close()
        self.assertEqual(left, [])
        self.assertEqual(self.grove("migrate", "apply").returncode, 0)

    def test_newer_database_is_refused_untouched(self):
        self.assertEqual(self.grove("init").returncode, 0)
        db = os.path.join(self.repo, ".git", "grove", "grove.db")
        con = sqlite3.connect(db)
        con.execute("INSERT INTO grove_schema_migrations(version, name, checksum, applied_at) VALUES (99, 'future', 'x', 'now')")
        con.commit()
        con.close()
        before = read_bytes(db)
        for args in (["ls"], ["init"], ["migrate", "apply"]):
            p = self.grove(*args)
            self.assertEqual(p.returncode, 1, args)
            self.assertIn(b"99", p.stderr)
        self.assertEqual(read_bytes(db), before)
        # the server keeps serving and explains the refusal in every tool result
        out = self.serve({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                          "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                                     "clientInfo": {"name": "t", "version": "1"}}},
                         {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": "query_instances", "arguments": {}}})
        self.assertTrue(out[1]["result"]["isError"])
        self.assertIn("99", out[1]["result"]["content"][0]["text"])

    def test_config(self):
        self.assertEqual(self.grove("config", "set", "branch.prefix", "agents/").returncode, 0)
        p = self.grove("config", "get", "branch.prefix")
        self.assertEqual(p.stdout, b"agents/\n")
        self.assertIn(b"branch.prefix=agents/", self.grove("config", "list").stdout)
        inst = self.spawn()
        self.assertEqual(inst["branch_name"], "agents/work-a1")
        p = self.grove("config", "get", "nothing.here")
        self.assertEqual(p.returncode, 1)
        # worktrees.base_path moves new worktrees
        base = os.path.join(self.tmp, "elsewhere")
        self.assertEqual(self.grove("config", "set", "worktrees.base_path", base).returncode, 0)
        inst = self.spawn()
        self.assertEqual(inst["worktree_path"], os.path.join(base, "work-a2"))
        self.assertTrue(os.path.isfile(os.path.join(base, "work-a2", "README.md")))

    def test_config_secret(self):
        token = "ghp_CliSecretTokenValue0123456789XYZ"
        tb = token.encode()
        p = self.grove("config", "set", "github.token", "--secret", stdin=tb + b"\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(tb, p.stdout + p.stderr)
        # the database holds only sealed text: not in the file, its WAL or its shm
        db = os.path.join(self.repo, ".git", "grove", "grove.db")
        for f in (db, db + "-wal", db + "-shm"):
            if os.path.exists(f):
                self.assertNotIn(tb, read_bytes(f), f)
        con = sqlite3.connect(db)
        value, enc = con.execute("SELECT value, is_encrypted FROM grove_user_config "
                                 "WHERE key = 'github.token'").fetchone()
        con.close()
        self.assertEqual(enc, 1)
        self.assertTrue(value.startswith("sb1:"), value)
        self.assertNotIn(token, value)
        # the key: 32 bytes, 0600, in a 0700 folder under XDG_CONFIG_HOME
        key = os.path.join(self.env["XDG_CONFIG_HOME"], "grove", "key")
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(key)).st_mode), 0o700)
        self.assertEqual(os.path.getsize(key), 32)
        # get refuses to print it; --reveal prints it
        p = self.grove("config", "get", "github.token")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, b"")
        self.assertIn(b"'github.token' is a secret; pass --reveal to print it", p.stderr)
        self.assertNotIn(tb, p.stderr)
        p = self.grove("config", "get", "github.token", "--reveal")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, tb + b"\n")
        # list shows (secret), never the value
        self.assertEqual(self.grove("config", "set", "git.remote", "upstream").returncode, 0)
        p = self.grove("config", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(tb, p.stdout)
        self.assertIn(b"github.token=(secret)\n", p.stdout)
        self.assertIn(b"git.remote=upstream\n", p.stdout)
        p = self.grove("config", "list", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(tb, p.stdout)
        rows = {r["key"]: r for r in json.loads(p.stdout)}
        self.assertEqual(rows["github.token"]["value"], "(secret)")
        self.assertIs(rows["github.token"]["is_encrypted"], True)
        self.assertEqual(rows["git.remote"]["value"], "upstream")
        # replacing it; "\r\n" is stripped, inner newlines are kept
        p = self.grove("config", "set", "github.token", "--secret", stdin=b"two\nlines\r\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.grove("config", "get", "github.token", "--reveal")
        self.assertEqual(p.stdout, b"two\nlines\n")
        # the value as an argument, or flags with the wrong verb: usage errors
        for args in (["set", "github.token", token, "--secret"], ["get", "github.token", "--secret"],
                     ["set", "k", "v", "--reveal"], ["list", "--reveal"]):
            p = self.grove("config", *args)
            self.assertEqual(p.returncode, 2, args)
            self.assertNotIn(tb, p.stdout + p.stderr)
        # nothing on stdin, or too much
        p = self.grove("config", "set", "github.token", "--secret", stdin=b"\n")
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"no value", p.stderr)
        p = self.grove("config", "set", "github.token", "--secret", stdin=b"x" * (64 * 1024 + 1))
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"64 KiB", p.stderr)
        p = self.grove("config", "set", "big", "--secret", stdin=b"y" * (64 * 1024))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.grove("config", "get", "big", "--reveal").stdout,
                         b"y" * (64 * 1024) + b"\n")
        # another key: the secret cannot be read, and the message does not leak it
        self.assertEqual(self.grove("config", "set", "github.token", "--secret",
                                    stdin=tb).returncode, 0)
        os.chmod(key, 0o600)
        with open(key, "wb") as f:
            f.write(os.urandom(32))
        p = self.grove("config", "get", "github.token", "--reveal")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, b"")
        self.assertIn(b"cannot decrypt", p.stderr)
        self.assertNotIn(tb, p.stderr)
        # a group-readable key is refused
        os.chmod(key, 0o640)
        p = self.grove("config", "set", "other", "--secret", stdin=b"v")
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"must be mode 0600", p.stderr)

    def test_serve_outside_repository_still_speaks_mcp(self):
        env = dict(self.env)
        p = subprocess.run([GROVE, "serve"], cwd=self.tmp, capture_output=True, timeout=30, env=env,
                           input=(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}) + "\n").encode())
        self.assertEqual(p.returncode, 0)
        self.assertEqual(json.loads(p.stdout), {"jsonrpc": "2.0", "id": 1, "result": {}})

    def test_gc(self):
        a, b, c = self.spawn(), self.spawn(), self.spawn()
        base = self.repo + ".worktrees"
        db = os.path.join(self.repo, ".git", "grove", "grove.db")
        con = sqlite3.connect(db)
        con.execute("DELETE FROM grove_instances WHERE id IN ('work-a1', 'work-a2')")
        con.commit()
        con.close()
        with open(os.path.join(b["worktree_path"], "wip.txt"), "w") as f:
            f.write("unsaved work\n")
        shutil.rmtree(c["worktree_path"])
        os.makedirs(os.path.join(base, "junk"))

        def worktrees():
            out = subprocess.run(["git", "worktree", "list", "--porcelain"], cwd=self.repo,
                                 capture_output=True, env=self.env, check=True).stdout.decode()
            return sorted(l.split(" ", 1)[1] for l in out.splitlines() if l.startswith("worktree "))

        before = worktrees()
        p = self.grove("gc", "--dry-run", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        dry = {(r["kind"], r["action"]) for r in json.loads(p.stdout)}
        self.assertIn(("orphan-worktree", "would remove"), dry)
        self.assertIn(("orphan-worktree", "kept"), dry)
        self.assertIn(("stale-entry", "would prune"), dry)
        self.assertIn(("missing-worktree", "would terminate"), dry)
        self.assertIn(("orphan-folder", "kept"), dry)
        self.assertEqual(worktrees(), before)
        self.assertTrue(os.path.isdir(a["worktree_path"]))

        p = self.grove("gc", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        done = {(r["kind"], r["subject"], r["action"]) for r in json.loads(p.stdout)}
        self.assertIn(("orphan-worktree", a["worktree_path"], "removed"), done)
        self.assertIn(("orphan-worktree", b["worktree_path"], "kept"), done)
        self.assertIn(("stale-entry", "work-a3", "pruned"), done)
        self.assertIn(("missing-worktree", "work-a3", "terminated"), done)
        self.assertIn(("orphan-folder", os.path.join(base, "junk"), "kept"), done)
        self.assertFalse(os.path.exists(a["worktree_path"]))
        self.assertTrue(os.path.isfile(os.path.join(b["worktree_path"], "wip.txt")))
        self.assertTrue(os.path.isdir(os.path.join(base, "junk")))
        self.assertEqual(worktrees(), sorted([self.repo, b["worktree_path"]]))
        branches = subprocess.run(["git", "branch", "--list", "grove/*"], cwd=self.repo,
                                  capture_output=True, env=self.env).stdout.decode()
        self.assertNotIn("work-a1", branches)
        self.assertIn("work-a2", branches)
        listed = json.loads(self.grove("ls", "--all", "--json").stdout)
        self.assertEqual([(i["id"], i["status"]) for i in listed], [("work-a3", "terminated")])
        # nothing left to do but what is kept on purpose
        again = {r["action"] for r in json.loads(self.grove("gc", "--json").stdout)}
        self.assertEqual(again, {"kept"})

    def test_demo(self):
        env = dict(self.env, TMUX_TMPDIR=self.tmp)  # a private tmux server
        p = self.grove("demo", cwd=self.tmp, env=env)
        subprocess.run(["tmux", "kill-server"], env=env, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode()
        for needle in ("spawn_work_instance", "work-1-a1", "log_checkpoint", "get_instance",
                       "spawn_review_instance", "review-1-a1", "send_feedback",
                       "terminate_instance", "relationship: work-1-a1 -> review-1-a1 (spawned_review)",
                       "create_pull_request", "pushed branch 'grove/work-1-a1'",
                       "'grove serve' exited with status 0", "events (newest first)"):
            self.assertIn(needle, out)
        # the temporary folder is cleaned up
        # the branch really is on the bare origin
        self.assertNotIn("! tool", out)
        first = out.splitlines()[0]
        self.assertTrue(first.startswith("grove demo in "))
        self.assertFalse(os.path.exists(first[len("grove demo in "):]))


if __name__ == "__main__":
    GROVE = os.path.realpath(sys.argv.pop(1))
    unittest.main(verbosity=2)
