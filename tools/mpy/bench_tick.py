"""Runs under the MicroPython unix port (started by tools/bench.py).

Prints one JSON line: allocation of a steady-state metering tick (under
heap_lock and by gc.mem_alloc), its time, and the heap the firmware needs.
MICROPYPATH=firmware:tests/fw:.frozen
"""
import gc
import json
import time

import micropython

gc.collect()
base = gc.mem_alloc()
import ade7753  # noqa: E402
import calibration  # noqa: E402
import meter  # noqa: E402
import metrology  # noqa: E402
from fixtures import design_cal  # noqa: E402
from image_chip import ImageChip  # noqa: E402

chip = ImageChip()
m = meter.Meter(chip, chip, design_cal(), 3579545)
m.start(0)
now = 0
for _ in range(5):
    chip.add_energy(800)
    now += 500
    m.tick(now)
gc.collect()
peak = gc.mem_alloc() - base

# 1. heap_lock: any allocation in the tick raises MemoryError
locked_ok = True
micropython.heap_lock()
try:
    for _ in range(100):
        chip.add_energy(800)
        now += 500
        m.tick(now)
except MemoryError:
    locked_ok = False
micropython.heap_unlock()

# 2. bytes allocated per tick, measured with the collector off
gc.collect()
gc.disable()
a0 = gc.mem_alloc()
N = 200
for _ in range(N):
    chip.add_energy(800)
    now += 500
    m.tick(now)
a1 = gc.mem_alloc()
gc.enable()
alloc = (a1 - a0) // N

# 3. time per tick (includes the register-image chip's own byte handling).
# On Linux, time.sleep_us(4) for the SPI gaps costs ~60 us of scheduler
# latency each (on the ESP32 it is a 4 us busy-wait), so the tick is timed
# both ways: with the real sleeps, and with the gaps as no-ops (CPU time).


def timed(n):
    global now
    t0 = time.ticks_us()
    for _ in range(n):
        chip.add_energy(800)
        now += 500
        m.tick(now)
    return time.ticks_diff(time.ticks_us(), t0) / n


with_sleeps = timed(500)
ade7753._sleep_us = lambda us: None
cpu_only = timed(2000)
print(json.dumps({"tick_alloc_bytes": alloc, "heap_lock_ok": locked_ok,
                  "mpy_tick_us": round(cpu_only, 1), "mpy_tick_us_with_os_sleeps": round(with_sleeps, 1),
                  "heap_peak_bytes": peak}))
