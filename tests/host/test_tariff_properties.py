"""Properties of the firmware tariff engine against independent computations
written here (datetime for the calendar, fractions/decimal for money)."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_FLOOR, Decimal, getcontext
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import freeze
import tariff
from metrology import EnergyRegister
from tariff_fixtures import zhejiang

NUM, DEN = 1606 * 1600, 1
EPOCH = dt.date(2000, 1, 1)
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def day_of(d: dt.date) -> int:
    return (d - EPOCH).days


def new_engine(obj: dict, day: int, sod: int, balance=None) -> tariff.Tariff:
    t = tariff.Tariff(NUM, DEN, EnergyRegister(NUM, DEN), EnergyRegister(NUM, DEN), balance)
    t.activate(tariff.parse(obj), day, sod)
    return t


def e4(units: int, frac_e4: int) -> int:
    return units * 10000 + frac_e4


# --- random calendars ------------------------------------------------------------
@st.composite
def calendars(draw) -> dict:
    n_days = draw(st.integers(1, 4))
    days = {}
    for i in range(n_days):
        minutes = sorted(draw(st.sets(st.integers(0, 1439), min_size=1, max_size=6)))
        days[f"d{i}"] = [[f"{m // 60:02d}:{m % 60:02d}", draw(st.integers(1, 4))] for m in minutes]
    names = list(days)
    weeks = {f"w{i}": [draw(st.sampled_from(names)) for _ in range(7)] for i in range(draw(st.integers(1, 3)))}
    starts = sorted(draw(st.sets(st.integers(0, 364), min_size=1, max_size=4)))
    mds = [(dt.date(2001, 1, 1) + dt.timedelta(s)).strftime("%m-%d") for s in starts]
    seasons = [[md, draw(st.sampled_from(list(weeks)))] for md in mds]
    special = []
    for d in sorted(draw(st.sets(st.integers(0, 3 * 366), max_size=5))):
        date = dt.date(2026, 1, 1) + dt.timedelta(d)
        special.append([date.isoformat(), draw(st.sampled_from(names))])
    for d in sorted(draw(st.sets(st.integers(0, 364), max_size=3))):
        special.append([(dt.date(2001, 1, 1) + dt.timedelta(d)).strftime("%m-%d"), draw(st.sampled_from(names))])
    return {"rates": {"1": "0.9000", "2": "0.7000", "3": "0.5000", "4": "0.3000"}, "days": days,
            "weeks": weeks, "seasons": seasons, "special_days": special}


def brute_profile(obj: dict, day: int) -> str:
    """The calendar's day selection, evaluated from scratch."""
    date = EPOCH + dt.timedelta(day)
    md = date.strftime("%m-%d")
    profile = None
    for d, name in obj.get("special_days", []):
        if d == date.isoformat():
            profile = name
    if profile is None:
        for d, name in obj.get("special_days", []):
            if d == md:
                profile = name
    if profile is None:
        season = obj["seasons"][-1][1]  # before the first start: last season (wraps)
        for start, week in obj["seasons"]:
            if start <= md:
                season = week
        profile = obj["weeks"][season][date.weekday()]
    return profile


def brute_rate(obj: dict, day: int, sod: int) -> int:
    """The calendar's definition, evaluated from scratch."""
    points = obj["days"][brute_profile(obj, day)]
    rate = points[-1][1]
    for hhmm, r in points:
        if int(hhmm[:2]) * 3600 + int(hhmm[3:]) * 60 <= sod:
            rate = r
    return rate


START = day_of(dt.date(2026, 1, 1))


@PROPS
@given(calendars(), st.lists(st.integers(0, 3 * 366 * 86400), min_size=1, max_size=40))
def test_rate_at_any_instant_matches_the_calendar(obj, offsets):
    t = new_engine(obj, START, 0)
    for off in sorted(offsets):
        day, sod = START + off // 86400, off % 86400
        t.poll(day, sod)
        assert t.rate == brute_rate(obj, day, sod), (day, sod)
        fresh = new_engine(obj, day, sod)  # activated right there: same answer
        assert fresh.rate == t.rate


def test_season_and_year_wrap():
    obj = zhejiang()
    obj["days"]["summer"] = [["00:00", 1]]
    obj["weeks"]["hot"] = ["summer"] * 7
    obj["seasons"] = [["06-01", "hot"], ["09-01", "std"]]  # Jan..May: the last season (std) wraps
    del obj["special_days"]
    t = new_engine(obj, day_of(dt.date(2026, 12, 31)), 12 * 3600)
    assert t.rate == 2  # Thursday noon, std week
    t.poll(day_of(dt.date(2027, 1, 1)), 12 * 3600)  # new year: still std
    assert t.rate == 2
    t.poll(day_of(dt.date(2027, 6, 1)), 12 * 3600)
    assert t.rate == 1
    t.poll(day_of(dt.date(2027, 8, 31)), 23 * 3600)
    assert t.rate == 1
    t.poll(day_of(dt.date(2027, 9, 1)), 0)
    assert t.rate == 4


def test_special_days_on_weekends_and_weekdays():
    obj = zhejiang()
    obj["days"]["peakall"] = [["00:00", 1]]
    obj["special_days"] = [["2026-05-02", "peakall"], ["05-04", "peakall"]]  # a Saturday, and a yearly Monday
    t = new_engine(obj, day_of(dt.date(2026, 5, 1)), 12 * 3600)
    assert t.rate == 2  # Friday noon workday
    t.poll(day_of(dt.date(2026, 5, 2)), 12 * 3600)
    assert t.rate == 1  # Saturday special beats the restday
    t.poll(day_of(dt.date(2026, 5, 3)), 12 * 3600)
    assert t.rate == 3  # Sunday: restday again
    t.poll(day_of(dt.date(2026, 5, 4)), 12 * 3600)
    assert t.rate == 1
    t.poll(day_of(dt.date(2027, 5, 4)), 12 * 3600)  # yearly: next year too
    assert t.rate == 1


# --- money -------------------------------------------------------------------------
@PROPS
@given(st.lists(st.tuples(st.integers(0, 30_000), st.integers(0, 3600)), min_size=1, max_size=80),
       st.integers(0, 86399))
def test_cost_total_is_the_floor_of_the_exact_sum(steps, start_sod):
    """Any split, across rate switches: the billed total equals floor(sum of
    energy x price in force), i.e. within one money unit of the exact value."""
    obj = zhejiang()
    del obj["steps"]
    t = new_engine(obj, START, start_sod)
    exact = Fraction(0)
    off = start_sod
    for lsb, gap in steps:
        off += gap
        t.poll(START + off // 86400, off % 86400)
        t.book(lsb)
        exact += Fraction(lsb * DEN * t.price_e4_per_kwh, NUM)
    assert e4(t.cost_units, t.cost_e4) == int(exact)  # floor (non-negative)
    rates = sum(e4(t.rate_cost_units[r], t.rate_cost_e4[r]) for r in range(1, 5))
    assert rates == e4(t.cost_units, t.cost_e4)


@PROPS
@given(st.integers(1, 1 << 24 - 1), st.lists(st.integers(0, 1 << 20), max_size=30))
def test_same_energy_any_split_same_cost(total, cuts):
    parts, left = [], total
    for c in cuts:
        c = min(c, left)
        parts.append(c)
        left -= c
    parts.append(left)
    a, b = new_engine(zhejiang(), START, 12 * 3600), new_engine(zhejiang(), START, 12 * 3600)
    a.book(total)
    for p in parts:
        b.book(p)
    assert (a.cost_units, a.cost_e4, a.tier) == (b.cost_units, b.cost_e4, b.tier)
    assert [r.frac for r in a.rate_energy] == [r.frac for r in b.rate_energy]


@PROPS
@given(st.lists(st.integers(1, 40), min_size=1, max_size=4, unique=True),
       st.integers(0, 60 * NUM), st.integers(1, 60 * NUM))
def test_tier_crossing_inside_one_increment(thresholds, before, increment):
    th = sorted(thresholds)
    obj = zhejiang()
    obj["steps"] = {"period": "year", "thresholds_kwh": [str(x) for x in th],
                    "surcharges": ["0.0000"] + [f"0.{1000 * (i + 1):04d}" for i in range(len(th))]}
    t = new_engine(obj, START, 12 * 3600)  # rate 2, 0.7000
    t.book(before)
    c0 = Fraction(e4(t.cost_units, t.cost_e4))
    t.book(increment)
    # independent: walk the increment in exact kWh, tier i while consumed <= threshold i
    e_kwh, end = Fraction(before, NUM), Fraction(before + increment, NUM)
    cost = Fraction(0)
    tier_cost = [Fraction(0)] * (len(th) + 2)
    while e_kwh < end:
        tier = 1 + sum(1 for x in th if e_kwh >= x)
        top = min([Fraction(x) for x in th if x > e_kwh] + [end])
        price = 7000 + 1000 * (tier - 1)
        cost += (top - e_kwh) * price
        tier_cost[tier] += (top - e_kwh) * price
        e_kwh = top
    expect_tier = 1 + sum(1 for x in th if end > x)
    assert t.tier == expect_tier
    got = e4(t.cost_units, t.cost_e4) - c0
    assert abs(got - cost) <= 1  # one carried sub-unit at most
    assert t.price_e4_per_kwh == 7000 + 1000 * (expect_tier - 1)


@PROPS
@given(st.integers(1, 59), st.integers(1, 20_000), st.integers(1, 20_000))
def test_passive_activation_inside_a_tick(at_s, lsb_before, lsb_after):
    t = new_engine(zhejiang(), START, 12 * 3600)
    new = zhejiang()
    new["rates"]["2"] = "1.3000"
    t.set_passive(tariff.parse(new), START, 12 * 3600 + at_s)
    t.poll(START, 12 * 3600)
    t.book(lsb_before)  # registered before the activation instant: old price
    assert t.price_e4_per_kwh == 7000
    t.poll(START, 12 * 3600 + 60)  # the tick that contains the instant
    t.book(lsb_after)  # registered after it: new price
    assert t.price_e4_per_kwh == 13000
    exact = Fraction(lsb_before * 7000 + lsb_after * 13000, NUM)
    assert e4(t.cost_units, t.cost_e4) == int(exact)
    recs = t.freezes.records(freeze.TARIFF_SWITCH)
    assert len(recs) == 1 and recs[0]["sod"] == 12 * 3600 + at_s and recs[0]["rate"] == 2


@PROPS
@given(st.lists(st.tuples(st.sampled_from(["poll", "set"]), st.integers(-5 * 86400, 5 * 86400),
                          st.integers(0, 5000)), min_size=1, max_size=30))
def test_clock_set_never_double_bills_or_skips_a_daily_freeze(moves):
    t = new_engine(zhejiang(), START + 10, 0)
    now = (START + 10) * 86400
    furthest = now
    booked = 0
    for kind, delta, lsb in moves:
        now = max(now + delta, START * 86400)
        if kind == "set":
            t.clock_set(now // 86400, now % 86400)
        else:
            t.poll(now // 86400, now % 86400)
        t.book(lsb)
        booked += lsb
        furthest = max(furthest, now)
    days = [r["day"] for r in t.freezes.records(freeze.DAILY)]
    expect = list(range(START + 11, furthest // 86400 + 1))[-62:]
    assert days == expect  # every midnight up to the furthest time reached, once, in order
    assert t.freezes.taken[freeze.DAILY] == furthest // 86400 - (START + 10)
    assert sum(r.kwh * NUM + r.frac for r in t.rate_energy) == booked * DEN  # each LSB priced once


def test_settlement_once_even_when_the_clock_goes_back_over_it():
    t = new_engine(zhejiang(), day_of(dt.date(2026, 12, 31)), 23 * 3600)
    t.book(3000 * NUM)  # 3000 kWh this year: tier 2
    assert t.tier == 2
    jan1 = day_of(dt.date(2027, 1, 1))
    t.poll(jan1, 60)
    assert t.tier == 1 and t.freezes.taken[freeze.SETTLEMENT] == 1
    t.book(10 * NUM)
    t.clock_set(jan1 - 1, 23 * 3600)  # back over the settlement instant
    t.poll(jan1, 120)
    assert t.freezes.taken[freeze.SETTLEMENT] == 1 and t.step_energy.kwh == 10


# --- a postpaid year through the engine, against decimal ----------------------------------
LOAD = [("00:00", 150), ("07:00", 900), ("09:00", 300), ("18:00", 1500), ("23:00", 150)]  # W


def load_w(sod: int) -> int:
    w = LOAD[-1][1]
    for hhmm, p in LOAD:
        if int(hhmm[:2]) * 3600 + int(hhmm[3:]) * 60 <= sod:
            w = p
    return w


def test_postpaid_year_matches_decimal_to_the_money_unit():
    """A year at 60 s passes; energy per pass from the load profile (in LSB,
    carried exactly); the bill recomputed here with Decimal from the tariff text."""
    getcontext().prec = 50
    obj = zhejiang()
    start = day_of(dt.date(2026, 1, 1))
    t = new_engine(obj, start, 0)
    rates_dec = {int(k): Decimal(v) for k, v in obj["rates"].items()}
    th = [Decimal(x) for x in obj["steps"]["thresholds_kwh"]]
    sur = [Decimal(x) for x in obj["steps"]["surcharges"]]
    kwh_rate = {r: Decimal(0) for r in range(1, 5)}
    cost_rate = {r: Decimal(0) for r in range(1, 5)}
    cost_tier = {i: Decimal(0) for i in range(1, 4)}
    runs_rate = {r: 0 for r in range(1, 5)}  # price changes into each rate / tier
    runs_tier = {i: 0 for i in range(1, 4)}
    consumed = Decimal(0)
    carry = 0  # LSB owed x 3.6e6 (J x num / 3.6e6 = LSB)
    last = (0, 0)
    points = None
    for k in range(1, 365 * 1440 + 1):
        off = k * 60
        day, sod = start + off // 86400, off % 86400
        if sod == 0 and (EPOCH + dt.timedelta(day)).strftime("%m-%d") == "01-01":
            consumed = Decimal(0)  # yearly settlement "01-01 00:00": energy registered from then on is the new year's
        if sod == 0 or points is None:
            points = [(int(h[:2]) * 3600 + int(h[3:]) * 60, r) for h, r in obj["days"][brute_profile(obj, day)]]
        t.poll(day, sod)
        carry += load_w((sod - 60) % 86400) * 60 * NUM
        lsb, carry = divmod(carry, 3_600_000)
        t.book(lsb)
        # independent pricing of this pass, split at thresholds exactly
        rate = points[-1][1]
        for s0, r in points:
            if s0 <= sod:
                rate = r
        e = Decimal(lsb) / Decimal(NUM)
        while e > 0:
            tier = 1 + sum(1 for x in th if consumed >= x)
            part = min([x - consumed for x in th if x > consumed] + [e])
            if (rate, tier) != last:
                runs_rate[rate] += 1
                runs_tier[tier] += 1
                last = (rate, tier)
            c = part * (rates_dec[rate] + sur[tier - 1])
            kwh_rate[rate] += part
            cost_rate[rate] += c
            cost_tier[tier] += c
            consumed += part
            e -= part
    unit = Decimal("0.0001")
    total = sum(cost_rate.values())
    got_total = Decimal(t.cost_units) + Decimal(t.cost_e4) / 10000
    assert got_total == total.quantize(unit, rounding=ROUND_FLOOR)  # carried remainder: exact to the unit
    assert total > 2000  # a real bill: ~5500 kWh, all three tiers
    for r in range(1, 5):
        reg = t.rate_energy[r]
        assert abs(Decimal(reg.kwh) + Decimal(reg.frac) / NUM - kwh_rate[r]) < Decimal("1e-12")
        got = Decimal(t.rate_cost_units[r]) + Decimal(t.rate_cost_e4[r]) / 10000
        # the carry moves at most one unit between registers per price change
        assert abs(got - cost_rate[r]) <= unit * runs_rate[r], r
        assert abs(got - cost_rate[r]) <= cost_rate[r] / 1000  # and 0.1 %
    for i in range(1, 4):
        got = Decimal(t.tier_cost_units[i]) + Decimal(t.tier_cost_e4[i]) / 10000
        assert abs(got - cost_tier[i]) <= unit * runs_tier[i], i
    assert t.tier == 1 and t.freezes.taken[freeze.SETTLEMENT] == 1  # settled at 2027-01-01 00:00
    assert t.freezes.taken[freeze.DAILY] == 365 and t.freezes.taken[freeze.BILLING] == 12


# --- every class of invalid tariff, with its key and reason ---------------------------------
def _set(obj, path, value):
    node = obj
    for k in path[:-1]:
        node = node[k]
    if value is _DEL:
        del node[path[-1]]
    else:
        node[path[-1]] = value


_DEL = object()
INVALID = [
    (("days", "restday", 0, 0), "8:00", "days.restday[0]: time '8:00' is not HH:MM"),
    (("days", "restday", 1, 0), "24:00", "days.restday[1]: time 24:00 does not exist"),
    (("days", "restday", 1, 1), 0, "days.restday[1]: rate 0 outside 1..4"),
    (("days", "restday", 1, 1), "3", "days.restday[1]: rate must be a whole number, not a string"),
    (("days", "restday"), [], "days.restday: needs 1..16 switch points, has 0"),
    (("weeks", "std"), ["workday"] * 6, "weeks.std: needs exactly 7 day names (Monday..Sunday), has 6"),
    (("seasons",), [["01-01", "std"], ["01-01", "std"]], "seasons[1]: duplicate season start 01-01"),
    (("seasons",), [["06-01", "std"], ["01-01", "std"]], "seasons[1]: season start 01-01 is before the previous one"),
    (("seasons", 0, 1), "winter", "seasons[0]: unknown week name \"winter\""),
    (("special_days", 0, 0), "02-30", "special_days[0]: date 02-30 does not exist"),
    (("special_days", 1, 0), "2027-2-06", "special_days[1]: date '2027-2-06' is not MM-DD"),
    (("special_days", 1, 0), "1999-02-06", "special_days[1]: year 1999 outside 2000..2099"),
    (("special_days", 1, 0), "10-01", "special_days[1]: duplicate special day 10-01"),
    (("rates", "3"), _DEL, "rates: rate 3 (the fallback when the clock is unset) has no price"),
    (("rates", "1"), _DEL, "days.workday[4]: rate 1 has no price in rates"),
    (("rates", "1"), "1,5", "rates.1: price \"1,5\" is not a decimal number"),
    (("rates", "1"), "2000.0000", "rates.1: price with the top surcharge is above the meter's limit"),
    (("steps", "surcharges", 1), "-0.05", "steps.surcharges[1]: surcharge -0.05 is negative"),
    (("steps", "surcharges", 2), "0.00001", "steps.surcharges[2]: surcharge 0.00001 has more than 4 decimals"),
    (("steps", "thresholds_kwh", 0), "0", "steps.thresholds_kwh[0]: threshold must be above 0 kWh"),
    (("steps", "thresholds_kwh", 0), "1.2345", "steps.thresholds_kwh[0]: threshold 1.2345 has more than 3 decimals"),
    (("steps", "thresholds_kwh", 1), "2760", "steps.thresholds_kwh[1]: threshold 2760 is not above the previous"),
    (("steps", "period"), "week", "steps.period: must be \"month\" or \"year\""),
    (("steps", "settle"), "02-29 00:00", "steps.settle: 02-29 does not come every year"),
    (("steps", "cap"), 1, "steps.cap: unknown key"),
    (("billing_days",), [1, 1], "billing_days[1]: duplicate billing day 1"),
    (("billing_days",), [31], "billing_days[0]: billing day 31 outside 1..28"),
    (("weeks",), _DEL, "weeks: missing"),
    (("currency",), 5, "currency: must be a code"),
]


@pytest.mark.parametrize("path, value, message", INVALID, ids=[m.split(":")[0] + "-" + str(i) for i, (_, _, m) in enumerate(INVALID)])
def test_invalid_tariff_is_rejected_with_key_and_reason(path, value, message):
    obj = zhejiang()
    _set(obj, path, value)
    with pytest.raises(tariff.TariffError) as e:
        tariff.parse(obj)
    assert str(e.value).startswith("tariff: " + message)


def test_rejected_tariff_keeps_the_old_one():
    t = new_engine(zhejiang(), START, 12 * 3600)
    bad = zhejiang()
    bad["rates"]["2"] = "-1"
    with pytest.raises(tariff.TariffError):
        t.set_passive(tariff.parse(bad), START, 12 * 3600)
    t.poll(START, 12 * 3600 + 60)
    assert t.price_e4_per_kwh == 7000 and t.passive is None
