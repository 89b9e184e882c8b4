#!/usr/bin/python3
"""Caller rights (CONTRACT §5): what an agent's grove server may change, through the real
binary over MCP stdio, in a temporary repository.

The family every test starts from (P and U spawned by the operator, the rest by an agent's
server, so each is a `spawned_work` child of its spawner):

    P ─┬─ X ── D ── G        X is the caller; G is X's descendant two levels down
       └─ S                  S is X's sibling
    U                        unrelated

usage: test_rights.py GROVE
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import grovetest as G  # noqa: E402

GROVE = None
RULE = "refused by the caller rights"

# The matrix: tool -> relation of the target to the caller X -> allowed?
# ("operator" is a server that speaks for no instance; its target is U.)
CHANGE = {"self": True, "descendant": True, "parent": False, "sibling": False,
          "unrelated": False, "operator": True}
FEEDBACK = {"self": False, "descendant": True, "parent": True, "sibling": True,
            "unrelated": False, "operator": True}
MATRIX = {
    "log_checkpoint": CHANGE,
    "create_pull_request": CHANGE,
    "spawn_review_instance": CHANGE,
    "fork_instance": CHANGE,
    "send_feedback": FEEDBACK,
    "sync_instance": CHANGE,
    "land_instance": CHANGE,
    "terminate_instance": CHANGE,  # last: it ends the targets it may end
}


def arguments(tool, target):
    """The arguments that aim `tool` at instance `target`."""
    return {
        "log_checkpoint": {"instance_id": target, "phase": "rights", "data": {"by": "test"}},
        "create_pull_request": {"instance_id": target, "title": "t"},
        "spawn_review_instance": {"work_instance_id": target, "launch": False},
        "fork_instance": {"instance_id": target, "launch": False},
        "send_feedback": {"instance_id": target, "feedback": "f", "feedback_type": "suggestions"},
        "sync_instance": {"instance_id": target},
        "land_instance": {"instance_id": target, "dry_run": True},
        "terminate_instance": {"instance_id": target, "remove_worktree": True, "force": True},
    }[tool]


class Rights(unittest.TestCase):
    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-rights-"))
        self.repo = os.path.join(self.tmp, "repo")
        self.env = G.clean_env(self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "xdg"),
                               GROVE_LOG="error")
        G.make_repo(self.repo, self.env, files={"README.md": "hi\n"}, message="init")
        self.servers = []
        self.db = G.db_path(self.repo)
        self.op = self.server()
        self.P = self.spawn(self.op)
        self.U = self.spawn(self.op)
        as_p = self.server(self.P)
        self.X = self.spawn(as_p)
        self.S = self.spawn(as_p)
        self.D = self.spawn(self.server(self.X))
        self.G = self.spawn(self.server(self.D))
        self.x = self.server(self.X)

    def tearDown(self):
        for s in self.servers:
            s.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def server(self, caller=None, cwd=None):
        env = dict(self.env)
        if caller:
            env["GROVE_INSTANCE_ID"] = caller
        s = G.Server(GROVE, cwd or self.repo, env, name=caller or "operator")
        s.initialize()
        self.servers.append(s)
        return s

    def spawn(self, server):
        return server.ok("spawn_work_instance", launch=False)["instance"]["id"]

    def count(self, query, *params):
        return G.sql(self.db, query, *params)[0][0]

    def snapshot(self, target):
        """What a refused call must leave as it was."""
        return (self.count("SELECT count(*) FROM grove_instances"),
                self.count("SELECT status FROM grove_instances WHERE id = ?", target),
                self.count("SELECT count(*) FROM grove_checkpoints WHERE instance_id = ?", target),
                self.count("SELECT count(*) FROM grove_feedback WHERE to_instance = ?", target),
                os.path.isdir(os.path.join(self.tmp, "repo.worktrees", target)),
                subprocess.run(["git", "-C", self.repo, "rev-parse", "-q", "--verify",
                                "grove/" + target], env=self.env, capture_output=True).stdout)

    def test_relationships_of_the_family(self):
        rels = G.sql(self.db, "SELECT parent_instance, child_instance, relationship_type"
                              " FROM grove_instance_relationships ORDER BY id")
        self.assertEqual([tuple(r) for r in rels],
                         [(self.P, self.X, "spawned_work"), (self.P, self.S, "spawned_work"),
                          (self.X, self.D, "spawned_work"), (self.D, self.G, "spawned_work")])
        got = self.x.ok("get_instance", instance_id=self.D)["instance"]
        self.assertEqual(got["parent_id"], self.X)
        # The operator's instances have no parent.
        self.assertIsNone(self.x.ok("get_instance", instance_id=self.U)["instance"]["parent_id"])

    def test_matrix(self):
        # The base moves, so that an allowed sync_instance changes the branch and a refused
        # one would show in the snapshot.
        with open(os.path.join(self.repo, "base.txt"), "w") as f:
            f.write("moved\n")
        for cmd in (["add", "base.txt"], ["commit", "-qm", "base moves"]):
            subprocess.run(["git", "-C", self.repo] + cmd, env=self.env, check=True)
        targets = {"self": self.X, "descendant": self.G, "parent": self.P, "sibling": self.S,
                   "unrelated": self.U, "operator": self.U}
        order = ["parent", "sibling", "unrelated", "descendant", "self", "operator"]
        for tool, rule in MATRIX.items():
            for relation in order:
                target = targets[relation]
                server = self.op if relation == "operator" else self.x
                before = self.snapshot(target)
                res = server.call(tool, **arguments(tool, target))
                text = res["content"][0]["text"]
                where = "%s on %s (%s)" % (tool, relation, target)
                if rule[relation]:
                    self.assertNotIn(RULE, text, where)
                    # No commits ahead: refused, but not by the rights.
                    if tool not in ("create_pull_request", "land_instance"):
                        self.assertFalse(res.get("isError"), where + ": " + text)
                else:
                    self.assertTrue(res.get("isError"), where)
                    self.assertIn(RULE, text, where)
                    self.assertIn("'%s'" % self.X, text, where)
                    self.assertIn("'%s'" % target, text, where)
                    self.assertEqual(self.snapshot(target), before, where + ": something changed")
        # What the allowed calls did: checkpoints on X, G and U; X, G and U terminated.
        for inst in (self.X, self.G, self.U):
            self.assertEqual(self.count("SELECT count(*) FROM grove_checkpoints WHERE"
                                        " instance_id = ?", inst), 1, inst)
            self.assertEqual(self.count("SELECT status FROM grove_instances WHERE id = ?", inst),
                             "terminated", inst)
        for inst in (self.P, self.S):
            self.assertEqual(self.count("SELECT status FROM grove_instances WHERE id = ?", inst),
                             "running", inst)

    def commit(self, iid, name):
        wt = os.path.join(self.tmp, "repo.worktrees", iid)
        with open(os.path.join(wt, name), "w") as f:
            f.write(name + "\n")
        G.git(self.env, wt, "add", "-A")
        G.git(self.env, wt, "commit", "-qm", name)
        return G.git(self.env, wt, "rev-parse", "HEAD").strip()

    def test_land_review_gate(self):
        """An agent lands only a head its review approved; the operator always may."""
        GATE = "refused by the review rule"
        self.commit(self.X, "one.txt")
        text = self.x.error("land_instance", instance_id=self.X, dry_run=True)
        self.assertIn(GATE, text)
        self.assertIn("spawn_review_instance", text)
        self.assertIn("approved", text)
        # A review of this head, approved: allowed.
        rv = self.x.ok("spawn_review_instance", launch=False)["instance"]["id"]
        as_review = self.server(rv)
        text = self.x.error("land_instance", instance_id=self.X, dry_run=True)
        self.assertIn(GATE, text)  # reviewed, not yet approved
        as_review.ok("send_feedback", instance_id=self.X, feedback="lgtm",
                     feedback_type="suggestions")
        self.assertIn(GATE, self.x.error("land_instance", instance_id=self.X, dry_run=True))
        as_review.ok("send_feedback", instance_id=self.X, feedback="lgtm",
                     feedback_type="approved")
        self.assertFalse(self.x.ok("land_instance", instance_id=self.X, dry_run=True)["landed"])
        # A new head: that approval was of an older one.
        self.commit(self.X, "two.txt")
        text = self.x.error("land_instance", instance_id=self.X, dry_run=True)
        self.assertIn(GATE, text)
        # Approval by someone that is not its review (its parent P) does not count.
        self.server(self.P).ok("send_feedback", instance_id=self.X, feedback="ok",
                               feedback_type="approved")
        self.assertIn(GATE, self.x.error("land_instance", instance_id=self.X, dry_run=True))
        # The operator is never gated, and the setting turns the gate off.
        self.assertFalse(self.op.ok("land_instance", instance_id=self.X, dry_run=True)["landed"])
        subprocess.run([GROVE, "config", "set", "land.require_review", "false"], cwd=self.repo,
                       env=self.env, check=True, capture_output=True)
        x2 = self.server(self.X)
        r = x2.ok("land_instance", instance_id=self.X)
        self.assertTrue(r["landed"])

    def test_refusal_names_who_holds_the_right(self):
        text = self.x.error("log_checkpoint", instance_id=self.S, phase="p")
        self.assertIn("this server speaks for instance '%s'" % self.X, text)
        self.assertIn("Only '%s' itself, its ancestors (its parent is '%s')" % (self.S, self.P),
                      text)
        self.assertIn("operator", text)
        text = self.x.error("send_feedback", instance_id=self.U, feedback="f",
                            feedback_type="approved")
        self.assertIn("may send feedback only to its parent, its descendants and its siblings",
                      text)

    def test_agent_inside_a_worktree_cannot_destroy_a_sibling(self):
        """The reproduced attack: from inside X's worktree (no GROVE_INSTANCE_ID), terminate
        with force on the sibling destroyed its uncommitted file, unpushed commit and branch;
        log_checkpoint wrote false resume state into it."""
        wt_s = os.path.join(self.tmp, "repo.worktrees", self.S)
        with open(os.path.join(wt_s, "work.txt"), "w") as f:
            f.write("committed\n")
        G.git(self.env, wt_s, "add", "work.txt")
        G.git(self.env, wt_s, "commit", "-q", "-m", "sibling's work")
        with open(os.path.join(wt_s, "uncommitted.txt"), "w") as f:
            f.write("precious\n")
        head = G.git(self.env, wt_s, "rev-parse", "HEAD").strip()
        inside = self.server(cwd=os.path.join(self.tmp, "repo.worktrees", self.X))
        text = inside.error("terminate_instance", instance_id=self.S, remove_worktree=True,
                            force=True)
        self.assertIn(RULE, text)
        text = inside.error("log_checkpoint", instance_id=self.S, phase="done",
                            status="completed", message="all finished, nothing to do")
        self.assertIn(RULE, text)
        self.assertTrue(os.path.isfile(os.path.join(wt_s, "uncommitted.txt")))
        self.assertEqual(G.git(self.env, self.repo, "rev-parse", "grove/" + self.S).strip(),
                         head)
        self.assertEqual(self.count("SELECT status FROM grove_instances WHERE id = ?", self.S),
                         "running")
        self.assertEqual(self.count("SELECT count(*) FROM grove_checkpoints WHERE"
                                    " instance_id = ?", self.S), 0)
        # Its own instance it may checkpoint.
        inside.ok("log_checkpoint", phase="mine")

    def test_spawn_for_an_instance_that_does_not_exist(self):
        ghost = self.server("work-a99")
        before = self.count("SELECT count(*) FROM grove_instances")
        text = ghost.error("spawn_work_instance", launch=False)
        self.assertIn("'work-a99'", text)
        self.assertIn("does not exist", text)
        self.assertEqual(self.count("SELECT count(*) FROM grove_instances"), before)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "repo.worktrees", "work-a7")))


if __name__ == "__main__":
    GROVE = os.path.realpath(sys.argv.pop(1))
    unittest.main(verbosity=2)
