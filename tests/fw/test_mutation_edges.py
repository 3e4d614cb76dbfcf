"""Boundaries the mutation review (make mutate, docs/mutation.md) found untested:
calendar edges, exact limits of the clock and the ISO parser, the event ring's
ends, ticks arithmetic against its definition, the register readouts and the
cut-off window's reset. Expected values are worked out here by hand or by a
naive reference (a day-by-day calendar walk, modular arithmetic written out),
never read from the code under test."""
import clock
import events
import metrology
from fixtures import ManualClock, design_cal
from fwtest import raises
from ticks import ticks_add, ticks_diff

NUM = (1605 + 1) * 1600  # LSB per kWh of design_cal(): (CFDEN+1) x imp/kWh


# --- ticks ------------------------------------------------------------------
def _ref_diff(new, old):
    """Signed difference modulo 2**30, in -2**29 .. 2**29 - 1 (the definition)."""
    d = (new - old) % (1 << 30)
    return d - (1 << 30) if d >= (1 << 29) else d


def test_ticks_diff_and_add_match_their_definition_at_the_edges():
    period = 1 << 30
    edges = (0, 1, 2, 499, (1 << 29) - 1, 1 << 29, (1 << 29) + 1, period - 2, period - 1)
    for a in edges:
        for b in edges:
            assert ticks_diff(a, b) == _ref_diff(a, b), (a, b)
        for delta in (0, 1, -1, 500, -500, (1 << 29) - 1, -(1 << 29)):
            assert ticks_add(a, delta) == (a + delta) % period, (a, delta)


# --- calendar ---------------------------------------------------------------
def _leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _month_days(y, m):
    if m == 2:
        return 29 if _leap(y) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def _walk(y, m, d, step):
    """The next (step 1) or previous (step -1) calendar day."""
    if step > 0:
        if d < _month_days(y, m):
            return y, m, d + 1
        return (y, m + 1, 1) if m < 12 else (y + 1, 1, 1)
    if d > 1:
        return y, m, d - 1
    if m > 1:
        return y, m - 1, _month_days(y, m - 1)
    return y - 1, 12, 31


def test_civil_dates_match_a_day_by_day_walk_across_1900_to_2101():
    # Walk from 2000-01-01 (day 0) to 2101-03-01 and back to 1899-12-31: every
    # leap rule (2000 yes, 1900 and 2100 no) and the era end 2000-02-29.
    for step, days in ((1, 36_950), (-1, 36_526)):
        ymd = (2000, 1, 1)
        for k in range(days + 1):
            day = k * step
            if k % 7 == 0 or ymd[1] <= 3 or ymd[1] == 12:  # every week + every Dec-Mar day
                got = clock.civil_from_days(day)
                assert got == ymd, (day, got, ymd)
                assert clock.days_from_civil(ymd[0], ymd[1], ymd[2]) == day, ymd
            ymd = _walk(ymd[0], ymd[1], ymd[2], step)


def test_civil_dates_at_the_400_year_era_ends_are_integers():
    # 1600-01-01 is 146097 days (400 Gregorian years) before 2000-01-01
    for (y, m, d), day in (((2400, 2, 29), 146_097 + 31 + 28), ((2400, 3, 1), 146_097 + 60),
                           ((1600, 2, 29), -146_097 + 59), ((1600, 3, 1), -146_097 + 60),
                           ((2000, 2, 29), 59)):
        assert clock.days_from_civil(y, m, d) == day, (y, m, d)
        got = clock.civil_from_days(day)
        assert got == (y, m, d), (day, got)
        for v in got:
            assert type(v) is int, got  # a float here would allocate on the device


def test_rtc_tuple_hours_minutes_seconds_at_their_edges():
    c = clock.Clock(ManualClock())
    for sod, hms in ((0, (0, 0, 0)), (59, (0, 0, 59)), (60, (0, 1, 0)), (3599, (0, 59, 59)),
                     (3600, (1, 0, 0)), (86399, (23, 59, 59))):
        c.set(59, sod)  # 2000-02-29, a Tuesday
        assert c.rtc_tuple() == (2000, 2, 29, 1) + hms + (0,), sod
        assert clock.iso(59, sod) == "2000-02-29T%02d:%02d:%02d" % hms


# --- ISO parser --------------------------------------------------------------
def test_parse_iso_accepts_every_field_at_its_limits():
    jan1 = 9497  # 2026-01-01: 26 years of 365 days + 7 leap days (2000 .. 2024)
    assert clock.parse_iso("2026-01-01T00:00:00") == (jan1, 0)
    assert clock.parse_iso("2026-12-31T23:59:59") == (jan1 + 364, 86399)
    assert clock.parse_iso("2026-01-31T23:59:58") == (jan1 + 30, 23 * 3600 + 59 * 60 + 58)
    assert clock.parse_iso("2026-01-01T00:37:00") == (jan1, 37 * 60)
    assert clock.parse_iso("2000-01-01T00:00:01") == (0, 1)


def test_parse_iso_refuses_each_bad_field_with_its_reason():
    good = "2026-03-01T08:00:05"
    for i in (4, 7, 10, 13, 16):  # one separator wrong at a time
        bad = good[:i] + "/" + good[i + 1:]
        e = raises(ValueError, clock.parse_iso, bad)
        assert str(e) == "time '%s': expected YYYY-MM-DDTHH:MM:SS" % bad, (i, str(e))
    for bad in (good + "Z", good[:-1]):
        e = raises(ValueError, clock.parse_iso, bad)
        assert str(e) == "time '%s': expected YYYY-MM-DDTHH:MM:SS" % bad
    e = raises(ValueError, clock.parse_iso, "2026-03-01T08:0x:05")
    assert str(e) == "time '2026-03-01T08:0x:05': expected digits in YYYY-MM-DDTHH:MM:SS"
    for bad in ("2026-00-10T00:00:00", "2026-13-01T00:00:00", "2026-04-31T00:00:00"):
        e = raises(ValueError, clock.parse_iso, bad)
        assert str(e) == "time '%s': no such date" % bad
    for bad in ("2026-03-01T24:00:00", "2026-03-01T00:60:00", "2026-03-01T00:00:60"):
        e = raises(ValueError, clock.parse_iso, bad)
        assert str(e) == "time '%s': no such time of day" % bad


# --- the clock ----------------------------------------------------------------
def test_clock_set_limits_count_and_message():
    c = clock.Clock(ManualClock())
    c.set(0, 0)  # 2000-01-01 00:00:00 is a valid time
    assert (c.day, c.sod, c.valid, c.sets) == (0, 0, True, 1)
    c.set(0, 86399)
    assert c.sets == 2
    for day, sod in ((-1, 0), (0, -1), (0, 86400)):
        e = raises(ValueError, c.set, day, sod)
        assert str(e) == "clock: day %d second %d out of range" % (day, sod)
    assert (c.day, c.sod, c.sets) == (0, 86399, 2)  # refused sets change nothing


# --- event ring ----------------------------------------------------------------
def test_event_ring_ends():
    ev = events.EventLog(clock.Clock(ManualClock()), size=3)
    assert ev.newest() is None and len(ev) == 0 and ev.find("a") is None
    e = raises(IndexError, ev.entry, 0)
    assert str(e) == "event 0 of 0"
    ev.log("a", "x", 1)
    ev.log("b", "y", 2)
    assert ev.find("a") == (0, 0, "a", "x", 1, 1)  # the oldest entry is searched too
    assert ev.find("a", "y") is None and ev.find("b", "y")[4] == 2
    ev.log("c", "z", 3)
    assert len(ev) == 3 and ev.find("a")[4] == 1  # full ring, oldest still there
    ev.log("d", "w", 4)
    assert len(ev) == 3 and ev.find("a") is None
    e = raises(IndexError, ev.entry, 3)
    assert str(e) == "event 3 of 3"
    raises(IndexError, ev.entry, -1)


# --- energy register readouts ------------------------------------------------
def test_register_readouts_exact_values():
    r = metrology.EnergyRegister(NUM, 1)
    r.restore(2, NUM // 4)  # 2.25 kWh
    assert r.wh() == 2250.0
    assert r.micro_wh() == 2_250_000_000
    assert r.kwh_text() == "2.250"
    r.restore(1, 1)  # 1 kWh + one LSB: 10**9 / 2569600 = 389.16 uWh, truncated
    assert r.micro_wh() == 1_000_000_389
    assert r.kwh_text() == "1.000"
    r.restore(0, NUM - 1)  # 10**9 - 389.17 uWh, truncated
    assert r.micro_wh() == 999_999_610
    r.restore(999_999, NUM - 1)
    assert r.kwh_text() == "999999.999"  # truncated, never rounded up to 1 000 000
    for kwh, frac in ((-1, 0), (1_000_000, 0), (0, -1), (0, NUM)):
        e = raises(ValueError, r.restore, kwh, frac)
        assert str(e) == "energy register: %d kWh + %d/%d out of range" % (kwh, frac, NUM)
    assert (r.kwh, r.frac) == (999_999, NUM - 1)


# --- metrology: cut-off window reset, lump booking, edge readings ----------------
def _metrology(cal=None):
    return metrology.Metrology(cal or design_cal(), 10_000, 220_000)


def test_stop_window_forgets_the_energy_of_a_partial_window():
    m = _metrology()
    m.book(7, 3000)  # below the 16 LSB of evidence: gathered, not booked
    m.stop_window()
    m.book(15, 100)  # 15 LSB alone is still not evidence
    assert not m.running and m.energy_import.frac == 0 and m.withheld_lsb == 0
    m.book(1, 100)  # 16 LSB of fresh evidence in 200 ms: far above the cut-off
    assert m.running and m.energy_import.frac == 16


def test_stop_window_forgets_the_time_of_a_partial_window():
    m = _metrology()
    m.book(7, 3000)
    m.stop_window()
    m.book(5, 9999)  # a window is judged only at 10 000 ms
    assert m.withheld_lsb == 0
    m.book(0, 1)  # now it is 10 000 ms with 5 LSB: below the cut-off, withheld
    assert m.withheld_lsb == 5 and m.energy_import.frac == 0


def test_book_lump_reports_only_its_own_lump():
    m = _metrology()
    m.book(100, 500)  # evidence: books 100
    assert m.tick_import_lsb == 100
    m.book_lump(-40)
    assert (m.tick_import_lsb, m.tick_export_lsb) == (0, 40)
    m.book_lump(25)
    assert (m.tick_import_lsb, m.tick_export_lsb) == (25, 0)
    assert m.energy_import.frac == 125 and m.energy_export.frac == 40


def test_frequency_at_zero_and_one_period_lsb():
    m = _metrology()
    assert m.frequency_hz() == 0.0  # no PERIOD reading yet
    m.period_raw = 1
    assert m.frequency_hz() == 3579545 / 8.0  # PERIOD counts CLKIN/8
    m.period_raw = 8949  # ~50 Hz at 3.579545 MHz
    assert abs(m.frequency_hz() - 3579545 / 8 / 8949) < 1e-9


_EPS = 1e-12 if 1.0 + 1e-12 != 1.0 else 1e-5  # double, or the ESP32's single floats


def _rel(a, b):
    return abs(a - b) <= _EPS * abs(b)


def test_power_needs_a_positive_interval_and_a_running_meter():
    cal = design_cal(cfnum=1)  # den 2: one LSB is 2/NUM kWh
    m = _metrology(cal)
    assert m.power_w() == 0.0  # nothing measured yet (dt 0)
    m.running = True
    m.last_dt_ms = 0
    assert m.power_w() == 0.0
    m.last_delta_lsb = 3
    m.last_dt_ms = 1
    # 3 LSB x 2/NUM kWh in 1 ms: 6/NUM kWh / (1/3 600 000 h) = 21.6e9/NUM kW
    assert _rel(m.power_w(), 3 * 2 * 3_600_000.0 * 1000.0 / NUM)
    m.last_delta_lsb = 2000
    m.last_dt_ms = 1000
    assert _rel(m.power_w(), 2000 * 2 * 3_600_000.0 / NUM)  # 5.6 kW
    m.running = False
    assert m.power_w() == 0.0


def test_power_factor_edges_and_clipping():
    m = _metrology()
    cal = m.cal
    m.vrms_raw = cal.vrms_lsb_ref  # 220 V
    m.irms_raw = 0
    assert m.power_factor() == 1.0  # no current: no apparent power, PF shown as 1
    m.irms_raw = cal.irms_lsb_ref // 10_000  # ~1 mA: 0.22 VA, tiny but real
    assert m.power_factor() == 0.0  # stopped: no active power at all
    m.irms_raw = cal.irms_lsb_ref  # 10 A: 2200 VA
    m.running = True
    m.last_dt_ms = 1000
    m.last_delta_lsb = NUM // 3600  # ~1 kWh/h over 1 s = ~1 kW
    p = m.last_delta_lsb * 3_600_000.0 / NUM
    assert _rel(m.power_factor(), p / 2200.0)
    m.last_delta_lsb = 2 * NUM // 1000  # 7.2 kW > 2200 VA (a bad reading): clipped
    assert m.power_factor() == 1.0
    m.last_delta_lsb = -2 * NUM // 1000
    assert m.power_factor() == -1.0


# --- meter snapshot: timing, scale change ------------------------------------
def _snapshot_meter():
    from fixtures import started

    chip, drv, m = started()
    chip.add_energy(1000)
    m.tick(1000)
    return chip, m


def _clock(day, sod, valid=True):
    c = clock.Clock(ManualClock())
    if valid:
        c.set(day, sod)
    else:
        c.day, c.sod = day, sod
    return c


def _record(m, day, sod):
    import binascii

    mi = m.metrology
    body = "M1 %d %d %d %d %d %d %d %d" % (NUM, mi.energy_import.kwh, mi.energy_import.frac,
                                         mi.energy_export.kwh, mi.energy_export.frac,
                                         m.baseline(), day, sod)
    return "%s %d\n" % (body, binascii.crc32(body.encode()) & 0xFFFFFFFF)


def test_snapshot_text_marks_an_unset_clock_with_day_minus_one():
    chip, m = _snapshot_meter()
    assert m.snapshot_text(_clock(9556, 100)) == _record(m, 9556, 100)
    assert m.snapshot_text(_clock(9556, 100, valid=False)) == _record(m, -1, 100)


def test_snapshot_age_limit_across_midnight():
    from fixtures import new_meter

    chip, m = _snapshot_meter()
    text = _record(m, 5, 86400 - 620)
    chip2, m2 = new_meter(chip)
    assert m2.restore_snapshot(text, _clock(6, 100)) == m.baseline()  # 720 s: trusted
    assert m2.restore_snapshot(text, _clock(6, 101)) is None  # 721 s
    assert m2.restore_snapshot(_record(m, 6, 100), _clock(6, 99)) is None  # from the future
    assert m2.restore_snapshot(_record(m, 0, 0), _clock(0, 0)) == m.baseline()  # day 0 is a day
    # written with an unset clock, or read with one: age unknown, never trusted
    assert m2.restore_snapshot(_record(m, -1, 86000), _clock(0, 0)) is None
    assert m2.restore_snapshot(_record(m, 0, 0), _clock(0, 100, valid=False)) is None


def test_snapshot_from_another_scale_keeps_the_remainder_and_drops_the_baseline():
    import binascii

    from fixtures import new_meter

    chip, m = _snapshot_meter()
    half = 803 * 1600  # CFDEN 802: half the LSB per kWh of design_cal()
    body = "M1 %d 7 1000 3 333 %d 9556 100" % (half, m.baseline())
    text = "%s %d\n" % (body, binascii.crc32(body.encode()) & 0xFFFFFFFF)
    chip2, m2 = new_meter(chip)
    assert m2.restore_snapshot(text, _clock(9556, 100)) is None  # not this scale's baseline
    ei, ee = m2.metrology.energy_import, m2.metrology.energy_export
    assert (ei.kwh, ei.frac, ee.kwh, ee.frac) == (7, 2000, 3, 666)  # 1000/half = 2000/NUM kWh
    assert type(ei.frac) is int and type(ee.frac) is int


def test_snapshot_errors_say_what_is_wrong():
    from fixtures import new_meter

    chip, m = _snapshot_meter()
    good = _record(m, 9556, 100)
    chip2, m2 = new_meter(chip)
    c = _clock(9556, 100)
    for text, why in (("M2 1 2 3 4 5 6 7 8 9", "snapshot: not an M1 record"),
                      ("M1 1 2 3", "snapshot: not an M1 record"),
                      ("M1 x 1 2 3 4 5 6 7 8", "snapshot: non-numeric field"),
                      (good.replace(" 9556 ", " 9557 "), "snapshot: crc32 does not match (corrupt record)")):
        e = raises(ValueError, m2.restore_snapshot, text, c)
        assert str(e) == why, (text, str(e))
