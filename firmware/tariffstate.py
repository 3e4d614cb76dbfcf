"""The tariff's persistent state: registers, costs, and where its calendar stood.

Packed into the meter's one "regs" record (persist.py) so it commits together
with the energy, the account and the TID memory. Restored on top of a Tariff
that has its table activated; the first poll after that advances from the
stored instant to now, so the daily and billing freezes that fell inside an
outage are taken at power-up (flagged late) with the registers as they stood,
and a settlement that already happened is not repeated.

Layout (little-endian signed 32-bit): version, num, rates 1..4 (kWh, frac),
step (kWh, frac), cost (units, e4), rate costs 1..4 (units, e4), tier costs
1..8 (units, e4), carry, pending cost, last settlement id, last midnight day,
day, sod, tier, clock invalid, passive activation day (-1: none) and sod,
active tariff id. Fractions are in 1/num kWh; a record made with another
calibration's num is converted (the remainder only: < 1 kWh unit is lost).
"""
import struct

from micropython import const

VERSION = const(1)
_COUNT = const(49)
_FMT = "<49i"


def pack(t, tariff_id):
    v = [VERSION, t.num]
    for r in range(1, 5):
        v.append(t.rate_energy[r].kwh)
        v.append(t.rate_energy[r].frac)
    v.append(t.step_energy.kwh)
    v.append(t.step_energy.frac)
    v.append(t.cost_units)
    v.append(t.cost_e4)
    for r in range(1, 5):
        v.append(t.rate_cost_units[r])
        v.append(t.rate_cost_e4[r])
    for k in range(1, 9):
        v.append(t.tier_cost_units[k])
        v.append(t.tier_cost_e4[k])
    v.extend((t._carry, t._pending_e4, t._last_settle_id, t._last_midnight_day, t._day, t._sod,
              t.tier, 1 if t.clock_invalid else 0, t._act_day, t._act_sod, tariff_id))
    return struct.pack(_FMT, *v)


def unpack(b):
    """The stored values, checked; ValueError if the record is not one."""
    if len(b) != 4 * _COUNT:
        raise ValueError("tariff state: %d bytes, expected %d" % (len(b), 4 * _COUNT))
    v = struct.unpack(_FMT, b)
    if v[0] != VERSION:
        raise ValueError("tariff state: version %d, this firmware reads %d" % (v[0], VERSION))
    if v[1] < 1:
        raise ValueError("tariff state: LSB-per-kWh numerator %d" % v[1])
    return v


def tariff_id(v):
    return v[48]


def instant(v):
    """(day, sod) the stored registers stood at."""
    return v[42], v[43]


def restore(t, v):
    """Put unpack()'s values into tariff t (its table already activated)."""
    num = v[1]

    def frac(f):
        if num == t.num:
            return f
        return f * t.num // num

    i = 2
    for r in range(1, 5):
        t.rate_energy[r].restore(v[i], frac(v[i + 1]))
        i += 2
    t.step_energy.restore(v[i], frac(v[i + 1]))
    i += 2
    t.cost_units, t.cost_e4 = v[i], v[i + 1]
    i += 2
    for r in range(1, 5):
        t.rate_cost_units[r], t.rate_cost_e4[r] = v[i], v[i + 1]
        i += 2
    for k in range(1, 9):
        t.tier_cost_units[k], t.tier_cost_e4[k] = v[i], v[i + 1]
        i += 2
    carry, pending, settle_id, midnight, day, sod, tier, invalid, act_day, act_sod = v[i:i + 10]
    if not 0 <= sod < 86400 or not 1 <= tier <= 8 or not 0 <= carry:
        raise ValueError("tariff state: field out of range (sod %d, tier %d)" % (sod, tier))
    t._carry = carry if num == t.num else 0
    t._pending_e4 = pending
    t._last_settle_id = settle_id
    t._last_midnight_day = midnight
    t._day = day
    t._sod = sod
    t.clock_invalid = invalid == 1
    if t.passive is not None and act_day >= 0:
        t._act_day = act_day
        t._act_sod = act_sod
    t._next_settlement(day, sod)
    t.tier = tier
    t.rate = 0  # forces _evaluate to set the price of the restored tier
    t._prof_day = -1
    t._evaluate(day, sod)
    t._schedule()
