"""Run the application's loop (firmware/app.py, as main.py does) under the
MicroPython unix port for N passes, and check what it registered.

MICROPYPATH=tools/mpy:firmware:tests/fw:.frozen micropython tools/mpy/main_run.py N CALFILE [console] [aged] </dev/null
The fake chip counts a 1 LSB/ms load (about 1.4 kW) while the loop sleeps; the
loop must register every LSB the chip counted after its first (baseline) pass,
and feed the watchdog once per pass. Prints 'ok <passes> <import LSB>';
tools/bench.py uses it to find the smallest GC heap the whole firmware runs in.
"""
import os
import sys

import gc

import machine  # tools/mpy/machine.py
from fixtures import design_cal  # test-only: dropped once used
from image_chip import ImageChip

chip = ImageChip()
machine.CHIP = chip
import app  # noqa: E402
import hardware  # noqa: E402

passes = int(sys.argv[1])
cal_path = sys.argv[2]
if "/" in cal_path:  # the device's files (boot record, snapshot) go beside it
    folder, cal_path = cal_path.rsplit("/", 1)
    os.chdir(folder)
with open(cal_path, "w") as f:
    f.write(design_cal().to_json())
del design_cal
del sys.modules["fixtures"]
gc.collect()
# The whole firmware: a 4-rate TOU tariff with steps and a prepaid account
# with tokens, so the heap measured is the meter as shipped.
with open("tariff.json", "w") as f:
    f.write('{"currency": "CNY", "rates": {"1": "0.9000", "2": "0.7000", "3": "0.5000", "4": "0.3000"},'
            ' "days": {"wd": [["00:00", 4], ["08:00", 3], ["18:00", 1], ["22:00", 4]]},'
            ' "weeks": {"std": ["wd", "wd", "wd", "wd", "wd", "wd", "wd"]}, "seasons": [["01-01", "std"]],'
            ' "steps": {"period": "year", "settle": "01-01 00:00", "thresholds_kwh": ["2760", "4800"],'
            ' "surcharges": ["0.0000", "0.0500", "0.3000"]}}')
with open("prepay.json", "w") as f:
    f.write('{"balance": "100.0000", "decoder_key": "6ff35b9d1f3453e6"}')
clock = [0]
counted = [0]  # LSB the chip counted since the loop's first pass


def ticks_ms():
    return clock[0]


def sleep_ms(ms):
    chip.add_energy(ms)
    counted[0] += ms
    clock[0] += ms


flags = sys.argv[3:]
if "aged" in flags:
    # a meter that has run for months: its event ring (256) and daily freeze
    # ring (64) are full, so boot scans every slot of them
    import flashring
    import storage

    fs = storage.OsFs()
    log = flashring.EventLog(fs)
    while log.ring.next_seq <= flashring.EVENT_SLOTS:
        log.append(log.ring.next_seq, "boot", 1, 1)
    store = flashring.FreezeStore(fs)
    record = bytes(range(70))
    while store.rings["daily"].next_seq <= 64:
        store.append("daily", store.rings["daily"].next_seq * 86400, record)
    del log, store, fs, record
    gc.collect()
console = None
if "console" in flags:
    # the technician port as on the device (UART0 = the REPL's stdio; give
    # this run stdin </dev/null): the console service is in the loop's heap
    import serialport

    console = serialport.StdioPort()
hw = hardware.Hardware(ticks_ms=ticks_ms, sleep_ms=sleep_ms, console=console)
a = app.App(hw, cal_path)
a.boot()
a.run(max_passes=passes)
reg = a.metering.meter.metrology.energy_import
lsb = (reg.kwh * reg.num + reg.frac) // reg.den
assert machine.WDT.feeds == passes, machine.WDT.feeds
# the first pass takes the baseline at t=0, before any sleep: all counted LSB
assert lsb == counted[0], (lsb, counted[0])
assert lsb >= (passes - 1) * 500, lsb
assert a.tariff is not None and a.prepay is not None and a.tokens is not None
assert (a.console is not None) == (console is not None)
assert a.prepay.account.balance_e4() < 1_000_000  # debited
print("ok", passes, lsb)
