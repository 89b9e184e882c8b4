#!/usr/bin/python3
"""stress/crash_windows: `grove serve` killed at each named moment of a multi-step change.

kill9.py kills at random moments; this test reaches the narrow windows deterministically.
grove kills itself with SIGKILL where GROVE_TEST_KILL_AT names the moment
(instance_kill_point() in tools/core/instance.c), or the test kills it from outside while a
setup command runs. After each kill `grove gc` must leave a consistent state:

- terminate_instance with remove_worktree, killed after the agent is stopped, after the
  worktree is removed, after the row is marked: afterwards either nothing happened (the row
  running, its worktree there) or everything did (row terminated, folder, worktree entry and
  branch gone). Never a terminated row whose worktree nothing will remove any more. A dirty
  worktree is still refused without force, and nothing is marked or removed then.
- spawn_work_instance killed while worktrees.setup_command runs (a shell that leaves a
  `sleep 300` in its process group): gc stops the whole setup process group before it rolls
  the half-made worktree back (folder, entry, branch, journal all gone).
- spawn_work_instance with launch killed between the row insert and the agent launch
  (before and after the worktree is unlocked): the row stays running with no agent
  (session_name and pid null) in query_instances, get_instance and `grove ls --json`, no
  agent process or tmux session exists, gc completes the creation (unlocks the worktree) and
  the instance can be used and terminated.
- sync_instance (rebase) killed after the new commits are computed, after the sync journal is
  written, after the branch moved, after the worktree's files were updated: afterwards the
  branch is at its old head (the first two) or its new one (the last two), `grove gc` leaves
  the state consistent, and the next sync_instance finishes what was interrupted: the branch
  on the base head with the instance's commit on top, its worktree clean and holding the new
  files, no sync journal left. Killed after the move, a file that the sync would write but
  that somebody edited meanwhile is never overwritten: the next sync refuses, naming it.

usage: crash_windows.py GROVE
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib as S  # noqa: E402


def killed_call(repo, name, point, tool, args, extra_env=None):
    """Starts a server that kills itself at `point`, calls `tool`; returns its exit status."""
    saved = repo.env
    repo.env = dict(saved, GROVE_TEST_KILL_AT=point, **(extra_env or {}))
    try:
        srv = repo.server(name)
    finally:
        repo.env = saved
    try:
        srv.initialize()
        srv.send_request("tools/call", {"name": tool, "arguments": args})
        try:
            rc = srv.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise S.Failure("%s: the server did not die at %s" % (name, point))
    finally:
        srv.kill()
    S.check(rc == -signal.SIGKILL, "%s: exit status %s, not killed at %s (stderr: %s)", name, rc,
            point, srv.stderr_tail())
    return rc


def gc(repo):
    p = repo.run_grove("gc", "--json")
    S.check(p.returncode == 0, "grove gc failed: %s", p.stderr.decode(errors="replace"))
    return json.loads(p.stdout)


def row(repo, iid):
    rows = [r for r in repo.rows() if r["id"] == iid]
    S.check(len(rows) == 1, "instance %s: %d rows", iid, len(rows))
    return rows[0]


def process_gone(pid):
    """True when pid is gone or a zombie (an orphan whose new parent does not reap it)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def spawn(repo, name, **args):
    srv = repo.server(name)
    try:
        srv.initialize()
        inst = srv.ok("spawn_work_instance", launch=False, **args)["instance"]
        srv.close()
    except BaseException:
        srv.kill()
        raise
    return inst


# ---- 1. terminate_instance with removal ------------------------------------------------


def terminate_windows(repo):
    points = ["terminate_instance:agent-stopped", "terminate_instance:removed",
              "terminate_instance:marked"]
    for k, point in enumerate(points):
        inst = spawn(repo, "t-spawn%d" % k, prompt="terminate %d" % k)
        killed_call(repo, "t-kill%d" % k, point, "terminate_instance",
                    {"instance_id": inst["id"], "remove_worktree": True})
        notes = gc(repo)
        r = row(repo, inst["id"])
        folder = os.path.exists(inst["worktree_path"])
        S.check(not (r["status"] == "terminated" and folder),
                "killed at %s: the row is terminated but its worktree %s stays (gc: %s)",
                point, inst["worktree_path"], notes)
        if r["status"] == "running":
            S.check(point == "terminate_instance:agent-stopped",
                    "killed at %s: the worktree was removed, the row still runs", point)
            S.check(folder and inst["worktree_path"] in repo.worktrees(),
                    "killed at %s: running row without its worktree", point)
        else:
            S.check(inst["branch_name"] not in repo.branches(),
                    "killed at %s: branch %s stays", point, inst["branch_name"])
            S.check(inst["worktree_path"] not in repo.worktrees(),
                    "killed at %s: worktree entry stays", point)
        repo.check_consistent()
        print("terminate killed at %-34s -> row %s, worktree %s; gc: %s" % (
            point, r["status"], "kept" if folder else "removed",
            ", ".join("%s %s" % (n["kind"], n["action"]) for n in notes) or "nothing to do"))

    # The order change keeps the refusal: a dirty worktree without force changes nothing.
    inst = spawn(repo, "t-dirty", prompt="dirty")
    with open(os.path.join(inst["worktree_path"], "wip.txt"), "w") as f:
        f.write("uncommitted\n")
    srv = repo.server("t-refuse")
    try:
        srv.initialize()
        rid = srv.send_request("tools/call", {"name": "terminate_instance", "arguments": {
            "instance_id": inst["id"], "remove_worktree": True}})
        res = srv.response(rid)["result"]
        srv.close()
    except BaseException:
        srv.kill()
        raise
    S.check(res.get("isError") and "refusing to remove" in res["content"][0]["text"],
            "terminate of a dirty worktree without force: %s", res)
    S.check(row(repo, inst["id"])["status"] == "running", "a refused terminate marked the row")
    S.check(os.path.isfile(os.path.join(inst["worktree_path"], "wip.txt")),
            "a refused terminate removed the work")


# ---- 3. setup command running when grove is killed ----------------------------------------


def journal_has_setup(repo):
    d = os.path.join(repo.path, ".git", "grove", "creating")
    for n in os.listdir(d) if os.path.isdir(d) else []:
        try:
            with open(os.path.join(d, n)) as f:
                if "\nsetup " in f.read():
                    return True
        except OSError:
            pass
    return False


def setup_window(repo):
    pidfile = os.path.join(repo.tmp, "setup-sleep.pid")
    cmd = ["sh", "-c", "sleep 300 & echo $! > '%s'; wait" % pidfile]
    p = repo.run_grove("config", "set", "worktrees.setup_command", json.dumps(cmd))
    S.check(p.returncode == 0, "config set: %s", p.stderr.decode(errors="replace"))
    before = (repo.folders(), repo.branches(), set(repo.worktrees()))
    srv = repo.server("setup-kill")
    sleep_pid = None
    try:
        srv.initialize()
        srv.send_request("tools/call", {"name": "spawn_work_instance",
                                "arguments": {"launch": False, "prompt": "setup"}})
        deadline = time.monotonic() + 60
        while not os.path.exists(pidfile):
            S.check(time.monotonic() < deadline and srv.proc.poll() is None,
                    "the setup command did not start (stderr: %s)", srv.stderr_tail())
            time.sleep(0.02)
        # grove notes the setup's process group right after starting it, long before the
        # shell has started `sleep` and written the pid file; give it a moment all the same
        deadline = time.monotonic() + 2
        while not journal_has_setup(repo) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # the pid file may be half written
        with open(pidfile) as f:
            sleep_pid = int(f.read())
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
    finally:
        srv.kill()
    try:
        S.check(not process_gone(sleep_pid), "the setup's sleep died with grove already")
        S.check(len(repo.folders()) == len(before[0]) + 1, "no half-made worktree to roll back")
        notes = gc(repo)
        S.check(any(n["kind"] == "setup-command" and n["action"] == "stopped" for n in notes),
                "gc did not report stopping the setup command: %s", notes)
        deadline = time.monotonic() + 5
        while not process_gone(sleep_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        S.check(process_gone(sleep_pid), "the setup command's process %d still runs after gc",
                sleep_pid)
        S.check(any(n["kind"] == "interrupted-create" and n["action"] == "removed"
                    for n in notes), "gc did not roll the creation back: %s", notes)
        after = (repo.folders(), repo.branches(), set(repo.worktrees()))
        S.check(after == before, "the half-made worktree stays: %s -> %s", before, after)
        repo.check_consistent()
        print("setup command killed with grove: gc stopped process group (sleep %d gone) and "
              "rolled back; gc: %s" % (sleep_pid, ", ".join(
                  "%s %s" % (n["kind"], n["action"]) for n in notes)))
    finally:
        if sleep_pid and not process_gone(sleep_pid):
            os.kill(sleep_pid, signal.SIGKILL)
        con = sqlite3.connect(repo.db, timeout=30)
        with con:
            con.execute("DELETE FROM grove_user_config WHERE key = 'worktrees.setup_command'")
        con.close()


# ---- 4. between the row insert and the agent launch ----------------------------------------


def tmux_sessions(repo):
    p = subprocess.run(["tmux", "-L", "grove", "list-sessions", "-F", "#{session_name}"], env=repo.env,
                       capture_output=True)
    return set(p.stdout.decode().split()) if p.returncode == 0 else set()


def launch_window(repo):
    agent = json.dumps(["sleep", "300"])
    for k, point in enumerate(["instance_create:recorded", "instance_create:unlocked"]):
        existing = {r["id"] for r in repo.rows()}
        killed_call(repo, "l-kill%d" % k, point, "spawn_work_instance",
                    {"launch": True, "prompt": "launch %d" % k},
                    extra_env={"GROVE_AGENT_COMMAND": agent})
        new = [r for r in repo.rows() if r["id"] not in existing]
        S.check(len(new) == 1, "killed at %s: %d new rows", point, len(new))
        iid = new[0]["id"]
        S.check(new[0]["tmux_session"] is None and new[0]["agent_pid"] is None,
                "killed at %s: an agent is recorded: %s", point, new[0])
        S.check("grove-" + iid not in tmux_sessions(repo), "killed at %s: a session runs", point)
        srv = repo.server("l-read%d" % k)
        try:
            srv.initialize()
            got = srv.ok("get_instance", instance_id=iid)["instance"]
            listed = [i for i in srv.ok("query_instances", status="running")["instances"]
                      if i["id"] == iid]
            srv.close()
        except BaseException:
            srv.kill()
            raise
        for where, inst in (("get_instance", got), ("query_instances", listed[0] if listed
                                                     else None)):
            S.check(inst is not None, "killed at %s: %s does not list %s", point, where, iid)
            S.check(inst["status"] == "running" and inst["session_name"] is None and
                    inst["pid"] is None, "killed at %s: %s reports %s", point, where, inst)
        notes = gc(repo)
        wt = repo.worktrees().get(new[0]["worktree_path"])
        S.check(wt is not None and wt["locked"] is None,
                "killed at %s: after gc the worktree entry is %s (gc: %s)", point, wt, notes)
        p = repo.run_grove("ls", "--json")
        S.check(p.returncode == 0, "grove ls: %s", p.stderr.decode(errors="replace"))
        ls = [i for i in json.loads(p.stdout) if i["id"] == iid]
        S.check(ls and ls[0]["status"] == "running" and ls[0]["pid"] is None and
                ls[0]["session_name"] is None, "killed at %s: grove ls reports %s", point, ls)
        repo.check_consistent()
        srv = repo.server("l-end%d" % k)
        try:
            srv.initialize()
            srv.ok("log_checkpoint", instance_id=iid, phase="after-crash")
            srv.ok("terminate_instance", instance_id=iid, remove_worktree=True)
            srv.close()
        except BaseException:
            srv.kill()
            raise
        repo.check_consistent()
        print("spawn with launch killed at %-26s -> running, no agent (reads agree); gc: %s" % (
            point, ", ".join("%s %s" % (n["kind"], n["action"]) for n in notes)
            or "nothing to do"))


# ---- 5. sync_instance: between the computed commits, the branch move and the checkout -------


def sync_journal(repo, iid):
    return os.path.join(repo.path, ".git", "grove", "syncing", iid)


def sync_windows(repo):
    points = ["sync_instance:computed", "sync_instance:journal-written",
              "sync_instance:ref-moved", "sync_instance:checked-out"]
    for k, point in enumerate(points):
        inst = spawn(repo, "s-spawn%d" % k, prompt="sync %d" % k)
        wt, branch = inst["worktree_path"], inst["branch_name"]
        with open(os.path.join(wt, "mine%d.txt" % k), "w") as f:
            f.write("mine\n")
        repo.git("add", "-A", cwd=wt)
        repo.git("commit", "-qm", "instance %d" % k, cwd=wt)
        # The base changes 40 files, so that the checkout has work to do.
        for i in range(1, 41):
            with open(os.path.join(repo.path, "src", "d1", "f%d.txt" % i), "a") as f:
                f.write("base %d\n" % k)
        repo.git("commit", "-qam", "base moves %d" % k)
        old = repo.git("rev-parse", branch).strip()
        base = repo.git("rev-parse", "main").strip()
        killed_call(repo, "s-kill%d" % k, point, "sync_instance", {"instance_id": inst["id"]})
        now = repo.git("rev-parse", branch).strip()
        moved = point in ("sync_instance:ref-moved", "sync_instance:checked-out")
        S.check((now != old) == moved, "killed at %s: branch %s is at %s (old %s)", point,
                branch, now, old)
        notes = gc(repo)
        repo.check_consistent()
        # gc finishes what the kill left, as the next sync would: no journal, a clean worktree
        S.check(not os.path.exists(sync_journal(repo, inst["id"])),
                "killed at %s: gc left the sync journal", point)
        S.check(repo.git("status", "--porcelain", cwd=wt).strip() == "",
                "killed at %s: the worktree is not clean after gc: %s", point,
                repo.git("status", "--porcelain", cwd=wt))
        if point == "sync_instance:ref-moved":
            S.check(any(n["kind"] == "sync-interrupted" and n["action"] == "finished"
                        for n in notes), "killed at %s: gc did not finish the sync: %s", point,
                    notes)
        srv = repo.server("s-again%d" % k)
        try:
            srv.initialize()
            res = srv.ok("sync_instance", instance_id=inst["id"])
            srv.close()
        except BaseException:
            srv.kill()
            raise
        S.check(res["synced"] and res["base_head"] == base, "killed at %s: the next sync: %s",
                point, res)
        head = repo.git("rev-parse", "HEAD", cwd=wt).strip()
        S.check(repo.git("rev-parse", "HEAD~1", cwd=wt).strip() == base,
                "killed at %s: the branch is not on the base head", point)
        S.check(repo.git("status", "--porcelain", cwd=wt).strip() == "",
                "killed at %s: the worktree is not clean after the next sync: %s", point,
                repo.git("status", "--porcelain", cwd=wt))
        with open(os.path.join(wt, "src", "d1", "f40.txt")) as f:
            S.check(("base %d" % k) in f.read(), "killed at %s: the files are old", point)
        S.check(not os.path.exists(sync_journal(repo, inst["id"])),
                "killed at %s: the sync journal stays", point)
        repo.check_consistent()
        print("sync killed at %-32s -> branch %s; the next sync finished it (head %s); gc: %s" % (
            point, "moved" if moved else "kept", head[:8],
            ", ".join("%s %s" % (n["kind"], n["action"]) for n in notes) or "nothing to do"))

    # Killed after the move, then somebody edits a file the sync writes: never overwritten.
    inst = spawn(repo, "s-spawn-edit", prompt="sync edit")
    wt = inst["worktree_path"]
    with open(os.path.join(repo.path, "src", "d2", "f1.txt"), "a") as f:
        f.write("base edit\n")
    repo.git("commit", "-qam", "base edits d2/f1")
    killed_call(repo, "s-kill-edit", "sync_instance:ref-moved", "sync_instance",
                {"instance_id": inst["id"]})
    with open(os.path.join(wt, "src", "d2", "f1.txt"), "w") as f:
        f.write("somebody's work\n")
    srv = repo.server("s-refuse")
    try:
        srv.initialize()
        rid = srv.send_request("tools/call", {"name": "sync_instance",
                                              "arguments": {"instance_id": inst["id"]}})
        res = srv.response(rid)["result"]
        srv.close()
    except BaseException:
        srv.kill()
        raise
    S.check(res.get("isError") and "src/d2/f1.txt" in res["content"][0]["text"],
            "sync after an edit in the interrupted window: %s", res)
    with open(os.path.join(wt, "src", "d2", "f1.txt")) as f:
        S.check(f.read() == "somebody's work\n", "the interrupted sync overwrote an edit")
    print("sync killed after the move, a file edited meanwhile: refused, the edit kept")


def main(grove):
    started = time.monotonic()
    repo = S.Repo(grove, "grove-stress-crashwin-")
    try:
        terminate_windows(repo)
        setup_window(repo)
        launch_window(repo)
        sync_windows(repo)
    finally:
        subprocess.run(["tmux", "-L", "grove", "kill-server"], env=repo.env, capture_output=True)
        repo.close()
    print("total %.1f s" % (time.monotonic() - started))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(os.path.realpath(sys.argv[1]))
