"""Runs under the MicroPython unix port (started by tools/bench.py).

Prints one JSON line for the tariff engine: the heap its code and state hold
(modules loaded from .mpy as deployed, the example tariff parsed, the engine
with its freeze rings), bytes allocated by 10 000 passes of poll + book that
cross rate switches, tier thresholds and midnight freezes, and the time of one pass.
MICROPYPATH=<folder of .mpy files>:.frozen
"""
import gc
import json
import time

from metrology import EnergyRegister  # noqa: E402  (metrology is counted in the meter's own figures)
from tariff_fixtures import zhejiang  # noqa: E402

gc.collect()
base = gc.mem_alloc()
import tariff  # noqa: E402

gc.collect()
code = gc.mem_alloc() - base
NUM = 1606 * 1600
obj = zhejiang()
obj["steps"]["thresholds_kwh"] = ["5", "10"]
table = tariff.parse(obj)
obj = None
t = tariff.Tariff(NUM, 1, EnergyRegister(NUM, 1), EnergyRegister(NUM, 1))
day = 26 * 365 + 7
t.activate(table, day, 0)
gc.collect()
held = gc.mem_alloc() - base

lsb = NUM // 60  # 1 kW at 60 s passes
sod = 0
N = 10000
gc.collect()
gc.disable()
a0 = gc.mem_alloc()
t0 = time.ticks_us()
for _ in range(N):
    sod += 60
    if sod >= 86400:
        sod = 0
        day += 1
    t.poll(day, sod)
    t.book(lsb)
    t.take_cost_e4()
us = time.ticks_diff(time.ticks_us(), t0)
a1 = gc.mem_alloc()
gc.enable()
print(json.dumps({"tariff_code_heap_bytes": code, "tariff_heap_bytes": held,
                  "tariff_pass_alloc_bytes": a1 - a0, "mpy_tariff_pass_us": round(us / N, 1),
                  "tariff_passes_tier": t.tier, "tariff_daily_freezes": t.freezes.taken[0]}))
