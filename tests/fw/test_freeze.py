"""Freeze records: layout, instant freezes, tariff switch-over, monthly settlement."""
import struct

import freeze
import tariff
from metrology import EnergyRegister
from tariff_fixtures import zhejiang

NUM = 1606 * 1600
DAY_2026_01_01 = 26 * 365 + 7


def engine(obj, day=DAY_2026_01_01, sod=0, balance=None):
    t = tariff.Tariff(NUM, 1, EnergyRegister(NUM, 1), EnergyRegister(NUM, 1), balance)
    t.activate(tariff.parse(obj), day, sod)
    return t


def test_record_layout_is_fixed_and_round_trips():
    assert struct.calcsize(freeze.FORMAT) == freeze.RECORD_BYTES == 70
    t = engine(zhejiang(), sod=19 * 3600, balance=lambda: -25)
    t.imp.add_lsb(3 * NUM + 7)
    t.book(3 * NUM + 7)
    t.exp.add_lsb(NUM // 2)
    t.freeze_now(DAY_2026_01_01, 19 * 3600 + 5)
    b = t.freezes.raw(freeze.INSTANT, 0)
    assert len(b) == 70
    r = freeze.decode(b)
    assert (r["day"], r["sod"], r["kind"], r["rate"], r["tier"]) == (DAY_2026_01_01, 19 * 3600 + 5, "instant", 1, 1)
    assert r["import"] == (3, 7) and r["rates"][0] == (3, 7) and r["export"] == (0, NUM // 2)
    assert r["step"] == (3, 7) and r["balance_e4"] == -25 and r["flags"] == 0


def test_postpaid_freeze_has_no_balance():
    t = engine(zhejiang())
    t.freeze_now(DAY_2026_01_01, 60)
    r = t.freezes.records(freeze.INSTANT)[0]
    assert r["balance_e4"] is None and r["flags"] & freeze.NO_BALANCE


def test_activate_over_an_active_tariff_freezes_the_switch():
    t = engine(zhejiang(), sod=12 * 3600)
    new = zhejiang()
    new["rates"]["2"] = "0.8000"
    t.activate(tariff.parse(new), DAY_2026_01_01 + 1, 12 * 3600)
    assert t.price_e4_per_kwh == 8000
    assert t.freezes.taken[freeze.TARIFF_SWITCH] == 1 and t.freezes.taken[freeze.DAILY] == 1


def test_monthly_settlement_every_month_over_two_years():
    obj = zhejiang()
    obj["steps"] = {"period": "month", "settle": "15 06:00", "thresholds_kwh": ["100"], "surcharges": ["0", "0.1"]}
    obj["billing_days"] = [1, 10, 20]
    t = engine(obj)
    for k in range(1, 731):
        t.poll(DAY_2026_01_01 + k, 7 * 3600)
    recs = t.freezes.records(freeze.SETTLEMENT)
    assert t.freezes.taken[freeze.SETTLEMENT] == 24 and len(recs) == 12
    assert all(r["sod"] == 6 * 3600 for r in recs)
    assert t.freezes.taken[freeze.BILLING] == 72 and t.freezes.count(freeze.BILLING) == 12
