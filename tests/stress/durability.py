#!/usr/bin/python3
"""stress/durability: an acknowledged checkpoint is never lost, with group commit.

Clients pipeline log_checkpoint calls (in bursts of random size, so that the server
runs them in groups of every size: mcp/batch.h), and:

- kill -9: the server is killed with SIGKILL after a random number of answers (or
  before any); every checkpoint it acknowledged is in the database afterwards, with the
  id and sequence it was acknowledged with. Rounds alternate between one server and two
  servers writing to the same instance at once.
- power cut: the servers run with tests/stress/fsync_shadow.so (LD_PRELOAD), which copies
  the database and its WAL into a shadow folder after every fsync/fdatasync of theirs:
  the shadow is what a disk that kept nothing but fsynced data holds. Two servers write
  at once while a thread copies the shadow at random moments (under the shim's lock) and
  opens the copy with SQLite, as a restart after a power cut would: every checkpoint
  acknowledged before the copy began is in it, and the copy passes integrity_check. At
  the end both servers are killed and the shadow is checked once more.

Asserted: no acknowledged checkpoint is ever missing; no call fails; sequences stay
unique per instance; integrity_check ok. No timing is asserted: the random moments only
vary where the kills and copies fall.

usage: durability.py GROVE FSYNC_SHADOW_SO   (GROVE_STRESS_SCALE scales the sizes;
                                               GROVE_STRESS_SEED repeats a run's choices)
"""
import fcntl
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib as S  # noqa: E402

KILL_ROUNDS = S.scaled(16, 4)
PER_ROUND = S.scaled(300, 60)
POWER_CALLS = S.scaled(1500, 200)
INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "durability", "version": "1"}}}


class Writer:
    """One `grove serve` given `count` log_checkpoint calls for instance `iid`, named
    prefix-N, written in bursts of 1..64 requests by a thread; answers are read by another.
    acked: {name: (checkpoint id, sequence)} of the successful answers read so far."""

    def __init__(self, repo, iid, prefix, count, rng, env=None, lock=None):
        self.repo, self.iid, self.prefix, self.count = repo, iid, prefix, count
        self.rng = random.Random(rng.randrange(1 << 30))
        self.acked, self.errors, self.answers = {}, [], 0
        self.lock = lock or threading.Lock()
        self.err = open(os.path.join(repo.tmp, "%s.stderr" % prefix), "ab")
        self.proc = subprocess.Popen([repo.grove, "serve"], cwd=repo.path, env=env or repo.env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err)
        self.proc.stdin.write((json.dumps(INIT) + "\n").encode())
        self.proc.stdin.flush()
        first = json.loads(self.proc.stdout.readline())
        S.check(first.get("id") == 0 and "result" in first, "initialize failed: %s", first)
        self.proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        self.proc.stdin.flush()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._write, daemon=True),
                        threading.Thread(target=self._read, daemon=True)]
        for t in self.threads:
            t.start()

    def request(self, i):
        return json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": {
            "name": "log_checkpoint", "arguments": {
                "instance_id": self.iid, "phase": "durability", "name": "%s-%d" % (self.prefix, i),
                "data": {"i": i}}}}) + "\n"

    def _write(self):
        i = 0
        try:
            while i < self.count:
                # 300: a group fills up (MCP_BATCH_MAX_CALLS) and the next one runs while
                # the full one's fsync is under way (db_group_commit_nowait)
                burst = self.rng.choice((1, 1, 2, 3, 8, 16, 64, 300))
                data = "".join(self.request(k) for k in range(i, min(self.count, i + burst)))
                self.proc.stdin.write(data.encode())
                self.proc.stdin.flush()
                i += burst
                if self.rng.random() < 0.3:
                    time.sleep(self.rng.random() * 0.003)
        except (BrokenPipeError, ValueError, OSError):
            pass  # killed

    def _read(self):
        try:
            for line in self.proc.stdout:
                msg = json.loads(line)
                res = msg.get("result", {})
                if "error" in msg or res.get("isError"):
                    self.errors.append(msg)
                    continue
                cp = res["structuredContent"]["checkpoint"]
                with self.lock:
                    self.acked[cp["name"]] = (cp["id"], cp["sequence"])
                    self.answers += 1
                if self.answers == self.count:
                    break
        except (ValueError, OSError):
            pass
        self.done.set()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        for t in self.threads:
            t.join(timeout=60)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self.err.close()

    def finish(self):
        """Waits for every answer, then closes stdin: the server must exit 0."""
        S.check(self.done.wait(timeout=S.READ_TIMEOUT), "%s: answers stopped", self.prefix)
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=60)
        for t in self.threads:
            t.join(timeout=60)
        self.proc.stdout.close()
        self.err.close()
        S.check(rc == 0, "%s: grove serve exited %s", self.prefix, rc)


def rows_by_name(db):
    con = sqlite3.connect(db)
    try:
        return {n: (i, s) for i, n, s in con.execute(
            "SELECT id, name, sequence FROM grove_checkpoints WHERE phase = 'durability'")}
    finally:
        con.close()


def check_acked(acked, rows, where):
    missing = [n for n in acked if n not in rows]
    S.check(not missing, "%s: %d acknowledged checkpoints missing, e.g. %s", where, len(missing),
            missing[:5])
    wrong = [(n, acked[n], rows[n]) for n in acked if rows[n] != acked[n]]
    S.check(not wrong, "%s: checkpoints differ from their answers: %s", where, wrong[:5])


def kill_rounds(repo, iid, rng):
    total = 0
    for r in range(KILL_ROUNDS):
        writers = [Writer(repo, iid, "k%d-%d" % (r, w), PER_ROUND, rng)
                   for w in range(1 + r % 2)]
        # killed after a random number of answers of the first writer (0: at once)
        target = rng.randrange(0, PER_ROUND)
        deadline = time.monotonic() + S.READ_TIMEOUT
        while writers[0].answers < target and not writers[0].done.is_set():
            S.check(time.monotonic() < deadline, "round %d: answers stopped", r)
            time.sleep(0.0005)
        for w in writers:
            w.kill()
        rows = rows_by_name(repo.db)
        for w in writers:
            S.check(not w.errors, "round %d: a call failed: %s", r, w.errors[:1])
            check_acked(w.acked, rows, "kill -9 round %d" % r)
            total += len(w.acked)
    return total


def copy_shadow(shadow, dest):
    """The shadow's database and WAL, copied under the shim's lock into dest (emptied first)."""
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    with open(os.path.join(shadow, "lock"), "a+") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        for name in ("grove.db", "grove.db-wal"):
            if os.path.exists(os.path.join(shadow, name)):
                shutil.copyfile(os.path.join(shadow, name), os.path.join(dest, name))


def open_copy(dest, acked, where, integrity):
    db = os.path.join(dest, "grove.db")
    rows = rows_by_name(db)  # opening it replays the WAL, as after a power cut
    check_acked(acked, rows, where)
    if integrity:
        con = sqlite3.connect(db)
        try:
            res = con.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            con.close()
        S.check(res == "ok", "%s: integrity_check: %s", where, res)
    return len(rows)


def power_cut(repo, iid, shim, rng):
    shadow = os.path.join(repo.tmp, "shadow")
    os.makedirs(shadow)
    # the disk before the writers start: everything is on it (no grove process runs now)
    for name in ("grove.db", "grove.db-wal"):
        src = os.path.join(os.path.dirname(repo.db), name)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(shadow, name))
    env = dict(repo.env, LD_PRELOAD=shim, GROVE_SHADOW_DIR=shadow,
               ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    lock = threading.Lock()
    writers = [Writer(repo, iid, "p%d" % w, POWER_CALLS, rng, env=env, lock=lock)
               for w in range(2)]
    snaps = 0
    dest = os.path.join(repo.tmp, "after-power-cut")
    while not all(w.done.is_set() for w in writers):
        time.sleep(rng.random() * 0.005)
        with lock:
            acked = dict(kv for w in writers for kv in w.acked.items())
        copy_shadow(shadow, dest)
        open_copy(dest, acked, "power cut %d" % snaps, integrity=snaps % 8 == 0)
        snaps += 1
    for w in writers:
        w.kill()  # the machine goes down
        S.check(not w.errors, "a call failed: %s", w.errors[:1])
    acked = dict(kv for w in writers for kv in w.acked.items())
    copy_shadow(shadow, dest)
    n = open_copy(dest, acked, "power cut at the end", integrity=True)
    S.check(len(acked) == 2 * POWER_CALLS, "only %d of %d calls answered", len(acked),
            2 * POWER_CALLS)
    S.check(os.path.getsize(os.path.join(shadow, "grove.db-wal")) > 0,
            "the shim saw no fsync of the WAL (LD_PRELOAD not in effect?)")
    return snaps, len(acked), n


def run(repo, shim, rng):
    srv = repo.server("setup")
    try:
        srv.initialize()
        iid = srv.ok("spawn_work_instance", launch=False)["instance"]["id"]
        srv.close()
    except BaseException:
        srv.kill()
        raise
    t0 = time.monotonic()
    acked = kill_rounds(repo, iid, rng)
    print("kill -9: %d rounds, %d acknowledged checkpoints all there (%.1f s)"
          % (KILL_ROUNDS, acked, time.monotonic() - t0), flush=True)
    t0 = time.monotonic()
    snaps, acked, rows = power_cut(repo, iid, shim, rng)
    print("power cut: %d copies of the fsynced state, %d acknowledged checkpoints, %d in the "
          "last copy (%.1f s)" % (snaps, acked, rows, time.monotonic() - t0), flush=True)
    S.check(repo.integrity() == "ok", "integrity_check failed")
    dup = repo.sql("SELECT count(*) - count(DISTINCT sequence) FROM grove_checkpoints "
                   "WHERE instance_id = ?", iid)[0][0]
    S.check(dup == 0, "%d duplicate sequences", dup)


def main(grove, shim):
    S.run_in_repo(grove, "grove-stress-durability-",
                  lambda repo: run(repo, os.path.realpath(shim), random.Random(S.seed())))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(os.path.realpath(sys.argv[1]), sys.argv[2])
