"""Fuzz the technician port: random and mutated frames fed straight to the
IEC 62056-21 state machine (no pty), with the checks of
tests/fw/test_iec62056_fuzz.py: nothing escapes, nothing changes, the port keeps
answering. `make bench` runs 100 000 frames; the test lane runs a CI-sized count.
--app: the same into the real application's port (firmware/techport.py in
firmware/app.py on a simulated board; tests/host/test_techport_fuzz.py): every
write it offers refused, nothing it keeps (files, registers, relay, clock) changed.

    python -m tools.fuzz_console [--frames N] [--seed S] [--app] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for sub in ("firmware", "host_sim/fakes", "tests/fw", "tests/host"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))

from test_iec62056_fuzz import fuzz  # noqa: E402  (tests/fw: runs on both interpreters)


def run(frames: int, seed: int, app: bool = False) -> dict:
    t0 = time.perf_counter()
    if app:
        import host_sim  # noqa: F401  (the fakes and firmware on sys.path)
        from test_techport_fuzz import fuzz_app  # pyright: ignore[reportMissingImports]  (tests/host)

        n, naks = fuzz_app(frames, seed)
        pre = "console_app_fuzz"
    else:
        n, naks = fuzz(frames, seed)
        pre = "console_fuzz"
    return {f"{pre}_frames": n, f"{pre}_naks": naks, f"{pre}_seed": seed,
            f"{pre}_s": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.fuzz_console", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--frames", type=int, default=100_000, help="how many frames (default 100 000)")
    p.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    p.add_argument("--app", action="store_true", help="into the real application's port (simulated board)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args(argv)
    if a.frames < 1:
        p.error(f"--frames {a.frames}: must be at least 1")
    r = run(a.frames, a.seed, a.app)
    print(json.dumps(r) if a.json else "\n".join(f"{k:22s} {v}" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
