"""Run the firmware tests under a MicroPython interpreter, one process per
test module (tests/fw/run.py MODULE), and add up the results.

A fresh process per module gives each one the whole heap: modules compiled
from source fragment a small heap, and an ESP32-sized heap is what the lane
is about. Usage:
  python -m tools.fw_lane MICROPYTHON HEAP MICROPYPATH [--without MODULE ...]
Ends with 'N passed, N failed, N skipped'; exit status 1 if anything failed.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.fw_lane", description=__doc__.split("\n\n")[0] if __doc__ else "")
    ap.add_argument("micropython")
    ap.add_argument("heap", help="-X heapsize value, e.g. 96k")
    ap.add_argument("path", help="MICROPYPATH, e.g. firmware:tests/fw:.frozen")
    ap.add_argument("--without", action="append", default=[], help="leave a test module out")
    a = ap.parse_args(argv)
    modules = sorted(p.stem for p in (ROOT / "tests/fw").glob("test_*.py") if p.stem not in a.without)
    totals = [0, 0, 0]
    bad: list[str] = []
    env = dict(os.environ, MICROPYPATH=a.path)
    for m in modules:
        r = subprocess.run([a.micropython, "-X", f"heapsize={a.heap}", "tests/fw/run.py", m],
                           cwd=ROOT, env=env, capture_output=True, text=True)
        sys.stdout.write(r.stdout)
        last = re.search(r"(\d+) passed, (\d+) failed, (\d+) skipped\s*$", r.stdout)
        if r.returncode or not last:
            bad.append(m)
            sys.stdout.write(r.stderr)
        if last:
            for i in range(3):
                totals[i] += int(last.group(i + 1))
    if bad:
        print(f"modules that failed or crashed: {', '.join(bad)}")
    print("%d passed, %d failed, %d skipped" % tuple(totals))
    return 1 if bad or totals[1] else 0


if __name__ == "__main__":
    sys.exit(main())
