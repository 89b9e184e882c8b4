#!/usr/bin/python3
"""`grove gc` classes, sizes and `--merged` (CONTRACT §6), through the real binary:
fast-forward, squash and cherry-pick merges, a merged pull request on a fake GitHub,
unpushed, dirty, in-use and fresh instances, sizes on disk and `grove ls --disk`.

usage: test_gc_merged.py GROVE
"""
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import grovetest as G  # noqa: E402

GROVE = None
MIB = 1 << 20


class GcMerged(unittest.TestCase):
    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-gcm-"))
        self.repo = os.path.join(self.tmp, "repo")
        tmuxdir = os.path.join(self.tmp, "tmux")
        os.makedirs(tmuxdir)
        self.sock = "grove-gcm-test-%d" % os.getpid()
        self.env = G.clean_env(self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "xdg"),
                               GROVE_LOG="error", TMUX_TMPDIR=tmuxdir,
                               GROVE_TMUX_SOCKET=self.sock)
        G.make_repo(self.repo, self.env, files={"README.md": "hi\n"})

    def tearDown(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], env=self.env,
                       capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- helpers ----

    def grove(self, *args, env=None):
        return subprocess.run([GROVE, *args], cwd=self.repo, capture_output=True,
                              env=env or self.env, timeout=120)

    def git(self, *args, cwd=None):
        return subprocess.run(["git", *args], cwd=cwd or self.repo, capture_output=True,
                              env=self.env, check=True).stdout.decode()

    def spawn(self, env=None, **args):
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "spawn_work_instance", "arguments": args}}
        p, out = G.serve_once(GROVE, self.repo, env or self.env,
                              [G.initialize_message("gc-merged-test"), call], timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        res = out[1]["result"]
        self.assertFalse(res.get("isError"), res)
        return res["structuredContent"]["instance"]

    def commit(self, inst, name, text):
        with open(os.path.join(inst["worktree_path"], name), "w") as f:
            f.write(text)
        self.git("add", name, cwd=inst["worktree_path"])
        self.git("commit", "-qm", "add " + name, cwd=inst["worktree_path"])
        return self.git("rev-parse", "HEAD", cwd=inst["worktree_path"]).strip()

    def gc(self, *args, env=None):
        p = self.grove("gc", "--json", *args, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        notes = json.loads(p.stdout)
        return ({n["subject"]: n for n in notes if n["kind"] == "instance"},
                [n for n in notes if n["kind"] == "disk-total"])

    def branches(self):
        return set(self.git("for-each-ref", "--format=%(refname:short)", "refs/heads/").split())

    def status(self, iid):
        return G.sql(G.db_path(self.repo), "SELECT status FROM grove_instances WHERE id = ?",
                     iid)[0][0]

    # ---- the classes, sizes and --merged ----

    def test_classes_sizes_and_merged_removal(self):
        ff, squash, picked, unpushed, dirty, fresh = (self.spawn() for _ in range(6))
        self.commit(ff, "ff.txt", "fast-forward\n")
        self.git("merge", "-q", "--ff-only", ff["branch_name"])
        self.commit(squash, "s1.txt", "squash one\n")
        self.commit(squash, "s2.txt", "squash two\n")
        self.git("merge", "-q", "--squash", squash["branch_name"])
        self.git("commit", "-qm", "squashed")
        first = self.commit(picked, "p1.txt", "picked one\n")
        second = self.commit(picked, "p2.txt", "picked two\n")
        self.git("cherry-pick", first, second)
        with open(os.path.join(unpushed["worktree_path"], "big.bin"), "wb") as f:
            f.write(os.urandom(MIB))
        self.git("add", "big.bin", cwd=unpushed["worktree_path"])
        self.git("commit", "-qm", "a MiB", cwd=unpushed["worktree_path"])
        self.commit(dirty, "d.txt", "merged, then more\n")
        self.git("merge", "-q", "--no-ff", "-m", "merge dirty", dirty["branch_name"])
        with open(os.path.join(dirty["worktree_path"], "wip.txt"), "w") as f:
            f.write("uncommitted\n")
        # in use: a stand-in agent alive in tmux, its work merged
        agent = os.path.join(self.tmp, "agent.sh")
        with open(agent, "w") as f:
            f.write("#!/bin/sh\nexec sleep 600\n")
        os.chmod(agent, 0o755)
        busy = self.spawn(env=dict(self.env, GROVE_AGENT_COMMAND=json.dumps([agent])))
        self.assertTrue(busy["session_name"])
        self.commit(busy, "busy.txt", "merged while the agent works\n")
        self.git("merge", "-q", "--no-ff", "-m", "merge busy", busy["branch_name"])

        want = {ff["id"]: ("merged", "ancestor"), squash["id"]: ("merged", "tree"),
                picked["id"]: ("merged", "tree"), unpushed["id"]: ("unpushed", None),
                dirty["id"]: ("dirty", None), busy["id"]: ("in_use", None),
                fresh["id"]: ("clean", None)}
        insts, total = self.gc()
        self.assertEqual({i: (n["class"], n["merged_by"]) for i, n in insts.items()}, want)
        self.assertEqual({n["action"] for n in insts.values()}, {"kept"})
        self.assertGreaterEqual(insts[unpushed["id"]]["size_bytes"], MIB)
        self.assertLess(insts[fresh["id"]]["size_bytes"], MIB)
        self.assertEqual(len(total), 1)
        self.assertEqual(total[0]["size_bytes"], sum(n["size_bytes"] for n in insts.values()))
        self.assertEqual(total[0]["worktrees"], 7)
        self.assertIn("1 commit that exists nowhere else", insts[unpushed["id"]]["detail"])
        self.assertIn("1 uncommitted file", insts[dirty["id"]]["detail"])
        self.assertIn("no commits of its own", insts[fresh["id"]]["detail"])

        text = self.grove("gc", "--dry-run").stdout.decode()
        self.assertRegex(text, r"%s\s+merged\s+" % squash["id"])
        self.assertRegex(text, r"%s\s+unpushed\s+1\.\d MiB" % unpushed["id"])
        self.assertRegex(text, r"total: 7 worktrees, \d+\.\d MiB on disk")

        before = (self.branches(), sorted(os.listdir(self.repo + ".worktrees")))
        insts, _ = self.gc("--merged", "--dry-run")
        merged = {ff["id"], squash["id"], picked["id"]}
        self.assertEqual({i for i, n in insts.items() if n["action"] == "would remove"}, merged)
        self.assertEqual((self.branches(), sorted(os.listdir(self.repo + ".worktrees"))), before)

        insts, _ = self.gc("--merged")
        self.assertEqual({i for i, n in insts.items() if n["action"] == "removed"}, merged,
                         insts)
        for inst in (ff, squash, picked):
            self.assertFalse(os.path.exists(inst["worktree_path"]), inst["id"])
            self.assertNotIn(inst["branch_name"], self.branches())
            self.assertEqual(self.status(inst["id"]), "terminated")
        for inst in (unpushed, dirty, busy, fresh):
            self.assertTrue(os.path.isdir(inst["worktree_path"]), inst["id"])
            self.assertIn(inst["branch_name"], self.branches())
            self.assertEqual(self.status(inst["id"]), "running")
        self.assertTrue(os.path.isfile(os.path.join(dirty["worktree_path"], "wip.txt")))
        p = subprocess.run(["tmux", "-L", self.sock, "has-session", "-t",
                            "=" + busy["session_name"]], env=self.env, capture_output=True)
        self.assertEqual(p.returncode, 0, "the in-use agent was stopped")
        # the merged work is in main, and what is left is classified as before
        self.assertEqual(sorted(self.git("ls-tree", "--name-only", "main").split()),
                         ["README.md", "busy.txt", "d.txt", "ff.txt", "p1.txt", "p2.txt",
                          "s1.txt", "s2.txt"])
        insts, _ = self.gc("--merged")
        self.assertEqual({i: n["class"] for i, n in insts.items()},
                         {i: c for i, (c, _) in want.items() if i not in merged})

        # grove ls --disk: a size per instance and the total
        listed = json.loads(self.grove("ls", "--disk", "--json").stdout)
        sizes = {i["id"]: i["size_bytes"] for i in listed}
        self.assertEqual(set(sizes), {unpushed["id"], dirty["id"], busy["id"], fresh["id"]})
        self.assertGreaterEqual(sizes[unpushed["id"]], MIB)
        listed = json.loads(self.grove("ls", "--all", "--disk", "--json").stdout)
        self.assertIsNone({i["id"]: i for i in listed}[ff["id"]]["size_bytes"])
        self.assertNotIn("size_bytes", json.loads(self.grove("ls", "--json").stdout)[0])
        text = self.grove("ls", "--disk").stdout.decode()
        self.assertIn("SIZE", text)
        self.assertRegex(text, r"\ntotal: \d+\.\d MiB on disk\n$")

    def test_fresh_instance_is_clean_and_never_removed(self):
        fresh = self.spawn()
        insts, _ = self.gc("--merged")
        self.assertEqual(insts[fresh["id"]]["class"], "clean")
        self.assertEqual(insts[fresh["id"]]["action"], "kept")
        self.assertTrue(os.path.isdir(fresh["worktree_path"]))

    def test_squash_merged_then_more_work_is_not_merged(self):
        inst = self.spawn()
        self.commit(inst, "a.txt", "a\n")
        self.git("merge", "-q", "--squash", inst["branch_name"])
        self.git("commit", "-qm", "squashed")
        self.commit(inst, "b.txt", "after the merge\n")
        insts, _ = self.gc("--merged")
        self.assertEqual(insts[inst["id"]]["class"], "unpushed")
        self.assertTrue(os.path.isdir(inst["worktree_path"]))

    def test_worktree_or_branch_gone(self):
        gone, nobranch = self.spawn(), self.spawn()
        shutil.rmtree(gone["worktree_path"])
        self.git("worktree", "prune")
        # a branch deleted outside grove (git refuses while it is checked out: by hand)
        os.unlink(os.path.join(self.repo, ".git", "refs", "heads", *nobranch["branch_name"].split("/")))
        p = self.grove("gc", "--merged", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        insts = {n["subject"]: n for n in json.loads(p.stdout) if n["kind"] == "instance"}
        self.assertNotIn(gone["id"], insts)
        self.assertEqual(insts[nobranch["id"]]["class"], "clean")
        self.assertIn("is gone", insts[nobranch["id"]]["detail"])
        self.assertTrue(os.path.isdir(nobranch["worktree_path"]))

    # ---- a merged pull request, on a fake GitHub ----

    def fake_github(self, pulls):
        hits = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append((self.path, self.headers.get("Authorization")))
                prefix = "/repos/acme/widgets/pulls/"
                if self.path.startswith(prefix) and self.path[len(prefix):] in pulls:
                    body = json.dumps(pulls[self.path[len(prefix):]]).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, *a):
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        return srv, hits

    def forge_env(self, port):
        return dict(self.env, GITHUB_API_URL="http://127.0.0.1:%d" % port,
                    GITHUB_TOKEN="ghp_GcMergedTestToken0123456789abcdef",
                    GITHUB_REPOSITORY="acme/widgets")

    def test_merged_pull_request(self):
        pr, open_pr, moved = self.spawn(), self.spawn(), self.spawn()
        head = self.commit(pr, "pr.txt", "merged on GitHub\n")
        self.commit(open_pr, "open.txt", "still open\n")
        old = self.commit(moved, "m1.txt", "merged on GitHub\n")
        self.commit(moved, "m2.txt", "committed after the merge\n")
        db = G.db_path(self.repo)
        for n, inst in ((7, pr), (8, open_pr), (9, moved)):
            G.sql(db, "UPDATE grove_instances SET pr_number = ? WHERE id = ?", n, inst["id"],
                  readonly=False)
        srv, hits = self.fake_github({
            "7": {"number": 7, "merged": True, "state": "closed", "head": {"sha": head}},
            "8": {"number": 8, "merged": False, "state": "open", "head": {"sha": "0" * 40}},
            "9": {"number": 9, "merged": True, "state": "closed", "head": {"sha": old}}})
        env = self.forge_env(srv.server_port)

        # without a forge: git alone, no request
        insts, _ = self.gc()
        self.assertEqual(insts[pr["id"]]["class"], "unpushed")
        self.assertEqual(hits, [])

        insts, _ = self.gc(env=env)
        self.assertEqual((insts[pr["id"]]["class"], insts[pr["id"]]["merged_by"]),
                         ("merged", "pull-request"))
        self.assertIn("pull request #7 is merged", insts[pr["id"]]["detail"])
        self.assertEqual(insts[open_pr["id"]]["class"], "unpushed")
        self.assertEqual(insts[moved["id"]]["class"], "unpushed")
        self.assertIn("the branch has moved since", insts[moved["id"]]["detail"])
        self.assertIn(("/repos/acme/widgets/pulls/7",
                       "Bearer ghp_GcMergedTestToken0123456789abcdef"), hits)

        # GitHub unreachable: gc still works, says so, and removes nothing
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        p = self.grove("gc", "--merged", "--json", env=self.forge_env(dead))
        self.assertEqual(p.returncode, 0, p.stderr)
        insts = {n["subject"]: n for n in json.loads(p.stdout) if n["kind"] == "instance"}
        self.assertEqual(insts[pr["id"]]["class"], "unpushed")
        self.assertIn("pull request #7 not checked", insts[pr["id"]]["detail"])
        self.assertNotIn("ghp_GcMergedTestToken", p.stdout.decode() + p.stderr.decode())
        self.assertTrue(os.path.isdir(pr["worktree_path"]))

        # --merged removes it, its own commits (in main by content only) with it
        insts, _ = self.gc("--merged", env=env)
        self.assertEqual(insts[pr["id"]]["action"], "removed", insts[pr["id"]])
        self.assertFalse(os.path.exists(pr["worktree_path"]))
        self.assertNotIn(pr["branch_name"], self.branches())
        for inst in (open_pr, moved):
            self.assertEqual(insts[inst["id"]]["action"], "kept")
            self.assertTrue(os.path.isdir(inst["worktree_path"]))


if __name__ == "__main__":
    GROVE = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
