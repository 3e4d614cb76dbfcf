"""Metrology properties under hypothesis (CPython side of the same firmware code)."""
import ade7753
import metrology
from fixtures import design_cal, started
from hypothesis import given, settings
from hypothesis import strategies as st
from ticks import ticks_add, ticks_diff

TICKS_PERIOD = 1 << 30  # time.ticks_ms() period on the device

CAL = design_cal()
NUM, DEN = CAL.lsb_per_kwh()

# (ms since the previous poll, AENERGY LSB gained meanwhile): any schedule that
# keeps each step inside the overflow budget (|step| < 2**23, poll < 200 s) and
# above the no-load cut-off (>= 40 LSB/s here, the cut-off is ~3 LSB/s).
steps = st.lists(
    st.integers(1, 200_000).flatmap(
        lambda dt: st.tuples(st.just(dt), st.integers(max(1, dt * 40 // 1000), min((1 << 23) - 1, dt * 40)))),
    min_size=1, max_size=60)


def _run(schedule, start_ms=0, start_raw=0):
    chip, drv, m = started(CAL, now_ms=start_ms)
    chip.set(ade7753.AENERGY, start_raw)
    m.tick(ticks_add(start_ms, 1))
    now = ticks_add(start_ms, 1)
    base = (m.energy_import.kwh, m.energy_import.frac)
    last = m.energy_import.micro_wh()
    for dt, lsb in schedule:
        chip.add_energy(lsb)
        now = ticks_add(now, dt)
        m.tick(now)
        v = m.energy_import.micro_wh()
        assert v >= last  # import never decreases
        last = v
    gained = (m.energy_import.kwh - base[0]) * NUM + m.energy_import.frac - base[1]
    return m, gained


@settings(max_examples=60, deadline=None)
@given(steps, st.integers(0, (1 << 24) - 1), st.integers(0, TICKS_PERIOD - 1))
def test_any_schedule_registers_exactly_what_the_chip_counted(schedule, start_raw, start_ms):
    # any start value of AENERGY (so wraps happen anywhere) and any start of
    # ticks_ms (so the 2**30 ms wrap of the device clock happens too)
    m, gained = _run(schedule, start_ms, start_raw)
    assert gained == sum(lsb for _, lsb in schedule) * DEN
    assert m.missed_intervals == 0 and m.withheld_lsb == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-59_000, 59_000), min_size=1, max_size=80))  # plausible in 1 s
def test_import_and_export_are_the_positive_and_negative_parts(deltas):
    chip, drv, m = started(CAL)
    now = 0
    for d in deltas:
        chip.add_energy(d)
        now += 1000
        m.tick(now)
    # 1 s polls: every |delta| >= 4 LSB is above the cut-off; smaller ones are withheld
    kept = [d for d in deltas if abs(d) * m._cutoff_ms_per_lsb >= 1000]
    imp = m.energy_import.kwh * NUM + m.energy_import.frac
    exp = m.energy_export.kwh * NUM + m.energy_export.frac
    assert imp == sum(d for d in kept if d > 0) * DEN
    assert exp == sum(-d for d in kept if d < 0) * DEN
    assert m.withheld_lsb == sum(abs(d) for d in deltas if abs(d) * m._cutoff_ms_per_lsb < 1000)


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
