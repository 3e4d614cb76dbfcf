"""Run firmware/main.py's loop under the MicroPython unix port for N ticks.

MICROPYPATH=tools/mpy:firmware:tests/fw:.frozen micropython tools/mpy/main_run.py N CALFILE
Prints 'ok <ticks> <import LSB>' when the loop metered exactly the energy the
fake load drew (every LSB added while the loop slept, as the import register's
exact value) and fed the watchdog once per pass; tools/bench.py uses it to
find the smallest GC heap the whole firmware runs in, and a host test runs it.
"""
import sys

import machine  # tools/mpy/machine.py
from fixtures import design_cal
from image_chip import ImageChip

chip = ImageChip()
machine.CHIP = chip
import main  # noqa: E402

ticks = int(sys.argv[1])
cal_path = sys.argv[2]
with open(cal_path, "w") as f:
    f.write(design_cal().to_json())
clock = [0]
drawn = [0]  # AENERGY LSB the fake load added, counted here, not by the firmware


def ticks_ms():
    return clock[0]


def sleep_ms(ms):
    chip.add_energy(ms)  # a 1 LSB/ms load (about 1.4 kW) while the loop waits
    drawn[0] += ms
    clock[0] += ms


meter = main.run(max_ticks=ticks, ticks_ms=ticks_ms, sleep_ms=sleep_ms, cal_path=cal_path)
reg = meter.metrology.energy_import
num, den = meter.metrology.cal.lsb_per_kwh()
lsb = (reg.kwh * num + reg.frac) // den
assert machine.WDT.feeds == ticks, machine.WDT.feeds
# The loop boots before its first sleep and ends on a tick, so every LSB drawn
# was read by a tick: the register holds exactly drawn * den in 1/num kWh.
assert ticks < 2 or drawn[0] > 0, "the loop never slept: no energy was drawn"
assert reg.kwh * num + reg.frac == drawn[0] * den, (reg.kwh, reg.frac, drawn[0])
assert meter.metrology.energy_export.kwh == 0 and meter.metrology.energy_export.frac == 0
print("ok", ticks, lsb)
