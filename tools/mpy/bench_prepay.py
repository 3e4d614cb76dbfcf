"""Runs under the MicroPython unix port (started by tools/bench.py).

Prints one JSON line for the prepay service: bytes one steady pass allocates
(gc.mem_alloc with the collector off, and heap_lock), its time, and the heap
its objects hold (account, relay, buzzer, button, service; code excluded).
MICROPYPATH=firmware:tests/fw:.frozen
"""
import gc
import json
import time

import micropython
from prepay_rig import Rig

CFG = {"balance": "1000.0000", "max_balance": "10000.0000", "alarm1": "1000.0000",
       "power_limit_w": 5000, "friendly_hours": ["18:00-08:00"], "quiet_hours": ["22:00-07:00"]}

gc.collect()
base = gc.mem_alloc()
rig = Rig(CFG)
gc.collect()
live = gc.mem_alloc() - base
rig.cost_e4_per_tick = 3
rig.run(5, 900)

locked_ok = True
micropython.heap_lock()
try:
    rig.run(100)
except MemoryError:
    locked_ok = False
micropython.heap_unlock()

gc.collect()
gc.disable()
a0 = gc.mem_alloc()
N = 400
for _ in range(N):
    rig.tick()
a1 = gc.mem_alloc()
gc.enable()

t0 = time.ticks_us()
for _ in range(2000):
    rig.tick()
us = time.ticks_diff(time.ticks_us(), t0) / 2000
print(json.dumps({"prepay_pass_alloc_bytes": (a1 - a0) // N, "prepay_heap_lock_ok": locked_ok,
                  "prepay_pass_us": round(us, 1), "prepay_live_bytes": live}))
