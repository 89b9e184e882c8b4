#!/usr/bin/python3
"""stress/hammer: several `grove serve` processes for a while, each looping
spawn_work_instance / query_instances / terminate_instance (remove_worktree true, on the
instance it spawned). The last instance of each process stays running.

Asserted: every call succeeded; afterwards worktrees, branches, folders and rows agree
(running rows have folder, entry and branch; removed ones have none of them); no worktree
is left locked; integrity_check ok; every server exits 0 on stdin EOF.

usage: hammer.py GROVE   (GROVE_STRESS_SCALE scales processes and duration)
"""
import collections
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib as S  # noqa: E402

PROCS = S.scaled(8, 2)
SECONDS = float(os.environ.get("GROVE_STRESS_SECONDS", 30 * S.SCALE))


def main(grove):
    S.run_in_repo(grove, "grove-stress-hammer-", run)


def run(repo):
    calls = collections.Counter()
    lock = threading.Lock()
    kept = {}  # server index -> the instance left running
    removed = []
    barrier = threading.Barrier(PROCS)
    servers = [repo.server("server%d" % i) for i in range(PROCS)]

    def drive(idx):
        srv = servers[idx]
        mine = collections.Counter()
        try:
            srv.initialize()
            barrier.wait(timeout=120)
            deadline = time.monotonic() + SECONDS
            n = 0
            while True:
                args = {"launch": False, "prompt": "hammer %d/%d" % (idx, n)}
                if n % 3 == 1:
                    args["issue"] = 7  # a shared id prefix: allocation races
                inst = srv.ok("spawn_work_instance", **args)["instance"]
                mine["spawn_work_instance"] += 1
                # the new instance is listed: on some page (oldest first, a page at a time)
                listed, cursor = False, None
                while True:
                    more = {"cursor": cursor} if cursor else {}
                    page = srv.ok("query_instances", status="running", limit=500, **more)
                    mine["query_instances"] += 1
                    listed = any(i["id"] == inst["id"] for i in page["instances"])
                    cursor = page.get("next_cursor")
                    if listed or not cursor:
                        break
                S.check(listed, "query_instances does not list %s", inst["id"])
                if time.monotonic() >= deadline:
                    kept[idx] = inst["id"]
                    break
                res = srv.ok("terminate_instance", instance_id=inst["id"], remove_worktree=True)
                mine["terminate_instance"] += 1
                S.check(res["worktree_removed"] is True and
                        res["instance"]["status"] == "terminated",
                        "terminate of %s: %s", inst["id"], res)
                with lock:
                    removed.append(inst["id"])
                n += 1
            srv.close()
        except BaseException:
            srv.kill()
            sys.stderr.write("%s stderr:\n%s\n" % (srv.name, srv.stderr_tail()))
            raise
        finally:
            with lock:
                calls.update(mine)

    t = time.monotonic()
    S.run_threads([lambda i=i: drive(i) for i in range(PROCS)])
    elapsed = time.monotonic() - t

    rows = {r["id"]: r for r in repo.rows()}
    wts = repo.worktrees()
    branches = repo.branches()
    folders = repo.folders()
    admin = repo.admin_entries()
    S.check(len(set(removed)) == len(removed), "an instance id was handed out twice")
    for i in removed:
        r = rows.get(i)
        S.check(r is not None and r["status"] == "terminated", "removed %s: row %s", i, r)
        S.check(not os.path.exists(r["worktree_path"]), "removed %s: folder still there", i)
        S.check(r["worktree_path"] not in wts, "removed %s: still in git worktree list", i)
        S.check(i not in admin, "removed %s: admin folder .git/worktrees/%s left", i, i)
        S.check(r["branch_name"] not in branches, "removed %s: branch %s left", i, r["branch_name"])
    running = {i for i, r in rows.items() if r["status"] == "running"}
    S.check(running == set(kept.values()), "running rows %s, expected %s", sorted(running),
            sorted(kept.values()))
    for i in running:
        r = rows[i]
        S.check(os.path.isdir(r["worktree_path"]), "running %s: folder missing", i)
        S.check(r["worktree_path"] in wts, "running %s: not in git worktree list", i)
        S.check(wts[r["worktree_path"]]["locked"] is None, "running %s: worktree locked", i)
        S.check(r["branch_name"] in branches, "running %s: branch missing", i)
    S.check(len(wts) == len(running) + 1, "git lists %d worktrees, %d running rows + main",
            len(wts), len(running))
    S.check(folders == {rows[i]["worktree_path"] for i in running},
            "folders under the worktrees base: %s", sorted(folders))
    S.check(branches == {rows[i]["branch_name"] for i in running}, "grove branches: %s",
            sorted(branches))
    S.check(len(rows) == len(removed) + len(running), "%d rows for %d instances", len(rows),
            len(removed) + len(running))
    S.check(repo.journals() == [], "journals left: %s", repo.journals())
    S.check(repo.integrity() == "ok", "integrity_check: %s", repo.integrity())
    failed = repo.sql("SELECT tool_name, error_message FROM grove_mcp_events WHERE success = 0")
    S.check(not failed, "failed calls recorded: %s", failed[:5])
    total = sum(calls.values())
    print("%d processes for %.0f s: %d tool calls in %.1f s (%.1f calls/s): %s; %d instances "
          "spawned and removed, %d left running"
          % (PROCS, SECONDS, total, elapsed, total / elapsed,
             ", ".join("%s %d" % kv for kv in sorted(calls.items())), len(removed), len(running)))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(os.path.realpath(sys.argv[1]))
