#!/usr/bin/python3
"""land_instance (CONTRACT §6) through the real binary over MCP stdio, in temporary
repositories, each result compared with what git itself makes of the same branches:
squash (tree of `git merge --squash` + commit), merge (`git merge --no-ff`), rebase
(`git rebase`), fast_forward; conflicts and every refusal leave refs, index bytes and
files exactly as they were; the main checkout is updated (index and files) when it has the
target checked out and left alone when it does not.

usage: test_land.py GROVE
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import grovetest as G  # noqa: E402

GROVE = None


class Land(unittest.TestCase):
    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-land-"))
        self.repo = os.path.join(self.tmp, "repo")
        self.env = G.clean_env(self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "xdg"),
                               GROVE_LOG="error")
        G.make_repo(self.repo, self.env, files={"README.md": "hello\n", "a.txt": "1\n2\n3\n"})
        self.s = G.Server(GROVE, self.repo, self.env)
        self.s.initialize()
        self.db = G.db_path(self.repo)

    def tearDown(self):
        self.s.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers

    def git(self, cwd, *args):
        return G.git(self.env, cwd, *args).strip()

    def spawn(self, **kw):
        return self.s.ok("spawn_work_instance", launch=False, **kw)["instance"]

    def commit(self, cwd, files, message, author=None):
        for rel, text in files.items():
            full = os.path.join(cwd, rel)
            if text is None:
                os.unlink(full)
                continue
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
        self.git(cwd, "add", "-A")
        args = ["commit", "-qm", message]
        if author:
            args += ["--author", author]
        self.git(cwd, *args)
        return self.git(cwd, "rev-parse", "HEAD")

    def state(self):
        """Everything a refused or conflicting land must leave as it was."""
        refs = self.git(self.repo, "for-each-ref", "--format=%(refname) %(objectname)")
        with open(os.path.join(self.repo, ".git", "index"), "rb") as f:
            index = hashlib.sha256(f.read()).hexdigest()
        files = {}
        for root, dirs, names in os.walk(self.repo):
            dirs[:] = [d for d in dirs if d != ".git"]
            for n in names:
                p = os.path.join(root, n)
                with open(p, "rb") as f:
                    files[os.path.relpath(p, self.repo)] = f.read()
        return refs, index, files, self.git(self.repo, "status", "--porcelain")

    def root_cache_tree(self):
        """The root tree id the main checkout's index records in its cache tree (git's TREE
        extension), or None when it has none or it is invalid. Index versions 2 and 3."""
        with open(os.path.join(self.repo, ".git", "index"), "rb") as f:
            data = f.read()
        self.assertEqual(data[:4], b"DIRC")
        self.assertIn(int.from_bytes(data[4:8], "big"), (2, 3))
        off = 12
        for _ in range(int.from_bytes(data[8:12], "big")):
            flags = int.from_bytes(data[off + 60:off + 62], "big")
            fixed = 62 + (2 if flags & 0x4000 else 0)
            end = data.index(b"\0", off + fixed)
            off += (end - off + 8) // 8 * 8  # the name and 1 to 8 NULs, to a multiple of 8
        while off + 8 <= len(data) - 20:
            sig, size = data[off:off + 4], int.from_bytes(data[off + 4:off + 8], "big")
            if sig == b"TREE":
                body = data[off + 8:off + 8 + size]
                self.assertEqual(body[:1], b"\0")  # the root's path: empty
                count = int(body[1:body.index(b" ")])
                nl = body.index(b"\n")
                return body[nl + 1:nl + 21].hex() if count >= 0 else None
            off += 8 + size
        return None

    def checkout_matches(self, commit):
        """The main checkout is clean at `commit`: index and files. Its index's cache tree is
        valid (as `git commit` leaves it): the next land's clean check relies on it."""
        self.assertEqual(self.git(self.repo, "rev-parse", "HEAD"), commit)
        self.assertEqual(self.root_cache_tree(),
                         self.git(self.repo, "rev-parse", commit + "^{tree}"))
        self.assertEqual(self.git(self.repo, "status", "--porcelain", "--untracked-files=all"), "")
        self.assertEqual(self.git(self.repo, "write-tree"),
                         self.git(self.repo, "rev-parse", commit + "^{tree}"))

    def copy(self):
        """A clone of the repository with every branch, to let git do the same land."""
        dst = os.path.join(self.tmp, "copy-%d" % len(os.listdir(self.tmp)))
        self.git(self.tmp, "clone", "-q", "--no-local", self.repo, dst)
        for ref in self.git(dst, "for-each-ref", "--format=%(refname:short)",
                            "refs/remotes/origin/grove").splitlines():
            self.git(dst, "branch", "-q", ref[len("origin/"):], ref)
        self.git(dst, "config", "user.name", G.IDENTITY[0])
        self.git(dst, "config", "user.email", G.IDENTITY[1])
        return dst

    # -- strategies

    def test_squash_equals_git_merge_squash_and_updates_the_checkout(self):
        a = self.spawn(prompt="Teach a.txt to count to four\n\nDetails for the body.")
        self.commit(a["worktree_path"], {"a.txt": "1\n2\n3\n4\n"}, "four")
        head = self.commit(a["worktree_path"], {"new/b.txt": "b\n", "README.md": None}, "more")
        self.commit(self.repo, {"c.txt": "c\n"}, "main moves on")
        self.s.ok("log_checkpoint", instance_id=a["id"], phase="implement", name="count",
                  status="completed", message="counted")
        old = self.git(self.repo, "rev-parse", "main")
        cp = self.copy()
        self.git(cp, "merge", "-q", "--squash", "grove/" + a["id"])
        self.git(cp, "commit", "-qm", "squash")
        r = self.s.ok("land_instance", instance_id=a["id"])
        self.assertTrue(r["landed"])
        self.assertEqual((r["strategy"], r["into"], r["old_into_commit"]), ("squash", "main", old))
        new = r["new_into_commit"]
        self.assertEqual(self.git(self.repo, "rev-parse", "main"), new)
        self.assertEqual(self.git(self.repo, "rev-parse", new + "^{tree}"),
                         self.git(cp, "rev-parse", "HEAD^{tree}"))
        self.assertEqual(self.git(self.repo, "rev-list", "--parents", "-n1", new).split()[1:],
                         [old])
        msg = self.git(self.repo, "log", "-1", "--format=%B", new)
        first = msg.splitlines()[0]
        self.assertEqual(first, "Teach a.txt to count to four")
        self.assertIn("Details for the body.", msg)
        self.assertIn("- implement/count (completed): counted", msg)
        self.assertIn(a["id"], msg)
        self.checkout_matches(new)
        self.assertFalse(os.path.exists(os.path.join(self.repo, "README.md")))
        self.assertEqual(r["instance"]["landed_commit"], new)
        self.assertTrue(r["instance"]["landed_at"])
        self.assertEqual(self.git(self.repo, "rev-parse", "grove/" + a["id"]), head)
        # Landed again: nothing the target lacks.
        text = self.s.error("land_instance", instance_id=a["id"])
        self.assertIn("nothing to land", text)

    def test_long_prompt_subject_is_cut_at_72(self):
        a = self.spawn(prompt="word " * 40)
        self.commit(a["worktree_path"], {"x.txt": "x\n"}, "x")
        r = self.s.ok("land_instance", instance_id=a["id"])
        first = self.git(self.repo, "log", "-1", "--format=%s", r["new_into_commit"])
        self.assertLessEqual(len(first), 72)
        self.assertTrue(first.endswith("..."), first)

    def test_merge_equals_git_merge_no_ff(self):
        a = self.spawn()
        head = self.commit(a["worktree_path"], {"a.txt": "0\n1\n2\n3\n"}, "zero")
        self.commit(self.repo, {"a.txt": "1\n2\n3\nend\n"}, "end on main")
        old = self.git(self.repo, "rev-parse", "main")
        cp = self.copy()
        self.git(cp, "merge", "-q", "--no-ff", "-m", "m", "grove/" + a["id"])
        r = self.s.ok("land_instance", instance_id=a["id"], strategy="merge")
        new = r["new_into_commit"]
        self.assertEqual(self.git(self.repo, "rev-list", "--parents", "-n1", new).split()[1:],
                         [old, head])
        self.assertEqual(self.git(self.repo, "log", "-1", "--format=%s", new),
                         "Merge branch 'grove/%s' into main" % a["id"])
        self.assertEqual(self.git(self.repo, "rev-parse", new + "^{tree}"),
                         self.git(cp, "rev-parse", "HEAD^{tree}"))
        self.checkout_matches(new)

    def test_rebase_replays_authors_and_messages_like_git_rebase(self):
        a = self.spawn()
        wt = a["worktree_path"]
        self.commit(wt, {"r1.txt": "1\n"}, "first\n\nbody one", author="Ann <ann@example.com>")
        self.commit(wt, {"r2.txt": "2\n"}, "second", author="Bob <bob@example.com>")
        self.commit(self.repo, {"m.txt": "m\n"}, "main moves on")
        old = self.git(self.repo, "rev-parse", "main")
        cp = self.copy()
        self.git(cp, "checkout", "-q", "grove/" + a["id"])
        self.git(cp, "rebase", "-q", "main")
        r = self.s.ok("land_instance", instance_id=a["id"], strategy="rebase")
        new = r["new_into_commit"]
        log = self.git(self.repo, "log", "--format=%an|%B|", old + ".." + new)
        self.assertEqual([x.strip() for x in log.split("|") if x.strip()],
                         ["Bob", "second", "Ann", "first\n\nbody one"])
        self.assertEqual(self.git(self.repo, "rev-parse", new + "~2"), old)
        self.assertEqual(self.git(self.repo, "rev-parse", new + "^{tree}"),
                         self.git(cp, "rev-parse", "HEAD^{tree}"))
        self.checkout_matches(new)

    def test_rebase_refuses_a_merge_commit(self):
        a = self.spawn()
        wt = a["worktree_path"]
        self.commit(wt, {"r1.txt": "1\n"}, "one")
        self.git(wt, "checkout", "-q", "-b", "side", "HEAD~1")
        self.commit(wt, {"s.txt": "s\n"}, "side")
        self.git(wt, "checkout", "-q", "grove/" + a["id"])
        self.git(wt, "merge", "-q", "--no-ff", "-m", "merge side", "side")
        self.commit(self.repo, {"m.txt": "m\n"}, "main moves on")
        before = self.state()
        text = self.s.error("land_instance", instance_id=a["id"], strategy="rebase")
        self.assertIn("merge commit", text)
        self.assertIn("squash or merge", text)
        self.assertEqual(self.state(), before)

    def test_fast_forward_and_refused_when_main_moved(self):
        a = self.spawn()
        head = self.commit(a["worktree_path"], {"f.txt": "f\n"}, "f")
        b = self.spawn()
        self.commit(b["worktree_path"], {"g.txt": "g\n"}, "g")
        r = self.s.ok("land_instance", instance_id=a["id"], strategy="fast_forward")
        self.assertEqual(r["new_into_commit"], head)
        self.checkout_matches(head)
        before = self.state()
        text = self.s.error("land_instance", instance_id=b["id"], strategy="fast_forward")
        self.assertIn("has moved", text)
        self.assertIn("sync_instance", text)
        self.assertEqual(self.state(), before)

    # -- conflicts and refusals: nothing changes

    def test_conflict_changes_nothing(self):
        a = self.spawn()
        self.commit(a["worktree_path"], {"a.txt": "one\n2\n3\n", "ok.txt": "ok\n"}, "a")
        self.commit(self.repo, {"a.txt": "uno\n2\n3\n"}, "main")
        before = self.state()
        for strategy in ("squash", "merge", "rebase"):
            r = self.s.ok("land_instance", instance_id=a["id"], strategy=strategy)
            self.assertFalse(r["landed"], strategy)
            self.assertEqual(r["conflicting_files"], ["a.txt"], strategy)
            self.assertIsNone(r["new_into_commit"])
            self.assertIsNone(r["instance"]["landed_commit"])
            self.assertEqual(self.state(), before, strategy)

    def test_dirty_instance_refused_naming_files(self):
        a = self.spawn()
        self.commit(a["worktree_path"], {"f.txt": "f\n"}, "f")
        with open(os.path.join(a["worktree_path"], "wip.txt"), "w") as f:
            f.write("wip\n")
        before = self.state()
        text = self.s.error("land_instance", instance_id=a["id"])
        self.assertIn("uncommitted changes: wip.txt", text)
        self.assertEqual(self.state(), before)

    def test_dirty_instance_refused_before_anything_else(self):
        """The instance's worktree is checked under the repo lock next to the checkout's (at
        the same time), yet its refusal still comes first: before a dirty main checkout, a
        conflict (landed false) and nothing to land, with every strategy and as a dry run."""
        a = self.spawn()
        with open(os.path.join(a["worktree_path"], "wip.txt"), "w") as f:
            f.write("wip\n")
        for dry in (False, True):
            text = self.s.error("land_instance", instance_id=a["id"], dry_run=dry)
            self.assertIn("uncommitted changes: wip.txt", text)  # rather than nothing to land
        self.commit(a["worktree_path"], {"a.txt": "one\n2\n3\n"}, "a")
        self.commit(self.repo, {"a.txt": "uno\n2\n3\n"}, "main")
        with open(os.path.join(a["worktree_path"], "wip.txt"), "w") as f:  # committed with a.txt
            f.write("more\n")
        before = self.state()
        for strategy in ("squash", "merge", "rebase"):  # rather than landed false
            text = self.s.error("land_instance", instance_id=a["id"], strategy=strategy)
            self.assertIn("uncommitted changes: wip.txt", text)
        self.assertEqual(self.state(), before)
        b = self.spawn()
        self.commit(b["worktree_path"], {"f.txt": "f\n"}, "f")
        with open(os.path.join(b["worktree_path"], "f.txt"), "a") as f:
            f.write("wip\n")
        with open(os.path.join(self.repo, "README.md"), "a") as f:
            f.write("mine\n")
        before = self.state()
        text = self.s.error("land_instance", instance_id=b["id"])  # rather than the checkout
        self.assertIn("uncommitted changes: f.txt", text)
        self.assertEqual(self.state(), before)

    def test_dirty_main_checkout_refused_naming_files(self):
        a = self.spawn()
        self.commit(a["worktree_path"], {"f.txt": "f\n"}, "f")
        with open(os.path.join(self.repo, "a.txt"), "a") as f:
            f.write("mine\n")
        before = self.state()
        text = self.s.error("land_instance", instance_id=a["id"])
        self.assertIn("checked out in '%s'" % self.repo, text)
        self.assertIn("a.txt", text)
        self.assertEqual(self.state(), before)

    def test_target_not_checked_out_moves_only_the_ref(self):
        a = self.spawn()
        self.commit(a["worktree_path"], {"f.txt": "f\n"}, "f")
        self.git(self.repo, "checkout", "-q", "-b", "elsewhere")
        with open(os.path.join(self.repo, "a.txt"), "a") as f:
            f.write("uncommitted, on another branch\n")
        refs, index, files, status = self.state()
        r = self.s.ok("land_instance", instance_id=a["id"])
        self.assertTrue(r["landed"])
        self.assertEqual(self.git(self.repo, "rev-parse", "main"), r["new_into_commit"])
        _, index2, files2, status2 = self.state()
        self.assertEqual((index2, files2, status2), (index, files, status))

    def test_target_checked_out_in_a_linked_worktree_is_updated(self):
        a = self.spawn(base_branch="main")
        self.commit(a["worktree_path"], {"f.txt": "f\n"}, "f")
        self.git(self.repo, "checkout", "-q", "-b", "elsewhere")
        side = os.path.join(self.tmp, "side")
        self.git(self.repo, "worktree", "add", "-q", side, "main")
        r = self.s.ok("land_instance", instance_id=a["id"])
        self.assertEqual(self.git(side, "status", "--porcelain"), "")
        self.assertTrue(os.path.exists(os.path.join(side, "f.txt")))
        self.assertEqual(self.git(side, "rev-parse", "HEAD"), r["new_into_commit"])

    def test_refusals(self):
        a = self.spawn()
        text = self.s.error("land_instance", instance_id=a["id"])
        self.assertIn("nothing to land", text)
        self.commit(a["worktree_path"], {"f.txt": "f\n"}, "f")
        before = self.state()
        self.assertIn("not found", self.s.error("land_instance", instance_id="work-a99"))
        text = self.s.error("land_instance", instance_id=a["id"], into="nope")
        self.assertIn("target branch 'nope' does not exist", text)
        self.assertEqual(self.state(), before)
        b = self.spawn(base_branch="main")
        self.commit(b["worktree_path"], {"g.txt": "g\n"}, "g")
        self.git(self.repo, "checkout", "-q", "-b", "trunk")
        self.git(self.repo, "branch", "-q", "-D", "main")
        text = self.s.error("land_instance", instance_id=b["id"])
        self.assertIn("base branch 'main' was deleted since it was spawned", text)
        r = self.s.ok("land_instance", instance_id=b["id"], into="trunk")
        self.assertTrue(r["landed"])
        self.checkout_matches(r["new_into_commit"])

    def test_dry_run_moves_nothing(self):
        a = self.spawn()
        self.commit(a["worktree_path"], {"f.txt": "f\n"}, "f")
        before = self.state()
        r = self.s.ok("land_instance", instance_id=a["id"], dry_run=True)
        self.assertFalse(r["landed"])
        self.assertEqual(self.git(self.repo, "cat-file", "-t", r["new_into_commit"]), "commit")
        self.assertIsNone(r["instance"]["landed_commit"])
        self.assertEqual(self.state(), before)

    def test_remove_worktree_after_squash(self):
        a = self.spawn()
        self.commit(a["worktree_path"], {"f.txt": "f\n"}, "f")
        r = self.s.ok("land_instance", instance_id=a["id"], remove_worktree=True)
        self.assertTrue(r["landed"])
        self.assertTrue(r["worktree_removed"])
        self.assertEqual(r["instance"]["status"], "terminated")
        self.assertFalse(os.path.exists(a["worktree_path"]))
        self.assertEqual(G.git(self.env, self.repo, "rev-parse", "--verify", "-q",
                               "grove/" + a["id"], check_rc=False).strip(), "")
        # Without the land, the same unpushed commits keep terminate from removing.
        b = self.spawn()
        self.commit(b["worktree_path"], {"g.txt": "g\n"}, "g")
        text = self.s.error("terminate_instance", instance_id=b["id"], remove_worktree=True)
        self.assertIn("commit", text)

    def test_terminate_after_a_squash_land_removes_without_force(self):
        """Landed by squash, then terminated later: its own commits are unreachable from main
        but their content is all there, so removing loses nothing; one commit more and it
        would, so it is refused."""
        a = self.spawn()
        self.commit(a["worktree_path"], {"f.txt": "f\n"}, "f")
        self.assertTrue(self.s.ok("land_instance", instance_id=a["id"])["landed"])
        b = self.spawn()
        self.commit(b["worktree_path"], {"h.txt": "h\n"}, "h")
        self.assertTrue(self.s.ok("land_instance", instance_id=b["id"])["landed"])
        self.commit(b["worktree_path"], {"h2.txt": "after the land\n"}, "after")
        text = self.s.error("terminate_instance", instance_id=b["id"], remove_worktree=True)
        self.assertIn("exist on no remote branch", text)
        self.assertTrue(os.path.isfile(os.path.join(b["worktree_path"], "h2.txt")))
        r = self.s.ok("terminate_instance", instance_id=a["id"], remove_worktree=True)
        self.assertTrue(r["worktree_removed"])
        self.assertFalse(os.path.exists(a["worktree_path"]))

    def test_now_conflicting(self):
        a = self.spawn()
        self.commit(a["worktree_path"], {"a.txt": "A\n2\n3\n"}, "a")
        b = self.spawn()
        self.commit(b["worktree_path"], {"a.txt": "B\n2\n3\n"}, "b")
        c = self.spawn()
        self.commit(c["worktree_path"], {"c.txt": "c\n"}, "c")
        r = self.s.ok("land_instance", instance_id=a["id"], dry_run=True)
        self.assertEqual(r["now_conflicting"], [{"instance_id": b["id"],
                                                 "conflicting_files": ["a.txt"]}])
        r = self.s.ok("land_instance", instance_id=a["id"])
        self.assertEqual(r["now_conflicting"], [{"instance_id": b["id"],
                                                 "conflicting_files": ["a.txt"]}])

    def test_conflicting_agents_are_told_to_sync_even_unrelated_ones(self):
        """After a land, each running instance whose branch now conflicts and whose agent is
        alive gets grove's needs_work notice, whoever landed: an agent's server landing its
        own work notifies an unrelated instance too (grove's notice, not the agent's words,
        so the caller rights of feedback do not hold it back); land.notify_conflicts false
        sends nothing."""
        sock = "grove-land-test-%d" % os.getpid()
        env = dict(self.env, GROVE_TMUX_SOCKET=sock,
                   GROVE_AGENT_COMMAND='["sh", "-c", "cat > .agent-input"]')
        self.addCleanup(subprocess.run, ["tmux", "-L", sock, "kill-server"], capture_output=True)
        op = G.Server(GROVE, self.repo, env)
        op.initialize()
        self.addCleanup(op.close)
        x = op.ok("spawn_work_instance", launch=False)["instance"]
        u = op.ok("spawn_work_instance")["instance"]  # unrelated to x, with a live agent
        self.assertTrue(u["session_name"])
        self.commit(x["worktree_path"], {"a.txt": "X\n2\n3\n"}, "x")
        self.commit(u["worktree_path"], {"a.txt": "U\n2\n3\n"}, "u")
        self.s.ok("log_checkpoint", instance_id=x["id"], phase="p")  # opens the database
        G.sql(self.db, "INSERT INTO grove_user_config (key, value) VALUES"
              " ('land.require_review', 'false')", readonly=False)
        agent = G.Server(GROVE, self.repo, dict(env, GROVE_INSTANCE_ID=x["id"]))
        agent.initialize()
        self.addCleanup(agent.close)
        r = agent.ok("land_instance", instance_id=x["id"])
        self.assertTrue(r["landed"])
        self.assertEqual(r["now_conflicting"], [{"instance_id": u["id"],
                                                 "conflicting_files": ["a.txt"]}])
        rows = G.sql(self.db, "SELECT feedback_type, feedback FROM grove_feedback WHERE"
                              " to_instance = ?", u["id"])
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][0], "needs_work")
        self.assertIn("sync_instance", rows[0][1])


def main():
    global GROVE
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    GROVE = os.path.abspath(sys.argv.pop())
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
