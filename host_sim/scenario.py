"""Scenario files (scenario.md): strict TOML validation into dataclasses.

Everything is checked before anything runs: unknown sections and keys, bad
times, durations and decimals, load profiles, events, and the tariff (through
the firmware's own validator, so the message is the meter's). Any problem
raises ScenarioError("FILE: KEY: reason").

Times are integer seconds since 2000-01-01 00:00 local standard time (the
firmware's clock); `day_sod(t)` splits one into the firmware's (day, sod).

    python -m host_sim.scenario SCENARIO.toml   # validate and summarise (exit 2 if invalid)
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import prepaycfg as fw_prepaycfg
import tariff as fw_tariff

EPOCH = dt.datetime(2000, 1, 1)
HOST_SIM = Path(__file__).resolve().parent

_SECTIONS = ("meter", "tariff", "prepay", "load", "event")
_METER_KEYS = ("start", "duration", "step_s", "voltage_v", "frequency_hz", "meter_number", "board", "calibration")
_LOAD_KEYS = ("daily", "segments", "pf")
_EVENT_ACTIONS = ("token", "button_s", "power_cut_s", "clock_set")
_PREPAY_KEYS = ("mode", "balance", "alarm1", "alarm2", "emergency_limit", "emergency", "reconnect_threshold",
                "reconnect", "friendly_hours", "friendly_weekends", "friendly_special_days", "max_balance",
                "decoder_key", "sts_base_date")
# the meter's further [prepay] settings (prepay.md), checked by the firmware's own validator
_PREPAY_MORE = tuple(k for k in fw_prepaycfg._DEFAULTS if k not in _PREPAY_KEYS)
_DURATION = re.compile(r"^([0-9]+)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MONEY = re.compile(r"^(-?)([0-9]{1,9})(?:\.([0-9]+))?$")


class ScenarioError(ValueError):
    """str(e) is the whole message: 'FILE: KEY: reason'."""


# --- time -----------------------------------------------------------------------
def day_sod(t: int) -> tuple[int, int]:
    """Seconds since 2000-01-01 -> (days since 2000-01-01, second of day)."""
    return t // 86400, t % 86400


def iso(t: int) -> str:
    return (EPOCH + dt.timedelta(seconds=t)).isoformat()


def money_text(e4: int) -> str:
    """0.0001 units -> '12.3456' (sign kept)."""
    sign = "-" if e4 < 0 else ""
    e4 = abs(e4)
    return f"{sign}{e4 // 10000}.{e4 % 10000:04d}"


# --- sections ----------------------------------------------------------------------
@dataclass(frozen=True)
class MeterSection:
    start_s: int
    duration_s: int
    step_s: int = 60
    voltage_v: float = 220.0
    frequency_hz: float = 50.0
    meter_number: str = "000000000001"
    board: Path | None = None  # None: default board, as in replay
    calibration: Path | None = None  # None: the board's shipped calibration

    @property
    def end_s(self) -> int:
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class PrepaySection:
    """Money fields in 0.0001 currency units (0.0001 kWh in energy mode)."""
    mode: str = "currency"
    balance_e4: int = 0
    alarm1_e4: int = 200_000
    alarm2_e4: int = 50_000
    emergency_limit_e4: int = 100_000
    emergency: str = "auto"
    reconnect_threshold_e4: int = 20_000
    reconnect: str = "button"
    friendly_hours: tuple[tuple[int, int], ...] = ()  # (start sod, end sod); end < start wraps midnight
    friendly_weekends: bool = False
    friendly_special_days: bool = False  # the meter's default (prepaycfg)
    max_balance_e4: int = 999_990_000
    decoder_key: bytes | None = None
    sts_base_date: int = 2014


@dataclass(frozen=True)
class LoadProfile:
    """Piecewise-constant load. daily: points are seconds of day and repeat every
    day (before the first point the day's last applies); segments: absolute times."""
    kind: str  # "daily" or "segments"
    times_s: tuple[int, ...]
    watts: tuple[float, ...]
    pfs: tuple[float, ...]

    def _index(self, t: int) -> int:
        key = t % 86400 if self.kind == "daily" else t
        k = -1
        for i, s in enumerate(self.times_s):
            if s <= key:
                k = i
            else:
                break
        return k

    def load_at(self, t: int) -> tuple[float, float]:
        """(watts, power factor) at time t (seconds since 2000)."""
        k = self._index(t)
        if k < 0:
            k = len(self.times_s) - 1 if self.kind == "daily" else 0
        return self.watts[k], self.pfs[k]

    def next_change(self, t: int) -> int | None:
        """The first instant after t at which the load may change (None: never)."""
        if self.kind == "daily":
            sod = t % 86400
            for s in self.times_s:
                if s > sod:
                    return t - sod + s
            return t - sod + 86400 + self.times_s[0]
        for s in self.times_s:
            if s > t:
                return s
        return None


@dataclass(frozen=True)
class Event:
    at_s: int
    kind: str  # token, button_s, power_cut_s, clock_set
    value: Any  # str token, float seconds, int seconds, int time (seconds since 2000)
    index: int  # position in the file ([[event]] number, from 0)


@dataclass
class Scenario:
    path: Path
    meter: MeterSection
    tariff_obj: dict
    tariff: fw_tariff.Table
    load: LoadProfile
    prepay: PrepaySection | None = None
    events: list[Event] = field(default_factory=list)
    prepay_obj: dict | None = None  # the [prepay] table as the meter's prepay.json

    @property
    def postpaid(self) -> bool:
        return self.prepay is None


# --- loading --------------------------------------------------------------------------
class _Ctx:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, reason: str) -> NoReturn:
        raise ScenarioError(f"{self.path}: {key}: {reason}")

    def keys(self, d: dict, where: str, allowed: tuple[str, ...]) -> None:
        for k in d:
            if k not in allowed:
                self.fail(f"{where}.{k}" if where else k, f"unknown key (allowed: {', '.join(allowed)})")

    def time(self, v: Any, key: str) -> int:
        if isinstance(v, dt.datetime):
            if v.tzinfo is not None:
                self.fail(key, "local standard time has no UTC offset")
            d = v
        elif isinstance(v, str):
            try:
                if len(v) != 19 or v[10] != "T":
                    raise ValueError
                d = dt.datetime.strptime(v, "%Y-%m-%dT%H:%M:%S")
            except ValueError:
                self.fail(key, f"time {v!r} is not YYYY-MM-DDTHH:MM:SS (a real local time)")
        else:
            self.fail(key, f"time must be a string like \"2026-01-01T00:00:00\", not {type(v).__name__}")
        if not 2000 <= d.year <= 2099:
            self.fail(key, f"year {d.year} outside 2000..2099 (the meter's calendar)")
        return int((d - EPOCH).total_seconds())

    def number(self, v: Any, key: str, lo: float, hi: float) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            self.fail(key, f"must be a number, not {v!r}")
        if not lo <= v <= hi:
            self.fail(key, f"{v} outside {lo:g}..{hi:g}")
        return float(v)

    def integer(self, v: Any, key: str, lo: int, hi: int) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(key, f"must be a whole number, not {v!r}")
        if not lo <= v <= hi:
            self.fail(key, f"{v} outside {lo}..{hi}")
        return v

    def money(self, v: Any, key: str, negative_ok: bool = False) -> int:
        if not isinstance(v, str):
            self.fail(key, f"must be a decimal string like \"10.0000\" (no floats), not {v!r}")
        m = _MONEY.match(v)
        if not m:
            self.fail(key, f"\"{v}\" is not a decimal number")
        sign, whole, frac = m.group(1), m.group(2), m.group(3) or ""
        if len(frac) > 4:
            self.fail(key, f"{v} has more than 4 decimals")
        if sign and not negative_ok:
            self.fail(key, f"{v} is negative")
        e4 = int(whole) * 10000 + int((frac + "0000")[:4])
        return -e4 if sign else e4

    def choice(self, v: Any, key: str, options: tuple[str, ...]) -> str:
        if v not in options:
            self.fail(key, f"must be one of {', '.join(options)}, not {v!r}")
        return v

    def boolean(self, v: Any, key: str) -> bool:
        if not isinstance(v, bool):
            self.fail(key, f"must be true or false, not {v!r}")
        return v

    def hhmm(self, v: Any, key: str) -> int:
        if not isinstance(v, str) or not re.fullmatch(r"[0-9]{2}:[0-9]{2}", v):
            self.fail(key, f"time of day {v!r} is not HH:MM")
        h, m = int(v[:2]), int(v[3:])
        if h > 23 or m > 59:
            self.fail(key, f"time of day {v} does not exist")
        return h * 3600 + m * 60

    def table(self, v: Any, key: str) -> dict:
        if not isinstance(v, dict):
            self.fail(key, f"must be a table, not {type(v).__name__}")
        return v


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file as a whole; raises ScenarioError."""
    p = Path(path)
    c = _Ctx(p)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ScenarioError(f"{p}: cannot read ({e.strerror})") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{p}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{p}: not valid TOML: {e}") from None
    return parse_scenario(raw, p)


def parse_scenario(raw: dict, path: Path) -> Scenario:
    c = _Ctx(path)
    c.keys(raw, "", _SECTIONS)
    for s in ("meter", "tariff", "load"):
        if s not in raw:
            c.fail(s, "section missing")
    meter = _meter(c, c.table(raw["meter"], "meter"), path)
    tobj = c.table(raw["tariff"], "tariff")
    try:
        table = fw_tariff.parse(tobj)
    except fw_tariff.TariffError as e:
        msg = str(e)
        rest = msg[len("tariff: "):] if msg.startswith("tariff: ") else msg
        raise ScenarioError(f"{path}: tariff.{rest}") from None
    load = _load(c, c.table(raw["load"], "load"), meter)
    prepay = _prepay(c, c.table(raw["prepay"], "prepay")) if "prepay" in raw else None
    pobj = None
    if prepay is not None:
        pobj = dict(raw["prepay"])
        try:  # the meter's own validator has the last word, so its message is the console's
            fw_prepaycfg.parse_config(pobj, tobj.get("special_days"))
        except fw_prepaycfg.PrepayError as e:
            msg = str(e)
            rest = msg[len("prepay: "):] if msg.startswith("prepay: ") else msg
            raise ScenarioError(f"{path}: prepay.{rest}") from None
    events = _events(c, raw.get("event", []), meter)
    return Scenario(path=path, meter=meter, tariff_obj=tobj, tariff=table, load=load, prepay=prepay, events=events,
                    prepay_obj=pobj)


def _path(c: _Ctx, v: Any, key: str, scenario: Path) -> Path:
    if not isinstance(v, str) or not v:
        c.fail(key, f"must be a file path, not {v!r}")
    p = Path(v)
    tries = [p] if p.is_absolute() else [scenario.parent / p, HOST_SIM / p]
    for t in tries:
        if t.is_file():
            return t
    c.fail(key, f"file {v} not found (looked in {', '.join(str(t.parent) for t in tries)})")


def _meter(c: _Ctx, d: dict, scenario: Path) -> MeterSection:
    c.keys(d, "meter", _METER_KEYS)
    for k in ("start", "duration"):
        if k not in d:
            c.fail(f"meter.{k}", "missing")
    start = c.time(d["start"], "meter.start")
    dur = d["duration"]
    m = _DURATION.match(dur) if isinstance(dur, str) else None
    if not m:
        c.fail("meter.duration", f"{dur!r} is not a duration like \"365d\" (s, m, h or d suffix)")
    duration = int(m.group(1)) * _UNIT_S[m.group(2)]
    if duration <= 0:
        c.fail("meter.duration", "must be longer than 0 s")
    step = c.integer(d.get("step_s", 60), "meter.step_s", 1, 3600)
    if start + duration > c.time("2099-12-31T23:59:59", "meter.duration"):
        c.fail("meter.duration", "the run would end after 2099 (the meter's calendar)")
    number = d.get("meter_number", "000000000001")
    if not isinstance(number, str) or not re.fullmatch(r"[0-9]{1,20}", number):
        c.fail("meter.meter_number", f"must be a string of digits, not {number!r}")
    return MeterSection(
        start_s=start, duration_s=duration, step_s=step,
        voltage_v=c.number(d.get("voltage_v", 220.0), "meter.voltage_v", 1.0, 500.0),
        frequency_hz=c.number(d.get("frequency_hz", 50.0), "meter.frequency_hz", 45.0, 65.0),
        meter_number=number,
        board=_path(c, d["board"], "meter.board", scenario) if "board" in d else None,
        calibration=_path(c, d["calibration"], "meter.calibration", scenario) if "calibration" in d else None,
    )


def _load(c: _Ctx, d: dict, meter: MeterSection) -> LoadProfile:
    c.keys(d, "load", _LOAD_KEYS)
    if ("daily" in d) == ("segments" in d):
        c.fail("load", "give exactly one of daily or segments")
    pf0 = _pf(c, d.get("pf", 1.0), "load.pf")
    kind = "daily" if "daily" in d else "segments"
    pts = d[kind]
    if not isinstance(pts, list) or not pts:
        c.fail(f"load.{kind}", "must be a non-empty list of [time, watts] or [time, watts, pf]")
    times, watts, pfs = [], [], []
    for i, pt in enumerate(pts):
        key = f"load.{kind}[{i}]"
        if not isinstance(pt, list) or len(pt) not in (2, 3):
            c.fail(key, f"must be [time, watts] or [time, watts, pf], not {pt!r}")
        t = c.hhmm(pt[0], key) if kind == "daily" else c.time(pt[0], key)
        if times and t <= times[-1]:
            c.fail(key, "times must increase (sorted, no duplicates)")
        times.append(t)
        watts.append(c.number(pt[1], key, -1e6, 1e6))
        pfs.append(_pf(c, pt[2], key) if len(pt) == 3 else pf0)
    if kind == "segments" and times[0] > meter.start_s:
        c.fail("load.segments[0]", f"starts after meter.start ({iso(meter.start_s)}): the load before it is undefined")
    return LoadProfile(kind=kind, times_s=tuple(times), watts=tuple(watts), pfs=tuple(pfs))


def _pf(c: _Ctx, v: Any, key: str) -> float:
    pf = c.number(v, key, -1.0, 1.0)
    if pf == 0.0:
        c.fail(key, "power factor 0 carries no active power; use 0 W instead")
    return pf


def _events(c: _Ctx, v: Any, meter: MeterSection) -> list[Event]:
    if not isinstance(v, list):
        c.fail("event", "must be an array of tables ([[event]])")
    out = []
    for i, e in enumerate(v):
        where = f"event[{i}]"
        e = c.table(e, where)
        c.keys(e, where, ("at", *_EVENT_ACTIONS))
        if "at" not in e:
            c.fail(f"{where}.at", "missing")
        at = c.time(e["at"], f"{where}.at")
        if not meter.start_s <= at < meter.end_s:
            c.fail(f"{where}.at", f"{iso(at)} is outside the run ({iso(meter.start_s)} up to {iso(meter.end_s)})")
        acts = [k for k in _EVENT_ACTIONS if k in e]
        if len(acts) != 1:
            c.fail(where, f"needs exactly one of {', '.join(_EVENT_ACTIONS)}, has {len(acts)}")
        kind = acts[0]
        key = f"{where}.{kind}"
        val = e[kind]
        if kind == "token":
            if not isinstance(val, str) or not re.fullmatch(r"[0-9]{20}", val):
                c.fail(key, f"a token is a string of 20 digits, not {val!r}")
        elif kind == "button_s":
            val = c.number(val, key, 0.05, 600.0)
        elif kind == "power_cut_s":
            val = c.integer(val, key, 1, 10 * 365 * 86400)
        else:
            val = c.time(val, key)
        out.append(Event(at_s=at, kind=kind, value=val, index=i))
    out.sort(key=lambda ev: ev.at_s)  # stable: same instant keeps file order
    return out


def _prepay(c: _Ctx, d: dict) -> PrepaySection:
    c.keys(d, "prepay", _PREPAY_KEYS + _PREPAY_MORE)
    kw: dict[str, Any] = {}
    if "mode" in d:
        kw["mode"] = c.choice(d["mode"], "prepay.mode", ("currency", "energy"))
    for k in ("balance", "alarm1", "alarm2", "emergency_limit", "reconnect_threshold", "max_balance"):
        if k in d:
            kw[f"{k}_e4"] = c.money(d[k], f"prepay.{k}", negative_ok=(k == "balance"))
    if "emergency" in d:
        kw["emergency"] = c.choice(d["emergency"], "prepay.emergency", ("auto", "button"))
    if "reconnect" in d:
        kw["reconnect"] = c.choice(d["reconnect"], "prepay.reconnect", ("button", "auto"))
    if "friendly_hours" in d:
        fh = d["friendly_hours"]
        if not isinstance(fh, list):
            c.fail("prepay.friendly_hours", "must be a list like [\"18:00-08:00\"]")
        spans = []
        for i, s in enumerate(fh):
            key = f"prepay.friendly_hours[{i}]"
            if not isinstance(s, str) or len(s) != 11 or s[5] != "-":
                c.fail(key, f"{s!r} is not HH:MM-HH:MM")
            a, b = c.hhmm(s[:5], key), c.hhmm(s[6:], key)
            if a == b:
                c.fail(key, f"{s} is empty (start = end)")
            spans.append((a, b))
        kw["friendly_hours"] = tuple(spans)
    for k in ("friendly_weekends", "friendly_special_days"):
        if k in d:
            kw[k] = c.boolean(d[k], f"prepay.{k}")
    if "decoder_key" in d:
        k = d["decoder_key"]
        if not isinstance(k, str) or not re.fullmatch(r"[0-9a-fA-F]{16}", k):
            c.fail("prepay.decoder_key", "must be 16 hex digits (an STA decoder key)")
        kw["decoder_key"] = bytes.fromhex(k)
    if "sts_base_date" in d:
        kw["sts_base_date"] = c.integer(d["sts_base_date"], "prepay.sts_base_date", 1993, 2035)
        if kw["sts_base_date"] not in (1993, 2014, 2035):
            c.fail("prepay.sts_base_date", "must be 1993, 2014 or 2035")
    p = PrepaySection(**kw)
    if not p.alarm2_e4 <= p.alarm1_e4:
        c.fail("prepay.alarm2", "must not be above alarm1")
    if p.balance_e4 > p.max_balance_e4:
        c.fail("prepay.balance", "starts above max_balance")
    return p


def refuse_unsupported(s: Scenario, supported: tuple[str, ...]) -> None:
    """For a runner that handles only some event kinds: refuse the rest up front,
    never silently ignore them."""
    why = {"token": "tokens arrive with the prepay issue", "button_s": "the button arrives with the prepay issue",
           "power_cut_s": "power cuts arrive with the storage issue", "clock_set": "clock setting is not wired"}
    for ev in s.events:
        if ev.kind not in supported:
            raise ScenarioError(f"{s.path}: event[{ev.index}].{ev.kind}: not supported by this runner yet "
                                f"({why[ev.kind]})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m host_sim.scenario",
                                 description="Validate a scenario file and print what it would run.")
    ap.add_argument("scenario", help="SCENARIO.toml (see scenario.md)")
    a = ap.parse_args(argv)
    try:
        s = load_scenario(a.scenario)
    except ScenarioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    m = s.meter
    print(f"{s.path}: {iso(m.start_s)} .. {iso(m.end_s)}, step {m.step_s} s, "
          f"{m.duration_s // m.step_s} passes, {'postpaid' if s.postpaid else 'prepaid ' + s.prepay.mode}")  # type: ignore[union-attr]
    print(f"  tariff: {len(s.tariff.day_names)} day profiles, {len(s.tariff.thresholds_wh)} step thresholds; "
          f"load: {s.load.kind} with {len(s.load.times_s)} points; {len(s.events)} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
