"""Clock, event ring, ticks and calibration CRC: the loop's small parts.
Dates are checked against values written out by hand (2000-01-01 is day 0 and
a Saturday; 2026-03-01 is day 9556), never against the code's own tables."""
import binascii

import calibration
import clock
import events
from fixtures import ManualClock, design_cal
from fwtest import IS_MICROPYTHON, raises, skip
from ticks import ticks_add, ticks_diff


def test_ticks_wrap_at_exactly_2_pow_29():
    half = 1 << 29
    assert ticks_diff(half - 1, 0) == half - 1  # the largest positive difference
    assert ticks_diff(half, 0) == -half  # one more is read as the past
    assert ticks_diff(0, half) == -half
    assert ticks_diff(0, (1 << 30) - 1) == 1  # across the 2**30 wrap
    assert ticks_add((1 << 30) - 1, 1) == 0
    assert ticks_add(0, -1) == (1 << 30) - 1


def test_civil_dates_known_values():
    for (y, m, d), day, wd in (((2000, 1, 1), 0, 5), ((2000, 3, 1), 60, 2), ((2026, 3, 1), 9556, 6),
                               ((2024, 2, 29), 8825, 3), ((2100, 3, 1), 36584, 0),
                               ((1999, 12, 31), -1, 4)):
        assert clock.days_from_civil(y, m, d) == day, (y, m, d)
        assert clock.civil_from_days(day) == (y, m, d), day
        assert clock.weekday(day) == wd, day


def test_parse_iso_and_its_errors():
    assert clock.parse_iso("2026-03-01T08:00:05") == (9556, 28805)
    assert clock.iso(9556, 28805) == "2026-03-01T08:00:05"
    for bad, why in (("2026-02-29T00:00:00", "no such date"), ("2026-13-01T00:00:00", "no such date"),
                     ("2026-03-01T24:00:00", "no such time"), ("2026-03-01 08:00:00", "expected"),
                     ("2026-03-0xT08:00:00", "digits")):
        assert why in str(raises(ValueError, clock.parse_iso, bad)), bad


def test_clock_advances_wall_time_with_the_ticks_across_midnight_and_the_wrap():
    t = ManualClock((1 << 30) - 700)  # just before the ticks wrap
    c = clock.Clock(t)
    assert not c.valid
    c.set(9556, 86399)
    t.ms = ticks_add(t.ms, 999)
    c.update()
    assert (c.day, c.sod) == (9556, 86399)  # 999 ms carried, not a second yet
    t.ms = ticks_add(t.ms, 1)
    c.update()
    assert (c.day, c.sod) == (9557, 0)  # midnight, across the ticks wrap
    t.ms = ticks_add(t.ms, 3 * 86_400_000 + 2500)
    c.update()
    assert (c.day, c.sod) == (9560, 2)
    t.ms = ticks_add(t.ms, 500)
    c.update()
    assert (c.day, c.sod) == (9560, 3)


def test_clock_set_and_rtc():
    c = clock.Clock(ManualClock())
    assert c.set_from_rtc((2024, 12, 31, 1, 23, 59, 59, 0)) is False  # before 2025: lost
    assert not c.valid
    assert c.set_from_rtc((2026, 3, 1, 6, 8, 30, 15, 0)) is True
    assert (c.day, c.sod, c.sets) == (9556, 8 * 3600 + 30 * 60 + 15, 1)
    assert c.rtc_tuple() == (2026, 3, 1, 6, 8, 30, 15, 0)
    assert c.wall_s() == 9556 * 86400 + 30615
    raises(ValueError, c.set, 9556, 86400)
    assert c.sod == 30615  # a refused set changes nothing


def test_event_ring_wraps_and_counts_repeats():
    t = ManualClock(1000)
    c = clock.Clock(t)
    c.set(9556, 100)
    ev = events.EventLog(c, size=4)
    ev.log("a", "x", 1)
    ev.log("a", "x", 1)  # a repeat: counted, not a new entry
    ev.log("a", "x", 2)
    assert len(ev) == 2 and ev.entry(0) == (9556, 100, "a", "x", 1, 2)
    for k in range(5):
        ev.log("b", "y", k)
    assert len(ev) == 4 and ev.seq == 7
    assert [e[4] for e in ev.entries()] == [1, 2, 3, 4]  # the oldest were overwritten
    assert ev.find("a") is None and ev.find("b", "y")[4] == 4
    assert ev.newest()[2:5] == ("b", "y", 4)
    raises(IndexError, ev.entry, 4)


def test_event_log_allocates_nothing():
    if not IS_MICROPYTHON:
        skip("heap_lock() only means something on MicroPython")
    import micropython

    c = clock.Clock(ManualClock())
    ev = events.EventLog(c, size=8)
    ev.log("warm", "up", 0)
    micropython.heap_lock()
    try:
        for k in range(20):
            ev.log("chip_error", "metrology", k)
            ev.log("chip_error", "metrology", k)
    finally:
        micropython.heap_unlock()
    assert ev.seq == 21 and ev.newest()[5] == 2


def test_calibration_crc_is_the_standard_crc32():
    assert binascii.crc32(b"123456789") & 0xFFFFFFFF == 0xCBF43926  # the CRC-32 check value
    cal = design_cal()
    text = ("version=1;clkin_hz=3579545;gain=3;ch1os=0;ch2os=0;wgain=0;apos=0;phcal=13;"
            "wdiv=0;cfnum=0;cfden=1605;vrmsos=0;irmsos=0;imp_per_kwh=1600;"
            "vrms_lsb_ref=970000;v_ref_mv=220000;irms_lsb_ref=211000;i_ref_ma=10000")
    assert calibration.crc_of(cal.as_dict()) == binascii.crc32(text.encode()) & 0xFFFFFFFF
    assert '"crc32": %d' % (binascii.crc32(text.encode()) & 0xFFFFFFFF) in cal.to_json()
