"""The [prepay] configuration (scenario.md, prepay.md): parsed once, at boot or
when the console changes it, into plain integers the hot path compares.

Money and energy values are decimal strings with at most 4 places, kept as
integer 0.0001 units (currency, or kWh in energy mode). Every configured
amount must lie within +-MONEY_LIMIT_E4 (100 000.0000): 2**30 e-4 units is
only 107 374 units, so a value beyond would not be an ESP32 small int. The
balance itself is a split register (account.py) and has no such limit.

parse_config(obj, special_days=None) -> Config, or PrepayError whose str is
"prepay: <key>: <reason>" (the line the console shows); nothing is changed
on error because nothing is built until every key has passed.
"""
from micropython import const

MONEY_LIMIT_E4 = const(1_000_000_000)  # 100 000.0000 units
_DAY_S = const(86400)

CURRENCY = "currency"
ENERGY = "energy"
AUTO = "auto"
BUTTON = "button"
_BASE_DATES = (1993, 2014, 2035)

# key -> default (None: required). Amounts are decimal strings.
_DEFAULTS = {
    "mode": CURRENCY,
    "balance": "0.0000",
    "alarm1": "20.0000",
    "alarm2": "5.0000",
    "emergency_limit": "10.0000",
    "emergency": AUTO,
    "reconnect_threshold": "2.0000",
    "reconnect": BUTTON,
    "friendly_hours": [],
    "friendly_weekends": False,
    "friendly_special_days": False,
    "guaranteed_supply": False,
    "max_balance": "99999.0000",
    "decoder_key": "",  # the token gateway's; checked here only for shape
    "sts_base_date": 2014,
    "currency_res": "0.0100",  # currency token amount unit (product convention)
    "safe_break_a": "30.0000",  # contact rating: never break above this current
    "safe_break_timeout_s": 900,  # then break anyway (logged)
    "power_limit_w": 0,  # 0: none (an STS class 2 token may set one)
    "power_window_s": 10,
    "power_trip_delay_s": 30,
    "power_holdoff_s": 60,
    "power_lockout_trips": 3,  # trips within power_lockout_window_s -> wait for the button
    "power_lockout_window_s": 3600,
    "quiet_hours": [],
    "silence_s": 3600,
}


class PrepayError(ValueError):
    pass


def _fail(key, why):
    raise PrepayError("prepay: %s: %s" % (key, why))


def decimal_e4(text, key):
    """'12.3456' -> 123456 (0.0001 units); at most 4 places, within the limit."""
    if not isinstance(text, str):
        _fail(key, "expected a decimal string like \"12.3400\", got %r" % (text,))
    s = text
    neg = s.startswith("-")
    if neg:
        s = s[1:]
    i = s.find(".")
    whole = s if i < 0 else s[:i]
    frac = "" if i < 0 else s[i + 1:]
    if not whole or not whole.isdigit() or (i >= 0 and (not frac or not frac.isdigit())):
        _fail(key, "%r is not a decimal number" % (text,))
    if len(frac) > 4:
        _fail(key, "%r has more than 4 decimal places" % (text,))
    if len(whole) > 6:
        _fail(key, "%r is beyond +-100000.0000" % (text,))
    v = int(whole) * 10000 + int((frac + "0000")[:4])
    if v > MONEY_LIMIT_E4:
        _fail(key, "%r is beyond +-100000.0000" % (text,))
    return -v if neg else v


def _hhmm(text, key):
    if len(text) != 5 or text[2] != ":" or not (text[:2] + text[3:]).isdigit():
        _fail(key, "%r is not HH:MM" % (text,))
    h, m = int(text[:2]), int(text[3:])
    if h > 24 or m > 59 or (h == 24 and m):
        _fail(key, "%r is not a time of day" % (text,))
    return h * 3600 + m * 60


def _ranges(v, key):
    """["18:00-08:00", ...] -> (starts, ends) in seconds of day; may wrap midnight."""
    if not isinstance(v, list):
        _fail(key, "expected a list of \"HH:MM-HH:MM\" strings")
    starts = []
    ends = []
    for i in range(len(v)):
        r = v[i]
        k = "%s[%d]" % (key, i)
        if not isinstance(r, str) or len(r) != 11 or r[5] != "-":
            _fail(k, "%r is not \"HH:MM-HH:MM\"" % (r,))
        a, b = _hhmm(r[:5], k), _hhmm(r[6:], k)
        if a == b:
            _fail(k, "%r is empty (start equals end)" % (r,))
        starts.append(a % _DAY_S)
        ends.append(b % _DAY_S)
    return starts, ends


def _int(v, key, lo, hi):
    if isinstance(v, bool) or not isinstance(v, int):
        _fail(key, "expected an integer, got %r" % (v,))
    if not lo <= v <= hi:
        _fail(key, "%d is outside %d..%d" % (v, lo, hi))
    return v


def _bool(v, key):
    if not isinstance(v, bool):
        _fail(key, "expected true or false, got %r" % (v,))
    return v


def _choice(v, key, a, b):
    if v != a and v != b:
        _fail(key, "%r is neither %r nor %r" % (v, a, b))
    return v


def _special(v):
    """A callable day -> bool, or a list of "MM-DD" / "YYYY-MM-DD" (or the
    tariff's [date, profile] pairs). Returns (callable or None, {md}, {day})."""
    import clock

    if v is None:
        return None, {}, {}
    if callable(v):
        return v, {}, {}
    if not isinstance(v, (list, tuple)):
        _fail("special_days", "expected a list of dates or a callable")
    md = {}
    days = {}
    for i in range(len(v)):
        item = v[i]
        if isinstance(item, (list, tuple)) and item:
            item = item[0]
        k = "special_days[%d]" % i
        if not isinstance(item, str):
            _fail(k, "%r is not a date" % (item,))
            return None, {}, {}
        d = str(item)
        try:
            if len(d) == 5 and d[2] == "-":
                mo, dd = int(d[:2]), int(d[3:])
                if not (1 <= mo <= 12 and 1 <= dd <= 31):
                    raise ValueError
                md[mo * 100 + dd] = True
            elif len(d) == 10 and d[4] == "-" and d[7] == "-":
                y, mo, dd = int(d[:4]), int(d[5:7]), int(d[8:])
                n = clock.days_from_civil(y, mo, dd)
                if not 1 <= mo <= 12 or clock.civil_from_days(n) != (y, mo, dd):
                    raise ValueError
                days[n] = True
            else:
                raise ValueError
        except ValueError:
            _fail(k, "%r is not MM-DD or YYYY-MM-DD" % (d,))
    return None, md, days


class Config:
    """Validated [prepay] settings; amounts in 0.0001 units, times in s."""

    def __init__(self):
        self.mode = CURRENCY
        self.balance_e4 = 0
        self.alarm1_e4 = 0
        self.alarm2_e4 = 0
        self.emergency_limit_e4 = 0
        self.emergency = AUTO
        self.reconnect_threshold_e4 = 0
        self.reconnect = BUTTON
        self.friendly_starts = []
        self.friendly_ends = []
        self.friendly_weekends = False
        self.friendly_special_days = False
        self.guaranteed_supply = False
        self.max_balance_e4 = 0
        self.decoder_key = ""
        self.sts_base_date = 2014
        self.currency_res_e4 = 100
        self.safe_break_ma = 30000
        self.safe_break_timeout_s = 900
        self.power_limit_w = 0
        self.power_window_s = 10
        self.power_trip_delay_s = 30
        self.power_holdoff_s = 60
        self.power_lockout_trips = 3
        self.power_lockout_window_s = 3600
        self.quiet_starts = []
        self.quiet_ends = []
        self.silence_s = 3600
        self.special_fn: object = None  # a callable day -> bool, or None
        self.special_md = {}
        self.special_day = {}


def parse_config(obj, special_days=None):
    """Validate a [prepay] dict; special_days: the tariff's list or a callable."""
    if not isinstance(obj, dict):
        raise PrepayError("prepay: (table): expected a table of settings")
    for k in obj:
        if k not in _DEFAULTS:
            _fail(k, "unknown key")
    v = {}
    for k in _DEFAULTS:
        v[k] = obj[k] if k in obj else _DEFAULTS[k]
    c = Config()
    c.mode = _choice(v["mode"], "mode", CURRENCY, ENERGY)
    c.balance_e4 = decimal_e4(v["balance"], "balance")
    c.alarm1_e4 = decimal_e4(v["alarm1"], "alarm1")
    c.alarm2_e4 = decimal_e4(v["alarm2"], "alarm2")
    c.emergency_limit_e4 = decimal_e4(v["emergency_limit"], "emergency_limit")
    c.reconnect_threshold_e4 = decimal_e4(v["reconnect_threshold"], "reconnect_threshold")
    c.max_balance_e4 = decimal_e4(v["max_balance"], "max_balance")
    if c.alarm2_e4 < 0:
        _fail("alarm2", "must not be negative")
    if c.alarm1_e4 < c.alarm2_e4:
        _fail("alarm1", "must be at least alarm2 (%s)" % v["alarm2"])
    if c.emergency_limit_e4 < 0:
        _fail("emergency_limit", "must not be negative (0 disables emergency credit)")
    if c.reconnect_threshold_e4 < 0:
        _fail("reconnect_threshold", "must not be negative")
    if c.max_balance_e4 <= c.alarm1_e4 or c.max_balance_e4 <= c.reconnect_threshold_e4:
        _fail("max_balance", "must be above alarm1 and reconnect_threshold")
    if c.balance_e4 > c.max_balance_e4:
        _fail("balance", "%s is above max_balance %s" % (v["balance"], v["max_balance"]))
    c.emergency = _choice(v["emergency"], "emergency", AUTO, BUTTON)
    c.reconnect = _choice(v["reconnect"], "reconnect", BUTTON, AUTO)
    c.friendly_starts, c.friendly_ends = _ranges(v["friendly_hours"], "friendly_hours")
    c.quiet_starts, c.quiet_ends = _ranges(v["quiet_hours"], "quiet_hours")
    c.friendly_weekends = _bool(v["friendly_weekends"], "friendly_weekends")
    c.friendly_special_days = _bool(v["friendly_special_days"], "friendly_special_days")
    c.guaranteed_supply = _bool(v["guaranteed_supply"], "guaranteed_supply")
    key = v["decoder_key"]
    if not isinstance(key, str) or (key and (len(key) != 16 or any(ch not in "0123456789abcdefABCDEF" for ch in key))):
        _fail("decoder_key", "expected 16 hex digits")
    c.decoder_key = key
    if v["sts_base_date"] not in _BASE_DATES:
        _fail("sts_base_date", "%r is not 1993, 2014 or 2035" % (v["sts_base_date"],))
    c.sts_base_date = v["sts_base_date"]
    c.currency_res_e4 = decimal_e4(v["currency_res"], "currency_res")
    if c.currency_res_e4 < 1:
        _fail("currency_res", "must be at least 0.0001")
    c.safe_break_ma = decimal_e4(v["safe_break_a"], "safe_break_a") // 10
    if c.safe_break_ma < 1000:
        _fail("safe_break_a", "must be at least 1 A")
    c.safe_break_timeout_s = _int(v["safe_break_timeout_s"], "safe_break_timeout_s", 0, 86400)
    c.power_limit_w = _int(v["power_limit_w"], "power_limit_w", 0, 100_000)
    c.power_window_s = _int(v["power_window_s"], "power_window_s", 1, 600)
    c.power_trip_delay_s = _int(v["power_trip_delay_s"], "power_trip_delay_s", 0, 3600)
    c.power_holdoff_s = _int(v["power_holdoff_s"], "power_holdoff_s", 0, 86400)
    c.power_lockout_trips = _int(v["power_lockout_trips"], "power_lockout_trips", 1, 100)
    c.power_lockout_window_s = _int(v["power_lockout_window_s"], "power_lockout_window_s", 0, 86400)
    c.silence_s = _int(v["silence_s"], "silence_s", 0, 86400)
    sd = special_days
    c.special_fn, c.special_md, c.special_day = _special(sd)
    return c
