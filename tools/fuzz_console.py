"""Fuzz the technician port: random and mutated frames fed straight to the
IEC 62056-21 state machine (no pty), with the checks of
tests/fw/test_iec62056_fuzz.py: nothing escapes, nothing changes, the port keeps
answering. `make bench` runs 100 000 frames; the test lane runs a CI-sized count.

    python -m tools.fuzz_console [--frames N] [--seed S] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for sub in ("firmware", "host_sim/fakes", "tests/fw"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))

from test_iec62056_fuzz import fuzz  # noqa: E402  (tests/fw: runs on both interpreters)


def run(frames: int, seed: int) -> dict:
    t0 = time.perf_counter()
    n, naks = fuzz(frames, seed)
    return {"console_fuzz_frames": n, "console_fuzz_naks": naks, "console_fuzz_seed": seed,
            "console_fuzz_s": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.fuzz_console", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--frames", type=int, default=100_000, help="how many frames (default 100 000)")
    p.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args(argv)
    if a.frames < 1:
        p.error(f"--frames {a.frames}: must be at least 1")
    r = run(a.frames, a.seed)
    print(json.dumps(r) if a.json else "\n".join(f"{k:22s} {v}" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
