"""The storage budget in numbers: flash wear, lifetime, save time, hold-up, energy at risk.

Runs the firmware's storage (storage.Store, flashring, savepolicy) on real
littlefs (littlefs-python configured like the ESP32's VfsLfs2) over a 2 MB NOR
flash partition for several simulated days of a heavy household (30 kWh/day),
with the write policy of firmware/savepolicy.py, and counts what the flash sees.
The save time comes from the MicroPython unix port (tools/mpy/bench_storage.py).

    python -m tools.storage_budget [--days N] [--kwh-per-day E] [--json]

The last line with --json is one JSON object (tools/bench.py merges it).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import host_sim  # noqa: E402,F401  (firmware on sys.path)
from host_sim.flash import FlashRig  # noqa: E402

import board  # type: ignore[import-not-found]  # noqa: E402
import flashring  # type: ignore[import-not-found]  # noqa: E402
import savepolicy  # type: ignore[import-not-found]  # noqa: E402
import storage  # type: ignore[import-not-found]  # noqa: E402

PARTITION_SECTORS = 512  # MicroPython's ESP32 4 MB layout: a 2 MB "vfs" partition of 4 KB sectors
CYCLES_PER_SECTOR = 100_000
# Hourly shape of a heavy household's use (cooking, water heating, evening AC); scaled to the day's kWh.
LOAD_SHAPE = (3, 3, 3, 3, 3, 4, 6, 8, 6, 4, 4, 5, 6, 5, 4, 4, 5, 7, 10, 10, 9, 7, 5, 4)
# The "regs" record (persist.py): meter snapshot, tariff registers, prepaid account,
# TID memory, clock: ~500 B (measured by tools/mpy/save_time.py), past littlefs' 128 B
# inline limit, so every save writes a fresh data block: one 4 KB erase per save.
STATE_PAYLOAD_BYTES = 500
EVENTS_PER_DAY = 10
CREDITS_PER_DAY = 1
# ESP32 SPI NOR (e.g. GD25Q32 / W25Q32 typical): page program 0.7 ms per 256 B, sector erase
# ~45 ms typical; micropython.md budgets 80 ms per erase, used here.
PAGE_PROGRAM_MS = 0.7
SECTOR_ERASE_MS = 80.0
SAG_DETECT_MS = 30  # mains gone -> SAG (SAGCYC 2 half cycles once the crossings stop), host_sim/faults.py
ESP32_CPU_FACTOR = 15  # ESP32 at 240 MHz vs the x86 unix port, for interpreted code (rough)


@dataclass
class Budget:
    days: int
    kwh_per_day: float
    partition_sectors: int
    saves_per_day: float
    saves_by_reason_per_day: dict
    bytes_per_save: int
    flash_erases_per_day: float
    max_sector_erases_per_day: float
    flash_lifetime_years: float
    worst_sector_lifetime_years: float
    save_ms_unix: float
    save_worst_ms_unix: float
    boot_load_ms_unix: float
    save_flash_ms_typical: float
    save_flash_ms_worst: float
    holdup_budget_ms: float
    holdup_typical_ms: float
    energy_loss_bound_wh: float
    energy_step_wh: int
    timer_s: int


def simulate(days: int, kwh_per_day: float, sectors: int = PARTITION_SECTORS) -> dict:
    """Days of metering with the save policy on real littlefs; what the flash saw."""
    rig = FlashRig(sectors, seed=1)
    fs = rig.fs
    store = storage.Store(fs)
    log = flashring.EventLog(fs)
    freezes = flashring.FreezeStore(fs)
    # Energy in mWh as the policy's "LSB": the step is 0.1 kWh = 100 000 mWh.
    policy = savepolicy.SavePolicy(savepolicy.STEP_KWH_E3 * 1000, 0)
    shape_total = sum(LOAD_SHAPE)
    state = bytearray(STATE_PAYLOAD_BYTES)
    worst_erases = worst_progs = worst_bytes = 0
    ops_after_setup = (rig.flash.erases, rig.flash.programs)
    erase_counts0 = list(rig.flash.erase_counts)
    day_s = 86_400
    t_s = 0
    for day in range(days):
        for step in range(8640):  # 10 s steps
            minute, first_of_minute = step // 6, step % 6 == 0
            t_s = day * day_s + step * 10
            now_ms = (t_s * 1000) & ((1 << 30) - 1)
            hour = minute // 60
            mwh = round(kwh_per_day * 1e6 * LOAD_SHAPE[hour] / shape_total / 360)
            policy.note_energy(mwh)
            if first_of_minute and minute % (1440 // CREDITS_PER_DAY) == 600:
                policy.credit()
            reason = policy.due(now_ms)
            if reason:
                e0, p0, b0 = rig.flash.erases, rig.flash.programs, rig.flash.bytes_programmed
                state[0:4] = t_s.to_bytes(4, "little")
                ok = store.save("regs", 1, bytes(state))  # a credit is in the same record
                policy.saved(now_ms, reason, ok)
                if reason != savepolicy.CREDIT:
                    worst_erases = max(worst_erases, rig.flash.erases - e0)
                    worst_progs = max(worst_progs, rig.flash.programs - p0)
                    worst_bytes = max(worst_bytes, rig.flash.bytes_programmed - b0)
            if first_of_minute and minute % (1440 // EVENTS_PER_DAY) == 7:
                log.append(t_s, "relay_open", minute, 0)
        freezes.append("daily", (day + 1) * day_s, bytes(80))
    erases = rig.flash.erases - ops_after_setup[0]
    per_sector = [a - b for a, b in zip(rig.flash.erase_counts, erase_counts0)]
    return {
        "writes": list(policy.writes),
        "saves": store.saves,
        "erases": erases,
        "max_sector_erases": max(per_sector),
        "worst_save_erases": worst_erases,
        "worst_save_bytes": worst_bytes,
        "worst_save_programs": worst_progs,
        "bytes_per_save": storage.encode("regs", 1, 1, bytes(state)).__len__(),
    }


def unix_save_timing() -> dict:
    env = dict(os.environ, MICROPYPATH="firmware:tests/fw:.frozen")
    out = subprocess.run([str(ROOT / ".venv/bin/micropython"), "-X", "heapsize=256k", "tools/mpy/bench_storage.py",
                          str(STATE_PAYLOAD_BYTES), "400"], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def budget(days: int, kwh_per_day: float) -> Budget:
    sim = simulate(days, kwh_per_day)
    t = unix_save_timing()
    erases_per_day = sim["erases"] / days
    max_sector_per_day = sim["max_sector_erases"] / days
    step_wh = savepolicy.STEP_KWH_E3
    # a cut without warning loses what was registered since the last save: at most one
    # energy step, plus the energy of the tick in which the step completed (Imax at Un)
    tick_wh = board.UN_MV / 1000 * board.IMAX_MA / 1000 * board.TICK_MS / 1000 / 3600
    # a save writes a fresh data block (erase) and commits the metadata: data + commit pages
    typical_flash_ms = (round(sim["erases"] / sim["saves"]) * SECTOR_ERASE_MS
                        + math.ceil(sim["bytes_per_save"] / 256) * PAGE_PROGRAM_MS * 2)
    worst_flash_ms = sim["worst_save_erases"] * SECTOR_ERASE_MS + math.ceil(sim["worst_save_bytes"] / 256) * PAGE_PROGRAM_MS
    worst_cpu_ms = t["save_worst_us"] / 1000 * ESP32_CPU_FACTOR
    writes = sim["writes"]
    return Budget(
        days=days,
        kwh_per_day=kwh_per_day,
        partition_sectors=PARTITION_SECTORS,
        saves_per_day=round(sim["saves"] / days, 1),
        saves_by_reason_per_day={savepolicy.REASONS[i]: round(writes[i] / days, 1) for i in range(1, 5)},
        bytes_per_save=sim["bytes_per_save"],
        flash_erases_per_day=round(erases_per_day, 1),
        max_sector_erases_per_day=round(max_sector_per_day, 2),
        flash_lifetime_years=round(CYCLES_PER_SECTOR * PARTITION_SECTORS / max(erases_per_day, 1e-9) / 365),
        worst_sector_lifetime_years=round(CYCLES_PER_SECTOR / max(max_sector_per_day, 1e-9) / 365),
        save_ms_unix=round(t["save_us"] / 1000, 3),
        save_worst_ms_unix=round(t["save_worst_us"] / 1000, 2),
        boot_load_ms_unix=round(t["boot_load_us"] / 1000, 1),
        save_flash_ms_typical=round(typical_flash_ms, 1),
        save_flash_ms_worst=round(worst_flash_ms, 1),
        holdup_budget_ms=round(SAG_DETECT_MS + worst_flash_ms + worst_cpu_ms, 0),
        holdup_typical_ms=round(SAG_DETECT_MS + typical_flash_ms + t["save_us"] / 1000 * ESP32_CPU_FACTOR, 0),
        energy_loss_bound_wh=round(step_wh + tick_wh, 2),
        energy_step_wh=step_wh,
        timer_s=savepolicy.MAX_INTERVAL_MS // 1000,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=7, help="simulated days (default 7)")
    ap.add_argument("--kwh-per-day", type=float, default=30.0, help="household use per day (default 30 kWh)")
    ap.add_argument("--json", action="store_true", help="end with one JSON object")
    a = ap.parse_args(argv)
    if a.days < 1 or a.kwh_per_day <= 0:
        ap.error(f"--days {a.days} and --kwh-per-day {a.kwh_per_day} must be positive")
    b = budget(a.days, a.kwh_per_day)
    for k, v in asdict(b).items():
        print(f"{k:30s} {v}")
    if a.json:
        print(json.dumps(asdict(b)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
