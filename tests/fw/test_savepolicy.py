"""When registers are saved, and the last-known clock."""
import lastclock
import savepolicy
from fixtures import design_cal
from fwtest import IS_MICROPYTHON, raises, skip
from ticks import ticks_add


def test_energy_step_is_due_exactly_at_the_step():
    p = savepolicy.SavePolicy(1000, 0)
    p.note_energy(999)
    assert p.due(1) == savepolicy.NONE
    p.note_energy(1)
    assert p.due(2) == savepolicy.ENERGY
    p.saved(2, savepolicy.ENERGY)
    assert p.due(3) == savepolicy.NONE and p.pending_lsb == 0
    p.note_energy(5000)  # a big step saves once, not five times
    p.saved(4, p.due(4))
    assert p.due(5) == savepolicy.NONE and p.writes[savepolicy.ENERGY] == 2


def test_step_for_a_calibration_is_a_tenth_of_a_kwh_rounded_up():
    num, den = design_cal().lsb_per_kwh()  # (1606 * 1600, 1) LSB per kWh
    step = savepolicy.step_lsb_for(num, den)
    assert step == -(-1606 * 1600 // 10)  # 256 960 LSB = 0.1 kWh
    assert savepolicy.step_lsb_for(10, 3, 100) == 1  # 10/3 LSB/kWh: 0.333 LSB -> 1


def test_timer_fires_after_the_interval_across_a_ticks_wrap():
    start = (1 << 30) - 1000  # just before ticks_ms wraps
    p = savepolicy.SavePolicy(1000, start, max_interval_ms=60_000)
    assert p.due(ticks_add(start, 59_999)) == savepolicy.NONE
    assert p.due(ticks_add(start, 60_000)) == savepolicy.TIMER
    p.saved(ticks_add(start, 60_000), savepolicy.TIMER)
    assert p.due(ticks_add(start, 60_001)) == savepolicy.NONE


def test_power_fail_and_credit_come_first_and_a_failed_save_retries_later():
    p = savepolicy.SavePolicy(10, 0)
    p.note_energy(10)
    p.credit()
    p.power_fail(None)  # as micropython.schedule calls it
    assert p.due(1) == savepolicy.POWER_FAIL
    p.saved(1, savepolicy.POWER_FAIL)
    assert p.due(2) == savepolicy.NONE  # that save carried the credit and the energy too
    p.credit()
    assert p.due(3) == savepolicy.CREDIT
    p.saved(3, savepolicy.CREDIT, ok=False)  # flash full / failing
    assert p.failures == 1
    assert p.due(4) == savepolicy.NONE and p.due(3 + savepolicy.RETRY_MS - 1) == savepolicy.NONE
    assert p.due(3 + savepolicy.RETRY_MS) == savepolicy.CREDIT
    p.power_fail()
    p.saved(5, savepolicy.CREDIT, ok=False)
    assert p.due(6) == savepolicy.POWER_FAIL  # the supply is dying: no back-off
    assert p.writes == [0, 1, 0, 0, 0] and p.total_writes() == 1


def test_bad_policy_settings_are_refused():
    e = raises(ValueError, savepolicy.SavePolicy, 0, 0)
    assert "energy step" in str(e)
    e = raises(ValueError, savepolicy.SavePolicy, 1, 0, 10)
    assert "timer of 10 ms" in str(e)


def test_per_tick_calls_allocate_nothing():
    if not IS_MICROPYTHON:
        skip("heap_lock() only means something on MicroPython")
    import micropython

    p = savepolicy.SavePolicy(1 << 20, 0)
    now = 0
    micropython.heap_lock()
    try:
        for _ in range(200):
            now = ticks_add(now, 500)
            p.note_energy(700)
            p.due(now)
    finally:
        micropython.heap_unlock()
    assert p.pending_lsb == 140_000


def test_rtc_behind_the_last_known_time_is_flagged_and_not_used():
    last = 830_000_000
    assert lastclock.check_rtc(last, last) == (last, lastclock.CLOCK_OK)
    assert lastclock.check_rtc(last + 5, last) == (last + 5, lastclock.CLOCK_OK)
    assert lastclock.check_rtc(last - 1, last) == (last, lastclock.CLOCK_LOST)
    assert lastclock.check_rtc(0, last) == (last, lastclock.CLOCK_LOST)  # RTC reset to 2000
    # nothing saved yet: a plausible RTC is trusted, one before 2026 is not
    assert lastclock.check_rtc(820_540_800, None) == (820_540_800, lastclock.CLOCK_OK)
    assert lastclock.check_rtc(820_540_799, None) == (820_540_800, lastclock.CLOCK_UNKNOWN)

