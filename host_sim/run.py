"""Run a scenario (scenario.md) through the real firmware on the long-run board.

The firmware's own App (firmware/app.py, through hardware.py and the fake
`machine` module) runs on a LoadBoard: one loop pass per simulator step, the
board fed the scenario's load in between (split exactly at load changes). The
firmware reads its files (calibration, tariff, prepay, meter number) from a
folder on tmpfs, as the device reads littlefs; a power cut is a real reboot
from those files with the chip reset, so nothing survives that the firmware
did not save.

Passes: on the start + k x step grid, plus one at every event, one at boot
(the device's first pass), and one 1 ms before each instant the firmware's
tariff announces a change (so a step's energy is priced at its own rate).
Events: a token goes through App.enter_token; the button is held with a pass
every 500 ms (the loop's own period); a power cut drops the voltage for 0.1 s
(the chip's SAG interrupt makes the firmware save on its next pass), then the
board is off (the chip loses its registers, the battery RTC runs on) and
boots again; a clock set goes through App.set_clock.

The relay really cuts the load: while the relay pin is open the load draws
nothing (`true_energy_wh` is what the load drew while supplied). Every figure
in the report is read from the firmware's registers (tariff, account,
metrology, freeze records, event log), never recomputed here.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import board as fw_board
import freeze as fw_freeze

from .device import SimDevice, fw_cause
import machine  # the host fake (host_sim puts it on the path)
from .flash import FlashRig
from .frontend import load_board
from .loadboard import LoadBoard
from .replay import DEFAULT_BOARD, default_calibration_path
from .scenario import Event, Scenario, ScenarioError, iso

TICK_S = fw_board.TICK_MS / 1000.0  # the loop's own period, used around button presses
POWER_FAIL_S = 0.1  # supply collapse seen by the chip (SAG) before the board dies
FLASH_SECTORS = 64  # 256 KB of NOR flash under littlefs for the firmware's records
SWITCH_LEAD_S = 0.001  # a pass this long before each tariff switch (see _until_tariff_change)
MAX_STEP_S = 180  # AENERGY must be read within ~200 s at Imax (ade7753_source budget)


@dataclass
class Sample:
    """One point of the time series for the plots (host time, firmware figures)."""
    t_s: int
    power_w: float  # mean power the load drew since the previous sample (0 while cut off)
    rate: int
    price_e4: int
    cost_e4: int
    balance_e4: int | None


@dataclass
class RunResult:
    report: dict[str, Any]
    samples: list[Sample] = field(default_factory=list)
    markers: list[tuple[int, str, str]] = field(default_factory=list)  # (host t_s, kind, label)
    passes: int = 0
    boots: int = 0


def _rtc_tuple(t_s: int) -> tuple:
    import clock as fw_clock

    day, sod = divmod(t_s, 86400)
    y, m, d = fw_clock.civil_from_days(day)
    return (y, m, d, fw_clock.weekday(day), sod // 3600, sod // 60 % 60, sod % 60, 0)


def _e4_text(e4: int) -> str:
    sign = "-" if e4 < 0 else ""
    e4 = abs(e4)
    return f"{sign}{e4 // 10000}.{e4 % 10000:04d}"


def _split_e4(units: int, e4: int) -> int:
    return units * 10000 + e4


def refuse_impossible(s: Scenario) -> None:
    """Events this meter cannot perform are refused before anything runs."""
    if s.meter.step_s > MAX_STEP_S:
        raise ScenarioError(f"{s.path}: meter.step_s: {s.meter.step_s} s is above {MAX_STEP_S} s: the firmware "
                            "must read AENERGY within its 200 s overflow budget (one pass per step)")
    for ev in s.events:
        where = f"{s.path}: event[{ev.index}].{ev.kind}"
        if ev.kind == "token":
            if s.prepay is None:
                raise ScenarioError(f"{where}: cannot be performed: a postpaid meter (no [prepay]) has no "
                                    "token gateway")
            if s.prepay.decoder_key is None:
                raise ScenarioError(f"{where}: cannot be performed: [prepay] has no decoder_key, so the meter "
                                    "cannot decode tokens")
        if ev.kind == "clock_set" and ev.value < 0:
            raise ScenarioError(f"{where}: cannot set the clock before 2000")


class Runner:
    """One scenario through the firmware. `files` is the device's filesystem."""

    def __init__(self, s: Scenario, files: Path, progress: bool = False, flash: bool = True) -> None:
        refuse_impossible(s)
        self.s = s
        self.files = files
        self.progress = progress
        m = s.meter
        bp = m.board or DEFAULT_BOARD
        cp = m.calibration or default_calibration_path(bp)
        if not cp.is_file():
            raise ScenarioError(f"{s.path}: meter.calibration: board {bp.name} has no shipped calibration "
                                f"({cp}); give meter.calibration")
        self.board = LoadBoard(load_board(bp))
        self.board.rtc.set(_rtc_tuple(m.start_s))
        self.board.pin(fw_board.PIN_RELAY).value(1)  # shipped closed
        shutil.copy(cp, files / fw_board.CALIBRATION_FILE)
        (files / "tariff.json").write_text(json.dumps(s.tariff_obj))
        (files / "meter.json").write_text(json.dumps({"meter_number": m.meter_number}))
        if s.prepay_obj is not None:
            (files / "prepay.json").write_text(json.dumps(s.prepay_obj))
        self.dev = SimDevice(self.board, files, flash=FlashRig(FLASH_SECTORS) if flash else None)
        self.dev.advance = self._advance_ms
        self.t = float(m.start_s)  # host time (the household's clock), seconds since 2000
        self.true_wh = 0.0
        self.powered = True
        self.result = RunResult(report={})
        # load cache: (watts, pf) in force until _load_until
        self._load_until = -1.0
        self._watts = 0.0
        self._pf = 1.0
        self._pins: dict[tuple[float, float, bool], tuple[float, float, float]] = {}
        self._relay_pin = self.board.pin(fw_board.PIN_RELAY)
        self._button_pin = self.board.pin(fw_board.PIN_BUTTON)
        # what has been collected from the firmware so far
        self.relay_log: list[dict] = []
        self.alarm_log: list[dict] = []
        self.token_log: list[dict] = []
        self.freeze_log: list[dict] = []
        self.event_log: list[dict] = []
        self._seen_relay: tuple | None = None
        self._seen_state: str | None = None
        self._seen_freezes: Any = None
        self._seen_taken = [0] * len(fw_freeze.KIND_NAMES)
        self._seen_events = 0
        self._app: Any = None
        self._sample_t = self.t
        self._sample_wh = 0.0

    # --- the analog side ---------------------------------------------------------
    def _supplied(self) -> bool:
        return self.powered and (self.s.prepay is None or self._relay_pin.value() == 1)

    def _load_now(self) -> tuple[float, float]:
        if self.t >= self._load_until:
            t = int(self.t)
            self._watts, self._pf = self.s.load.load_at(t)
            nxt = self.s.load.next_change(t)
            self._load_until = float(nxt) if nxt is not None else float("inf")
        return self._watts, self._pf

    def _feed(self, seconds: float) -> None:
        """Advance the board `seconds` with the load, split at load changes."""
        m = self.s.meter
        while seconds > 1e-9:
            watts, pf = self._load_now()
            d = min(seconds, self._load_until - self.t)
            supplied = self._supplied()
            key = (watts, pf, supplied)
            pins = self._pins.get(key)
            if pins is None:
                pins = self.board.pins_for(m.voltage_v, watts if supplied else 0.0, pf, m.frequency_hz)
                self._pins[key] = pins
            self.board.run_pins(d, pins[0], pins[1], pins[2], m.frequency_hz)
            if supplied and watts > 0:
                self.true_wh += watts * d / 3600.0
            self.t += d
            seconds -= d

    def _advance_ms(self, ms: int) -> None:
        """SimDevice's callback while the firmware sleeps (boot-time button check)."""
        if self.powered:
            self._feed(ms / 1000.0)
        else:
            self.board.run_off(ms / 1000.0)
            self.t += ms / 1000.0

    # --- the firmware ------------------------------------------------------------
    def _boot(self, cause: int) -> None:
        """Boot the firmware and run its first pass at once, as the device does
        (the chip is configured before the load moves on)."""
        with self.dev.on_device():
            self._app = self.dev._start(cause)
            self.result.boots += 1
            self._seen_events = 0
            self._collect()
            self._pass()
            self._collect()

    def _pass(self) -> None:
        """One loop pass at the present board time; a reset boots again."""
        app = self._app
        try:
            app.step()
        except machine.DeviceReset as r:
            self.dev.boots.append(_boot_record(self, r))
            self._collect()
            self._boot(r.cause)
            return
        self.result.passes += 1

    def _collect(self) -> None:
        """Read what changed in the firmware's registers since the last pass."""
        app = self._app
        ev = app.events
        if ev.seq != self._seen_events:
            first = max(self._seen_events, ev.seq - len(ev))
            n = len(ev)
            for k in range(n - (ev.seq - first), n):
                day, sod, kind, source, detail, count = ev.entry(k)
                self.event_log.append({"at": iso(day * 86400 + sod), "kind": kind, "source": source,
                                       "detail": detail if isinstance(detail, (int, str)) else str(detail),
                                       "count": count})
            self._seen_events = ev.seq
        t = app.billing.tariff
        if t is not None:
            fz = t.freezes
            if fz is not self._seen_freezes:
                self._seen_freezes = fz
                self._seen_taken = [0] * len(fw_freeze.KIND_NAMES)
            if fz.taken != self._seen_taken:
                self._take_freezes(app, fz)
        p = app.prepay
        if p is not None:
            r = p.relay
            key = (r.closed, r.reason)
            if key != self._seen_relay:
                if self._seen_relay is None or r.closed != self._seen_relay[0]:
                    self.relay_log.append({"at": self._now(app), "state": "closed" if r.closed else "open",
                                           "reason": r.reason})
                    self.result.markers.append((int(self.t), "relay", "closed" if r.closed else "open"))
                self._seen_relay = key
            st = p.account.state
            if st != self._seen_state:
                self.alarm_log.append({"at": self._now(app), "state": st})
                self.result.markers.append((int(self.t), "alarm", st))
                self._seen_state = st

    def _now(self, app: Any) -> str:
        return iso(app.clock.day * 86400 + app.clock.sod)

    def _take_freezes(self, app: Any, fz: Any) -> None:
        num = app.metering.meter.metrology.cal.lsb_per_kwh()[0]

        def wh(pair: tuple[int, int]) -> float:
            return round((pair[0] + pair[1] / num) * 1000.0, 4)

        for k, name in enumerate(fw_freeze.KIND_NAMES):
            new = fz.taken[k] - self._seen_taken[k]
            held = fz.count(k)
            for i in range(max(0, held - new), held):
                r = fw_freeze.decode(fz.raw(k, i))
                bal = r["balance_e4"]
                self.freeze_log.append({
                    "at": iso(r["day"] * 86400 + r["sod"]), "kind": name, "import_wh": wh(r["import"]),
                    "rates_wh": {str(j + 1): wh(r["rates"][j]) for j in range(4)},
                    "balance": None if bal is None else _e4_text(bal),
                    "late": bool(r["flags"] & fw_freeze.LATE)})
                self.result.markers.append((int(self.t), "freeze", name))
        self._seen_taken = list(fz.taken)

    def _sample(self) -> None:
        app = self._app
        t = app.billing.tariff
        if t is None:
            return
        p = app.prepay
        dt_s = self.t - self._sample_t
        watts = (self.true_wh - self._sample_wh) * 3600.0 / dt_s if dt_s > 0 else 0.0
        self._sample_t, self._sample_wh = self.t, self.true_wh
        self.result.samples.append(Sample(int(self.t), watts, t.rate, t.price_e4_per_kwh,
                                          _split_e4(t.cost_units, t.cost_e4),
                                          p.account.balance_e4() if p is not None else None))

    def _until_tariff_change(self) -> float:
        """Seconds until just before (SWITCH_LEAD_S) the next instant the
        firmware's tariff said can change anything (rate switch, midnight,
        settlement, activation). A pass lands there, so the energy drawn before
        a switch is booked at the old price, and the energy booked by the pass
        after it at the new one (the firmware prices what a pass books at the
        rate in force at that pass): one millisecond of energy on the wrong
        side instead of a whole step. Read from the firmware, never computed here."""
        app = self._app
        t = app.billing.tariff
        if t is None or t.clock_invalid:
            return float("inf")
        c = app.clock
        d = (t._next_day - c.day) * 86400 + t._next_sod - c.sod - c._ms_carry / 1000.0
        return d - SWITCH_LEAD_S if d > 2 * SWITCH_LEAD_S else float("inf")

    # --- events ----------------------------------------------------------------------
    def _event(self, ev: Event) -> None:
        app = self._app
        self.result.markers.append((int(self.t), ev.kind, str(ev.value)))
        with self.dev.on_device():
            if ev.kind == "clock_set":
                why = app.set_clock(ev.value // 86400, ev.value % 86400)
                if why is not None:
                    raise ScenarioError(f"{self.s.path}: event[{ev.index}].clock_set: the meter refused it: {why}")
                self._collect()
            elif ev.kind == "token":
                self._token(ev)
            elif ev.kind == "button_s":
                self._button(float(ev.value))
            elif ev.kind == "power_cut_s":
                # a cut that outlasts the run ends with it (the meter is read at the end)
                self._power_cut(min(int(ev.value), max(1, int(self.s.meter.end_s - self.t))))

    def _token(self, ev: Event) -> None:
        app = self._app
        a = app.prepay.account if app.prepay is not None else None
        before = _split_e4(a.cred_units, a.cred_e4) if a is not None else 0
        result = app.enter_token(ev.value)
        a = app.prepay.account if app.prepay is not None else None
        after = _split_e4(a.cred_units, a.cred_e4) if a is not None else 0
        self.token_log.append({"at": self._now(app), "token": ev.value, "result": result,
                               "credit": _e4_text(after - before)})
        self._collect()

    def _button(self, hold_s: float) -> None:
        """Press, a pass every TICK_S while held (the first at the press), release."""
        self._button_pin.value(0)
        self._pass()
        self._collect()
        held = 0.0
        while held + 1e-9 < hold_s:
            d = min(TICK_S, hold_s - held)
            self._feed(d)
            held += d
            self._pass()
            self._collect()
        self._button_pin.value(1)
        self._feed(TICK_S)
        self._pass()
        self._collect()

    def _power_cut(self, cut_s: int) -> None:
        """The supply collapses (the chip's SAG warns the firmware, which saves on
        its next pass), the board dies, and powers up again cut_s later."""
        m = self.s.meter
        self.powered = False
        self.board.run_pins(POWER_FAIL_S, 0.0, 0.0, 0.0, m.frequency_hz)
        self.t += POWER_FAIL_S  # the IRQ pin fell with SAG (LoadBoard.run_pins)
        self._pass()
        self._collect()
        self.result.markers.append((int(self.t), "power_down", f"{cut_s} s"))
        self.event_log.append({"at": self._now(self._app), "kind": "power_down", "source": "supply",
                               "detail": cut_s, "count": 1})
        self._app = None
        machine.WDT.last = None
        self.board.run_off(cut_s - POWER_FAIL_S)
        self.t += cut_s - POWER_FAIL_S
        self.powered = True
        self._boot(machine.PWRON_RESET)

    # --- the run ------------------------------------------------------------------------
    def run(self) -> RunResult:
        s = self.s
        m = s.meter
        wall0 = time.perf_counter()
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=m.duration_s // 86400 or 1, unit="day", desc=s.path.name, file=sys.stderr,
                       delay=2.0, leave=False)
        machine.attach_board(self.board)
        try:
            self._boot(machine.PWRON_RESET)
            events = list(s.events)
            ei = 0
            end = float(m.end_s)
            step = float(m.step_s)
            sample_every = max(step, float(m.duration_s // 2000 or 1))
            next_sample = self.t
            day_mark = m.start_s + 86400
            cwd = os.getcwd()
            os.chdir(self.files)
            try:
                while self.t < end - 1e-9:
                    # passes on the start + k x step grid (an event or a tariff switch adds one)
                    grid = m.start_s + (math.floor((self.t - m.start_s) / step + 1e-9) + 1) * step
                    t1 = min(grid, end, self.t + self._until_tariff_change())
                    if ei < len(events) and events[ei].at_s < t1:
                        t1 = float(events[ei].at_s)
                    self._feed(t1 - self.t)
                    self._pass()
                    self._collect()
                    while ei < len(events) and events[ei].at_s <= self.t + 1e-9:
                        self._event(events[ei])
                        ei += 1
                    if self.t >= next_sample:
                        self._sample()
                        next_sample = self.t + sample_every
                    if bar is not None and self.t >= day_mark:
                        bar.update(int((self.t - day_mark) // 86400) + 1)
                        day_mark += 86400 * (int((self.t - day_mark) // 86400) + 1)
                self._sample()
                self._app.save_now()
            finally:
                os.chdir(cwd)
        finally:
            machine.attach_board(None)
            if bar is not None:
                bar.close()
        self.result.report = self._report(time.perf_counter() - wall0)
        return self.result

    def _report(self, wall_s: float) -> dict[str, Any]:
        app = self._app
        m = app.metering.meter.metrology
        t = app.billing.tariff
        num = m.cal.lsb_per_kwh()[0]

        def reg_wh(r: Any) -> float:
            return round((r.kwh + r.frac / num) * 1000.0, 4)

        p = app.prepay
        cost_total = _split_e4(t.cost_units, t.cost_e4)
        if p is not None:
            a = p.account
            money = {"balance": a.balance_text(), "credited": _e4_text(_split_e4(a.cred_units, a.cred_e4)),
                     "deducted": _e4_text(_split_e4(a.ded_units, a.ded_e4)), "emergency_debt": a.debt_text()}
            if a.clr_units or a.clr_e4:
                money["cleared"] = _e4_text(_split_e4(a.clr_units, a.clr_e4))
            money["start"] = _e4_text(_split_e4(a.start_units, a.start_e4))
            money["mode"] = a.mode
        else:
            money = {"balance": "0.0000", "credited": "0.0000", "deducted": _e4_text(cost_total),
                     "emergency_debt": "0.0000"}
        ntiers = len(t._surcharges)
        return {
            "start": iso(self.s.meter.start_s), "end": iso(self.s.meter.end_s),
            "energy_wh": {"import": reg_wh(m.energy_import), "export": reg_wh(m.energy_export),
                          "rates": {str(r): reg_wh(t.rate_energy[r]) for r in range(1, 5)}},
            "true_energy_wh": round(self.true_wh, 4),
            "money": money,
            "cost": {"total": _e4_text(cost_total),
                     "rates": {str(r): _e4_text(_split_e4(t.rate_cost_units[r], t.rate_cost_e4[r]))
                               for r in range(1, 5)},
                     "tiers": {str(k): _e4_text(_split_e4(t.tier_cost_units[k], t.tier_cost_e4[k]))
                               for k in range(1, ntiers + 1)}},
            "currency": app.billing.currency,
            "relay": self.relay_log,
            "alarms": self.alarm_log,
            "tokens": self.token_log,
            "freezes": self.freeze_log,
            "events": self.event_log,
            "passes": self.result.passes,
            "boots": self.result.boots,
            "faults": app.faults,
            "wall_s": round(wall_s, 3),
        }


def _boot_record(r: Runner, e: machine.DeviceReset) -> Any:
    from .device import BootRecord

    return BootRecord(r.board.time_ms, fw_cause(e.cause), str(e))


def files_root() -> str | None:
    """tmpfs when there is one: the firmware's many small saves stay off the disk."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def run_scenario(s: Scenario, progress: bool = False, flash: bool | None = None) -> RunResult:
    """flash: the firmware's records on littlefs over the NOR-flash model (each
    power cut reboots from what it holds), or as plain files (about 25 % faster:
    the same storage code over another filesystem object). Default: the flash
    model when the scenario cuts power."""
    if flash is None:
        flash = any(e.kind == "power_cut_s" for e in s.events)
    with tempfile.TemporaryDirectory(prefix="meter-fs-", dir=files_root()) as d:
        return Runner(s, Path(d), progress, flash).run()
