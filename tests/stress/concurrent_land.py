#!/usr/bin/python3
"""stress/concurrent_land: 8 `grove serve` processes landing 8 instances into main at once.

Each instance adds a different file. Every land either lands exactly once or reports an
isError (main moved while it computed, twice); main ends with every landed change and
nothing else: its history since the start is one squash commit per landed instance, each
adding exactly that instance's file, and the main checkout is clean at main's head.
Reported lands are then retried one at a time and must land.

usage: concurrent_land.py GROVE
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib as S  # noqa: E402

N = 8


def main(grove):
    started = time.monotonic()
    repo = S.Repo(grove, "grove-stress-land-")
    try:
        srv = repo.server("spawner")
        srv.initialize()
        insts = [srv.ok("spawn_work_instance", launch=False)["instance"] for _ in range(N)]
        srv.close()
        for k, inst in enumerate(insts):
            wt = inst["worktree_path"]
            with open(os.path.join(wt, "file-%d.txt" % k), "w") as f:
                f.write("%d\n" % k)
            repo.git("add", "-A", cwd=wt)
            repo.git("commit", "-qm", "file %d" % k, cwd=wt)
        start = repo.git("rev-parse", "main").strip()
        servers = []
        for k in range(N):
            s = repo.server("land-%d" % k)
            s.initialize()
            servers.append(s)
        results = [None] * N
        gate = threading.Barrier(N)

        def land(k):
            gate.wait()
            results[k] = servers[k].call("land_instance", instance_id=insts[k]["id"])

        threads = [threading.Thread(target=land, args=(k,)) for k in range(N)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for s in servers:
            s.close()
        landed = [k for k in range(N) if not results[k].get("isError")]
        reported = [k for k in range(N) if results[k].get("isError")]
        for k in reported:
            text = results[k]["content"][0]["text"]
            S.check("moved" in text, "land %d failed for another reason: %s", k, text)
        for k in landed:
            S.check(results[k]["structuredContent"]["landed"], "land %d: %s", k, results[k])
        S.check(landed, "no land succeeded")

        def check_history(expect):
            log = repo.git("log", "--format=%H", start + "..main").split()
            S.check(len(log) == len(expect), "main has %d new commits, %d lands", len(log),
                    len(expect))
            added = []
            for c in log:
                S.check(len(repo.git("rev-list", "--parents", "-n1", c).split()) == 2,
                        "%s is not a single-parent commit", c)
                files = repo.git("diff-tree", "--no-commit-id", "--name-status", "-r",
                                 c).split("\n")
                files = [f for f in files if f]
                S.check(len(files) == 1 and files[0].startswith("A\t"), "commit %s: %s", c,
                        files)
                added.append(files[0][2:])
            S.check(sorted(added) == sorted("file-%d.txt" % k for k in expect),
                    "main added %s, landed %s", added, expect)
            S.check(repo.git("status", "--porcelain").strip() == "", "main checkout dirty")

        check_history(landed)
        # What was reported lands when retried alone.
        for k in reported:
            s = repo.server("retry-%d" % k)
            s.initialize()
            r = s.ok("land_instance", instance_id=insts[k]["id"])
            s.close()
            S.check(r["landed"], "retry %d: %s", k, r)
        check_history(range(N))
        print("%d processes: %d landed at once, %d reported (main moved) and landed on retry"
              % (N, len(landed), len(reported)))
    finally:
        repo.close()
    print("total %.1f s" % (time.monotonic() - started))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(os.path.realpath(sys.argv[1]))
