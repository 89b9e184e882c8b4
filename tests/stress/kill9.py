#!/usr/bin/python3
"""stress/kill9: `grove serve` killed with SIGKILL in the middle of its work, many times.

Each iteration starts a server, sends one of spawn_work_instance, fork_instance,
terminate_instance (remove_worktree true) or create_pull_request (pushing to a local bare
origin; the test commits in worktrees first), picked at random, and SIGKILLs the server
after a random delay of 0-300 ms, sometimes only after the answer. Then servers are
killed right after answering log_checkpoint: a checkpoint is answered only after its
transaction committed (this kills processes, not the machine: it proves nothing about
durability across a power loss, which is synchronous = FULL's business, see tests/cli).

Asserted: what was acknowledged is there (rows, removals, pushes, checkpoints); no call
ever fails with anything but an expected refusal (never a lock error); afterwards
`grove serve` starts and answers initialize, and `grove gc` (twice: the second run only
reports what it keeps on purpose) leaves rows, folders, worktree entries and grove/*
branches consistent with nothing left locked; every uncommitted file the test wrote and
every commit it made is still there (a file in its worktree, a commit on some branch or
remote) unless a forced terminate was sent for that instance; integrity_check ok; git
fsck clean (exit 0, nothing on stderr).

usage: kill9.py GROVE   (GROVE_STRESS_SCALE scales the iterations; GROVE_STRESS_SEED
                         repeats a run's random choices)
"""
import collections
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib as S  # noqa: E402

ITERATIONS = S.scaled(60, 10)
CHECKPOINT_KILLS = S.scaled(20, 5)
MAX_DELAY = 0.3

# isError texts a call may legitimately end with in this test; anything else fails it.
EXPECTED_REFUSALS = [
    r"refusing to remove the worktree of '[^']+': it has",  # dirty / unpushed, without force
    r"has no commits ahead of its base",                     # create_pull_request, nothing new
    r"has uncommitted changes",                              # create_pull_request on dirty
    # A push killed while it wrote into the (local, bare) origin leaves the origin's ref
    # locked: libgit2 writes a local remote in-process. grove says so; the test counts it.
    r"the remote rejected '[^']+': its ref is locked by '[^']*/origin\.git/refs/heads/[^']+\.lock'"
    r" .* rm '[^']+\.lock'",
]


def main(grove):
    S.run_in_repo(grove, "grove-stress-kill9-", lambda repo: run(repo, random.Random(S.seed())))


def running(repo):
    """Running rows whose worktree git can use: a terminate killed during its removal leaves
    a running row whose worktree is half removed (its journal in .git/grove/removing) until
    `grove gc` finishes the removal; such an instance is not worked in."""
    def usable(r):
        name = os.path.basename(r["worktree_path"])
        git_dir = os.path.join(repo.path, ".git")
        return (os.path.isdir(r["worktree_path"]) and
                os.path.isdir(os.path.join(git_dir, "worktrees", name)) and
                not os.path.exists(os.path.join(git_dir, "grove", "removing", name)))
    return [r for r in repo.rows() if r["status"] == "running" and usable(r)]


def commit_in(repo, inst, tag):
    """Commits a new file (and whatever else is uncommitted) in inst's worktree: its sha."""
    path = inst["worktree_path"]
    with open(os.path.join(path, "work-%s.txt" % tag), "w") as f:
        f.write("work %s\n" % tag)
    repo.git("add", "-A", cwd=path)
    repo.git("commit", "-qm", "work %s" % tag, cwd=path)
    return repo.git("rev-parse", "HEAD", cwd=path).strip()


def reachable(repo, sha):
    """Some branch or remote-tracking ref of the repository, or a branch of origin, has sha."""
    return any(repo.git(*where, "for-each-ref", "--contains", sha, check_rc=False).strip()
               for where in ((), ("--git-dir", repo.origin)))


def drain(srv):
    """After the kill: every complete line the server printed (the last may be cut off)."""
    msgs = []
    data = srv.buf + srv.proc.stdout.read()
    lines = data.split(b"\n")
    for line in lines[:-1]:
        msgs.append(json.loads(line))
        S.check(S.jsonrpc_ok(msgs[-1]), "%s: stdout line is not JSON-RPC: %r", srv.name,
                line[:200])
    return msgs


def unique_commits(repo, branch):
    """Subjects of the commits of `branch` that no other branch or remote-tracking ref has."""
    out = repo.git("log", "--format=%s", "refs/heads/" + branch, "--not",
                   "--exclude=" + branch, "--branches", "--remotes")
    return out.splitlines()


def refusal_ok(text):
    return any(re.search(p, text) for p in EXPECTED_REFUSALS)


def run(repo, rng):
    stats = collections.Counter()
    dirty = set()         # worktree folders the test left uncommitted files in
    expect_rows = {}      # acknowledged instance id -> "running" | "terminated"
    expect_pushed = {}    # branch -> commit acknowledged as pushed
    made_files = {}       # uncommitted file the test wrote -> id of the instance it is in
    made_commits = {}     # commit the test made -> id of the instance it was made in
    forced = set()        # instances a forced terminate was sent for (answered or killed: a
                          # killed one may have decided the removal, which gc then finishes)
    t_loop = time.monotonic()

    for it in range(ITERATIONS):
        live = running(repo)
        action = rng.choice(["spawn"] * 3 + ["fork"] * 2 + ["terminate"] * 2 + ["pr"] * 3)
        if action != "spawn" and not live:
            action = "spawn"
        target = rng.choice(live) if live else None
        if action == "spawn":
            args = {"launch": False, "prompt": "kill9 %d" % it}
            if rng.random() < 0.5:
                args["issue"] = rng.choice([1, 2, "bd-x"])
            tool = "spawn_work_instance"
        elif action == "fork":
            tool, args = "fork_instance", {"instance_id": target["id"], "launch": False}
        elif action == "terminate":
            tool = "terminate_instance"
            args = {"instance_id": target["id"], "remove_worktree": True}
            if rng.random() < 0.4:
                args["force"] = True
                forced.add(target["id"])
        else:
            tool = "create_pull_request"
            args = {"instance_id": target["id"], "title": "kill9 %d" % it}
            if rng.random() < 0.7:
                made_commits[commit_in(repo, target, "c%d" % it)] = target["id"]
                # the commit took the worktree's uncommitted files: they are in it now
                made_files = {f: i for f, i in made_files.items()
                              if not f.startswith(target["worktree_path"] + "/")}
        if target and rng.random() < 0.1:
            wip = os.path.join(target["worktree_path"], "wip-%d.txt" % it)
            with open(wip, "w") as f:
                f.write("uncommitted\n")
            dirty.add(target["worktree_path"])
            made_files[wip] = target["id"]

        srv = repo.server("kill%d" % it)
        try:
            srv.initialize()
            rid = srv.send_request("tools/call", {"name": tool, "arguments": args})
            answer = None
            if rng.random() < 0.2:
                answer = srv.response(rid)
            else:
                # 0-300 ms, most of them short: that is when the work is under way
                time.sleep(MAX_DELAY * rng.random() ** 3)
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait()
            msgs = drain(srv)
        finally:
            srv.kill()
        for m in msgs:
            if m.get("id") == rid:
                answer = m
        stats["%s sent" % tool] += 1
        if answer is None:
            stats["%s killed before the answer" % tool] += 1
            continue
        S.check("error" not in answer, "%s: JSON-RPC error %s", tool, answer.get("error"))
        res = answer["result"]
        if res.get("isError"):
            text = " ".join(c.get("text", "") for c in res["content"])
            S.check(refusal_ok(text), "iteration %d: %s %s failed: %s", it, tool, args, text)
            stats["%s refused" % tool] += 1
            if "its ref is locked by" in text:
                stats["%s refused: origin ref left locked by a killed push" % tool] += 1
            continue
        stats["%s answered" % tool] += 1
        sc = res["structuredContent"]
        if tool in ("spawn_work_instance", "fork_instance"):
            expect_rows[sc["instance"]["id"]] = "running"
            inst = sc["instance"]
            S.check(os.path.isdir(inst["worktree_path"]), "acknowledged %s: no folder", inst["id"])
            wt = repo.worktrees().get(inst["worktree_path"])
            S.check(wt is not None and wt["locked"] is None,
                    "acknowledged %s: worktree entry %s", inst["id"], wt)
        elif tool == "terminate_instance":
            expect_rows[sc["instance"]["id"]] = "terminated"
            S.check(sc["worktree_removed"], "terminate answered without removal: %s", sc)
            inst = sc["instance"]
            S.check(not os.path.exists(inst["worktree_path"]), "acknowledged removal of %s: "
                    "folder still there", inst["id"])
            S.check(inst["branch_name"] not in repo.branches(), "acknowledged removal of %s: "
                    "branch still there", inst["id"])
        else:
            expect_pushed[sc["branch_name"]] = sc["head_commit"]
        # acknowledged rows are never lost
        rows = {r["id"] for r in repo.rows()}
        for i in expect_rows:
            S.check(i in rows, "acknowledged instance %s lost its row", i)
    loop_s = time.monotonic() - t_loop

    # ---- log_checkpoint answers only after its commit: a kill -9 after the answer ------
    t_cp = time.monotonic()
    live = running(repo)
    cp_ids = []
    for k in range(CHECKPOINT_KILLS):
        srv = repo.server("cp%d" % k)
        try:
            srv.initialize()
            if not live:
                live = [srv.ok("spawn_work_instance", launch=False)["instance"]]
                expect_rows[live[0]["id"]] = "running"
            inst = rng.choice(live)
            cp = srv.ok("log_checkpoint", instance_id=inst["id"], phase="kill9",
                          name="cp%d" % k, data={"k": k})["checkpoint"]
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait()
        finally:
            srv.kill()
        got = repo.sql("SELECT instance_id, sequence, name FROM grove_checkpoints WHERE id = ?",
                       cp["id"])
        S.check(got == [(inst["id"], cp["sequence"], "cp%d" % k)],
                "acknowledged checkpoint %s lost after kill -9: %s", cp["id"], got)
        cp_ids.append(cp["id"])
    cp_s = time.monotonic() - t_cp

    # ---- recovery --------------------------------------------------------------------
    srv = repo.server("after")
    try:
        info = srv.initialize()
        S.check(info["serverInfo"]["name"] == "grove", "initialize after the kills: %s", info)
        srv.close()
    except BaseException:
        srv.kill()
        raise
    before = {"folders": len(repo.folders()), "entries": len(repo.worktrees()) - 1,
              "branches": len(repo.branches()), "admin": len(repo.admin_entries())}
    t_gc = time.monotonic()
    p = repo.run_grove("gc", "--json")
    gc_s = time.monotonic() - t_gc
    S.check(p.returncode == 0, "grove gc failed: %s", p.stderr.decode(errors="replace"))
    first = [n for n in json.loads(p.stdout) if n["kind"] not in ("instance", "disk-total")]
    p = repo.run_grove("gc", "--json")
    S.check(p.returncode == 0, "second grove gc failed: %s", p.stderr.decode(errors="replace"))
    # the findings; instances' classes and sizes are not actions (tests/cli/test_gc_merged.py)
    second = [n for n in json.loads(p.stdout) if n["kind"] not in ("instance", "disk-total")]
    S.check(all(n["action"] == "kept" for n in second),
            "the second gc still acted: %s", [n for n in second if n["action"] != "kept"])
    # What gc keeps must be work the test made: uncommitted files it wrote, or commits it
    # made that exist nowhere else any more (a forced terminate dropped the branch that a
    # killed fork had copied).
    kept, kept_branches = set(), set()
    for n in second:
        S.check(n["kind"] in ("orphan-worktree", "orphan-branch"),
                "the second gc keeps something unexpected: %s", n)
        if n["kind"] == "orphan-branch":
            unique = unique_commits(repo, n["subject"])
            S.check(unique and all(m.startswith("work c") for m in unique),
                    "gc kept branch %s (%s); its own commits: %s", n["subject"], n["detail"],
                    unique)
            kept_branches.add(n["subject"])
        else:
            wt = repo.worktrees().get(n["subject"], {})
            unique = unique_commits(repo, wt.get("branch")) if wt.get("branch") else []
            S.check(n["subject"] in dirty or
                    (unique and all(m.startswith("work c") for m in unique)),
                    "gc kept %s, which holds no work of the test's: %s", n["subject"],
                    n["detail"])
            kept.add(n["subject"])
            if wt.get("branch"):
                kept_branches.add(wt["branch"])
    for n in first:
        S.check(n["action"] != "kept" or n in second, "the first gc kept %s, the second did "
                "not report it: %s", n["subject"], n)

    rows = repo.check_consistent(allow_kept=kept, allow_branches=kept_branches)
    by_id = {r["id"]: r for r in rows}
    # Every terminate here asks for removal: a terminated row whose worktree stays would be
    # a removal that nothing finishes any more (terminate_instance removes before it marks).
    for r in rows:
        S.check(r["status"] != "terminated" or not os.path.exists(r["worktree_path"]),
                "%s is terminated but its worktree %s stays", r["id"], r["worktree_path"])
    for i, status in expect_rows.items():
        S.check(i in by_id, "acknowledged instance %s lost its row", i)
        if status == "terminated":
            S.check(by_id[i]["status"] == "terminated", "%s: acknowledged terminate, row %s", i,
                    by_id[i]["status"])
    for cid in cp_ids:
        S.check(repo.sql("SELECT count(*) FROM grove_checkpoints WHERE id = ?", cid)[0][0] == 1,
                "checkpoint %s lost", cid)
    for branch, sha in expect_pushed.items():
        out = repo.git("--git-dir", repo.origin, "rev-parse", "--verify", "-q",
                       "refs/heads/" + branch, check_rc=False).strip()
        S.check(out != "", "acknowledged push of %s: not on origin", branch)
        # later pushes of the same branch may have moved it on
        repo.git("--git-dir", repo.origin, "merge-base", "--is-ancestor", sha, out)
    # no work of the test's is lost but what a forced terminate was asked to drop
    for path, i in sorted(made_files.items()):
        if i not in forced:
            S.check(os.path.isfile(path), "uncommitted file %s of %s is gone after gc", path, i)
    for sha, i in sorted(made_commits.items()):
        if i not in forced:
            S.check(reachable(repo, sha), "commit %s made in %s is on no branch or remote after "
                    "gc", sha, i)
    fsck = subprocess.run(["git", "fsck", "--no-dangling", "--no-progress"], cwd=repo.path,
                          env=repo.env, capture_output=True, timeout=300)
    S.check(fsck.returncode == 0 and fsck.stderr.strip() == b"",
            "git fsck: exit %d: %s%s", fsck.returncode, fsck.stderr.decode(errors="replace"),
            fsck.stdout.decode(errors="replace"))

    # ---- and it still works ------------------------------------------------------------
    srv = repo.server("final")
    try:
        srv.initialize()
        inst = srv.ok("spawn_work_instance", launch=False, issue=1)["instance"]
        srv.ok("log_checkpoint", instance_id=inst["id"], phase="done")
        srv.ok("terminate_instance", instance_id=inst["id"], remove_worktree=True)
        srv.close()
    except BaseException:
        srv.kill()
        raise
    repo.check_consistent(allow_kept=kept, allow_branches=kept_branches)

    gc_notes = collections.Counter("%s %s" % (n["kind"], n["action"]) for n in first)
    print("%d kill -9 iterations in %.1f s: %s" % (ITERATIONS, loop_s, ", ".join(
        "%s %d" % kv for kv in sorted(stats.items()))))
    print("%d servers killed right after answering log_checkpoint: every answered checkpoint "
          "was committed (%.1f s)" % (CHECKPOINT_KILLS, cp_s))
    print("work of the test's checked after gc: %d uncommitted files, %d commits (%d instances "
          "exempt: forced terminate sent)" % (len(made_files), len(made_commits), len(forced)))
    print("before gc: %(folders)d folders, %(entries)d worktree entries, %(admin)d admin "
          "folders, %(branches)d grove branches" % before)
    print("gc (%.2f s): %s" % (gc_s, ", ".join("%s %d" % kv for kv in sorted(gc_notes.items()))
                              or "nothing to do"))
    print("second gc: %s" % (", ".join("%s %s" % (n["kind"], n["subject"]) for n in second)
                             or "nothing to do"))
    print("after gc: %d rows (%d running), %d folders, %d worktree entries, %d grove branches"
          % (len(rows), sum(r["status"] == "running" for r in rows), len(repo.folders()),
             len(repo.worktrees()) - 1, len(repo.branches())))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(os.path.realpath(sys.argv[1]))
