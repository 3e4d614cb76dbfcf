"""The metering tick at the edges of its ranges, under heap_lock().

On the ESP32-shaped build (make test-esp32: 31-bit small ints) any per-tick
value reaching 2**30 becomes a heap big int, which heap_lock() turns into a
MemoryError: these tests fail there if the arithmetic leaves the small-int
range. On the 64-bit unix port they still prove the tick allocates nothing;
under CPython they check the exact values only. Expected values are computed
here with unbounded ints, from the chip's counts.
"""
import sys

import metrology
from fixtures import design_cal, started
from fwtest import IS_MICROPYTHON

SMALL_INT_MAX = (1 << 30) - 1  # ESP32: 31-bit signed small ints
KWH_ROLLOVER = 1_000_000  # the registers show 999 999.999 kWh, then 0
LONGEST_POLL_MS = 200_000  # the overflow budget: the slowest poll metrology accepts
STEP_MAX_LSB = (1 << 23) - 1  # AENERGY is 24-bit signed: the largest positive step
STEP_MIN_LSB = -(1 << 23)  # and the largest negative one
# The largest num/den the calibration fields give: (CFDEN+1) * imp/kWh with
# CFDEN 4095 and 100 000 imp/kWh; WDIV * (CFNUM+1) just below the record's 64.
LARGEST_CAL = {"cfden": 4095, "imp_per_kwh": 100_000, "wdiv": 63, "cfnum": 0}


def esp32_shaped():
    """True on the 32-bit build: the one where a 2**30 crossing allocates."""
    return IS_MICROPYTHON and sys.maxsize == (1 << 31) - 1


def locked(fn):
    """fn() with the heap locked (MicroPython), plainly under CPython. fn is
    built before the lock: a call with *args would allocate its own tuple."""
    if not IS_MICROPYTHON:
        return fn()
    import micropython

    micropython.heap_lock()
    try:
        fn()
    finally:
        micropython.heap_unlock()


def units(reg):
    """A register's value in 1/num kWh (unbounded int: outside the lock only)."""
    return reg.kwh * reg.num + reg.frac


def expect(reg, before_units, lsb, den):
    total = (before_units + lsb * den) % (KWH_ROLLOVER * reg.num)
    assert (reg.kwh, reg.frac) == (total // reg.num, total % reg.num), (reg.kwh, reg.frac, total)


def step(chip, m, lsb, now):
    """A zero-argument tick for locked(): the load draws lsb, then a poll at now."""

    def run():
        chip.add_energy(lsb)
        m.tick(now)

    return run


def test_lane_is_esp32_shaped_when_it_says_so():
    if not esp32_shaped():
        return  # nothing to prove on 64-bit or CPython
    import micropython

    x = SMALL_INT_MAX
    micropython.heap_lock()
    try:
        try:
            x + 1
            grew = False
        except MemoryError:
            grew = True
    finally:
        micropython.heap_unlock()
    assert grew, "2**30 did not allocate: not an ESP32-shaped interpreter"
    assert 1.0 + 1e-8 == 1.0  # single-precision floats (epsilon 2**-23)


def test_import_rolls_over_at_999999_kwh_inside_a_locked_tick():
    chip, drv, m = started()
    num, den = m.metrology.cal.lsb_per_kwh()
    m.metrology.energy_import.restore(KWH_ROLLOVER - 1, num - 1)  # 1/num kWh below the rollover
    before = units(m.metrology.energy_import)
    locked(step(chip, m, 700, 500))
    expect(m.metrology.energy_import, before, 700, den)
    assert m.metrology.energy_import.kwh == 0


def test_export_rolls_over_inside_a_locked_tick():
    chip, drv, m = started()
    num, den = m.metrology.cal.lsb_per_kwh()
    m.metrology.energy_export.restore(KWH_ROLLOVER - 1, num - 1)
    before = units(m.metrology.energy_export)
    locked(step(chip, m, -700, 500))
    expect(m.metrology.energy_export, before, 700, den)
    assert m.metrology.energy_export.kwh == 0


def test_largest_calibration_and_longest_poll_with_the_largest_steps():
    cal = design_cal(**LARGEST_CAL)
    num, den = cal.lsb_per_kwh()
    assert (num, den) == (4096 * 100_000, 63)
    # start just before the ticks_ms wrap, so the long polls cross it too
    start = SMALL_INT_MAX - LONGEST_POLL_MS // 2
    chip, drv, m = started(cal, start)
    m.metrology.energy_import.restore(KWH_ROLLOVER - 1, num - 1)
    m.metrology.energy_export.restore(KWH_ROLLOVER - 1, num - 1)
    imp, exp = units(m.metrology.energy_import), units(m.metrology.energy_export)
    now = (start + LONGEST_POLL_MS) & SMALL_INT_MAX
    locked(step(chip, m, STEP_MAX_LSB, now))
    expect(m.metrology.energy_import, imp, STEP_MAX_LSB, den)
    now = (now + LONGEST_POLL_MS) & SMALL_INT_MAX
    locked(step(chip, m, STEP_MIN_LSB, now))
    expect(m.metrology.energy_export, exp, -STEP_MIN_LSB, den)
    assert m.missed_intervals == 0 and m.rejected_lsb == 0 and m.metrology.withheld_lsb == 0


def test_ledger_at_the_calibration_record_bound():
    # Calibration accepts num < 2**29 and den < 64: the ledger's worst case is
    # a remainder of num - 1 plus the largest step times den.
    num, den = (1 << 29) - 1, 63
    reg = metrology.EnergyRegister(num, den)
    reg.restore(KWH_ROLLOVER - 1, num - 1)
    before = units(reg)
    locked(lambda: reg.add_lsb(STEP_MAX_LSB + 1))  # |delta| is at most 2**23 (export side)
    expect(reg, before, STEP_MAX_LSB + 1, den)


def test_tick_at_the_smallest_calibration_scale():
    # The other end: 1 imp/kWh and CFDEN 0 give 1 LSB/kWh at most, so the
    # no-load cut-off's ms-per-LSB is far beyond 2**30 (computed at boot).
    cal = design_cal(cfden=0, imp_per_kwh=1, wdiv=63, cfnum=0)
    chip, drv, m = started(cal)
    num, den = cal.lsb_per_kwh()
    before = units(m.metrology.energy_import)
    locked(step(chip, m, 3, 500))
    expect(m.metrology.energy_import, before, 3, den)


def test_creep_counter_saturates_instead_of_growing_a_big_int():
    # A standby load below the cut-off adds to withheld_lsb every tick for the
    # meter's whole life (about 2 LSB/s at 3 W: 2**30 in ~16 years).
    chip, drv, m = started()
    m.metrology.withheld_lsb = SMALL_INT_MAX - 1
    locked(step(chip, m, 2, 10_000))  # 2 LSB in 10 s: below the cut-off
    assert m.metrology.energy_import.frac == 0
    assert m.metrology.withheld_lsb == SMALL_INT_MAX  # saturated, still a small int
    locked(step(chip, m, 2, 20_000))
    assert m.metrology.withheld_lsb == SMALL_INT_MAX


def test_rejected_counter_saturates_too():
    chip, drv, m = started()
    m.rejected_lsb = SMALL_INT_MAX - 10
    chip.add_energy(2_000_000)  # implausible in 0.5 s
    m.tick(500)  # logs an event (allocates): not locked
    assert m.rejected_lsb == SMALL_INT_MAX
    assert m.events.newest()[2] == "implausible_delta"
    assert m.metrology.energy_import.frac == 0
