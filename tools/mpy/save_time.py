"""How long the power-fail save takes under the MicroPython unix port, on VfsLfs2.

The whole firmware (app.py with the tariff, the prepaid account and the token
gateway, as tools/mpy/main_run.py builds it) runs some passes, then the
"regs" record is saved N times the way the power-fail warning saves it
(StorageService.save, POWER_FAIL), on vfs.VfsLfs2 over a RAM block device with
the ESP32's geometry (4 KB sectors) that counts erases and programmed bytes.
Prints one JSON line: CPU time per save (mean, worst), the record's size, and
erases and bytes per save, from which the ESP32's flash time follows
(host_sim/faults.py: 80 ms per erase, 0.7 ms per 256 B page).

MICROPYPATH=tools/mpy:firmware:tests/fw:.frozen micropython -X heapsize=2m tools/mpy/save_time.py [N] [FOLDER]
"""
import gc
import json
import os
import sys
import time

import vfs

import machine  # tools/mpy/machine.py
from fixtures import design_cal
from image_chip import ImageChip

chip = ImageChip()
machine.CHIP = chip
import app  # noqa: E402
import hardware  # noqa: E402
import persist  # noqa: E402
import savepolicy as sp  # noqa: E402
from ramblockdev import RamBlockDev  # noqa: E402  (tools/mpy)

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
folder = sys.argv[2] if len(sys.argv) > 2 else "build/save_time"
try:
    os.mkdir(folder)
except OSError:
    pass
os.chdir(folder)
with open("calibration.json", "w") as f:
    f.write(design_cal().to_json())
with open("tariff.json", "w") as f:
    f.write('{"currency": "CNY", "rates": {"1": "0.9000", "2": "0.7000", "3": "0.5000", "4": "0.3000"},'
            ' "days": {"wd": [["00:00", 4], ["08:00", 3], ["18:00", 1], ["22:00", 4]]},'
            ' "weeks": {"std": ["wd", "wd", "wd", "wd", "wd", "wd", "wd"]}, "seasons": [["01-01", "std"]]}')
with open("prepay.json", "w") as f:
    f.write('{"balance": "100.0000", "decoder_key": "6ff35b9d1f3453e6"}')
clock = [0]


def ticks_ms():
    return clock[0]


def sleep_ms(ms):
    chip.add_energy(ms)
    clock[0] += ms


dev = RamBlockDev(64)
vfs.VfsLfs2.mkfs(dev)
fs = vfs.VfsLfs2(dev)
hw = hardware.Hardware(ticks_ms=ticks_ms, sleep_ms=sleep_ms)
a = app.App(hw, "calibration.json", fs=fs)
a.boot()
a.run(max_passes=20)
assert a.tariff is not None and a.prepay is not None and a.tokens is not None
payload_bytes = len(a.state_payload())
gc.collect()
e0, p0 = dev.erases, dev.programmed
total = 0
worst = 0
for _ in range(n):
    sleep_ms(500)
    a.step()  # a pass between saves, as on the meter
    a.storage.policy.power_fail()
    t1 = time.ticks_us()
    ok = a.storage.save(clock[0], sp.POWER_FAIL)
    dt = time.ticks_diff(time.ticks_us(), t1)
    assert ok
    total += dt
    worst = dt if dt > worst else worst
assert a.store.seq(persist.RECORD) > n
print(json.dumps({"saves": n, "save_us": total // n, "save_worst_us": worst, "payload_bytes": payload_bytes,
                  "erases_per_save": round((dev.erases - e0) / n, 2),
                  "bytes_per_save": (dev.programmed - p0) // n}))
