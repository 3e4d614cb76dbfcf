"""Runs under the MicroPython unix port (started by tools/storage_budget.py).

Times storage.Store.save of the meter's state record on vfs.VfsLfs2, the
littlefs the ESP32 runs, over a RAM block device with the ESP32's geometry
(4 KB blocks; slice copies, so the time is the firmware's and littlefs's CPU
time, not a Python flash model's). Prints one JSON line.
MICROPYPATH=firmware:tests/fw:.frozen
"""
import gc
import json
import sys
import time

import vfs

import flashring
import storage

from ramblockdev import RamBlockDev  # tools/mpy (this script's folder)


def main():
    payload_bytes = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    dev = RamBlockDev(16)
    vfs.VfsLfs2.mkfs(dev)
    fs = vfs.VfsLfs2(dev)
    store = storage.Store(fs)
    log = flashring.EventLog(fs)
    payload = bytes(range(256)) * (payload_bytes // 256 + 1)
    payload = payload[:payload_bytes]
    store.save("state", 1, payload)
    gc.collect()
    t0 = time.ticks_us()
    worst = 0
    for _ in range(n):
        t1 = time.ticks_us()
        store.save("state", 1, payload)
        worst = max(worst, time.ticks_diff(time.ticks_us(), t1))
    save_us = time.ticks_diff(time.ticks_us(), t0) / n
    t0 = time.ticks_us()
    for k in range(n):
        log.append(830_000_000 + k, "relay_open", k, 0)
    event_us = time.ticks_diff(time.ticks_us(), t0) / n
    t0 = time.ticks_us()
    store2 = storage.Store(vfs.VfsLfs2(dev))
    store2.load("state", 1)
    flashring.EventLog(store2.fs)
    boot_us = time.ticks_diff(time.ticks_us(), t0)
    print(json.dumps({"save_us": round(save_us), "save_worst_us": worst, "event_append_us": round(event_us),
                      "boot_load_us": boot_us, "payload_bytes": payload_bytes}))


main()
