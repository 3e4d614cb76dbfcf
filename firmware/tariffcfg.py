"""Tariff configuration: validate a whole tariff object (tariff.md) into a Table.

A tariff is checked as a whole before it can be activated: the first problem
found raises TariffError("tariff: <key path>: <reason>") and nothing changes.
The message is written here once; the console shows the same text.
Prices and thresholds are decimal strings, turned into integers (0.0001
currency units, Wh) without a float ever being made.
"""
from micropython import const

RATES = const(4)  # rate indices 1..4 (1 sharp, 2 peak, 3 flat, 4 valley)
FALLBACK_RATE = const(3)  # rate for an unset clock or an invalid table entry
PERIOD_MONTH = const(1)
PERIOD_YEAR = const(2)
# price + surcharge must stay below 2**24 e4 (1677.7215 per kWh): the cost
# arithmetic in tariff.py takes the price in six 4-bit digits.
PRICE_MAX_E4 = const(16_777_215)
_MAX_POINTS = const(16)  # switch points per day profile
_MAX_DAYS = const(16)
_MAX_WEEKS = const(8)
_MAX_SEASONS = const(12)
_MAX_SPECIAL = const(64)
_MAX_THRESHOLDS = const(7)
_MAX_BILLING_DAYS = const(3)
_THRESHOLD_MAX_WH = const(999_999_000)  # below the energy registers' rollover
_TOP_KEYS = ("currency", "rates", "days", "weeks", "seasons", "special_days", "steps", "billing_days")
_STEP_KEYS = ("period", "settle", "thresholds_kwh", "surcharges")
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class TariffError(ValueError):
    """str(e) is the whole message: 'tariff: <key path>: <reason>'."""


def _fail(path, reason):
    raise TariffError("tariff: %s: %s" % (path, reason))


class Table:
    """A validated tariff, in the integer form the engine uses.

    prices_e4[r]     rate r's price (0.0001 currency units per kWh); index 0 unused,
                     -1 where the tariff defines no price
    day_names        profile names, index = day profile number
    day_sods[i]      switch instants of profile i (second of day, increasing)
    day_rates[i]     the rate from each switch instant on
    week_days[w]     7 day-profile numbers, Monday..Sunday
    season_mds       season starts as month*100+day, increasing; season_weeks[k] its week
    special_md       {month*100+day: day profile} for yearly special days
    special_day      {days since 2000-01-01: day profile} for dated special days
    step_period      0 (no steps), PERIOD_MONTH or PERIOD_YEAR
    settle_month/settle_dom/settle_sod   settlement instant (month unused for monthly)
    thresholds_wh    tier thresholds (Wh, increasing); surcharges_e4 one per tier
    billing_doms     days of the month with a billing freeze at 00:00
    """

    def __init__(self):
        self.currency = ""
        self.prices_e4 = [-1, -1, -1, -1, -1]
        self.day_names = []
        self.day_sods = []
        self.day_rates = []
        self.week_names = []
        self.week_days = []
        self.season_mds = []
        self.season_weeks = []
        self.special_md = {}
        self.special_day = {}
        self.step_period = 0
        self.settle_month = 1
        self.settle_dom = 1
        self.settle_sod = 0
        self.thresholds_wh = []
        self.surcharges_e4 = [0]
        self.billing_doms = [1]


# --- small parsers (each names the key it reads) -----------------------------
def _digits(s):
    return len(s) > 0 and s.isdigit()


def decimal_e(text, places, path, what):
    """'12.34' -> 123400 for places=4. Non-negative, at most `places` decimals."""
    if not isinstance(text, str):
        _fail(path, "%s must be a decimal string like \"0.5000\", not %s" % (what, _kind(text)))
    s = text
    if s.startswith("-"):
        _fail(path, "%s %s is negative" % (what, text))
    if "." in s:
        whole, frac = s.split(".", 1)
    else:
        whole, frac = s, ""
    if not _digits(whole) or (("." in s) and not _digits(frac)):
        _fail(path, "%s \"%s\" is not a decimal number (digits, optionally '.' and decimals)" % (what, text))
    if len(frac) > places:
        _fail(path, "%s %s has more than %d decimals" % (what, text, places))
    if len(whole) > 9:
        _fail(path, "%s %s is too large" % (what, text))
    return int(whole) * (10 ** places) + (int(frac + "0" * (places - len(frac))) if frac else 0)


def _kind(v):
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "a number"
    if isinstance(v, float):
        return "a float"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list) or isinstance(v, tuple):
        return "a list"
    if isinstance(v, dict):
        return "a table"
    return type(v).__name__


def hhmm_s(text, path):
    """'HH:MM' -> second of day."""
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":" \
            or not _digits(text[:2]) or not _digits(text[3:]):
        _fail(path, "time %r is not HH:MM" % (text,))
    h, m = int(text[:2]), int(text[3:])
    if h > 23 or m > 59:
        _fail(path, "time %s does not exist (00:00..23:59)" % text)
    return h * 3600 + m * 60


def month_day(text, path):
    """'MM-DD' -> month*100 + day (02-29 allowed: it exists in leap years)."""
    if not isinstance(text, str) or len(text) != 5 or text[2] != "-" \
            or not _digits(text[:2]) or not _digits(text[3:]):
        _fail(path, "date %r is not MM-DD" % (text,))
    m, d = int(text[:2]), int(text[3:])
    if not 1 <= m <= 12 or not 1 <= d <= _MONTH_DAYS[m - 1]:
        _fail(path, "date %s does not exist" % text)
    return m * 100 + d


def _leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def days_from_civil(y, m, d):
    """Days since 2000-01-01 (may be negative) for a proleptic Gregorian date."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 730425


def full_date(text, path):
    """'YYYY-MM-DD' (2000..2099) -> days since 2000-01-01."""
    if not isinstance(text, str) or len(text) != 10 or text[4] != "-" or text[7] != "-" \
            or not _digits(text[:4]) or not _digits(text[5:7]) or not _digits(text[8:]):
        _fail(path, "date %r is not YYYY-MM-DD" % (text,))
    y, m, d = int(text[:4]), int(text[5:7]), int(text[8:])
    if not 2000 <= y <= 2099:
        _fail(path, "year %d outside 2000..2099" % y)
    if not 1 <= m <= 12 or not 1 <= d <= _MONTH_DAYS[m - 1] or (m == 2 and d == 29 and not _leap(y)):
        _fail(path, "date %s does not exist" % text)
    return days_from_civil(y, m, d)


def _list(v, path, what, lo, hi):
    if not isinstance(v, list):
        _fail(path, "%s must be a list, not %s" % (what, _kind(v)))
    if not lo <= len(v) <= hi:
        if lo == hi:
            _fail(path, "needs exactly %d %s, has %d" % (lo, what, len(v)))
        _fail(path, "needs %d..%d %s, has %d" % (lo, hi, what, len(v)))
    return v


def _dict(v, path, what):
    if not isinstance(v, dict):
        _fail(path, "%s must be a table of name -> value, not %s" % (what, _kind(v)))
    return v


def _pair(v, path):
    if not isinstance(v, list) or len(v) != 2:
        _fail(path, "must be a pair [key, value], not %r" % (v,))
    return v


def _name(v, path, known, what):
    if not isinstance(v, str):
        _fail(path, "%s must be a name, not %s" % (what, _kind(v)))
    if v not in known:
        _fail(path, "unknown %s name \"%s\" (known: %s)" % (what, v, ", ".join(known)))
    return known.index(v)


def _small_int(v, path, what, lo, hi):
    if isinstance(v, bool) or not isinstance(v, int):
        _fail(path, "%s must be a whole number, not %s" % (what, _kind(v)))
    if not lo <= v <= hi:
        _fail(path, "%s %d outside %d..%d" % (what, v, lo, hi))
    return v


# --- the whole object ------------------------------------------------------------
def parse(obj):
    """Validate a tariff object (dict from json.loads or a TOML table) as a whole."""
    t = Table()
    if not isinstance(obj, dict):
        _fail("(top)", "a tariff must be a table/object, not %s" % _kind(obj))
    for k in sorted(obj):
        if k not in _TOP_KEYS:
            _fail(k, "unknown key (allowed: %s)" % ", ".join(_TOP_KEYS))
    for k in ("rates", "days", "weeks", "seasons"):
        if k not in obj:
            _fail(k, "missing (required: rates, days, weeks, seasons)")
    if "currency" in obj:
        c = obj["currency"]
        if not isinstance(c, str) or not 1 <= len(c) <= 8:
            _fail("currency", "must be a code of 1..8 characters like \"CNY\"")
        t.currency = c
    _rates(t, _dict(obj["rates"], "rates", "rates"))
    _days(t, _dict(obj["days"], "days", "days"))
    _weeks(t, _dict(obj["weeks"], "weeks", "weeks"))
    _seasons(t, obj["seasons"])
    if "special_days" in obj:
        _special(t, obj["special_days"])
    if "steps" in obj:
        _steps(t, _dict(obj["steps"], "steps", "steps"))
    if "billing_days" in obj:
        _billing(t, obj["billing_days"])
    top = 0
    for s in t.surcharges_e4:
        top = max(top, s)
    for r in range(1, RATES + 1):
        if t.prices_e4[r] + top > PRICE_MAX_E4:
            _fail("rates.%d" % r, "price with the top surcharge is above the meter's limit 1677.7215 per kWh")
    return t


def _rates(t, d):
    if not d:
        _fail("rates", "no rate has a price")
    for k in sorted(d):
        path = "rates.%s" % k
        if k not in ("1", "2", "3", "4"):
            _fail(path, "rate %s outside 1..4" % k)
        t.prices_e4[int(k)] = decimal_e(d[k], 4, path, "price")
    if t.prices_e4[FALLBACK_RATE] < 0:
        _fail("rates", "rate 3 (the fallback when the clock is unset) has no price")


def _days(t, d):
    if not 1 <= len(d) <= _MAX_DAYS:
        _fail("days", "needs 1..%d day profiles, has %d" % (_MAX_DAYS, len(d)))
    for name in sorted(d):
        path = "days.%s" % name
        pts = _list(d[name], path, "switch points", 1, _MAX_POINTS)
        sods, rates = [], []
        for i in range(len(pts)):
            p = "%s[%d]" % (path, i)
            pair = _pair(pts[i], p)
            s = hhmm_s(pair[0], p)
            if sods and s == sods[-1]:
                _fail(p, "duplicate switch point %s" % pair[0])
            if sods and s < sods[-1]:
                _fail(p, "switch point %s is before the previous one (switch points must be sorted)" % pair[0])
            r = _small_int(pair[1], p, "rate", 1, RATES)
            if t.prices_e4[r] < 0:
                _fail(p, "rate %d has no price in rates" % r)
            sods.append(s)
            rates.append(r)
        t.day_names.append(name)
        t.day_sods.append(sods)
        t.day_rates.append(rates)


def _weeks(t, d):
    if not 1 <= len(d) <= _MAX_WEEKS:
        _fail("weeks", "needs 1..%d week profiles, has %d" % (_MAX_WEEKS, len(d)))
    for name in sorted(d):
        path = "weeks.%s" % name
        days = _list(d[name], path, "day names (Monday..Sunday)", 7, 7)
        row = []
        for i in range(7):
            row.append(_name(days[i], "%s[%d]" % (path, i), t.day_names, "day"))
        t.week_names.append(name)
        t.week_days.append(row)


def _seasons(t, v):
    v = _list(v, "seasons", "seasons", 1, _MAX_SEASONS)
    for i in range(len(v)):
        p = "seasons[%d]" % i
        pair = _pair(v[i], p)
        md = month_day(pair[0], p)
        if t.season_mds and md == t.season_mds[-1]:
            _fail(p, "duplicate season start %s" % pair[0])
        if t.season_mds and md < t.season_mds[-1]:
            _fail(p, "season start %s is before the previous one (seasons must be sorted)" % pair[0])
        t.season_mds.append(md)
        t.season_weeks.append(_name(pair[1], p, t.week_names, "week"))


def _special(t, v):
    v = _list(v, "special_days", "special days", 0, _MAX_SPECIAL)
    for i in range(len(v)):
        p = "special_days[%d]" % i
        pair = _pair(v[i], p)
        text = pair[0]
        if isinstance(text, str) and len(text) == 10:
            key = full_date(text, p)
            table = t.special_day
        else:
            key = month_day(text, p)
            table = t.special_md
        if key in table:
            _fail(p, "duplicate special day %s" % text)
        table[key] = _name(pair[1], p, t.day_names, "day")


def _steps(t, d):
    for k in sorted(d):
        if k not in _STEP_KEYS:
            _fail("steps.%s" % k, "unknown key (allowed: %s)" % ", ".join(_STEP_KEYS))
    for k in ("period", "thresholds_kwh", "surcharges"):
        if k not in d:
            _fail("steps.%s" % k, "missing")
    period = d["period"]
    if period == "year":
        t.step_period = PERIOD_YEAR
        settle = d.get("settle", "01-01 00:00")
        if not isinstance(settle, str) or len(settle) != 11 or settle[5] != " ":
            _fail("steps.settle", "yearly settlement %r is not \"MM-DD HH:MM\"" % (settle,))
        md = month_day(settle[:5], "steps.settle")
        if md == 229:
            _fail("steps.settle", "02-29 does not come every year")
        t.settle_month, t.settle_dom = md // 100, md % 100
        t.settle_sod = hhmm_s(settle[6:], "steps.settle")
    elif period == "month":
        t.step_period = PERIOD_MONTH
        settle = d.get("settle", "01 00:00")
        if not isinstance(settle, str) or len(settle) != 8 or settle[2] != " " or not _digits(settle[:2]):
            _fail("steps.settle", "monthly settlement %r is not \"DD HH:MM\"" % (settle,))
        dom = int(settle[:2])
        if not 1 <= dom <= 28:
            _fail("steps.settle", "day %d outside 1..28 (every month has it)" % dom)
        t.settle_dom = dom
        t.settle_sod = hhmm_s(settle[3:], "steps.settle")
    else:
        _fail("steps.period", "must be \"month\" or \"year\", not %r" % (period,))
    th = _list(d["thresholds_kwh"], "steps.thresholds_kwh", "thresholds", 0, _MAX_THRESHOLDS)
    wh = []
    for i in range(len(th)):
        p = "steps.thresholds_kwh[%d]" % i
        v = decimal_e(th[i], 3, p, "threshold")
        if v == 0:
            _fail(p, "threshold must be above 0 kWh")
        if v > _THRESHOLD_MAX_WH:
            _fail(p, "threshold %s above 999999 kWh" % th[i])
        if wh and v <= wh[-1]:
            _fail(p, "threshold %s is not above the previous one (thresholds must increase)" % th[i])
        wh.append(v)
    sc = d["surcharges"]
    if not isinstance(sc, list):
        _fail("steps.surcharges", "surcharges must be a list, not %s" % _kind(sc))
    if len(sc) != len(wh) + 1:
        _fail("steps.surcharges", "needs %d surcharges (thresholds + 1), has %d" % (len(wh) + 1, len(sc)))
    t.thresholds_wh = wh
    t.surcharges_e4 = [decimal_e(sc[i], 4, "steps.surcharges[%d]" % i, "surcharge") for i in range(len(sc))]


def _billing(t, v):
    v = _list(v, "billing_days", "billing days", 1, _MAX_BILLING_DAYS)
    doms = []
    for i in range(len(v)):
        p = "billing_days[%d]" % i
        dom = _small_int(v[i], p, "billing day", 1, 28)
        if dom in doms:
            _fail(p, "duplicate billing day %d" % dom)
        doms.append(dom)
    doms.sort()
    t.billing_doms = doms
