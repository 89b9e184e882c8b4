#!/usr/bin/python3
"""The transcript suite with every `grove serve` under valgrind's memcheck.

Runs tests/transcript/runner.py on each fixtures/transcripts/*.jsonl (or the
names given) with GROVE_WRAPPER set to

  valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
           --track-fds=no -q --suppressions=valgrind.supp

so an invalid read or write, a use of uninitialised memory or a definite
leak makes the server exit with 99 and the transcript fail. Several
transcripts run at once (GROVE_VALGRIND_JOBS, default: the number of CPUs).
valgrind.supp says what is suppressed and why.

One difference of valgrind is not grove's: valgrind runs glibc's
posix_spawn (clone with CLONE_VM | CLONE_VFORK) as a plain fork, so a
program that cannot be executed is not reported by posix_spawnp but shows
up as a child exiting with 127. The responses that depend on it (listed in
DIVERGES) are compared as "<ANY>"; everything else, and memcheck, still
applies to those transcripts.

usage: valgrind_transcripts.py GROVE RUNNER FIXTURES_DIR SUPPRESSIONS [NAME...]
"""
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile

# transcript -> text of the expected responses that differ under valgrind (see above)
DIVERGES = {
    "setup_and_include": "cannot run 'no-such-program-for-grove'",
}


def fixture_for_valgrind(path, name, tmpdir):
    """The fixture, or a copy whose responses named in DIVERGES match anything."""
    needle = DIVERGES.get(name)
    if not needle:
        return path
    out = os.path.join(tmpdir, name + ".jsonl")
    with open(path, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        for line in src:
            step = json.loads(line) if line.strip() else None
            if step and "expect" in step and needle in json.dumps(step["expect"]):
                step["expect"] = dict(step["expect"], result="<ANY>")
                line = json.dumps(step, ensure_ascii=False) + "\n"
            dst.write(line)
    return out


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    grove, runner, fixtures, supp = sys.argv[1:5]
    if shutil.which("valgrind") is None:
        print("skipped: valgrind not found (install it to run the transcripts under memcheck)")
        return 77  # meson's SKIP, which tests/run.sh counts as failed
    names = sys.argv[5:] or sorted(f[:-6] for f in os.listdir(fixtures) if f.endswith(".jsonl"))
    wrapper = ("valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "
               "--track-fds=no --child-silent-after-fork=yes -q --suppressions=%s" % os.path.realpath(supp))
    env = dict(os.environ, GROVE_WRAPPER=wrapper)
    jobs = int(os.environ.get("GROVE_VALGRIND_JOBS", "0")) or os.cpu_count() or 2

    def one(name):
        fixture = fixture_for_valgrind(os.path.join(fixtures, name + ".jsonl"), name, tmpdir)
        p = subprocess.run([sys.executable, runner, grove, fixture],
                           env=env, capture_output=True, timeout=1200)
        return name, p.returncode, (p.stdout + p.stderr).decode(errors="replace")

    failed = []
    with tempfile.TemporaryDirectory(prefix="grove-valgrind-") as tmpdir, \
            concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for name, code, out in pool.map(one, names):
            print(out.rstrip() if code else "ok %s (under valgrind)" % name, flush=True)
            if code:
                failed.append(name)
    print("%d transcripts under valgrind, %d failed%s" % (
        len(names), len(failed), (": " + ", ".join(failed)) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
