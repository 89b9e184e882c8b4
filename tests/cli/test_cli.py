#!/usr/bin/python3
"""Command-line tests: grove's commands, exit codes and files, in a temporary repository.

usage: test_cli.py GROVE
"""
import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import grovetest as G  # noqa: E402

GROVE = None


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def git_env(tmp):
    return G.clean_env(tmp, XDG_CONFIG_HOME=os.path.join(tmp, "xdg"), GROVE_LOG="error")


INIT = G.initialize_message("cli-test")


class Cli(unittest.TestCase):
    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-cli-"))
        self.repo = os.path.join(self.tmp, "repo")
        self.env = git_env(self.tmp)
        G.make_repo(self.repo, self.env, files={"README.md": "hi\n"}, message="init")

    def tearDown(self):
        self.doCleanups()  # first: a test's tmux server is reached through a socket in tmp
        shutil.rmtree(self.tmp, ignore_errors=True)

    def grove(self, *args, cwd=None, stdin=b"", env=None):
        return subprocess.run([GROVE, *args], cwd=cwd or self.repo, input=stdin,
                              capture_output=True, env=env or self.env, timeout=60)

    def serve(self, *lines, env=None):
        p, out = G.serve_once(GROVE, self.repo, env or self.env, lines, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return out

    def spawn(self, **args):
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "spawn_work_instance", "arguments": args}}
        out = self.serve(INIT, call)
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

    def test_config_refuses_a_secret_on_the_command_line(self):
        token = "ghp_OnTheCommandLine0123456789abcdefXYZ"
        for key in ("github.token", "deploy.api_key"):
            p = self.grove("config", "set", key, token)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(b"--secret", p.stderr)
            self.assertIn(b"nothing was stored", p.stderr)
            self.assertEqual(self.grove("config", "get", key).returncode, 1)
        db = os.path.join(self.repo, ".git", "grove", "grove.db")
        for f in (db, db + "-wal"):
            if os.path.exists(f):
                with open(f, "rb") as fh:
                    self.assertNotIn(token.encode(), fh.read())
        # an ordinary setting is still set the plain way
        self.assertEqual(self.grove("config", "set", "git.remote", "upstream").returncode, 0)

    def test_relative_base_path_is_relative_to_the_repository(self):
        self.assertEqual(self.grove("config", "set", "worktrees.base_path", "../rel-wts").returncode,
                         0)
        want = os.path.join(self.tmp, "rel-wts")
        sub = os.path.join(self.repo, "deep", "er")
        os.makedirs(sub)
        for cwd in (self.repo, sub):
            p = self.grove("init", cwd=cwd)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(want, p.stdout.decode())
            self.assertNotIn(os.path.join(sub, "..", "rel-wts"), p.stdout.decode())
        inst = self.spawn()
        self.assertEqual(inst["worktree_path"], os.path.join(want, "work-a1"))

    def test_untrusted_database_runs_nothing_and_sends_no_token(self):
        """Issue 13, finding 1: a database that came with a clone (inside the working tree, or
        not private) gives no setting that runs a program or sends the token."""
        import http.server
        import threading

        hits = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append((self.path, self.headers.get("Authorization")))
                self.send_response(404)
                self.end_headers()

            def log_message(self, *a):
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        marker = os.path.join(self.tmp, "pwned")
        outside = os.path.join(self.tmp, "private", "grove.db")
        os.makedirs(os.path.dirname(outside), mode=0o700)
        cases = [("inside the working tree", os.path.join(self.repo, ".beads", "beads.db"), None),
                 ("mode 0644 outside", os.path.join(self.tmp, "shared.db"), 0o644),
                 ("private, outside: trusted", outside, None)]
        try:
            for n, (what, db, mode) in enumerate(cases):
                env = dict(self.env, GROVE_DB=db, GROVE_LOG="warn",
                           GITHUB_TOKEN="ghp_ShouldNeverLeave0123456789abcdef",
                           GITHUB_REPOSITORY="acme/widgets")
                for key, value in (("worktrees.setup_command", json.dumps(["touch", marker])),
                                   ("github.api_url", "http://127.0.0.1:%d" % srv.server_port)):
                    p = self.grove("config", "set", key, value, env=env)
                    self.assertEqual(p.returncode, 0, p.stderr)
                if mode is not None:
                    os.chmod(db, mode)
                call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                        "params": {"name": "spawn_work_instance", "arguments": {"issue": 7 + n}}}
                p, out = G.serve_once(GROVE, self.repo, env, [INIT, call], timeout=60)
                self.assertFalse(out[1]["result"]["isError"], out[1])
                listed = self.grove("config", "list", env=env).stdout.decode()
                if db == outside:
                    self.assertTrue(os.path.exists(marker), what)  # the control: it would run
                    self.assertEqual(len(hits), 1, hits)
                    self.assertNotIn("IGNORED", listed)
                    continue
                self.assertFalse(os.path.exists(marker), what)
                self.assertEqual(hits, [], what)
                self.assertIn(b"is ignored", p.stderr, what)
                self.assertIn("worktrees.setup_command", listed)
                self.assertIn("IGNORED", listed)
        finally:
            srv.shutdown()
        # the trusted database's fetch carried the token to the local API it names
        self.assertEqual(hits[0][1], "Bearer ghp_ShouldNeverLeave0123456789abcdef")

    def test_config_secret(self):
        token = "ghp_CliSecretTokenValue0123456789XYZ"
        tb = token.encode()
        # a connection held open across `config set`: the WAL outlives grove's connection (the
        # last connection to close would checkpoint and delete it)
        self.assertEqual(self.grove("init").returncode, 0)
        db = os.path.join(self.repo, ".git", "grove", "grove.db")
        held = sqlite3.connect(db)
        try:
            held.execute("SELECT count(*) FROM grove_user_config").fetchone()
            p = self.grove("config", "set", "github.token", "--secret", stdin=tb + b"\n")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertNotIn(tb, p.stdout + p.stderr)
            # the database holds only sealed text: not in the file, its WAL or its shm
            self.assertTrue(os.path.exists(db + "-wal"))
            self.assertIn(b"sb1:", read_bytes(db + "-wal"))  # the write is in this WAL
            for f in (db, db + "-wal", db + "-shm"):
                self.assertNotIn(tb, read_bytes(f), f)
        finally:
            held.close()
        self.assertNotIn(tb, read_bytes(db), db)
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
        self.assertIn(b"github.token=(secret)  [database]\n", p.stdout)
        self.assertIn(b"git.remote=upstream  [database]\n", p.stdout)
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

    def test_gc_keeps_orphan_worktree_with_unique_commit(self):
        kept, gone = self.spawn(), self.spawn()
        db = os.path.join(self.repo, ".git", "grove", "grove.db")
        con = sqlite3.connect(db)
        con.execute("DELETE FROM grove_instances")  # both orphans: worktrees with no row
        con.commit()
        con.close()
        # clean worktrees, each with a commit: kept's exists nowhere else, gone's is also on
        # another branch
        for inst in (kept, gone):
            self.git("commit", "-q", "--allow-empty", "-m", "work of " + inst["id"],
                     cwd=inst["worktree_path"])
        commit = self.git("rev-parse", "HEAD", cwd=kept["worktree_path"]).strip()
        self.git("branch", "other/saved", self.git("rev-parse", gone["branch_name"]).strip())
        self.assertEqual(self.git("status", "--porcelain", cwd=kept["worktree_path"]), "")
        why = ("branch '%s' has 0 uncommitted files and 1 commits that exist nowhere else"
               % kept["branch_name"])
        dry = self.gc_json("--dry-run")
        self.assertIn({"kind": "orphan-worktree", "subject": kept["worktree_path"],
                       "action": "kept", "detail": why}, dry)
        self.assertIn({"kind": "orphan-worktree", "subject": gone["worktree_path"],
                       "action": "would remove", "detail": gone["branch_name"]}, dry)
        notes = self.gc_json()
        self.assertIn({"kind": "orphan-worktree", "subject": kept["worktree_path"],
                       "action": "kept", "detail": why}, notes)
        self.assertIn({"kind": "orphan-worktree", "subject": gone["worktree_path"],
                       "action": "removed", "detail": gone["branch_name"]}, notes)
        self.assertTrue(os.path.isdir(kept["worktree_path"]))
        self.assertFalse(os.path.exists(gone["worktree_path"]))
        self.assertEqual(set(self.worktree_list()), {kept["worktree_path"]})
        self.assertEqual(self.git("rev-parse", kept["branch_name"]).strip(), commit)
        self.assertEqual(self.grove_branches(), {kept["branch_name"]})
        self.assertEqual({n["action"] for n in self.gc_json()}, {"kept"})

    # ---- gc after crashes (tests/stress/kill9.py makes these for real) ----

    def git(self, *args, cwd=None):
        return subprocess.run(["git", *args], cwd=cwd or self.repo, capture_output=True,
                              env=self.env, check=True).stdout.decode()

    def worktree_list(self):
        """git worktree list --porcelain: {path: locked reason or None} (main excluded)."""
        out, cur, res = self.git("worktree", "list", "--porcelain"), None, {}
        for line in out.splitlines():
            if line.startswith("worktree "):
                cur = line[9:]
                res[cur] = None
            elif line.startswith("locked") and cur:
                res[cur] = line[7:]
        res.pop(self.repo, None)
        return res

    def grove_branches(self):
        return set(self.git("for-each-ref", "--format=%(refname:short)", "refs/heads/grove/").split())

    def gc_json(self, *extra):
        """gc's findings: what it did or kept (its classes and sizes: test_gc_merged.py)."""
        p = self.grove("gc", "--json", *extra)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [n for n in json.loads(p.stdout) if n["kind"] not in ("instance", "disk-total")]

    def half_made(self, name, journal=True, worktree=True, lock="initializing", checkout=True):
        """What a spawn killed after making branch `grove/<name>` leaves (no row)."""
        base = self.repo + ".worktrees"
        path = os.path.join(base, name)
        os.makedirs(base, exist_ok=True)
        self.git("branch", "grove/" + name, "main")
        if worktree:
            self.git("worktree", "add", "-q", *([] if checkout else ["--no-checkout"]), path,
                     "grove/" + name)
            if lock is not None:
                self.git("worktree", "lock", "--reason", lock, path)
        if journal:
            d = os.path.join(self.repo, ".git", "grove", "creating")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, name), "w") as f:
                f.write("grove/%s\n%s\n" % (name, path))
        return path

    def test_gc_undoes_interrupted_creations(self):
        self.assertEqual(self.grove("init").returncode, 0)
        journals = os.path.join(self.repo, ".git", "grove", "creating")
        a = self.half_made("work-a1")                                    # checked out, locked
        b = self.half_made("work-a2", checkout=False)                    # killed in checkout
        self.half_made("work-a3", worktree=False)                        # only the branch
        d = self.half_made("work-a4", journal=False)                     # an older grove's
        e = self.half_made("work-a5", lock=None, journal=False)          # not grove's: an orphan
        with open(os.path.join(b, "half.txt"), "w") as f:
            f.write("half a checkout\n")                                # no loss: never recorded
        removing = os.path.join(self.repo, ".git", "grove", "removing")
        os.makedirs(removing)
        for half_written in (os.path.join(journals, ".work-a9.tmp"),  # killed while writing
                             os.path.join(removing, "work-a9.tmp")):
            with open(half_written, "w") as f:
                f.write("grove/wo")
        dry = self.gc_json("--dry-run")
        self.assertIn({"kind": "interrupted-create", "subject": a, "action": "would remove",
                       "detail": "grove/work-a1"}, dry)
        self.assertEqual(len(self.worktree_list()), 4)
        done = {(n["kind"], n["subject"], n["action"]) for n in self.gc_json()}
        for path in (a, b, os.path.join(self.repo + ".worktrees", "work-a3"), d):
            self.assertIn(("interrupted-create", path, "removed"), done)
            self.assertFalse(os.path.exists(path), path)
        self.assertIn(("orphan-worktree", e, "removed"), done)
        self.assertEqual(self.worktree_list(), {})
        self.assertEqual(self.grove_branches(), set())
        self.assertEqual(os.listdir(journals), [])
        self.assertEqual(os.listdir(removing), [])
        self.assertEqual(os.listdir(os.path.join(self.repo, ".git", "worktrees")), [])
        self.assertEqual(self.gc_json(), [])
        # the numbers are free again
        self.assertEqual(self.spawn()["id"], "work-a1")

    def test_gc_completes_recorded_creation_and_spares_running_one(self):
        import fcntl
        inst = self.spawn()
        path = inst["worktree_path"]
        # killed after recording the row, before unlocking: lock and journal are left
        self.git("worktree", "lock", "--reason", "initializing", path)
        journals = os.path.join(self.repo, ".git", "grove", "creating")
        os.makedirs(journals, exist_ok=True)
        with open(os.path.join(journals, inst["id"]), "w") as f:
            f.write("%s\n%s\n" % (inst["branch_name"], path))
        # a creation in progress: its process holds the journal's lock
        live = self.half_made("work-a7")
        fd = os.open(os.path.join(journals, "work-a7"), os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            notes = self.gc_json()
            self.assertIn({"kind": "interrupted-create", "subject": path, "action": "completed",
                           "detail": "instance '%s' is recorded: its worktree is unlocked"
                           % inst["id"]}, notes)
            self.assertIn({"kind": "interrupted-create", "subject": live, "action": "kept",
                           "detail": "being created by a running grove process"}, notes)
            self.assertEqual([n for n in notes if n["subject"] in (live, "grove/work-a7")
                              and n["action"] != "kept"], [])
            self.assertEqual(self.worktree_list(), {path: None, live: "initializing"})
            self.assertTrue(os.path.isdir(live))
            self.assertIn("grove/work-a7", self.grove_branches())
        finally:
            os.close(fd)  # the creator dies
        notes = self.gc_json()
        self.assertIn({"kind": "interrupted-create", "subject": live, "action": "removed",
                       "detail": "grove/work-a7"}, notes)
        self.assertEqual(self.worktree_list(), {path: None})
        self.assertEqual(os.listdir(journals), [])
        listed = json.loads(self.grove("ls", "--json").stdout)
        self.assertEqual([(i["id"], i["status"]) for i in listed], [(inst["id"], "running")])
        self.assertEqual(self.gc_json(), [])

    def test_gc_finishes_interrupted_removal(self):
        a, b = self.spawn(), self.spawn()
        self.git("commit", "-q", "--allow-empty", "-m", "unpushed", cwd=b["worktree_path"])
        db = os.path.join(self.repo, ".git", "grove", "grove.db")
        con = sqlite3.connect(db)
        con.execute("UPDATE grove_instances SET status = 'terminated'")
        con.commit()
        con.close()
        # terminates with removal killed half-way: the removal journal names branch and folder
        journals = os.path.join(self.repo, ".git", "grove", "removing")
        os.makedirs(journals, exist_ok=True)
        for inst in (a, b):
            with open(os.path.join(journals, inst["id"]), "w") as f:
                f.write("%s\n%s\n" % (inst["branch_name"], inst["worktree_path"]))
        # a: killed right after writing it; b (forced: its commit goes too): after moving its
        # admin folder aside and deleting part of its folder
        os.rename(os.path.join(self.repo, ".git", "worktrees", b["id"]),
                  os.path.join(journals, b["id"] + ".admin"))
        os.remove(os.path.join(b["worktree_path"], "README.md"))
        self.assertEqual(set(self.worktree_list()), {a["worktree_path"]})
        dry = self.gc_json("--dry-run")
        self.assertIn({"kind": "interrupted-removal", "subject": a["worktree_path"],
                       "action": "would remove", "detail": a["branch_name"]}, dry)
        self.assertTrue(os.path.isdir(b["worktree_path"]))
        notes = {(n["kind"], n["subject"], n["action"]) for n in self.gc_json()}
        self.assertIn(("interrupted-removal", a["worktree_path"], "removed"), notes)
        self.assertIn(("interrupted-removal", b["worktree_path"], "removed"), notes)
        self.assertEqual(self.worktree_list(), {})
        self.assertEqual(self.grove_branches(), set())
        for inst in (a, b):
            self.assertFalse(os.path.exists(inst["worktree_path"]))
        self.assertEqual(os.listdir(journals), [])
        listed = json.loads(self.grove("ls", "--all", "--json").stdout)
        self.assertEqual(sorted(i["status"] for i in listed), ["terminated", "terminated"])
        self.assertEqual(self.gc_json(), [])

    def test_gc_deletes_orphan_branches_without_work(self):
        inst = self.spawn()
        self.git("branch", "grove/work-a8", "main")           # a spawn killed after its branch
        self.git("branch", "grove/work-a9", "main")
        wt = os.path.join(self.tmp, "elsewhere")
        self.git("worktree", "add", "-q", wt, "grove/work-a9")
        self.git("commit", "-q", "--allow-empty", "-m", "mine", cwd=wt)
        self.git("worktree", "remove", wt)                      # work-a9 holds a unique commit
        self.git("branch", "other/keep", "main")                # not grove's prefix
        dry = self.gc_json("--dry-run")
        self.assertIn({"kind": "orphan-branch", "subject": "grove/work-a8",
                       "action": "would delete", "detail": "no instance, no worktree"}, dry)
        self.assertIn("grove/work-a8", self.grove_branches())
        notes = self.gc_json()
        self.assertIn({"kind": "orphan-branch", "subject": "grove/work-a8", "action": "deleted",
                       "detail": "no instance, no worktree"}, notes)
        self.assertIn({"kind": "orphan-branch", "subject": "grove/work-a9", "action": "kept",
                       "detail": "1 commits that exist nowhere else"}, notes)
        self.assertEqual(self.grove_branches(), {inst["branch_name"], "grove/work-a9"})
        self.assertIn("other/keep", self.git("branch", "--list", "other/keep"))
        self.assertEqual({n["action"] for n in self.gc_json()}, {"kept"})

    # ---- issue 13: agents' sessions, environment and long prompts ----

    def agent_env(self, agent, **extra):
        """self.env with `agent` (an argv) as the agent command, on a tmux server of this test
        alone (its own socket in its own TMUX_TMPDIR), killed at cleanup."""
        tmuxdir = os.path.join(self.tmp, "tmux")
        os.makedirs(tmuxdir, exist_ok=True)
        sock = "grove-test-%d-cli" % os.getpid()
        env = dict(self.env, TMUX_TMPDIR=tmuxdir, GROVE_TMUX_SOCKET=sock,
                   GROVE_AGENT_COMMAND=json.dumps(agent), **extra)
        self.addCleanup(subprocess.run, ["tmux", "-L", sock, "kill-server"], env=env,
                        capture_output=True)
        return env, sock

    def stand_in(self, body):
        """A stand-in agent: a shell script (its arguments in "$@"); its path."""
        path = os.path.join(self.tmp, "agent-%d.sh" % len(os.listdir(self.tmp)))
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, 0o755)
        return path

    def wait_file(self, path, timeout=10.0):
        import time
        deadline = time.monotonic() + timeout
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(os.path.exists(path), path)
        with open(path, "rb") as f:
            return f.read()

    def tool(self, name, args, env):
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": name, "arguments": args}}
        return self.serve(INIT, call, env=env)[1]["result"]

    def test_agent_sessions_do_not_collide(self):
        """Finding 6: issues a.b and a_b gave two instances one tmux session (tmux makes '.'
        '_'), and terminating one killed the other's agent."""
        agent = self.stand_in('echo $$ > "$1/$GROVE_INSTANCE_ID.pid"; exec sleep 60')
        env, sock = self.agent_env([agent, self.tmp])
        a = self.tool("spawn_work_instance", {"issue": "a.b", "prompt": "x"}, env)
        self.assertFalse(a.get("isError"), a)
        b = self.tool("spawn_work_instance", {"issue": "a_b", "prompt": "x"}, env)
        self.assertFalse(b.get("isError"), b)
        a, b = a["structuredContent"]["instance"], b["structuredContent"]["instance"]
        self.assertEqual(b["session_name"], "grove-work-a_b-a1")
        self.assertNotEqual(a["session_name"], b["session_name"])
        self.wait_file(os.path.join(self.tmp, "work-a_b-a1.pid"))
        res = self.tool("terminate_instance", {"instance_id": a["id"]}, env)
        self.assertFalse(res.get("isError"), res)
        # b's agent and session live on
        os.kill(b["pid"], 0)
        p = subprocess.run(["tmux", "-L", sock, "has-session", "-t", "=" + b["session_name"]],
                           env=env, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = self.tool("get_instance", {"instance_id": b["id"]}, env)
        self.assertEqual(got["structuredContent"]["instance"]["status"], "running")

    def test_agent_and_setup_get_no_token(self):
        """Finding 8: the token in grove's environment reaches neither the tmux server grove
        starts, nor the agent, nor the setup command; the agent gets GROVE_INSTANCE_ID."""
        token = "ghp_" + "S3cretS3cretS3cretS3cret0123"
        out = os.path.join(self.tmp, "out")
        os.makedirs(out)
        agent = self.stand_in('env > "$1/agent.env.tmp"; mv "$1/agent.env.tmp" "$1/agent.env"; '
                              'exec sleep 60')
        env, sock = self.agent_env([agent, out], GITHUB_TOKEN=token, GH_TOKEN=token)
        p = self.grove("config", "set", "worktrees.setup_command",
                       json.dumps(["sh", "-c", 'env > "$0"', os.path.join(out, "setup.env")]),
                       env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        res = self.tool("spawn_work_instance", {"issue": 8, "prompt": "x"}, env)
        self.assertFalse(res.get("isError"), res)
        inst = res["structuredContent"]["instance"]
        agent_env = self.wait_file(os.path.join(out, "agent.env")).decode()
        self.assertNotIn(token, agent_env)
        self.assertNotIn("GITHUB_TOKEN=", agent_env)
        self.assertIn("GROVE_INSTANCE_ID=%s\n" % inst["id"], agent_env)
        with open("/proc/%d/environ" % inst["pid"], "rb") as f:
            self.assertNotIn(token.encode(), f.read())
        setup_env = self.wait_file(os.path.join(out, "setup.env")).decode()
        self.assertIn("PATH=", setup_env)
        self.assertNotIn(token, setup_env)
        p = subprocess.run(["tmux", "-L", sock, "show-environment", "-g"], env=env,
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"PATH=", p.stdout)
        self.assertNotIn(token.encode(), p.stdout)
        self.assertNotIn(b"GITHUB_TOKEN", p.stdout)

    def test_prompt_file_carries_1mib(self):
        """Finding 9: with {prompt_file}, a 1 MiB prompt reaches the agent whole, through a
        0600 file outside the worktree, removed when the instance is terminated."""
        import hashlib
        out = os.path.join(self.tmp, "out")
        os.makedirs(out)
        agent = self.stand_in('cp "$2" "$1/prompt.tmp"; stat -c %a "$2" > "$1/mode"; '
                              'echo "$2" > "$1/path"; mv "$1/prompt.tmp" "$1/prompt"; '
                              'exec sleep 60')
        env, _ = self.agent_env([agent, out, "{prompt_file}"])
        prompt = ("0123456789abcdef" * 65536)[:1 << 20]
        self.assertEqual(len(prompt.encode()), 1 << 20)
        res = self.tool("spawn_work_instance", {"issue": 9, "prompt": prompt}, env)
        self.assertFalse(res.get("isError"), res)
        inst = res["structuredContent"]["instance"]
        got = self.wait_file(os.path.join(out, "prompt"))
        self.assertEqual(hashlib.sha256(got).hexdigest(),
                         hashlib.sha256(prompt.encode()).hexdigest())
        with open(os.path.join(out, "mode")) as f:
            self.assertEqual(f.read().strip(), "600")
        with open(os.path.join(out, "path")) as f:
            path = f.read().strip()
        self.assertEqual(path, os.path.join(self.repo, ".git", "grove", "prompts",
                                            inst["id"] + ".prompt"))
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode), 0o700)
        res = self.tool("terminate_instance", {"instance_id": inst["id"]}, env)
        self.assertFalse(res.get("isError"), res)
        self.assertFalse(os.path.exists(path))

    def test_prompt_too_long_for_tmux_refused(self):
        """Finding 9: a 64 KiB prompt through {prompt} is refused before anything is made,
        naming the limit and {prompt_file} (tmux said "command too long", after the worktree
        and the row were made)."""
        agent = self.stand_in("exec sleep 60")
        env, _ = self.agent_env([agent, "{prompt}"])
        res = self.tool("spawn_work_instance", {"issue": 10, "prompt": "p" * 65536}, env)
        self.assertTrue(res.get("isError"), res)
        text = res["content"][0]["text"]
        self.assertIn("16364 bytes", text)
        self.assertIn("{prompt_file}", text)
        self.assertNotIn("command too long", text)
        listed = json.loads(self.grove("ls", "--all", "--json", env=env).stdout)
        self.assertEqual(listed, [])
        self.assertEqual(self.worktree_list(), {})
        self.assertEqual(self.grove_branches(), set())
        self.assertFalse(os.path.exists(self.repo + ".worktrees/work-10-a1"))

    def test_demo(self):
        env = dict(self.env, TMUX_TMPDIR=self.tmp)  # a private tmux server
        p = self.grove("demo", cwd=self.tmp, env=env)
        subprocess.run(["tmux", "-L", "grove", "kill-server"], env=env, capture_output=True)
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

    # ---- issue #7: stats, export/import, config sources, query plans ----

    def db(self):
        return os.path.join(self.repo, ".git", "grove", "grove.db")

    def calls(self, *calls, env=None):
        """tools/call each (name, arguments) through one `grove serve`; the results."""
        msgs = [INIT] + [{"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                          "params": {"name": n, "arguments": a}}
                         for i, (n, a) in enumerate(calls)]
        return [m["result"] for m in self.serve(*msgs, env=env)[1:]]

    def test_serve_loads_libraries_when_needed(self):
        """initialize, tools/list and ping map neither libgit2 nor libcurl; the first tool
        call loads libgit2 (tools/git/lazy_git2.c), and libcurl stays unloaded without a forge."""
        p = subprocess.Popen([GROVE, "serve"], cwd=self.repo, env=self.env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def ask(i, method, params=None):
            msg = {"jsonrpc": "2.0", "id": i, "method": method}
            if params is not None:
                msg["params"] = params
            p.stdin.write((json.dumps(msg) + "\n").encode())
            p.stdin.flush()
            res = json.loads(p.stdout.readline())
            self.assertEqual(res["id"], i, res)
            return res

        def mapped():
            with open("/proc/%d/maps" % p.pid) as f:
                names = {os.path.basename(l.split()[-1]) for l in f if "/" in l}
            return {n.split(".so")[0] for n in names if ".so" in n}

        try:
            ask(0, "initialize", INIT["params"])
            self.assertIn("result", ask(1, "tools/list"))
            self.assertEqual(ask(2, "ping")["result"], {})
            libs = mapped()
            self.assertIn("libsqlite3", libs)  # the check sees linked libraries
            self.assertNotIn("libgit2", libs)
            self.assertNotIn("libcurl", libs)
            res = ask(3, "tools/call", {"name": "query_instances", "arguments": {}})
            self.assertFalse(res["result"].get("isError"), res)
            libs = mapped()
            self.assertIn("libgit2", libs)
            self.assertNotIn("libcurl", libs)
        finally:
            p.stdin.close()
            self.assertEqual(p.wait(timeout=30), 0)
            p.stdout.close()
            p.stderr.close()

    def test_read_events_without_their_own_fsync(self):
        """The event of a read-only call is committed without an fsync of its own (and is still
        there after kill -9); a call that writes (log_checkpoint) is fsynced before its answer:
        when grove writes an answer to a write, every byte it wrote to the WAL before has been
        fdatasync'ed (the fsync comes after the commit unlocked, db.c's WAL hook). Pipelined
        writes share one commit and one fsync (group commit, mcp/batch.h)."""
        inst = self.spawn(issue=3, prompt="x")
        reads = [("query_instances", {}), ("get_instance", {"instance_id": inst["id"]}),
                 ("get_checkpoint", {"instance_id": inst["id"]}), ("query_events", {"limit": 1})]

        def trace(calls):
            """(fsyncs, answers to writes each preceded by an fsync of all WAL writes before it,
            answers to writes) of one `grove serve` given every request at once (from a file:
            all of it is readable from the start)."""
            log = os.path.join(self.tmp, "strace.log")
            req = os.path.join(self.tmp, "requests.jsonl")
            msgs = [INIT] + G.tool_calls(calls)
            with open(req, "w") as f:
                f.write("".join(json.dumps(m) + "\n" for m in msgs))
            # LeakSanitizer (ASan builds) cannot run under ptrace: leaks are checked elsewhere
            env = dict(self.env, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
            with open(req, "rb") as stdin:
                p = subprocess.run(["strace", "-f", "-qq", "-y", "-s", "16000000", "-e",
                                    "trace=fsync,fdatasync,pwrite64,write", "-o", log, GROVE,
                                    "serve"], cwd=self.repo, env=env, stdin=stdin,
                                   capture_output=True, timeout=120)
            out = [json.loads(line) for line in p.stdout.decode().splitlines()]
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(len(out), len(msgs))
            self.assertFalse(any(m["result"].get("isError") for m in out[1:]), out)
            # each write's checkpoint has a phase of its own: where its row first reaches the WAL
            phases = {1 + i: a["phase"] for i, (tool, a) in enumerate(calls)
                      if tool == "log_checkpoint"}
            by_phase = {ph[6:10]: rid for rid, ph in phases.items()}
            fsyncs = synced_answers = answers = 0
            first_wal = {}  # request id -> line number of the first WAL write holding its row
            started = {}  # pid -> line number where its fsync in progress started
            done = []  # (start, end) line numbers of every finished fsync
            with open(log) as f:
                for n, line in enumerate(f):
                    pid = line.split(" ", 1)[0]
                    if "fsync(" in line or "fdatasync(" in line or "fdatasync resumed>" in line:
                        if "<unfinished" in line:
                            started[pid] = n  # an fsync on another thread: it ends later
                            continue
                        fsyncs += 1
                        done.append((started.pop(pid, n), n))
                    elif "pwrite64(" in line and "-wal>" in line:
                        for k in re.findall(r"phase-(\d{4})-x", line):
                            first_wal.setdefault(by_phase.get(k), n)
                    elif "write(1<" in line:
                        for m in re.findall(r'\\"jsonrpc\\":\\"2\.0\\",\\"id\\":(\d+)', line):
                            rid = int(m)
                            if rid in phases:
                                answers += 1
                                # an fsync that began after its row was written ended before
                                w = first_wal.get(rid)
                                synced_answers += w is not None and any(
                                    st > w and end < n for st, end in done)
            return fsyncs, synced_answers, answers

        def write(k):
            return ("log_checkpoint", {"instance_id": inst["id"], "phase": "phase-%04d-x" % k})

        base = trace([])[0]  # opening the database
        self.assertLess(trace(reads * 10)[0] - base, 10)  # 40 reads
        fsyncs, synced, answers = trace([write(k) for k in range(10)])
        self.assertEqual((synced, answers), (10, 10))
        self.assertGreaterEqual(fsyncs - base, 1)
        self.assertLess(fsyncs - base, 10)  # one group commit (or a few), not one fsync each
        # a read's relaxed commit never leaves a write unsynced: each answer to a write that
        # follows a read is fsynced too
        mixed = [c for i in range(10) for c in (reads[i % len(reads)], write(100 + i))]
        fsyncs, synced, answers = trace(mixed)
        self.assertEqual((synced, answers), (10, 10))
        # groups that end full (MCP_BATCH_MAX_CALLS) while more requests wait: each answer
        # still follows an fsync that began after its row reached the WAL
        fsyncs, synced, answers = trace([write(1000 + k) for k in range(600)])
        self.assertEqual((synced, answers), (600, 600))
        self.assertLess(fsyncs - base, 100)

        # a read's event row survives the server being killed right after the answer
        p = subprocess.Popen([GROVE, "serve"], cwd=self.repo, env=self.env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        p.stdin.write((json.dumps(INIT) + "\n").encode())
        p.stdin.write((json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                   "params": {"name": "query_instances",
                                              "arguments": {"issue": 424242}}}) + "\n").encode())
        p.stdin.flush()
        p.stdout.readline()
        self.assertEqual(json.loads(p.stdout.readline())["id"], 1)
        p.kill()
        p.wait()
        p.stdin.close()
        p.stdout.close()
        db = sqlite3.connect(os.path.join(self.repo, ".git", "grove", "grove.db"))
        n = db.execute("SELECT count(*) FROM grove_mcp_events WHERE tool_name = 'query_instances' "
                       "AND json_extract(metadata, '$.issue') = 424242").fetchone()[0]
        db.close()
        self.assertEqual(n, 1)

    def test_new_commands_help_and_usage(self):
        for cmd in ("stats", "export", "import"):
            p = self.grove(cmd, "--help")
            self.assertEqual(p.returncode, 0, cmd)
            self.assertIn(("usage: grove " + cmd).encode(), p.stdout)
            self.assertEqual(p.stderr, b"")
        for args in (["export", "--format", "xml"], ["stats", "--since", "yesterday"],
                     ["stats", "--since", "5x"], ["export", "--since", "2026-13-45"],
                     ["import"], ["import", "a", "b"], ["stats", "extra"], ["stats", "--limit", "0"]):
            p = self.grove(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertEqual(p.stdout, b"", args)
            self.assertNotEqual(p.stderr, b"", args)

    def test_since_values(self):
        """--since: durations and ISO 8601 times; a date or time that does not exist is refused."""
        self.assertEqual(self.grove("init").returncode, 0)
        for since, want in (("2026-11-22T03:00:00+02:00", "2026-11-22T01:00:00.000Z"),
                            ("2024-02-29", "2024-02-29T00:00:00.000Z"),
                            ("2026-11-22T23:59:59.5Z", "2026-11-22T23:59:59.500Z"),
                            ("2026-11-22T10:30", "2026-11-22T10:30:00.000Z")):
            p = self.grove("stats", "--json", "--since", since)
            self.assertEqual(p.returncode, 0, (since, p.stderr))
            self.assertEqual(json.loads(p.stdout)["since"], want, since)
        for since in ("2026-02-30", "2025-02-29", "2026-04-31", "2026-00-10", "2026-13-01",
                      "2026-01-01T24:00", "2026-01-01T10:60", "2026-01-01T10:00:61Z",
                      "2026-01-01T10:00+25:00", "2026-01-01T10:00-03:75", "1h ", "-1h", "1.5h",
                      "1H", "", "now", "2026-1-1", "99999999999d"):
            for cmd in (("stats",), ("export", "--out", os.path.join(self.tmp, "x"))):
                p = self.grove(*cmd, "--since", since)
                self.assertEqual(p.returncode, 2, (cmd, since, p.stdout))
                self.assertIn(b"invalid since", p.stderr, (cmd, since))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x")))

    def test_stats_text_and_json(self):
        res = self.calls(("spawn_work_instance", {"issue": 5, "prompt": "do it"}),
                         ("log_checkpoint", {"instance_id": "work-5-a1", "phase": "plan",
                                             "status": "completed"}),
                         ("log_checkpoint", {"instance_id": "work-5-a1", "phase": "build"}),
                         ("get_instance", {"instance_id": "work-404-a1"}),
                         ("spawn_review_instance", {"work_instance_id": "work-5-a1"}),
                         ("spawn_work_instance", {"issue": "bd-7"}))
        self.assertTrue(res[3]["isError"])
        con = sqlite3.connect(self.db())
        # known durations for median/p95: 1..100 ms -> median 50.5, p95 (nearest rank) 95
        con.executemany("INSERT INTO grove_mcp_events (tool_name, success, duration_ms) "
                        "VALUES ('probe', ?, ?)", [(int(i % 10 != 0), float(i)) for i in range(1, 101)])
        # an old failure: outside the 24 h window and outside --since 1h
        con.execute("INSERT INTO grove_mcp_events (tool_name, success, error_message, timestamp) "
                    "VALUES ('probe_old', 0, 'long ago', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-3 days'))")
        # work-bd-7-a1 was created 30 h ago and never logged a checkpoint: stale
        con.execute("UPDATE grove_instances SET created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', "
                    "'-30 hours') WHERE id = 'work-bd-7-a1'")
        con.execute("UPDATE grove_instances SET pr_number = 57, pr_url = 'https://example.com/pr/57' "
                    "WHERE id = 'work-5-a1'")
        con.commit()
        con.close()

        p = self.grove("stats", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        st = json.loads(p.stdout)
        self.assertIsNone(st["since"])
        self.assertEqual(st["database"], self.db())
        self.assertEqual(st["instances"]["total"], 3)
        self.assertEqual(st["instances"]["running"], 3)
        self.assertEqual({r["type"]: r["total"] for r in st["instances"]["by_type"]},
                         {"work": 2, "review": 1})
        tools = {t["tool_name"]: t for t in st["tools"]}
        self.assertEqual(tools["spawn_work_instance"]["calls"], 2)
        self.assertEqual(tools["spawn_work_instance"]["success_rate"], 1.0)
        self.assertEqual(tools["get_instance"]["failures"], 1)
        self.assertEqual(tools["get_instance"]["success_rate"], 0.0)
        probe = tools["probe"]
        self.assertEqual((probe["calls"], probe["failures"]), (100, 10))
        self.assertAlmostEqual(probe["success_rate"], 0.9)
        self.assertAlmostEqual(probe["median_duration_ms"], 50.5)
        self.assertAlmostEqual(probe["p95_duration_ms"], 95.0)
        self.assertAlmostEqual(probe["avg_duration_ms"], 50.5)
        for t in st["tools"]:
            self.assertIsInstance(t["median_duration_ms"], float, t)
            self.assertIsInstance(t["p95_duration_ms"], float, t)
        fails = st["recent_failures"]
        self.assertEqual(fails["window"], "last 24 hours")
        self.assertEqual(fails["total"], 11)  # get_instance + 10 probes; not the one 3 days ago
        self.assertIn("instance 'work-404-a1' not found",
                      [r["error_message"] for r in fails["rows"]])
        stale = st["stale_checkpoints"]
        self.assertEqual(stale["threshold_hours"], 24)
        self.assertEqual([(r["instance_id"], r["beads_id"], r["phase"]) for r in stale["rows"]],
                         [("work-bd-7-a1", "bd-7", None)])
        self.assertGreaterEqual(stale["rows"][0]["age_minutes"], 1799)
        self.assertEqual(st["reviews"]["work_instances"], 2)
        self.assertEqual(st["reviews"]["reviews"], 1)
        self.assertEqual(st["reviews"]["max"], 1)
        self.assertEqual(st["reviews"]["distribution"],
                         [{"reviews": 0, "work_instances": 1}, {"reviews": 1, "work_instances": 1}])
        self.assertEqual(st["pull_requests"]["opened"], 1)
        self.assertEqual(st["pull_requests"]["rows"],
                         [{"id": "work-5-a1", "pr_number": 57, "pr_url": "https://example.com/pr/57"}])
        funnel = {r["phase"]: (r["instances"], r["completed"]) for r in st["phase_funnel"]}
        self.assertEqual(funnel, {"plan": (1, 1), "build": (1, 0)})
        self.assertEqual([r["phase"] for r in st["phase_funnel"]], ["plan", "build"])
        self.assertNotIn("beads", st)

        # a lower threshold for stale instances, from config
        self.assertEqual(self.grove("config", "set", "stats.stale_after_hours", "0.5").returncode, 0)
        st2 = json.loads(self.grove("stats", "--json").stdout)
        self.assertEqual(st2["stale_checkpoints"]["threshold_hours"], 0.5)
        self.assertEqual(len(st2["stale_checkpoints"]["rows"]), 1)
        con = sqlite3.connect(self.db())
        con.execute("UPDATE grove_instances SET created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', "
                    "'-1 hour') WHERE id != 'work-bd-7-a1'")
        con.execute("UPDATE grove_checkpoints SET created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', "
                    "'-40 minutes')")
        con.commit()
        con.close()
        st2 = json.loads(self.grove("stats", "--json").stdout)
        self.assertEqual(sorted((r["instance_id"], r["phase"]) for r in st2["stale_checkpoints"]["rows"]),
                         [("review-5-a1", None), ("work-5-a1", "build"), ("work-bd-7-a1", None)])
        self.assertEqual(self.grove("config", "set", "stats.stale_after_hours", "24").returncode, 0)

        # the text report shows the same
        p = self.grove("stats")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode()
        for needle in ("instances: 3 (3 running, 0 terminated)", "spawn_work_instance",
                       "probe", "50.5", "95.0", "failures (last 24 hours): 11",
                       "instance 'work-404-a1' not found", "work-bd-7-a1",
                       "reviews: 1 for 2 work instances", "pull requests opened: 1",
                       "#57 https://example.com/pr/57", "phase funnel", "plan", "build"):
            self.assertIn(needle, out)

        # --since: only what happened since then (the 3-day-old failure is back with --since 4d)
        st = json.loads(self.grove("stats", "--json", "--since", "4d").stdout)
        self.assertTrue(st["since"].endswith("Z"))
        self.assertEqual(st["recent_failures"]["total"], 12)
        self.assertIn("probe_old", {t["tool_name"] for t in st["tools"]})
        st = json.loads(self.grove("stats", "--json", "--since", "2h").stdout)
        self.assertEqual(st["recent_failures"]["total"], 11)
        self.assertNotIn("probe_old", {t["tool_name"] for t in st["tools"]})
        self.assertAlmostEqual({t["tool_name"]: t for t in st["tools"]}["probe"]["median_duration_ms"], 50.5)
        self.assertEqual(st["instances"]["total"], 2)  # work-bd-7-a1 is 30 h old
        st = json.loads(self.grove("stats", "--json", "--since", "2099-01-01").stdout)
        self.assertEqual((st["instances"]["total"], st["tools"], st["phase_funnel"]), (0, [], []))
        st = json.loads(self.grove("stats", "--json", "--limit", "2").stdout)
        self.assertEqual(len(st["recent_failures"]["rows"]), 2)
        self.assertEqual(st["recent_failures"]["total"], 11)

    def test_stats_on_an_empty_database(self):
        p = self.grove("stats")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"instances: 0", p.stdout)
        self.assertIn(b"tool calls: none", p.stdout)
        st = json.loads(self.grove("stats", "--json").stdout)
        self.assertEqual(st["tools"], [])
        self.assertEqual(st["reviews"]["average"], 0)

    def export(self, out, *args, env=None):
        p = self.grove("export", "--out", out, *args, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p

    TABLE_FILES = ("grove-instances", "grove-instance-relationships", "grove-mcp-events",
                   "grove-checkpoints", "grove-feedback", "grove-github-issues")

    def test_export_jsonl_and_csv(self):
        import csv
        prompt = 'fix "parse", then\nrun tests,\r\nand report \u00e9\u2713 "done"'
        res = self.calls(("spawn_work_instance", {"issue": 3, "prompt": prompt}),
                         ("log_checkpoint", {"instance_id": "work-3-a1", "phase": "plan",
                                             "data": {"files": ["a,b.c"], "n": 2, "nested": {"q": "\"x\""}},
                                             "message": ""}),
                         ("send_feedback", {"instance_id": "work-3-a1", "feedback": "line1\nline2, \"q\"",
                                            "feedback_type": "suggestions"}))
        self.assertFalse(any(r.get("isError") for r in res), res)
        out = os.path.join(self.tmp, "out")
        p = self.export(out)
        for name in self.TABLE_FILES:
            self.assertIn((name + ".jsonl").encode(), p.stdout)
        self.assertEqual(sorted(os.listdir(out)), sorted(n + ".jsonl" for n in self.TABLE_FILES))
        for name in self.TABLE_FILES:
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(out, name + ".jsonl")).st_mode), 0o600)

        def jsonl(name):
            with open(os.path.join(out, name + ".jsonl"), encoding="utf-8") as f:
                return [json.loads(l) for l in f]

        inst = jsonl("grove-instances")
        self.assertEqual(len(inst), 1)
        self.assertEqual(list(inst[0]), ["id", "type", "status", "worktree_path", "branch_name",
                                         "base_branch", "base_commit", "tmux_session", "agent_pid",
                                         "issue_number", "beads_id", "pr_number", "pr_url", "prompt",
                                         "agent_number", "created_at", "terminated_at", "metadata",
                                         "landed_commit", "landed_at", "agent_profile",
                                         "agent_state", "agent_state_since", "agent_session_id"])
        self.assertEqual(inst[0]["prompt"], prompt)
        self.assertEqual(inst[0]["issue_number"], 3)
        self.assertEqual(inst[0]["metadata"], {})  # JSON columns stay JSON
        cps = jsonl("grove-checkpoints")
        self.assertEqual(cps[0]["data"], {"files": ["a,b.c"], "n": 2, "nested": {"q": "\"x\""}})
        self.assertEqual(cps[0]["message"], "")
        events = jsonl("grove-mcp-events")
        self.assertEqual([e["tool_name"] for e in events],
                         ["spawn_work_instance", "log_checkpoint", "send_feedback"])
        self.assertEqual(events[0]["metadata"]["prompt"], prompt)
        self.assertEqual(events[0]["success"], 1)
        self.assertIsInstance(events[0]["duration_ms"], float)
        self.assertEqual(jsonl("grove-feedback")[0]["feedback"], "line1\nline2, \"q\"")
        self.assertEqual(jsonl("grove-github-issues"), [])

        csvdir = os.path.join(self.tmp, "csv")
        self.export(csvdir, "--format", "csv")
        self.assertEqual(sorted(os.listdir(csvdir)), sorted(n + ".csv" for n in self.TABLE_FILES))
        raw = read_bytes(os.path.join(csvdir, "grove-instances.csv"))
        self.assertTrue(raw.startswith(b"id,type,status,worktree_path,"), raw[:80])
        self.assertIn(b"\r\n", raw)
        # the prompt is one quoted field with doubled quotes and its line breaks inside
        self.assertIn(b'"fix ""parse"", then\nrun tests,\r\nand report', raw)
        with open(os.path.join(csvdir, "grove-instances.csv"), newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        self.assertEqual(rows[0], list(inst[0]))
        self.assertEqual(len(rows), 2)
        row = dict(zip(rows[0], rows[1]))
        self.assertEqual(row["prompt"], prompt)
        self.assertEqual(row["issue_number"], "3")
        self.assertEqual(row["tmux_session"], "")  # NULL: an empty field
        self.assertEqual(json.loads(row["metadata"]), {})
        with open(os.path.join(csvdir, "grove-checkpoints.csv"), newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        row = dict(zip(rows[0], rows[1]))
        self.assertEqual(json.loads(row["data"]), cps[0]["data"])
        self.assertEqual(row["name"], "")
        # NULL is an empty field, the empty string a quoted one
        line = read_bytes(os.path.join(csvdir, "grove-checkpoints.csv")).split(b"\r\n")[1]
        self.assertIn(b',"",', line)  # message ''
        with open(os.path.join(csvdir, "grove-mcp-events.csv"), newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(json.loads(rows[0]["metadata"])["prompt"], prompt)
        with open(os.path.join(csvdir, "grove-feedback.csv"), newline="", encoding="utf-8") as f:
            self.assertEqual(list(csv.DictReader(f))[0]["feedback"], "line1\nline2, \"q\"")
        self.assertEqual(read_bytes(os.path.join(csvdir, "grove-github-issues.csv")),
                         b"repo,number,title,body,state,html_url,labels,fetched_at\r\n")

        # --since: an old event stays out, the instances it needs stay in
        con = sqlite3.connect(self.db())
        con.execute("UPDATE grove_mcp_events SET timestamp = '2020-01-01T00:00:00.000Z' WHERE id = 1")
        con.execute("UPDATE grove_instances SET status = 'terminated', "
                    "terminated_at = '2020-01-02T00:00:00.000Z', created_at = '2020-01-01T00:00:00.000Z'")
        con.commit()
        con.close()
        since = os.path.join(self.tmp, "since")
        self.export(since, "--since", "2021-01-01")
        with open(os.path.join(since, "grove-mcp-events.jsonl")) as f:
            self.assertEqual([json.loads(l)["id"] for l in f], [2, 3])
        with open(os.path.join(since, "grove-instances.jsonl")) as f:
            self.assertEqual([json.loads(l)["id"] for l in f], ["work-3-a1"])  # its checkpoint is newer
        self.export(since, "--since", "1h")  # replaces the files
        with open(os.path.join(since, "grove-mcp-events.jsonl")) as f:
            self.assertEqual(len(f.readlines()), 2)

    def test_export_never_contains_secrets(self):
        token = "ghp_" + "Tk" * 18
        other = "hunter2-very-secret"
        self.assertEqual(self.grove("config", "set", "github.token", "--secret",
                                    stdin=token.encode()).returncode, 0)
        self.assertEqual(self.grove("config", "set", "deploy.password", "--secret",
                                    stdin=other.encode()).returncode, 0)
        self.assertEqual(self.grove("config", "set", "branch.prefix", "grove/").returncode, 0)
        env_token = "github_pat_" + "E" * 30
        res = self.calls(("spawn_work_instance",
                          {"issue": 1, "prompt": "push with %s or %s, then %s" % (token, env_token, other)}),
                         ("log_checkpoint", {"instance_id": "work-1-a1", "phase": "p",
                                             "data": {"token": token, "note": "uses " + other},
                                             "message": "token " + token}))
        self.assertFalse(any(r.get("isError") for r in res), res)
        for fmt in ("jsonl", "csv"):
            out = os.path.join(self.tmp, fmt)
            self.export(out, "--format", fmt, env=dict(self.env, GH_TOKEN=env_token))
            self.assertEqual(len(os.listdir(out)), 6)  # no settings file
            everything = b"".join(read_bytes(os.path.join(out, f)) for f in os.listdir(out))
            for secret in (token, other, env_token, "sb1:"):
                self.assertNotIn(secret.encode(), everything, (fmt, secret))
            self.assertIn(b"[redacted]", everything)
            self.assertNotIn(b"deploy.password", everything)
            self.assertNotIn(b"grove/\"", everything)  # settings are not exported at all
        prompt = json.loads(read_bytes(os.path.join(self.tmp, "jsonl", "grove-instances.jsonl")))["prompt"]
        self.assertEqual(prompt, "push with [redacted] or [redacted], then [redacted]")

    def test_export_redacts_escaped_and_many_secrets(self):
        """A secret with a quote, backslash or tab is found JSON-escaped too; there is no cap on secrets."""
        odd = 'pa"ss\\wo\trd-%d'
        many = ["s3cret-value-number-%02d" % i for i in range(40)]
        for i, v in enumerate(many):
            self.assertEqual(self.grove("config", "set", "k.%02d" % i, "--secret",
                                        stdin=v.encode()).returncode, 0)
        self.assertEqual(self.grove("config", "set", "odd", "--secret",
                                    stdin=(odd % 1).encode()).returncode, 0)
        text = "uses %s and %s and %s" % (odd % 1, many[0], many[39])
        res = self.calls(("spawn_work_instance", {"issue": 4, "prompt": text}),
                         ("log_checkpoint", {"instance_id": "work-4-a1", "phase": "p",
                                             "data": {"pw": odd % 1, "last": many[39]}}))
        self.assertFalse(any(r.get("isError") for r in res), res)
        jdir, cdir = os.path.join(self.tmp, "j"), os.path.join(self.tmp, "c")
        self.export(jdir)
        self.export(cdir, "--format", "csv")
        import csv
        values = []
        for name in self.TABLE_FILES:
            with open(os.path.join(jdir, name + ".jsonl"), encoding="utf-8") as f:
                rows = [json.loads(l) for l in f]  # still valid JSON after redaction
            values += [json.dumps(r, ensure_ascii=False) + repr(r) for r in rows]
            with open(os.path.join(cdir, name + ".csv"), newline="", encoding="utf-8") as f:
                for row in csv.reader(f):
                    values += row
                    for cell in row:  # JSON columns decoded
                        if cell.startswith("{"):
                            values.append(repr(json.loads(cell)))
        everything = "\n".join(values)
        for secret in [odd % 1] + many:
            self.assertNotIn(secret, everything)
        self.assertIn("uses [redacted] and [redacted] and [redacted]", everything)
        with open(os.path.join(jdir, "grove-checkpoints.jsonl")) as f:
            self.assertEqual(json.loads(f.readline())["data"], {"pw": "[redacted]", "last": "[redacted]"})

    def test_export_is_atomic(self):
        import resource
        self.calls(("spawn_work_instance", {"issue": 1, "prompt": "x"}))
        out = os.path.join(self.tmp, "out")
        self.export(out)
        before = {f: read_bytes(os.path.join(out, f)) for f in os.listdir(out)}
        con = sqlite3.connect(self.db())
        con.executemany("INSERT INTO grove_mcp_events (tool_name, success, error_message) VALUES (?, 0, ?)",
                        [("t%d" % i, "e" * 300) for i in range(3000)])
        con.commit()
        con.close()

        def small_files():
            resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))

        for target in (out, os.path.join(self.tmp, "fresh")):
            p = subprocess.run([GROVE, "export", "--out", target], cwd=self.repo, env=self.env,
                               capture_output=True, timeout=60, preexec_fn=small_files)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(b"nothing was written", p.stderr)
            self.assertIn(b"grove-mcp-events.jsonl", p.stderr)
        # the earlier export is untouched, no temporary file is left, the new folder holds nothing
        self.assertEqual({f: read_bytes(os.path.join(out, f)) for f in os.listdir(out)}, before)
        self.assertEqual(os.listdir(os.path.join(self.tmp, "fresh")), [])
        # without the limit it goes through and replaces every file
        self.export(out)
        self.assertEqual(sorted(os.listdir(out)), sorted(before))
        with open(os.path.join(out, "grove-mcp-events.jsonl")) as f:
            self.assertEqual(len(f.readlines()), 3001)
        # an --out that is a file: refused, nothing written
        junk = os.path.join(self.tmp, "junk")
        open(junk, "w").close()
        p = self.grove("export", "--out", junk)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"is not a folder", p.stderr)

    def test_import_into_empty_database_only(self):
        self.calls(("spawn_work_instance", {"issue": 2, "prompt": "p"}),
                   ("log_checkpoint", {"instance_id": "work-2-a1", "phase": "plan"}),
                   ("spawn_review_instance", {"work_instance_id": "work-2-a1"}))
        out = os.path.join(self.tmp, "out")
        self.export(out)
        new = os.path.join(self.tmp, "new.db")
        p = self.grove("import", out, "--db", new)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"imported", p.stdout)
        con = sqlite3.connect(new)
        self.assertEqual(con.execute("SELECT count(*) FROM grove_instances").fetchone()[0], 2)
        self.assertEqual(con.execute("SELECT count(*) FROM grove_instance_relationships").fetchone()[0], 1)
        self.assertEqual(con.execute("SELECT count(*) FROM grove_checkpoints").fetchone()[0], 1)
        self.assertEqual(con.execute("SELECT count(*) FROM grove_mcp_events").fetchone()[0], 3)
        con.close()
        # the imported database serves: ls shows the instances
        listed = json.loads(self.grove("ls", "--json", "--db", new).stdout)
        self.assertEqual(sorted(i["id"] for i in listed), ["review-2-a1", "work-2-a1"])

        # not empty: refused, untouched
        for db in (new, self.db()):
            con = sqlite3.connect(db)
            before = con.execute("SELECT count(*) FROM grove_mcp_events").fetchone()[0]
            con.close()
            p = self.grove("import", out, "--db", db)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"is not empty", p.stderr)
            con = sqlite3.connect(db)
            self.assertEqual(con.execute("SELECT count(*) FROM grove_mcp_events").fetchone()[0], before)
            con.close()

        # a bad line fails the whole import, naming file and line; nothing is imported
        with open(os.path.join(out, "grove-checkpoints.jsonl"), "a") as f:
            f.write('{"id": 9, "bogus": 1}\n')
        other = os.path.join(self.tmp, "other.db")
        p = self.grove("import", out, "--db", other)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"grove-checkpoints.jsonl line 2", p.stderr)
        self.assertIn(b"bogus", p.stderr)
        con = sqlite3.connect(other)
        self.assertEqual(con.execute("SELECT count(*) FROM grove_instances").fetchone()[0], 0)
        con.close()
        with open(os.path.join(out, "grove-checkpoints.jsonl"), "w") as f:
            f.write("[1, 2]\n")
        p = self.grove("import", out, "--db", other)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"grove-checkpoints.jsonl line 1: not a JSON object", p.stderr)
        # a missing file: not a complete export
        os.unlink(os.path.join(out, "grove-feedback.jsonl"))
        p = self.grove("import", out, "--db", other)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"grove-feedback.jsonl' is missing", p.stderr)

    def test_round_trip_10000_events_is_identical(self):
        import random
        self.assertEqual(self.grove("init").returncode, 0)
        rnd = random.Random(7)
        con = sqlite3.connect(self.db())
        con.execute("PRAGMA foreign_keys = ON")
        insts = []
        for i in range(60):
            kind = ("work", "review", "adhoc")[i % 3]
            issue = (i + 1, None) if i % 2 else (None, "bd-%x.%d" % (i * 977, i % 4))
            insts.append(("%s-%d-a%d" % (kind, i, i + 1), kind, "running" if i % 4 else "terminated",
                          "/w/%d" % i, "grove/b%d" % i, "main", "%040x" % i, None if i % 5 else "grove-s",
                          None if i % 7 else 4242 + i, issue[0], issue[1], 7 if i == 3 else None,
                          "https://x/pr/7" if i == 3 else None,
                          "prompt %d: \"quotes\", commas,\nnewlines\r\n\ttabs \u00e9\u6f22 \U0001F600" % i if i % 3 else None,
                          i + 1, "2026-01-01T00:%02d:%02d.%03dZ" % (i // 60, i % 60, i),
                          None if i % 4 else "2026-02-01T00:00:00.000Z",
                          json.dumps({"setup": {"status": "ok", "exit_code": 0}, "n": i, "f": i / 7})))
        con.executemany("INSERT INTO grove_instances (id, type, status, worktree_path, branch_name, "
                        "base_branch, base_commit, tmux_session, agent_pid, issue_number, beads_id, "
                        "pr_number, pr_url, prompt, agent_number, created_at, terminated_at, metadata) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", insts)
        ids = [r[0] for r in insts]
        con.executemany("INSERT INTO grove_instance_relationships (parent_instance, child_instance, "
                        "relationship_type, created_at) VALUES (?, ?, ?, ?)",
                        [(ids[i], ids[i + 1], ("spawned_review", "created_fork")[i % 2],
                          "2026-01-02T00:00:%02d.000Z" % i) for i in range(0, 40, 2)])
        con.executemany("INSERT INTO grove_checkpoints (instance_id, phase, name, status, data, message, "
                        "commit_sha, sequence, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                        [(ids[i % 60], ("plan", "build", "review")[i % 3], None if i % 2 else "n,%d" % i,
                          ("in_progress", "completed", "failed")[i % 3],
                          None if i % 5 == 0 else json.dumps({"i": i, "big": 12345678901234567890,
                                                              "s": "a\"b\\c\n", "l": [1.5, None, True]}),
                          "" if i % 4 == 0 else "msg %d" % i, "%040x" % (i + 99), i // 60 + 1,
                          "2026-01-03T00:00:%02d.%03dZ" % (i % 60, i)) for i in range(300)])
        con.executemany("INSERT INTO grove_feedback (from_instance, to_instance, feedback_type, priority, "
                        "feedback, delivered, created_at) VALUES (?,?,?,?,?,?,?)",
                        [(None if i % 3 == 0 else ids[i], ids[i + 1], "needs_work", "high",
                          "feedback, \"%d\"\nmore" % i, i % 2, "2026-01-04T00:00:00.000Z") for i in range(30)])
        con.executemany("INSERT INTO grove_github_issues (repo, number, title, body, state, html_url, labels, "
                        "fetched_at) VALUES (?,?,?,?,?,?,?,?)",
                        [("o/r", n, "title %d, \"x\"" % n, None if n % 2 else "body\n%d" % n, "open",
                          "https://github.com/o/r/issues/%d" % n, json.dumps(["bug", "p%d" % n]),
                          "2026-01-05T00:00:00.000Z") for n in range(1, 21)])
        tools = ["spawn_work_instance", "log_checkpoint", "get_instance", "query_events", "send_feedback"]
        con.executemany("INSERT INTO grove_mcp_events (instance_id, tool_name, success, error_message, "
                        "metadata, duration_ms, timestamp) VALUES (?,?,?,?,?,?,?)",
                        [(None if i % 11 == 0 else rnd.choice(ids), rnd.choice(tools), int(i % 9 != 0),
                          None if i % 9 else "boom, \"%d\"\nline two \u00fc" % i,
                          None if i % 97 == 0 else json.dumps({"i": i, "prompt": "x" * (i % 50), "deep": {"a": [i, {"b": None}]},
                                                               "u": "\u2713\U0001F600", "r": rnd.random()}),
                          rnd.random() * 1000 if i % 13 else float(i),
                          "2026-01-06T%02d:%02d:%02d.%03dZ" % (i // 3600 % 24, i // 60 % 60, i % 60, i % 1000))
                         for i in range(10000)])
        con.commit()
        con.close()

        first = os.path.join(self.tmp, "first")
        self.export(first)
        with open(os.path.join(first, "grove-mcp-events.jsonl")) as f:
            self.assertEqual(sum(1 for _ in f), 10000)
        new = os.path.join(self.tmp, "moved", "grove.db")
        p = self.grove("import", first, "--db", new)
        self.assertEqual(p.returncode, 0, p.stderr)
        second = os.path.join(self.tmp, "second")
        self.export(second, "--db", new)
        for name in self.TABLE_FILES:
            a = read_bytes(os.path.join(first, name + ".jsonl"))
            b = read_bytes(os.path.join(second, name + ".jsonl"))
            self.assertEqual(a, b, name)
        # the rows themselves are equal too, column by column, with their SQL types
        def dump(db):
            # JSON columns compared as minified JSON (import stores them minified)
            c = sqlite3.connect(db)
            rows = {t: c.execute("SELECT *, %s FROM %s ORDER BY 1, 2" % (j, t)).fetchall()
                    for t, j in (("grove_instances", "json(metadata)"),
                                 ("grove_instance_relationships", "1"),
                                 ("grove_mcp_events", "json(metadata), typeof(duration_ms)"),
                                 ("grove_checkpoints", "json(data)"), ("grove_feedback", "1"),
                                 ("grove_github_issues", "json(labels)"))}
            c.close()
            for t, j in (("grove_instances", 17), ("grove_mcp_events", 5), ("grove_checkpoints", 5),
                         ("grove_github_issues", 6)):
                rows[t] = [r[:j] + r[j + 1:] for r in rows[t]]
            return rows
        self.assertEqual(dump(self.db()), dump(new))
        # and CSV exports of both databases are identical as well
        c1, c2 = os.path.join(self.tmp, "c1"), os.path.join(self.tmp, "c2")
        self.export(c1, "--format", "csv")
        self.export(c2, "--format", "csv", "--db", new)
        for name in self.TABLE_FILES:
            self.assertEqual(read_bytes(os.path.join(c1, name + ".csv")),
                             read_bytes(os.path.join(c2, name + ".csv")), name)

    def test_config_list_sources(self):
        self.assertEqual(self.grove("config", "set", "git.remote", "upstream").returncode, 0)
        self.assertEqual(self.grove("config", "set", "agent.command", '["stored"]').returncode, 0)
        self.assertEqual(self.grove("config", "set", "my.own.key", "v").returncode, 0)
        self.assertEqual(self.grove("config", "set", "github.token", "--secret",
                                    stdin=b"ghp_stored_secret_value_123456789").returncode, 0)
        env = dict(self.env, GROVE_AGENT_COMMAND='["from-env"]', GH_TOKEN="ghp_env_token_value_0987654321")
        p = self.grove("config", "list", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode()
        self.assertNotIn("ghp_", out)
        lines = out.splitlines()
        self.assertEqual(lines, sorted(lines))
        for line in ("git.remote=upstream  [database]",
                     "branch.prefix=grove/  [default]",
                     "github.api_url=https://api.github.com  [default]",
                     'agent.command=["from-env"]  [environment GROVE_AGENT_COMMAND; overrides the database]',
                     "github.token=(secret)  [environment GH_TOKEN; overrides the database]",
                     "my.own.key=v  [database]",
                     "stats.stale_after_hours=24  [default]",
                     "worktrees.base_path=%s.worktrees  [default]" % self.repo,
                     "worktrees.setup_command=(not set: no setup command)  [default]",
                     "github.repo=(not set: parsed from the remote's URL)  [default]"):
            self.assertIn(line, lines)
        rows = {r["key"]: r for r in json.loads(self.grove("config", "list", "--json", env=env).stdout)}
        self.assertEqual(rows["agent.command"]["source"], "environment")
        self.assertEqual(rows["agent.command"]["env"], "GROVE_AGENT_COMMAND")
        self.assertEqual(rows["agent.command"]["overrides"], "database")
        self.assertEqual(rows["git.remote"]["source"], "database")
        self.assertIsInstance(rows["git.remote"]["updated_at"], str)
        self.assertEqual(rows["worktrees.setup_command"]["value"], None)
        self.assertEqual(rows["github.token"]["value"], "(secret)")
        # without the environment: the stored secret, masked
        rows = {r["key"]: r for r in json.loads(self.grove("config", "list", "--json").stdout)}
        self.assertEqual((rows["github.token"]["source"], rows["github.token"]["value"],
                          rows["github.token"]["is_encrypted"]), ("database", "(secret)", True))
        self.assertEqual((rows["agent.command"]["source"], rows["agent.command"]["value"]),
                         ("database", '["stored"]'))
        base = os.path.join(self.tmp, "wt")
        rows = {r["key"]: r for r in json.loads(self.grove("config", "list", "--json",
                                                           env=dict(self.env, GROVE_WORKTREES=base)).stdout)}
        self.assertEqual((rows["worktrees.base_path"]["value"], rows["worktrees.base_path"]["source"]),
                         (base, "environment"))

    def test_view_query_plans_use_indexes(self):
        """EXPLAIN QUERY PLAN of each view's range queries at 100,000 events: no full scan."""
        import random
        import re
        self.assertEqual(self.grove("init").returncode, 0)
        rnd = random.Random(1)
        con = sqlite3.connect(self.db())
        con.executemany("INSERT INTO grove_instances (id, type, worktree_path, branch_name, agent_number, "
                        "created_at) VALUES (?, 'work', '/w', 'b', ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?))",
                        [("w%d" % i, i + 1, "-%d hours" % (i * 3)) for i in range(50)])
        con.executemany("INSERT INTO grove_checkpoints (instance_id, phase, sequence, created_at) "
                        "VALUES (?, 'p', ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?))",
                        [("w%d" % (i % 50), i // 50 + 1, "-%d minutes" % (i * 7)) for i in range(1000)])
        tools = ["t%d" % i for i in range(12)]
        con.executemany("INSERT INTO grove_mcp_events (instance_id, tool_name, success, error_message, "
                        "duration_ms, timestamp) VALUES (?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?))",
                        [("w%d" % rnd.randrange(60), rnd.choice(tools), int(rnd.random() < 0.9), None,
                          rnd.random() * 500, "-%d seconds" % rnd.randrange(30 * 86400)) for _ in range(100000)])
        con.commit()
        queries = [
            "SELECT * FROM grove_running_instances",
            "SELECT * FROM grove_recent_failures",
            "SELECT * FROM grove_recent_failures WHERE tool_name = 't3'",
            "SELECT * FROM grove_recent_failures WHERE instance_id = 'w7'",
            "SELECT * FROM grove_recent_failures WHERE timestamp >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hour')",
            "SELECT count(*) FROM grove_recent_failures",
            "SELECT * FROM grove_stale_checkpoints",
            "SELECT * FROM grove_stale_checkpoints WHERE instance_id = 'w40'",
            "SELECT * FROM grove_tool_success_rate WHERE tool_name = 't3'",
            "SELECT * FROM grove_tool_success_rate WHERE tool_name IN ('t1', 't2')",
            "SELECT median_duration_ms, p95_duration_ms FROM grove_tool_success_rate WHERE tool_name = 't5'",
        ]
        full_scan = re.compile(r"^SCAN (grove_mcp_events|grove_checkpoints|grove_instances|e|c|c2|i)\b")
        plans = {}
        for q in queries:
            plan = [r[3] for r in con.execute("EXPLAIN QUERY PLAN " + q)]
            plans[q] = plan
            for line in plan:
                self.assertIsNone(full_scan.match(line), "%s\n  %s" % (q, "\n  ".join(plan)))
            if "grove_tool_success_rate" in q or "grove_recent_failures" in q:
                self.assertTrue(any(l.startswith("SEARCH") and "grove_events_" in l for l in plan),
                                "%s\n  %s" % (q, "\n  ".join(plan)))
        if os.environ.get("GROVE_SHOW_PLANS"):
            for q, plan in plans.items():
                print("\n" + q + "\n  " + "\n  ".join(plan))
        # the view's median and p95 agree with Python's
        for tool in ("t3", "t5"):
            d = sorted(r[0] for r in con.execute("SELECT duration_ms FROM grove_mcp_events WHERE tool_name = ?",
                                                 (tool,)))
            n = len(d)
            median = (d[(n - 1) // 2] + d[n // 2]) / 2
            p95 = d[-(-95 * n // 100) - 1]
            got = con.execute("SELECT calls, median_duration_ms, p95_duration_ms FROM grove_tool_success_rate "
                              "WHERE tool_name = ?", (tool,)).fetchone()
            self.assertEqual(got[0], n)
            self.assertAlmostEqual(got[1], median)
            self.assertAlmostEqual(got[2], p95)
        con.close()


class Limits(unittest.TestCase):
    """Contract §5, "Limits" (issue 13, finding 7): sizes are capped where they are stored, events
    summarize large arguments, and pages of results stay within 4 MiB."""

    MiB = 1024 * 1024

    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-limits-"))
        self.repo = os.path.join(self.tmp, "repo")
        self.env = git_env(self.tmp)
        G.make_repo(self.repo, self.env, files={"README.md": "hi\n"}, message="init")
        self.db = G.db_path(self.repo)
        self.srv = G.Server(GROVE, self.repo, self.env, name="limits")
        self.srv.initialize()

    def tearDown(self):
        self.srv.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def count(self, table):
        return G.sql(self.db, "SELECT count(*) FROM " + table)[0][0]

    def branches(self):
        return G.git(self.env, self.repo, "branch", "--list", "--format=%(refname:short)", "grove/*").split()

    def test_each_limit_at_the_limit_and_one_byte_over(self):
        srv = self.srv
        # The schema's maxLength counts characters: 2-byte characters pass it, the byte limit
        # does not. 524289 x 'é' is 1048578 bytes.
        text = srv.error("spawn_work_instance", issue=1, prompt="é" * (self.MiB // 2 + 1),
                         launch=False)
        self.assertIn("prompt is 1048578 bytes; the limit is 1048576 bytes (1 MiB)", text)
        self.assertEqual(self.count("grove_instances"), 0)
        self.assertEqual(self.branches(), [])
        wt = os.path.join(self.tmp, "repo.worktrees")
        self.assertEqual(os.listdir(wt) if os.path.isdir(wt) else [], [])
        # exactly 1 MiB
        inst = srv.ok("spawn_work_instance", issue=1, prompt="p" * self.MiB, launch=False)["instance"]
        self.assertEqual(len(inst["prompt"]), self.MiB)
        text = srv.error("fork_instance", instance_id=inst["id"], prompt="é" * (self.MiB // 2 + 1),
                         launch=False)
        self.assertIn("prompt is 1048578 bytes; the limit is 1048576 bytes (1 MiB)", text)
        text = srv.error("spawn_review_instance", work_instance_id=inst["id"],
                         reviewer_prompt="é" * (self.MiB // 2 + 1), launch=False)
        self.assertIn("prompt is 1048578 bytes; the limit is 1048576 bytes (1 MiB)", text)
        self.assertEqual(self.count("grove_instances"), 1)
        self.assertEqual(self.count("grove_instance_relationships"), 0)
        self.assertEqual(self.branches(), ["grove/work-1-a1"])

        # feedback: 64 KiB
        text = srv.error("send_feedback", instance_id=inst["id"], feedback_type="suggestions",
                         feedback="é" * (32 * 1024 + 1))
        self.assertIn("feedback is 65538 bytes; the limit is 65536 bytes (64 KiB)", text)
        self.assertEqual(self.count("grove_feedback"), 0)
        srv.ok("send_feedback", instance_id=inst["id"], feedback_type="suggestions",
               feedback="f" * 65536)
        self.assertEqual(self.count("grove_feedback"), 1)

        # checkpoint data: 256 KiB as compact JSON ({"k":"..."} is 8 bytes around the string)
        over = {"k": "d" * (256 * 1024 - 8 + 1)}
        text = srv.error("log_checkpoint", instance_id=inst["id"], phase="p", data=over)
        self.assertIn("checkpoint data is 262145 bytes; the limit is 262144 bytes (256 KiB)", text)
        text = srv.error("log_checkpoint", instance_id=inst["id"], phase="p",
                         message="é" * (32 * 1024 + 1))
        self.assertIn("checkpoint message is 65538 bytes; the limit is 65536 bytes (64 KiB)", text)
        self.assertEqual(self.count("grove_checkpoints"), 0)
        exact = {"k": "d" * (256 * 1024 - 8)}
        self.assertEqual(len(json.dumps(exact, separators=(",", ":"))), 256 * 1024)
        srv.ok("log_checkpoint", instance_id=inst["id"], phase="p", data=exact, message="m" * 65536)
        self.assertEqual(self.count("grove_checkpoints"), 1)

        # every refusal is an event, its large arguments summarized
        for (meta,) in G.sql(self.db, "SELECT metadata FROM grove_mcp_events"):
            self.assertLess(len(meta), 8192, meta[:200])

    def test_checkpoint_stored_once_event_keeps_a_summary(self):
        srv = self.srv
        inst = srv.ok("spawn_work_instance", issue=2, launch=False)["instance"]
        data = {"notes": "n" * (200 * 1024), "step": 3}
        compact = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()

        def db_bytes():
            return G.sql(self.db, "SELECT page_count * page_size FROM pragma_page_count(),"
                                  " pragma_page_size()")[0][0]

        before = db_bytes()
        srv.ok("log_checkpoint", instance_id=inst["id"], phase="big", data=data)
        grown = db_bytes() - before
        (meta,) = G.sql(self.db, "SELECT metadata FROM grove_mcp_events WHERE tool_name ="
                                 " 'log_checkpoint'")[0]
        meta = json.loads(meta)
        self.assertEqual(meta["data"], {"truncated": True, "bytes": len(compact),
                                        "sha256": hashlib.sha256(compact).hexdigest()})
        self.assertEqual(meta["phase"], "big")
        # one copy of the 200 KiB (the checkpoint row), not two (free pages may take some of it)
        self.assertGreater(grown, len(compact) * 3 // 4)
        self.assertLess(grown, len(compact) * 3 // 2)
        # query_events shows the summary too
        ev = srv.ok("query_events", tool="log_checkpoint")["events"]
        self.assertEqual(ev[0]["metadata"]["data"]["bytes"], len(compact))
        # a long string argument: bytes and hash of its UTF-8 bytes
        srv.ok("send_feedback", instance_id=inst["id"], feedback_type="suggestions",
               feedback="é" * 3000)
        (meta,) = G.sql(self.db, "SELECT metadata FROM grove_mcp_events WHERE tool_name ="
                                 " 'send_feedback'")[0]
        raw = ("é" * 3000).encode()
        self.assertEqual(json.loads(meta)["feedback"],
                         {"truncated": True, "bytes": 6000, "sha256": hashlib.sha256(raw).hexdigest()})

    def follow(self, list_tool, key, /, **args):
        """Every page of a list tool: [(items, serialized bytes)], following next_cursor."""
        pages, cursor = [], None
        while True:
            a = dict(args, cursor=cursor) if cursor else dict(args)
            page = self.srv.ok(list_tool, **a)
            pages.append((page[key], len(json.dumps(page, separators=(",", ":"),
                                                    ensure_ascii=False).encode())))
            cursor = page.get("next_cursor")
            if not cursor:
                return pages
            self.assertLess(len(pages), 50)

    def test_pages_of_large_instances_and_events_stay_within_4_mib(self):
        srv = self.srv
        for i in range(8):
            srv.ok("spawn_work_instance", issue=100 + i, prompt=chr(ord("a") + i) * (self.MiB - 100),
                   launch=False)
        pages = self.follow("query_instances", "instances", limit=8)
        self.assertGreater(len(pages), 2)
        for items, size in pages:
            self.assertGreaterEqual(len(items), 1)
            self.assertLessEqual(size, 4 * self.MiB)
        ids = [x["id"] for items, _ in pages for x in items]
        self.assertEqual(ids, ["work-%d-a1" % (100 + i) for i in range(8)])

        # Events as large as a database written before they were summarized holds them.
        con = sqlite3.connect(self.db, timeout=30)
        with con:
            for i in range(8):
                con.execute("INSERT INTO grove_mcp_events (tool_name, success, metadata, duration_ms)"
                            " VALUES ('old_tool', 1, ?, 1)", (json.dumps({"blob": "x" * self.MiB}),))
        con.close()
        pages = self.follow("query_events", "events", tool="old_tool", limit=8)
        self.assertGreater(len(pages), 2)
        for items, size in pages:
            self.assertGreaterEqual(len(items), 1)
            self.assertLessEqual(size, 4 * self.MiB)
        ids = [x["id"] for items, _ in pages for x in items]
        self.assertEqual(len(ids), 8)
        self.assertEqual(ids, sorted(set(ids), reverse=True))


if __name__ == "__main__":
    GROVE = os.path.realpath(sys.argv.pop(1))
    unittest.main(verbosity=2)
