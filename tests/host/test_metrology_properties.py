"""Metrology properties under hypothesis (CPython side of the same firmware code)."""
import ade7753
import metrology
from fixtures import design_cal, lsb_total, started
from hypothesis import given, settings
from hypothesis import strategies as st
from ticks import ticks_add, ticks_diff

TICKS_PERIOD = 1 << 30  # time.ticks_ms() period on the device

CAL = design_cal()
NUM, DEN = CAL.lsb_per_kwh()

# (ms since the previous poll, AENERGY LSB gained meanwhile): any schedule that
# keeps each step inside the overflow budget (|step| < 2**23, poll < 200 s) and
# above the no-load cut-off (>= 40 LSB/s here, the cut-off is ~3 LSB/s), and
# starts with 16 LSB so the cut-off window has its evidence at once.
steps = st.lists(
    st.integers(1, 200_000).flatmap(
        lambda dt: st.tuples(st.just(dt), st.integers(max(16, dt * 40 // 1000), max(16, min((1 << 23) - 1, dt * 40))))),
    min_size=1, max_size=60)


def _run(schedule, start_ms=0, start_raw=0):
    chip, drv, m = started(CAL, now_ms=start_ms)
    chip.set(ade7753.AENERGY, start_raw)
    m.source.need_baseline = True  # the baseline is taken where the chip now stands
    m.tick(ticks_add(start_ms, 1))
    now = ticks_add(start_ms, 1)
    reg = m.metrology.energy_import
    base = lsb_total(reg)
    last = reg.micro_wh()
    for dt, lsb in schedule:
        chip.add_energy(lsb)
        now = ticks_add(now, dt)
        m.tick(now)
        v = reg.micro_wh()
        assert v >= last  # import never decreases
        last = v
    return m, lsb_total(reg) - base


@settings(max_examples=60, deadline=None)
@given(steps, st.integers(0, (1 << 24) - 1), st.integers(0, TICKS_PERIOD - 1))
def test_any_schedule_registers_exactly_what_the_chip_counted(schedule, start_raw, start_ms):
    # any start value of AENERGY (so wraps happen anywhere) and any start of
    # ticks_ms (so the 2**30 ms wrap of the device clock happens too)
    m, gained = _run(schedule, start_ms, start_raw)
    assert gained == sum(lsb for _, lsb in schedule) * DEN
    assert m.missed_intervals == 0 and m.metrology.withheld_lsb == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-59_000, 59_000), min_size=1, max_size=80))  # plausible in 1 s
def test_import_and_export_are_the_positive_and_negative_parts(deltas):
    chip, drv, m = started(CAL)
    chip.add_energy(20)  # a running start: then every 1 s step books at once
    m.tick(500)
    now = 500
    for d in deltas:
        chip.add_energy(d)
        now += 1000
        m.tick(now)
    mt = m.metrology
    # while running, a step books at once; a 10 s window whose net is below
    # the cut-off (3.1 LSB/s here, written out: 0.02 A x 220 V) stops it
    cut_lsb_per_s = 0.02 * 220 * NUM / DEN / 3.6e6
    running = True
    win, win_ms = 20, 500
    imp = 20
    exp = 0
    pending = 0
    pend_ms = 0
    withheld = 0
    for d in deltas:
        if running:
            if d > 0:
                imp += d
            else:
                exp -= d
            win += d
            win_ms += 1000
            if win_ms >= 10_000:
                if abs(win) * 1000 < cut_lsb_per_s * win_ms * 0.999:
                    running = False
                win, win_ms = 0, 0
        else:
            pending += d
            pend_ms += 1000
            if abs(pending) >= 16 and abs(pending) * 1000 >= cut_lsb_per_s * pend_ms * 1.001:
                if pending > 0:
                    imp += pending
                else:
                    exp -= pending
                running = True
                pending, pend_ms = 0, 0
            elif pend_ms >= 10_000:
                withheld += abs(pending)
                pending, pend_ms = 0, 0
    assert lsb_total(mt.energy_import) == imp * DEN
    assert lsb_total(mt.energy_export) == exp * DEN
    assert mt.withheld_lsb == withheld


@given(st.integers(0, TICKS_PERIOD - 1), st.integers(-(1 << 28), (1 << 28)))
def test_ticks_diff_inverts_ticks_add(t, delta):
    assert ticks_diff(ticks_add(t, delta), t) == delta


@given(st.integers(0, 999_999), st.integers(0, NUM - 1), st.integers(0, (1 << 23) - 1))
def test_register_arithmetic_stays_in_small_ints(kwh, frac, lsb):
    reg = metrology.EnergyRegister(NUM, DEN)
    reg.restore(kwh, frac)
    assert reg.frac + lsb * DEN < (1 << 30)  # the largest intermediate of add_lsb
    before = reg.micro_wh()
    reg.add_lsb(lsb)
    total = (kwh * NUM + frac + lsb * DEN) % (1_000_000 * NUM)
    assert reg.kwh * NUM + reg.frac == total
    assert 0 <= reg.frac < NUM and 0 <= reg.kwh < 1_000_000
    if kwh < 999_000:
        assert reg.micro_wh() >= before
