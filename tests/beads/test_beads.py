#!/usr/bin/python3
"""Beads extension mode: grove's tables beside the beads issue tracker's.

The tests build a beads-shaped SQLite database themselves, from the table and
column names of beads' documented SQLite schema (issues, dependencies, labels,
plus comments, events, config, metadata, dirty_issues and its views), point
grove at it with GROVE_DB and prove that grove leaves beads' tables exactly as
they were, that grove_issue_links cascades both ways, that `issue: "ready"`
follows beads' ready-work rule, and that concurrent ready spawns never claim
one issue twice.

usage: test_beads.py GROVE
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import grovetest as G  # noqa: E402

GROVE = None

# beads' SQLite schema (the SQLite era), trimmed to what a beads database holds.
BEADS_SCHEMA = """
CREATE TABLE issues (
    id TEXT PRIMARY KEY,
    content_hash TEXT,
    title TEXT NOT NULL CHECK(length(title) <= 500),
    description TEXT NOT NULL DEFAULT '',
    design TEXT NOT NULL DEFAULT '',
    acceptance_criteria TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'open',
    priority INTEGER NOT NULL DEFAULT 2 CHECK(priority >= 0 AND priority <= 4),
    issue_type TEXT NOT NULL DEFAULT 'task',
    assignee TEXT,
    estimated_minutes INTEGER,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    closed_at DATETIME,
    external_ref TEXT,
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE INDEX idx_issues_status ON issues(status);
CREATE INDEX idx_issues_priority ON issues(priority);
CREATE INDEX idx_issues_assignee ON issues(assignee);
CREATE INDEX idx_issues_created_at ON issues(created_at);

CREATE TABLE dependencies (
    issue_id TEXT NOT NULL,
    depends_on_id TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT 'blocks',
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    created_by TEXT NOT NULL,
    PRIMARY KEY (issue_id, depends_on_id),
    FOREIGN KEY (issue_id) REFERENCES issues(id) ON DELETE CASCADE,
    FOREIGN KEY (depends_on_id) REFERENCES issues(id) ON DELETE CASCADE
);
CREATE INDEX idx_dependencies_issue ON dependencies(issue_id);
CREATE INDEX idx_dependencies_depends_on ON dependencies(depends_on_id);

CREATE TABLE labels (
    issue_id TEXT NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (issue_id, label),
    FOREIGN KEY (issue_id) REFERENCES issues(id) ON DELETE CASCADE
);
CREATE INDEX idx_labels_label ON labels(label);

CREATE TABLE comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    issue_id TEXT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (issue_id) REFERENCES issues(id) ON DELETE CASCADE
);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    issue_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    actor TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    comment TEXT,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (issue_id) REFERENCES issues(id) ON DELETE CASCADE
);
CREATE INDEX idx_events_issue ON events(issue_id);

CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE dirty_issues (
    issue_id TEXT PRIMARY KEY,
    marked_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (issue_id) REFERENCES issues(id) ON DELETE CASCADE
);

CREATE VIEW ready_issues AS
SELECT i.* FROM issues i
WHERE i.status = 'open'
  AND NOT EXISTS (
    SELECT 1 FROM dependencies d
    JOIN issues blocked ON d.depends_on_id = blocked.id
    WHERE d.issue_id = i.id AND d.type = 'blocks'
      AND blocked.status IN ('open', 'in_progress', 'blocked'));

CREATE VIEW blocked_issues AS
SELECT i.*, COUNT(d.depends_on_id) AS blocked_by_count
FROM issues i
JOIN dependencies d ON i.id = d.issue_id
JOIN issues blocker ON d.depends_on_id = blocker.id
WHERE i.status IN ('open', 'in_progress', 'blocked')
  AND d.type = 'blocks'
  AND blocker.status IN ('open', 'in_progress', 'blocked')
GROUP BY i.id;

INSERT INTO config (key, value) VALUES ('issue_prefix', 'bd');
INSERT INTO metadata (key, value) VALUES ('bd_version', '0.9.9');
"""

BEADS_TABLES = ("issues", "dependencies", "labels", "comments", "events", "config", "metadata",
                "dirty_issues")


def make_beads(path, issues, deps=(), labels=()):
    """issues: (id, priority, status, assignee, created_at[, issue_type]) tuples."""
    con = sqlite3.connect(path)
    con.executescript(BEADS_SCHEMA)
    for row in issues:
        iid, prio, status, assignee, created = row[:5]
        itype = row[5] if len(row) > 5 else "task"
        con.execute("INSERT INTO issues (id, title, description, status, priority, issue_type, "
                    "assignee, created_at, updated_at, closed_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (iid, "title of " + iid, "details, \"quoted\"\n", status, prio, itype, assignee,
                     created, created, created if status == "closed" else None))
        con.execute("INSERT INTO events (issue_id, event_type, actor, new_value) VALUES (?, 'created', 'me', ?)",
                    (iid, iid))
    for issue, on, kind in deps:
        con.execute("INSERT INTO dependencies (issue_id, depends_on_id, type, created_at, created_by) "
                    "VALUES (?, ?, ?, '2025-01-01 00:00:00', 'me')", (issue, on, kind))
    for issue, label in labels:
        con.execute("INSERT INTO labels VALUES (?, ?)", (issue, label))
    con.commit()
    con.close()


def snapshot(path):
    """beads' schema objects and every row of beads' tables."""
    con = sqlite3.connect(path)
    schema = con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE "
                         "tbl_name NOT LIKE 'grove\\_%' ESCAPE '\\' ORDER BY type, name").fetchall()
    rows = {}
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                               "name NOT LIKE 'grove\\_%' ESCAPE '\\' ORDER BY name").fetchall():
        cols = [r[1] for r in con.execute("PRAGMA table_info(%s)" % name)]
        rows[name] = con.execute("SELECT rowid, %s FROM %s ORDER BY rowid" % (
            ", ".join('"%s", typeof("%s")' % (c, c) for c in cols), name)).fetchall()
    con.close()
    return schema, rows


class Beads(unittest.TestCase):
    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="grove-beads-"))
        self.repo = os.path.join(self.tmp, "repo")
        self.db = os.path.join(self.tmp, ".beads", "beads.db")
        os.makedirs(os.path.dirname(self.db))
        self.env = G.clean_env(self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, "xdg"),
                               GROVE_LOG="error", GROVE_DB=self.db)
        G.make_repo(self.repo, self.env, files={"README.md": "hi\n"}, message="init")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def grove(self, *args, env=None):
        return subprocess.run([GROVE, *args], cwd=self.repo, capture_output=True,
                              env=env or self.env, timeout=120)

    def serve(self, *calls, env=None, stderr=None):
        """One `grove serve`: initialize, then each (tool, arguments); the results.
        With stderr (a list), the server's stderr is appended to it."""
        msgs = [G.initialize_message("beads-test")] + G.tool_calls(calls)
        p, out = G.serve_once(GROVE, self.repo, env or self.env, msgs)
        self.assertEqual(p.returncode, 0, p.stderr)
        if stderr is not None:
            stderr.append(p.stderr)
        return [m["result"] for m in out[1:]]

    def ready(self, n=1, env=None):
        """n sequential ready spawns: the beads id of each, or the error text."""
        res = self.serve(*[("spawn_work_instance", {"issue": "ready"})] * n, env=env)
        return [r["content"][0]["text"] if r.get("isError") else
                r["structuredContent"]["instance"]["issue"] for r in res]

    def links(self):
        con = sqlite3.connect(self.db)
        rows = con.execute("SELECT instance_id, issue_id FROM grove_issue_links "
                           "ORDER BY instance_id").fetchall()
        con.close()
        return rows

    def test_beads_tables_are_untouched(self):
        make_beads(self.db, [("bd-1", 1, "open", None, "2025-01-01 10:00:00", "bug"),
                             ("bd-2", 0, "open", None, "2025-01-02 10:00:00", "feature"),
                             ("bd-3", 2, "closed", None, "2025-01-03 10:00:00")],
                   deps=[("bd-1", "bd-3", "blocks")], labels=[("bd-1", "urgent")])
        before = snapshot(self.db)
        self.assertEqual(self.grove("init").returncode, 0)
        inst = self.ready(2)
        self.assertEqual(inst, ["bd-2", "bd-1"])
        res = self.serve(("spawn_work_instance", {"issue": "bd-3", "prompt": "explicit"}),
                         ("log_checkpoint", {"instance_id": "work-bd-2-a1", "phase": "plan"}),
                         ("spawn_review_instance", {"work_instance_id": "work-bd-2-a1"}),
                         ("terminate_instance", {"instance_id": "work-bd-1-a1",
                                                 "remove_worktree": True}),
                         ("query_instances", {"issue": "bd-2"}))
        self.assertFalse(any(r.get("isError") for r in res), res)
        self.assertEqual([i["id"] for i in res[4]["structuredContent"]["instances"]],
                         ["work-bd-2-a1", "review-bd-2-a1"])
        for args in (["stats"], ["stats", "--json"], ["ls", "--all"], ["gc"],
                     ["export", "--out", os.path.join(self.tmp, "x")], ["migrate", "status"],
                     ["config", "set", "k", "v"], ["config", "list"]):
            p = self.grove(*args)
            self.assertEqual(p.returncode, 0, (args, p.stderr))
        # beads' schema objects and rows are exactly as before
        self.assertEqual(snapshot(self.db), before)
        con = sqlite3.connect(self.db)
        # grove's objects are all namespaced, and none of its views or triggers reads beads' tables
        for kind, name, sql in con.execute("SELECT type, name, sql FROM sqlite_master WHERE "
                                           "tbl_name LIKE 'grove\\_%' ESCAPE '\\'"):
            self.assertTrue(name.startswith(("grove_", "sqlite_autoindex_grove_")), name)
            if kind in ("view", "trigger"):
                self.assertIsNone(re.search(r"\b(issues|dependencies|labels)\b", sql), name)
        self.assertEqual(con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")
                         .fetchone()[0], 0)
        # the link table: only in this mode, with both foreign keys cascading
        fks = {(r[2], r[3], r[6]) for r in con.execute("PRAGMA foreign_key_list(grove_issue_links)")}
        self.assertEqual(fks, {("grove_instances", "instance_id", "CASCADE"),
                               ("issues", "issue_id", "CASCADE")})
        self.assertEqual(con.execute("PRAGMA foreign_key_check").fetchall(), [])
        con.close()
        self.assertEqual(self.links(), [("review-bd-2-a1", "bd-2"), ("work-bd-1-a1", "bd-1"),
                                        ("work-bd-2-a1", "bd-2"), ("work-bd-3-a1", "bd-3")])
        # the export carries the beads ids
        with open(os.path.join(self.tmp, "x", "grove-instances.jsonl")) as f:
            self.assertEqual(sorted(json.loads(l)["beads_id"] for l in f),
                             ["bd-1", "bd-2", "bd-2", "bd-3"])

    def test_cascades_both_ways(self):
        make_beads(self.db, [("bd-a", 0, "open", None, "2025-01-01"),
                             ("bd-b", 1, "open", None, "2025-01-02"),
                             ("bd-c", 2, "open", None, "2025-01-03")])
        self.assertEqual(self.ready(3), ["bd-a", "bd-b", "bd-c"])
        con = sqlite3.connect(self.db)
        con.execute("PRAGMA foreign_keys = ON")
        # beads deletes an issue: its link goes, the instance (grove's history) stays
        con.execute("DELETE FROM issues WHERE id = 'bd-a'")
        con.commit()
        self.assertEqual(self.links(), [("work-bd-b-a1", "bd-b"), ("work-bd-c-a1", "bd-c")])
        self.assertEqual(con.execute("SELECT count(*) FROM grove_instances WHERE id = 'work-bd-a-a1'")
                         .fetchone()[0], 1)
        # an instance row goes: its link goes, the issue stays
        con.execute("DELETE FROM grove_instances WHERE id = 'work-bd-b-a1'")
        con.commit()
        self.assertEqual(self.links(), [("work-bd-c-a1", "bd-c")])
        self.assertEqual(con.execute("SELECT count(*) FROM issues WHERE id = 'bd-b'").fetchone()[0], 1)
        # a rename with foreign keys on follows the issue (ON UPDATE CASCADE); beads' own
        # events table has no ON UPDATE action, so it is moved in the same transaction
        con.executescript("BEGIN; PRAGMA defer_foreign_keys = ON;"
                          "UPDATE issues SET id = 'bd-c2' WHERE id = 'bd-c';"
                          "UPDATE events SET issue_id = 'bd-c2' WHERE issue_id = 'bd-c'; COMMIT;")
        self.assertEqual(self.links(), [("work-bd-c-a1", "bd-c2")])
        con.close()

    def test_ready_follows_priority_and_blocking(self):
        make_beads(self.db, [
            ("bd-a", 2, "open", None, "2025-01-01 00:00:00"),
            ("bd-b", 0, "open", None, "2025-01-05 00:00:00"),         # blocked by bd-c
            ("bd-c", 1, "open", None, "2025-01-03 00:00:00"),
            ("bd-d", 0, "open", "bob", "2025-01-01 00:00:00"),        # assigned
            ("bd-e", 0, "in_progress", None, "2025-01-01 00:00:00"),  # not open
            ("bd-f", 0, "closed", None, "2025-01-01 00:00:00"),
            ("bd-g", 1, "open", None, "2025-01-02 00:00:00"),         # its blocker is closed
            ("bd-h", 0, "open", None, "2025-01-04 00:00:00"),         # child of a blocked epic
            ("bd-i", 3, "open", None, "2025-01-01 00:00:00", "epic"), # blocked by bd-c
            ("bd-j", 1, "open", None, "2025-01-01 00:00:00"),
            ("bd-k", 4, "open", None, "2025-01-01 00:00:00"),         # waits on bd-e (in progress)
        ], deps=[("bd-b", "bd-c", "blocks"), ("bd-g", "bd-f", "blocks"), ("bd-h", "bd-i", "parent-child"),
                 ("bd-i", "bd-c", "blocks"), ("bd-k", "bd-e", "blocks"), ("bd-a", "bd-j", "related")])
        # lowest priority number first, then oldest; blocked, assigned and not-open ones never
        got = self.ready(5)
        self.assertEqual(got[:4], ["bd-j", "bd-g", "bd-c", "bd-a"])
        self.assertIn("no ready beads issue", got[4])
        # beads closes bd-c: bd-b and the epic's child bd-h are ready now (bd-i too)
        con = sqlite3.connect(self.db)
        con.execute("UPDATE issues SET status = 'closed', closed_at = '2025-02-01' WHERE id = 'bd-c'")
        con.commit()
        con.close()
        self.assertEqual(self.ready(4)[:3], ["bd-h", "bd-b", "bd-i"])
        # a terminated instance no longer holds its issue
        res = self.serve(("terminate_instance", {"instance_id": "work-bd-a-a1"}))
        self.assertFalse(res[0].get("isError"), res)
        self.assertEqual(self.ready(2)[0], "bd-a")
        # grove never writes beads' tables: statuses and assignees are beads' own
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("SELECT count(*) FROM issues WHERE status = 'open' AND "
                                     "assignee IS NULL").fetchone()[0], 7)
        con.close()
        # stats shows the beads part
        st = json.loads(self.grove("stats", "--json").stdout)
        self.assertEqual(st["beads"]["ready"], 0)
        self.assertEqual(st["beads"]["linked_instances"], 8)
        self.assertEqual(st["beads"]["orphaned_links"], [])

    def test_concurrent_ready_spawns_never_share_an_issue(self):
        issues = [("bd-%02d" % i, i % 3, "open", None, "2025-01-%02d 00:00:00" % (i + 1))
                  for i in range(6)]
        make_beads(self.db, issues)
        self.assertEqual(self.grove("init").returncode, 0)
        servers = [G.Server(GROVE, self.repo, dict(self.env, GROVE_LOG="info"),
                            name="race%d" % i) for i in range(8)]
        try:
            for srv in servers:  # every server is up and has its database open ...
                srv.initialize("race")
            # ... before all of them ask for the next ready issue at once
            rids = [srv.send_request("tools/call", {"name": "spawn_work_instance",
                                                    "arguments": {"issue": "ready"}})
                    for srv in servers]
            results = [srv.response(rid)["result"] for srv, rid in zip(servers, rids)]
            for srv in servers:
                srv.close()  # exit status 0
            stderr = "".join(srv.stderr_text() for srv in servers)
        finally:
            for srv in servers:
                srv.kill()
        won = [r["structuredContent"]["instance"]["issue"] for r in results if not r.get("isError")]
        lost = [r["content"][0]["text"] for r in results if r.get("isError")]
        self.assertEqual(sorted(won), [i[0] for i in issues])  # each issue exactly once
        self.assertEqual(len(lost), 2)
        for text in lost:
            self.assertIn("no ready beads issue", text)
        self.assertEqual(sorted(l[1] for l in self.links()), [i[0] for i in issues])
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("SELECT count(*), count(DISTINCT beads_id) FROM grove_instances "
                                     "WHERE status = 'running'").fetchone(), (6, 6))
        con.close()
        # every worktree that lost a race was removed again
        wts = subprocess.run(["git", "worktree", "list", "--porcelain"], cwd=self.repo, env=self.env,
                             capture_output=True, check=True).stdout.decode()
        self.assertEqual(wts.count("worktree "), 7)
        if os.environ.get("GROVE_SHOW_RACES"):
            print("\n%d races lost and retried" % stderr.count("claimed by another instance meanwhile"))

    def test_orphaned_links_reported_on_startup(self):
        make_beads(self.db, [("bd-x", 0, "open", None, "2025-01-01"),
                             ("bd-y", 1, "open", None, "2025-01-02")])
        self.assertEqual(self.ready(2), ["bd-x", "bd-y"])
        # beads renames an issue with foreign keys off (as its prefix rename does)
        con = sqlite3.connect(self.db)
        con.execute("UPDATE issues SET id = 'bd-renamed' WHERE id = 'bd-x'")
        con.commit()
        con.close()
        p = self.grove("ls", env=dict(self.env, GROVE_LOG="warn"))
        self.assertEqual(p.returncode, 0, p.stderr)
        err = p.stderr.decode()
        self.assertIn("1 grove_issue_links rows point at beads issues", err)
        self.assertIn("orphaned link: instance 'work-bd-x-a1' -> issue 'bd-x' (missing in 'issues')", err)
        # `grove serve` opens the database on its first tool call, and reports then
        err = []
        self.serve(("query_instances", {}), env=dict(self.env, GROVE_LOG="warn"), stderr=err)
        self.assertIn(b"orphaned link: instance 'work-bd-x-a1'", err[0])
        st = json.loads(self.grove("stats", "--json").stdout)
        self.assertEqual(st["beads"]["orphaned_links"],
                         [{"instance_id": "work-bd-x-a1", "issue_id": "bd-x", "missing": "issues"}])
        self.assertIn(b"1 orphaned links", self.grove("stats").stdout)

    def test_success_by_issue_type_and_temp_views(self):
        make_beads(self.db, [("bd-bug", 0, "open", None, "2025-01-01", "bug"),
                             ("bd-feat", 1, "open", None, "2025-01-02", "feature")])
        self.assertEqual(self.ready(2), ["bd-bug", "bd-feat"])
        self.serve(("log_checkpoint", {"phase": "plan"}), ("get_instance", {"instance_id": "nope"}),
                   env=dict(self.env, GROVE_INSTANCE_ID="work-bd-bug-a1"))
        self.serve(("log_checkpoint", {"phase": "plan"}),
                   env=dict(self.env, GROVE_INSTANCE_ID="work-bd-feat-a1"))
        st = json.loads(self.grove("stats", "--json").stdout)
        by_type = {r["issue_type"]: r for r in st["beads"]["success_by_issue_type"]}
        self.assertEqual((by_type["bug"]["calls"], by_type["bug"]["failures"]), (2, 1))
        self.assertEqual((by_type["feature"]["calls"], by_type["feature"]["failures"]), (1, 0))
        self.assertIn(b"issue type bug", self.grove("stats").stdout)
        # the issue-joined views are TEMP: another connection never sees them
        con = sqlite3.connect(self.db)
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        for temp in ("grove_ready_issues", "grove_instance_issues", "grove_issue_type_success_rate",
                     "grove_ready_claim", "grove_issue_link", "grove_ready_claim_check"):
            self.assertNotIn(temp, names)
        con.close()

    def test_not_beads_mode_without_beads_tables(self):
        # only an `issues` table: not beads (dependencies and labels are missing)
        con = sqlite3.connect(self.db)
        con.execute("CREATE TABLE issues (id TEXT PRIMARY KEY, title TEXT)")
        con.commit()
        con.close()
        res = self.ready(1)
        self.assertIn("issue 'ready' means the next ready beads issue", res[0])
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("SELECT count(*) FROM sqlite_master WHERE name = "
                                     "'grove_issue_links'").fetchone()[0], 0)
        con.close()
        res = self.serve(("spawn_work_instance", {"issue": "bd-1"}))
        self.assertEqual(res[0]["structuredContent"]["instance"]["issue"], "bd-1")

    def test_beads_tables_without_the_columns_grove_reads(self):
        con = sqlite3.connect(self.db)
        con.executescript("CREATE TABLE issues (id TEXT PRIMARY KEY, title TEXT, status TEXT);"
                          "CREATE TABLE dependencies (issue_id TEXT, depends_on_id TEXT, type TEXT);"
                          "CREATE TABLE labels (issue_id TEXT, label TEXT);"
                          "INSERT INTO issues VALUES ('bd-1', 't', 'open');")
        con.close()
        err = []
        self.serve(("query_instances", {}), env=dict(self.env, GROVE_LOG="warn"), stderr=err)
        self.assertIn(b"do not have the columns grove reads", err[0])
        res = self.ready(1)
        self.assertIn("issue 'ready' is off", res[0])
        # explicit ids still work and are linked (that needs only issues.id)
        res = self.serve(("spawn_work_instance", {"issue": "bd-1"}))
        self.assertFalse(res[0].get("isError"), res)
        self.assertEqual(self.links(), [("work-bd-1-a1", "bd-1")])
        st = json.loads(self.grove("stats", "--json").stdout)
        self.assertNotIn("beads", st)


if __name__ == "__main__":
    GROVE = os.path.realpath(sys.argv.pop(1))
    unittest.main(verbosity=2)
