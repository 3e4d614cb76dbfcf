"""Protected periods (prepay.md): friendly hours (may wrap midnight),
weekends, special days and the guaranteed-supply flag; and quiet hours.

at(day, sod) answers "is disconnection for lack of credit barred now?"
without allocating: the day-level answer (weekend, special day; a civil
date is formed for yearly special days) is cached for two days, today and
the day a look-ahead reaches. With an unset clock only the guaranteed-supply
flag protects: the wall time is unknown.
"""
from micropython import const

from clock import weekday

_DAY_S = const(86400)


def in_ranges(starts, ends, sod):
    """sod inside any [start, end) range; start > end wraps over midnight."""
    i = 0
    n = len(starts)
    while i < n:
        a = starts[i]
        b = ends[i]
        if (a <= sod < b) if a < b else (sod >= a or sod < b):
            return True
        i += 1
    return False


class Protection:
    def __init__(self, cfg, clock):
        self.cfg = cfg
        self.clock = clock
        self.guaranteed = cfg.guaranteed_supply  # set by an authorised command
        self._cd0 = self._cd1 = -1
        self._cv0 = self._cv1 = False

    def _day_flag(self, day):
        cfg = self.cfg
        if cfg.friendly_weekends and weekday(day) >= 5:
            return True
        if not cfg.friendly_special_days:
            return False
        fn = cfg.special_fn
        if callable(fn):
            return bool(fn(day))
        if day in cfg.special_day:
            return True
        if cfg.special_md:
            from clock import civil_from_days

            y, m, d = civil_from_days(day)  # allocates: once per day (cached)
            return (m * 100 + d) in cfg.special_md
        return False

    def _day_protected(self, day):
        if day == self._cd0:
            return self._cv0
        if day == self._cd1:
            return self._cv1
        v = self._day_flag(day)
        if day > self._cd0:  # keep the two newest days
            self._cd1, self._cv1 = self._cd0, self._cv0
            self._cd0, self._cv0 = day, v
        else:
            self._cd1, self._cv1 = day, v
        return v

    def at(self, day, sod):
        """Is disconnection for lack of credit barred at this wall time? (sod may
        run past midnight by less than a day: a look-ahead.)"""
        if self.guaranteed:
            return True
        if not self.clock.valid:
            return False
        if sod >= _DAY_S:
            day += 1
            sod -= _DAY_S
        if self._day_protected(day):
            return True
        return in_ranges(self.cfg.friendly_starts, self.cfg.friendly_ends, sod)

    def quiet(self, sod):
        return self.clock.valid and in_ranges(self.cfg.quiet_starts, self.cfg.quiet_ends, sod)
