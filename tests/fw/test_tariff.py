"""Tariff engine on both interpreters: calendar, tiers, exact cost, freezes,
validation messages, and the allocation-free tick (heap_lock, unix port)."""
import freeze
import tariffcfg
import tariff
from fwtest import IS_MICROPYTHON, raises, skip
from metrology import EnergyRegister
from tariff_fixtures import zhejiang

NUM = 1606 * 1600  # default board: (CFDEN + 1) x 1600 imp/kWh LSB per kWh
DEN = 1
DAY_2026_01_01 = 26 * 365 + 7  # 7 leap days 2000..2024 -> a Thursday


def engine(obj=None, day=DAY_2026_01_01, sod=0, balance=None):
    imp = EnergyRegister(NUM, DEN)
    exp = EnergyRegister(NUM, DEN)
    t = tariff.Tariff(NUM, DEN, imp, exp, balance)
    t.activate(tariff.parse(obj or zhejiang()), day, sod)
    return t


def feed(t, lsb):
    t.imp.add_lsb(lsb)
    t.book(lsb)


def units(reg):
    return reg.kwh * NUM + reg.frac


def test_calendar_rates_and_wrap():
    t = engine()
    # 2026-01-01 is a Thursday: workday profile
    for sod, rate in ((0, 4), (8 * 3600 - 1, 4), (8 * 3600, 3), (10 * 3600, 2), (18 * 3600 + 59, 1),
                      (23 * 3600 + 3599, 4)):
        t.poll(DAY_2026_01_01, sod)
        assert t.rate == rate, (sod, t.rate, rate)
    t.poll(DAY_2026_01_01 + 2, 12 * 3600)  # Saturday: restday
    assert t.rate == 3
    obj = zhejiang()
    obj["days"]["workday"] = [["06:00", 2], ["22:00", 4]]  # before 06:00 the day's last point applies
    t2 = engine(obj, sod=3600)
    assert t2.rate == 4 and t2.price_e4_per_kwh == 3000


def test_special_days_override_the_week():
    t = engine()
    day_oct1 = DAY_2026_01_01 + 273  # 2026-10-01, a Thursday
    t.poll(day_oct1, 12 * 3600)
    assert t.rate == 3  # restday profile at noon (workday would be peak 2)
    t.poll(day_oct1 + 1, 12 * 3600)
    assert t.rate == 2


def test_tier_split_inside_one_increment_is_exact():
    obj = zhejiang()
    obj["steps"]["thresholds_kwh"] = ["1", "2"]
    t = engine(obj, sod=12 * 3600)  # rate 2 (0.70) from 10:00
    feed(t, NUM - 10)  # 10 LSB short of 1 kWh
    assert t.tier == 1
    feed(t, 10)  # exactly at the threshold: still tier 1
    assert t.tier == 1
    feed(t, 30)  # 30 LSB above: tier 2
    assert t.tier == 2
    # cost: 1 kWh at 0.7000 + 30 LSB at 0.7500, exactly (floor of the whole)
    expect_e4 = (NUM * 7000 + 30 * 7500) // NUM
    assert t.cost_units * 10000 + t.cost_e4 == expect_e4
    assert t.tier_cost_units[1] * 10000 + t.tier_cost_e4[1] == 7000
    # one increment over two thresholds lands in tier 3
    feed(t, 2 * NUM)
    assert t.tier == 3 and t.price_e4_per_kwh == 7000 + 3000


def test_cost_of_any_split_sums_to_the_whole():
    t1 = engine(sod=12 * 3600)
    t2 = engine(sod=12 * 3600)
    feed(t1, 1_000_003)
    for part in (1, 2, 499_997, 3, 500_000):
        feed(t2, part)
    assert (t1.cost_units, t1.cost_e4) == (t2.cost_units, t2.cost_e4)
    assert t1.cost_units * 10000 + t1.cost_e4 == 1_000_003 * 7000 // NUM


def test_big_increment_after_a_stall_is_chunked():
    t = engine(sod=12 * 3600)
    big = (1 << 24) - 1
    feed(t, big)
    assert units(t.rate_energy[2]) == big * DEN
    assert t.cost_units * 10000 + t.cost_e4 == big * 7000 // NUM


def test_settlement_restarts_the_step_and_freezes_the_old_value():
    obj = zhejiang()
    obj["steps"] = {"period": "month", "settle": "15 06:00", "thresholds_kwh": ["1"], "surcharges": ["0", "0.1"]}
    t = engine(obj)
    feed(t, 2 * NUM)
    assert t.tier == 2
    t.poll(DAY_2026_01_01 + 14, 5 * 3600 + 3599)  # 01-15 05:59:59
    assert t.tier == 2 and t.freezes.count(freeze.SETTLEMENT) == 0
    t.poll(DAY_2026_01_01 + 14, 6 * 3600)
    assert t.tier == 1 and units(t.step_energy) == 0
    rec = t.freezes.records(freeze.SETTLEMENT)[0]
    assert rec["step"] == (2, 0) and rec["day"] == DAY_2026_01_01 + 14 and rec["sod"] == 6 * 3600


def test_daily_and_billing_freezes_and_outage_catch_up():
    t = engine(balance=lambda: 123456)
    feed(t, NUM)
    t.poll(DAY_2026_01_01 + 1, 0)
    assert t.freezes.count(freeze.DAILY) == 1
    rec = t.freezes.records(freeze.DAILY)[0]
    assert rec["import"] == (1, 0) and rec["balance_e4"] == 123456 and rec["flags"] & freeze.LATE == 0
    # outage from Jan 2 00:00:30 to Feb 3 10:00: 32 daily freezes and the Feb 1 billing freeze,
    # taken at power-up with the registers as they stood
    t.poll(DAY_2026_01_01 + 1, 30)
    t.poll(DAY_2026_01_01 + 33, 36000)
    daily = t.freezes.records(freeze.DAILY)
    assert len(daily) == 33 and daily[-1]["day"] == DAY_2026_01_01 + 33
    assert all(r["import"] == (1, 0) and r["flags"] & freeze.LATE for r in daily[1:])
    billing = t.freezes.records(freeze.BILLING)
    assert [r["day"] for r in billing] == [DAY_2026_01_01 + 31]  # 2026-02-01


def test_ring_keeps_the_newest_62_daily_records():
    t = engine()
    for k in range(1, 101):
        t.poll(DAY_2026_01_01 + k, 0)
    daily = t.freezes.records(freeze.DAILY)
    assert len(daily) == 62 and daily[0]["day"] == DAY_2026_01_01 + 39 and daily[-1]["day"] == DAY_2026_01_01 + 100
    assert len(t.freezes.raw(freeze.DAILY, 0)) == freeze.RECORD_BYTES


def test_clock_back_and_forth_no_double_freeze():
    t = engine()
    t.poll(DAY_2026_01_01 + 2, 3600)
    assert t.freezes.taken[freeze.DAILY] == 2
    t.clock_set(DAY_2026_01_01, 12 * 3600)  # back two days
    t.poll(DAY_2026_01_01 + 2, 7200)  # passes the same two midnights again
    assert t.freezes.taken[freeze.DAILY] == 2
    t.clock_set(DAY_2026_01_01 + 5, 60)  # forwards: Jan 4, 5, 6 frozen, flagged
    recs = t.freezes.records(freeze.DAILY)
    assert [r["day"] - DAY_2026_01_01 for r in recs] == [1, 2, 3, 4, 5]
    assert recs[-1]["flags"] & freeze.CLOCK_SET


def test_unset_clock_falls_back_to_rate_3_and_freezes_nothing():
    t = engine(sod=19 * 3600)
    assert t.rate == 1
    t.poll(DAY_2026_01_01 + 5, 0, False)
    assert t.rate == 3 and t.price_e4_per_kwh == 5000 and t.clock_invalid
    assert t.freezes.taken[freeze.DAILY] == 0
    t.poll(DAY_2026_01_01 + 5, 19 * 3600)  # Tuesday, valid again: missed midnights taken, rate restored
    assert t.rate == 1 and not t.clock_invalid and t.freezes.taken[freeze.DAILY] == 5


def test_passive_tariff_activates_at_its_instant():
    t = engine(sod=12 * 3600)
    new = zhejiang()
    new["rates"]["2"] = "1.2000"
    t.set_passive(tariff.parse(new), DAY_2026_01_01, 12 * 3600 + 90)
    t.poll(DAY_2026_01_01, 12 * 3600 + 60)
    assert t.price_e4_per_kwh == 7000
    t.poll(DAY_2026_01_01, 12 * 3600 + 120)
    assert t.price_e4_per_kwh == 12000 and t.passive is None
    rec = t.freezes.records(freeze.TARIFF_SWITCH)[0]
    assert rec["sod"] == 12 * 3600 + 90


def test_hot_path_integers_stay_small():
    # worst chunk: 2**22 units at the highest price through the Horner steps
    t = engine(sod=12 * 3600)
    assert NUM * 16 + 15 * (1 << 22) + NUM < (1 << 30)
    assert (1 << 22) * tariffcfg.PRICE_MAX_E4 // NUM < (1 << 30)
    assert t._far_kwh * NUM + NUM < (1 << 30)


def test_tick_allocates_nothing_across_switches_tiers_and_freezes():
    if not IS_MICROPYTHON:
        skip("heap_lock() only means something on MicroPython")
    import micropython

    obj = zhejiang()
    obj["steps"]["thresholds_kwh"] = ["1", "2"]
    t = engine(obj, sod=7 * 3600 + 3000)
    lsb = NUM // 60 // 2  # 500 W per 60 s pass: crosses a threshold every 2 h
    day, sod = DAY_2026_01_01, 7 * 3600 + 3000
    for _ in range(3):  # warm-up
        sod += 60
        t.poll(day, sod)
        t.book(lsb)
    micropython.heap_lock()
    try:
        for _ in range(2000):  # 08:00 and 10:00 switches, tier 1 -> 2 -> 3, midnight freezes
            sod += 60
            if sod >= 86400:
                sod -= 86400
                day += 1
            t.poll(day, sod)
            t.book(lsb)
            t.take_cost_e4()
    finally:
        micropython.heap_unlock()
    assert t.tier == 3 and t.freezes.taken[freeze.DAILY] >= 1
