#!/usr/bin/python3
"""stress/land_crash: `grove serve` killed (SIGKILL) at each step of land_instance.

grove kills itself where GROVE_TEST_KILL_AT names the moment (instance_kill_point()):
land_instance:journal-written (before the ref moves), :ref-moved (before the main checkout
is updated), :checked-out (before the journal is removed), :recorded (after landed_commit is
written, with the call's event). After each kill:
- main points at its old commit or at the new one, never anything else;
- the instance's branch is intact (its head unchanged);
- after `grove gc`: no landing journal is left, the main checkout's index and files are
  those of whatever main points at, and landed_commit is recorded when main moved;
- a second land behaves: it lands when the first did not, and says there is nothing to land
  when it did.

usage: land_crash.py GROVE
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib as S  # noqa: E402

POINTS = ["land_instance:journal-written", "land_instance:ref-moved",
          "land_instance:checked-out", "land_instance:recorded"]


def killed_land(repo, point, iid):
    saved = repo.env
    repo.env = dict(saved, GROVE_TEST_KILL_AT=point)
    try:
        srv = repo.server("land-" + point.split(":")[1])
    finally:
        repo.env = saved
    try:
        srv.initialize()
        srv.send_request("tools/call", {"name": "land_instance",
                                        "arguments": {"instance_id": iid}})
        rc = srv.proc.wait(timeout=60)
    finally:
        srv.kill()
    S.check(rc == -signal.SIGKILL, "%s: exit status %s, not killed (stderr: %s)", point, rc,
            srv.stderr_tail())


def git(repo, *args, cwd=None):
    return repo.git(*args, cwd=cwd).strip()


def lands_recorded(repo):
    return repo.sql("SELECT count(*) FROM grove_mcp_events WHERE tool_name = 'land_instance' "
                    "AND success = 1")[0][0]


def checkout_consistent(repo, where):
    status = git(repo, "status", "--porcelain", "--untracked-files=all")
    S.check(status == "", "%s: main checkout not clean after gc: %r", where, status)
    S.check(git(repo, "write-tree") == git(repo, "rev-parse", "HEAD^{tree}"),
            "%s: index is not main's tree", where)


def main(grove):
    started = time.monotonic()
    repo = S.Repo(grove, "grove-stress-landcrash-")
    landing = os.path.join(repo.path, ".git", "grove", "landing")
    try:
        for k, point in enumerate(POINTS):
            srv = repo.server("spawn-%d" % k)
            srv.initialize()
            inst = srv.ok("spawn_work_instance", launch=False)["instance"]
            srv.close()
            wt = inst["worktree_path"]
            name = "landed-%d.txt" % k
            with open(os.path.join(wt, name), "w") as f:
                f.write("%d\n" % k)
            repo.git("add", "-A", cwd=wt)
            repo.git("commit", "-qm", "file %d" % k, cwd=wt)
            head = git(repo, "rev-parse", "HEAD", cwd=wt)
            old = git(repo, "rev-parse", "main")
            events = lands_recorded(repo)
            killed_land(repo, point, inst["id"])
            now = git(repo, "rev-parse", "main")
            # The call's event is committed with landed_commit (one transaction, one fsync):
            # there at :recorded, not before.
            S.check(lands_recorded(repo) == events + (point == "land_instance:recorded"),
                    "%s: %d successful land_instance events recorded, %d before", point,
                    lands_recorded(repo), events)
            moved = now != old
            if moved:
                S.check(git(repo, "rev-parse", now + "^") == old, "%s: main is at %s, neither "
                        "old nor a land of it", point, now)
                S.check(name in git(repo, "ls-tree", "--name-only", now), "%s: new main lacks "
                        "the file", point)
            S.check(git(repo, "rev-parse", "grove/" + inst["id"]) == head,
                    "%s: the instance's branch moved", point)
            S.check(moved == (point != "land_instance:journal-written"),
                    "%s: main moved=%s", point, moved)
            p = repo.run_grove("gc")
            S.check(p.returncode == 0, "%s: gc failed: %s", point, p.stderr)
            S.check(not os.path.isdir(landing) or not os.listdir(landing),
                    "%s: landing journal left: %s", point, os.listdir(landing))
            checkout_consistent(repo, point)
            landed = repo.sql("SELECT landed_commit FROM grove_instances WHERE id = ?",
                              inst["id"])[0][0]
            S.check(landed == (now if moved else None), "%s: landed_commit %s", point, landed)
            srv = repo.server("again-%d" % k)
            srv.initialize()
            res = srv.call("land_instance", instance_id=inst["id"])
            srv.close()
            if moved:
                S.check(res.get("isError") and "nothing to land" in res["content"][0]["text"],
                        "%s: second land: %s", point, res)
            else:
                S.check(not res.get("isError") and res["structuredContent"]["landed"],
                        "%s: second land: %s", point, res)
                checkout_consistent(repo, point + " (second land)")
            print("%-32s main %s, gc ok, second land ok" % (point, "moved" if moved else "kept"))
        repo.check_consistent()
    finally:
        repo.close()
    print("total %.1f s" % (time.monotonic() - started))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(os.path.realpath(sys.argv[1]))
