"""Tariff engine: time-of-use rate + step (tier) surcharge, exact integer cost,
per-rate and per-tier registers, settlement and freezes (tariff.md).

The loop calls, each pass, `poll(day, sod, clock_valid)` (advance the clock)
and then `book(import_lsb)` (price the import energy metrology booked since
the previous pass at the tariff in force now). Time is local standard time
as two small ints: `day` = days since 2000-01-01 (a Saturday), `sod` =
second of day. A rate switch at instant s applies to energy booked at s and
after (the calendar's "last switch point at or before t").

Nothing scans the calendar per tick: the next instant at which anything can
change (rate switch, midnight, settlement, passive activation) is computed
when the previous one passes; until then poll() is two comparisons. book()
and poll() keep every integer within +-2**30 and, in steady state and across
a rate switch or a tier threshold, allocate nothing (freezes pack into
preallocated rings; activation and clock set may allocate).

Cost: cost_e4 = floor((units * price + carry) / num), where units are in
1/num kWh and price in 0.0001 units per kWh; the remainder is carried to the
next increment, so the costs of any split of the energy at one price sum to
the cost of the whole, and the carry keeps the lifetime total within one
money unit of the exact sum over all prices.
"""
from micropython import const

import freeze as fz
from metrology import EnergyRegister
from tariffcfg import FALLBACK_RATE, PERIOD_YEAR, RATES, Table, TariffError, days_from_civil, parse

__all__ = ("Tariff", "TariffError", "Table", "parse", "money_text", "FALLBACK_RATE")

_DAY_S = const(86400)
_CHUNK_UNITS = const(1 << 22)  # priced per step: keeps units * 15 and the cost small
_NUM_MIN = const(1 << 16)
_NUM_MAX = const(1 << 24)
_LATE_S = const(60)  # a freeze taken more than this after its instant is flagged late
_MAX_TIERS = const(8)
# take_cost_e4() is meant to be called every pass; a postpaid app that never
# calls it must not grow a big int: the pending sum saturates here.
_PENDING_CAP = const(1 << 29)


def money_text(units, e4):
    """(whole units, 0.0001 units) -> '12.3456'."""
    return "%d.%04d" % (units, e4)


def _add_money(units, e4, i, c):
    # Split register: whole currency units + 0.0001 units (< 10000), both small.
    e = e4[i] + c
    if e >= 10000:
        w = e // 10000
        units[i] += w
        e -= w * 10000
    e4[i] = e


class Tariff:
    """Prices import energy; num/den is the calibration's AENERGY LSB per kWh.

    import_reg, export_reg: metrology's registers (read for freezes only).
    balance_e4_fn: optional callable giving the prepaid balance for freezes.
    """

    def __init__(self, num, den, import_reg, export_reg, balance_e4_fn=None, freezes=None):
        if not (_NUM_MIN <= num <= _NUM_MAX and 1 <= den < 64):
            raise ValueError("tariff: calibration %d/%d LSB per kWh outside the engine's range" % (num, den))
        self.num = num
        self.den = den
        self.imp = import_reg
        self.exp = export_reg
        self.balance_e4_fn = balance_e4_fn
        self.freezes = freezes if freezes is not None else fz.FreezeLog()
        self._chunk_lsb = _CHUNK_UNITS // den
        self._far_kwh = (1 << 29) // num - 1  # thresholds further away cannot be reached by one chunk
        # registers (index = rate 1..4 or tier 1..8; index 0 unused)
        self.rate_energy = [EnergyRegister(num, den) for _ in range(RATES + 1)]
        self.step_energy = EnergyRegister(num, den)  # consumption in the current step period
        self.cost_units = 0  # total billed: whole currency units ...
        self.cost_e4 = 0  # ... + 0.0001 units
        self.rate_cost_units = [0] * (RATES + 1)
        self.rate_cost_e4 = [0] * (RATES + 1)
        self.tier_cost_units = [0] * (_MAX_TIERS + 1)
        self.tier_cost_e4 = [0] * (_MAX_TIERS + 1)
        self._pending_e4 = 0  # billed since the last take_cost_e4()
        self._carry = 0  # sub-0.0001 remainder of the cost, in 1/num of 0.0001 units
        # tariff state
        self.table = None
        self.passive = None
        self._act_day = -1  # passive activation instant; -1: none pending
        self._act_sod = 0
        self.rate = FALLBACK_RATE
        self.tier = 1
        self.price_e4_per_kwh = 0
        self._p5 = self._p4 = self._p3 = self._p2 = self._p1 = self._p0 = 0
        self._surcharges = [0]
        self._th_kwh = []
        self._th_frac = []
        self._nth = 0
        self.clock_invalid = True  # until the first poll with a valid clock
        self._day = 0  # time of the last poll (valid clock)
        self._sod = 0
        self._prof_day = -1  # cache: day profile in force on _prof_day
        self._prof = 0
        self._y = 2000  # scratch: civil date of the last _civil() call
        self._m = 1
        self._d = 1
        self._rate_next_day = 0
        self._rate_next_sod = 0
        self._settle_day = -1  # next settlement instant; -1: no steps
        self._settle_sod = 0
        self._settle_id = 0
        self._last_settle_id = 0
        self._last_midnight_day = 0  # daily/billing freezes taken up to this day
        self._next_day = 0  # the earliest of the instants above
        self._next_sod = 0

    # --- activation ----------------------------------------------------------
    def activate(self, table, day, sod):
        """Make table the active tariff now. Replacing one takes a tariff_switch freeze."""
        if self.table is None:
            self._day = day
            self._sod = sod
            self._last_midnight_day = day
            self.clock_invalid = False
        else:
            self.clock_invalid = False  # activating at a time means the time is known
            self._jump(day, sod, 0)
            self._freeze(fz.TARIFF_SWITCH, day, sod, 0)
        self._load(table, day, sod)
        self._evaluate(day, sod)
        self._schedule()

    def set_passive(self, table, day, sod):
        """Load table as passive; it becomes active at (day, sod), or at the next
        poll if that instant is already past."""
        if self.table is None:
            raise TariffError("tariff: passive: no active tariff to switch from")
        if day < self._day or (day == self._day and sod < self._sod):
            day = self._day
            sod = self._sod
        self.passive = table
        self._act_day = day
        self._act_sod = sod
        self._schedule()

    def _load(self, table, day, sod):
        self.table = table
        self._prof_day = -1
        self._surcharges = table.surcharges_e4
        num = self.num
        self._th_kwh = [wh // 1000 for wh in table.thresholds_wh]
        self._th_frac = [(wh % 1000) * num // 1000 for wh in table.thresholds_wh]
        self._nth = len(table.thresholds_wh)
        self.tier = self._tier_of_step()
        self._next_settlement(day, sod)
        self._last_settle_id = self._settle_id - 1
        self.rate = 0  # forces _evaluate to set the price

    def _tier_of_step(self):
        s = self.step_energy
        tier = 1
        for i in range(self._nth):
            k = self._th_kwh[i]
            if s.kwh > k or (s.kwh == k and s.frac > self._th_frac[i]):
                tier = i + 2
        return tier

    # --- calendar --------------------------------------------------------------
    def _civil(self, day):
        """Civil date of day (days since 2000-01-01) into _y, _m, _d (no allocation)."""
        z = day + 730425
        era = z // 146097
        doe = z - era * 146097
        yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
        doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
        mp = (5 * doy + 2) // 153
        self._d = doy - (153 * mp + 2) // 5 + 1
        m = mp + 3 if mp < 10 else mp - 9
        self._m = m
        self._y = yoe + era * 400 + (1 if m <= 2 else 0)

    def _profile(self, day):
        """Day profile in force on day: dated special day, yearly special day,
        else the season's week profile for the weekday."""
        if day == self._prof_day:
            return self._prof
        t = self.table
        if t is None:
            return 0
        p = t.special_day.get(day, -1)
        if p < 0:
            self._civil(day)
            md = self._m * 100 + self._d
            p = t.special_md.get(md, -1)
            if p < 0:
                mds = t.season_mds
                k = len(mds) - 1  # before the first start: the last season (wraps over new year)
                for i in range(len(mds)):
                    if mds[i] <= md:
                        k = i
                    else:
                        break
                p = t.week_days[t.season_weeks[k]][(day + 5) % 7]  # Monday = 0
        self._prof_day = day
        self._prof = p
        return p

    def _evaluate(self, day, sod):
        """Rate in force at (day, sod) and the instant it can next change."""
        if self.table is None:
            return
        p = self._profile(day)
        sods = self.table.day_sods[p]
        rates = self.table.day_rates[p]
        n = len(sods)
        r = rates[n - 1]  # before the first switch point: the day's last (wraps)
        nxt = _DAY_S
        for i in range(n):
            if sods[i] <= sod:
                r = rates[i]
            else:
                nxt = sods[i]
                break
        if nxt < _DAY_S:
            self._rate_next_day = day
            self._rate_next_sod = nxt
        else:
            self._rate_next_day = day + 1  # midnight: new day, new profile, freezes
            self._rate_next_sod = 0
        if r != self.rate:
            self.rate = r
            self._set_price()

    def _next_settlement(self, day, sod):
        """First settlement instant strictly after (day, sod), and its period id."""
        t = self.table
        if t is None or not t.step_period:
            self._settle_day = -1
            return
        self._civil(day)
        y = self._y
        m = self._m
        if t.step_period == PERIOD_YEAR:
            d = days_from_civil(y, t.settle_month, t.settle_dom)
            if d < day or (d == day and t.settle_sod <= sod):
                y += 1
                d = days_from_civil(y, t.settle_month, t.settle_dom)
            self._settle_id = y
        else:
            d = days_from_civil(y, m, t.settle_dom)
            if d < day or (d == day and t.settle_sod <= sod):
                m += 1
                if m > 12:
                    m = 1
                    y += 1
                d = days_from_civil(y, m, t.settle_dom)
            self._settle_id = y * 12 + m - 1
        self._settle_day = d
        self._settle_sod = t.settle_sod

    def _schedule(self):
        nd = self._rate_next_day
        ns = self._rate_next_sod
        d = self._settle_day
        if d >= 0 and (d < nd or (d == nd and self._settle_sod < ns)):
            nd = d
            ns = self._settle_sod
        d = self._act_day
        if d >= 0 and (d < nd or (d == nd and self._act_sod < ns)):
            nd = d
            ns = self._act_sod
        self._next_day = nd
        self._next_sod = ns

    # --- time --------------------------------------------------------------------
    def poll(self, day, sod, clock_valid=True):
        """Advance to (day, sod). Steady state: two comparisons, no allocation.
        clock_valid False: rate 3 (fallback), no time-based freeze; when the
        clock is valid again the freezes that fell in between are taken (late)."""
        if self.table is None:
            return
        if not clock_valid:
            if not self.clock_invalid:
                self.clock_invalid = True
                if self.rate != FALLBACK_RATE:
                    self.rate = FALLBACK_RATE
                    self._set_price()
            return
        if self.clock_invalid:
            self.clock_invalid = False
            self._jump(day, sod, fz.LATE)
            return
        if day < self._next_day or (day == self._next_day and sod < self._next_sod):
            if day > self._day or (day == self._day and sod >= self._sod):
                self._day = day
                self._sod = sod
                return
            self._jump(day, sod, 0)  # the clock stepped back
            return
        self._advance(day, sod, 0)

    def clock_set(self, day, sod):
        """The clock was set to (day, sod): re-evaluate at once. Forwards, the
        freezes in between are taken (flagged late + clock_set); backwards, none
        is repeated and no settlement restarts a period twice."""
        if self.table is None:
            return
        self.clock_invalid = False
        self._jump(day, sod, fz.LATE | fz.CLOCK_SET)

    def _jump(self, day, sod, flags):
        if day < self._day or (day == self._day and sod < self._sod):
            self._day = day
            self._sod = sod
            self._next_settlement(day, sod)  # its id says whether it already happened
        else:
            self._advance(day, sod, flags)
        self._evaluate(day, sod)
        self._schedule()

    def _advance(self, day, sod, flags):
        """Process every instant up to (day, sod) in order, freezes at their own time."""
        while not (day < self._next_day or (day == self._next_day and sod < self._next_sod)):
            ed = self._next_day
            es = self._next_sod
            f = flags
            if day > ed + 1 or (day == ed and sod - es > _LATE_S) or (day == ed + 1 and sod + _DAY_S - es > _LATE_S):
                f |= fz.LATE
            if es == 0 and ed > self._last_midnight_day:
                self._midnight(ed, f)
            if ed == self._settle_day and es == self._settle_sod:
                self._settle(ed, es, f)
            if ed == self._act_day and es == self._act_sod:
                self._switch(ed, es, f)
            self._evaluate(ed, es)
            self._schedule()
        self._day = day
        self._sod = sod

    def _midnight(self, day, flags):
        self._last_midnight_day = day
        self._freeze(fz.DAILY, day, 0, flags)
        self._civil(day)
        t = self.table
        if t is not None and self._d in t.billing_doms:
            self._freeze(fz.BILLING, day, 0, flags)

    def _settle(self, day, sod, flags):
        if self._settle_id > self._last_settle_id:
            self._freeze(fz.SETTLEMENT, day, sod, flags)
            self._last_settle_id = self._settle_id
            s = self.step_energy
            s.kwh = 0
            s.frac = 0
            if self.tier != 1:
                self.tier = 1
                self._set_price()
        self._next_settlement(day, sod)

    def _switch(self, day, sod, flags):
        self._freeze(fz.TARIFF_SWITCH, day, sod, flags)
        table = self.passive
        self.passive = None
        self._act_day = -1
        self._load(table, day, sod)

    def freeze_now(self, day, sod):
        """Instant freeze on command."""
        self._freeze(fz.INSTANT, day, sod, 0)

    def _freeze(self, kind, day, sod, flags):
        fn = self.balance_e4_fn
        self.freezes.take(kind, day, sod, flags, self.rate, self.tier, self.imp, self.rate_energy,
                          self.exp, self.step_energy, fn() if fn is not None else None)

    # --- pricing -------------------------------------------------------------------
    def _set_price(self):
        t = self.table
        p = 0
        if t is not None:
            p = t.prices_e4[self.rate] + self._surcharges[self.tier - 1]
        self.price_e4_per_kwh = p
        # price in six base-16 digits for the cost arithmetic
        self._p0 = p & 15
        self._p1 = (p >> 4) & 15
        self._p2 = (p >> 8) & 15
        self._p3 = (p >> 12) & 15
        self._p4 = (p >> 16) & 15
        self._p5 = (p >> 20) & 15

    def _cost(self, u):
        """floor((u * price + carry) / num) in 0.0001 units, carrying the remainder.
        Horner over the price's base-16 digits: every intermediate < 2**29
        (u <= 2**22, num <= 2**24)."""
        num = self.num
        t = u * self._p5
        q = t // num
        r = t - q * num
        t = r * 16 + u * self._p4
        k = t // num
        q = q * 16 + k
        r = t - k * num
        t = r * 16 + u * self._p3
        k = t // num
        q = q * 16 + k
        r = t - k * num
        t = r * 16 + u * self._p2
        k = t // num
        q = q * 16 + k
        r = t - k * num
        t = r * 16 + u * self._p1
        k = t // num
        q = q * 16 + k
        r = t - k * num
        t = r * 16 + u * self._p0 + self._carry
        k = t // num
        self._carry = t - k * num
        return q * 16 + k

    def book(self, import_lsb):
        """Price import energy (AENERGY LSB, 0 <= import_lsb < 2**24) at the
        current rate and tier, splitting it where it crosses a tier threshold."""
        while import_lsb > 0:
            n = import_lsb if import_lsb <= self._chunk_lsb else self._chunk_lsb
            import_lsb -= n
            self._book_units(n * self.den)

    def _book_units(self, u):
        s = self.step_energy
        while u > 0:
            tier = self.tier
            if tier <= self._nth:
                dk = self._th_kwh[tier - 1] - s.kwh
                if dk <= self._far_kwh:
                    room = dk * self.num + self._th_frac[tier - 1] - s.frac  # up to the threshold itself
                    if room < u:
                        if room > 0:
                            self._price(room)
                            u -= room
                        self.tier = tier + 1
                        self._set_price()
                        continue
            self._price(u)
            return

    def _price(self, u):
        c = self._cost(u)
        r = self.rate
        self.rate_energy[r].add_units(u)
        self.step_energy.add_units(u)
        e = self.cost_e4 + c
        if e >= 10000:
            w = e // 10000
            self.cost_units += w
            e -= w * 10000
        self.cost_e4 = e
        _add_money(self.rate_cost_units, self.rate_cost_e4, r, c)
        _add_money(self.tier_cost_units, self.tier_cost_e4, self.tier, c)
        if self._pending_e4 < _PENDING_CAP:
            self._pending_e4 += c

    def take_cost_e4(self):
        """Cost booked since the previous call (0.0001 units), for the prepay account."""
        c = self._pending_e4
        self._pending_e4 = 0
        return c
