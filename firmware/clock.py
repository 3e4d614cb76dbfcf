"""The one clock every service reads: monotonic ms and local standard wall time.

Wall time is integer seconds since 2000-01-01 00:00 local standard time
(product.md), kept as (day, sod): days since 2000-01-01 (a Saturday) and the
second of that day. day*86400+sod passes 2**30 in 2034, so the hot path never
forms it; wall_s() does, for edges only. The wall clock advances with the
ms ticks (the RTC is read at boot and written when the clock is set), so one
pass reads time once: update() is the only call that asks the hardware.
"""
from micropython import const

from ticks import ticks_diff

_SECONDS_PER_DAY = const(86400)
_WALL_MIN_DAY = const(9132)  # 2025-01-01: an RTC before this has lost its time


def days_from_civil(y, m, d):
    """Days since 2000-01-01 of a proleptic Gregorian date."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 730425  # 730425 = days from 0000-03-01 to 2000-01-01


def civil_from_days(z):
    """(year, month, day) of a day number since 2000-01-01."""
    z += 730425
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return (y + (m <= 2), m, d)


def weekday(day):
    """0 = Monday .. 6 = Sunday (day 0, 2000-01-01, was a Saturday)."""
    return (day + 5) % 7


def iso(day, sod):
    """'2026-03-01T08:00:00' (allocates: edges only)."""
    y, m, d = civil_from_days(day)
    return "%04d-%02d-%02dT%02d:%02d:%02d" % (y, m, d, sod // 3600, sod // 60 % 60, sod % 60)


def parse_iso(text):
    """(day, sod) from 'YYYY-MM-DDTHH:MM:SS'; ValueError says what is wrong."""
    if len(text) != 19 or text[4] != "-" or text[7] != "-" or text[10] != "T" \
            or text[13] != ":" or text[16] != ":":
        raise ValueError("time %r: expected YYYY-MM-DDTHH:MM:SS" % text)
    try:
        y, mo, d = int(text[0:4]), int(text[5:7]), int(text[8:10])
        h, mi, s = int(text[11:13]), int(text[14:16]), int(text[17:19])
    except ValueError:
        raise ValueError("time %r: expected digits in YYYY-MM-DDTHH:MM:SS" % text)
    day = days_from_civil(y, mo, d)
    if not (1 <= mo <= 12 and civil_from_days(day) == (y, mo, d)):
        raise ValueError("time %r: no such date" % text)
    if not (0 <= h < 24 and 0 <= mi < 60 and 0 <= s < 60):
        raise ValueError("time %r: no such time of day" % text)
    return day, h * 3600 + mi * 60 + s


class Clock:
    """ticks_ms: a function returning MicroPython-style ticks (wrapping at 2**30)."""

    def __init__(self, ticks_ms, day=0, sod=0, valid=False):
        self._ticks_ms = ticks_ms
        self.now_ms = ticks_ms()
        self.day = day
        self.sod = sod
        self.valid = valid  # False: the RTC lost its time and no one set it yet
        self.sets = 0  # times the wall clock was set: services compare to re-evaluate
        self._ms_carry = 0  # ms not yet turned into a wall second

    def update(self):
        """Read the hardware once per pass; advance the wall clock with it."""
        now = self._ticks_ms()
        dt = ticks_diff(now, self.now_ms)
        self.now_ms = now
        if dt <= 0:
            return
        carry = self._ms_carry + dt
        if carry >= 1000:
            secs = carry // 1000
            carry -= secs * 1000
            sod = self.sod + secs
            while sod >= _SECONDS_PER_DAY:
                sod -= _SECONDS_PER_DAY
                self.day += 1
            self.sod = sod
        self._ms_carry = carry

    def set(self, day, sod):
        """Set the wall clock (technician, RTC at boot); services see `sets` change."""
        if not (0 <= day and 0 <= sod < _SECONDS_PER_DAY):
            raise ValueError("clock: day %d second %d out of range" % (day, sod))
        self.day = day
        self.sod = sod
        self._ms_carry = 0
        self.valid = True
        self.sets += 1

    def set_from_rtc(self, dt):
        """dt: machine.RTC().datetime() tuple (y, m, d, wd, h, mi, s, us).
        An RTC that has lost its time (year before 2025) leaves the clock unset."""
        day = days_from_civil(dt[0], dt[1], dt[2])
        if day < _WALL_MIN_DAY:
            return False
        self.set(day, dt[4] * 3600 + dt[5] * 60 + dt[6])
        return True

    def rtc_tuple(self):
        """The wall time as machine.RTC().datetime() wants it."""
        y, m, d = civil_from_days(self.day)
        s = self.sod
        return (y, m, d, weekday(self.day), s // 3600, s // 60 % 60, s % 60, 0)

    def wall_s(self):
        """Seconds since 2000-01-01 (a big int on the device after 2034: edges only)."""
        return self.day * _SECONDS_PER_DAY + self.sod
