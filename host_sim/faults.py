"""`host_sim faults`: power cuts at random instants of the real firmware, on real littlefs.

The whole firmware App (firmware/app.py: metering, billing, prepay, tokens,
storage) runs on a LoadBoard (the ADE7753 model driven by the load) with its
persistent records ("regs", "tariff", "passive", the event log, the freeze
rings) on littlefs-python over the NOR flash model (host_sim/flash.py), which
tears the operation in progress. The configuration files the firmware only
reads (calibration, tariff.json, prepay.json, meter.json) and boots.txt live in
a temporary folder (the firmware's working folder).

Workload: a heavy household load (LOAD_W) whenever the relay is closed, STS
currency tokens made by the project's vending tool (tools/sts.py), relay
commands, instant freezes, passive tariffs activated minutes later, TOU rate
switches at 07:00 and 23:00, and outages of random length (the RTC runs on, so
the daily and billing freezes of an outage are taken at power-up).

Each cut is one of:
- "torn": power dies inside the n-th flash operation from now (no warning: a
  brown-out, or a supply whose hold-up is already spent);
- "sag": the supply drops at a random instant: the model raises SAG after
  SAGCYC half cycles, the IRQ schedules App.power_fail, the loop saves at once,
  and power dies HOLDUP_MS after the drop. The save's flash operations take
  their ESP32 time (PROGRAM_US_*, ERASE_US) out of what is left; the one that
  does not fit is torn;
- "instant": power dies between two flash operations with no warning.
Then the board boots from exactly what the flash holds (model reset: the chip
loses power too) and every invariant is checked (`_check`).

Expected values are the harness's own: the credit of every token it vended
and saw confirmed, and the cost of the registered energy from its own price
table (which tariff, which rate by the hour) and the energy registers.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import FIRMWARE_DIR  # noqa: F401  (firmware on sys.path)
from .flash import FlashRig
from .frontend import BOARDS_DIR, load_board
from .loadboard import LoadBoard

import app as fw_app  # noqa: E402
import board as fw_board  # noqa: E402
import hardware as fw_hardware  # noqa: E402
import machine  # noqa: E402  (the host fake)
import freeze as fz  # noqa: E402
import savepolicy as fw_sp  # noqa: E402

from tools import sts as vend  # noqa: E402

# --- the supply and the flash's timing -------------------------------------------
# Hold-up: what the supply's capacitors give between the mains dropping and the
# ESP32 browning out. A design figure (no board file carries one yet): 1000 uF
# on the 12 V relay rail, usable down to the 3.3 V regulator's 4 V dropout,
# feeding ESP32 + ADE7753 at about 0.4 W: 0.5 x 1e-3 x (12^2 - 4^2) / 0.4 = 160 ms
# -> 150 ms. What a power-fail save needs (measured by this campaign, see the
# README): SAG after ~30 ms (SAGCYC 2 half cycles once the zero crossings stop),
# the "regs" record (511 B, not inline in littlefs) takes one 4 KB erase (80 ms)
# and ~2 programs (2 ms), plus ~5 ms of CPU: ~117 ms. With less hold-up the
# save is torn and the previous copy is kept (energy loss within the bound).
HOLDUP_MS = 150
SAVE_CPU_MS = 5  # the save's CPU time on the ESP32 (unix port x 15, see tools/mpy/save_time.py)
# ESP32 SPI NOR (GD25Q32-class) typical times: a page program of 256 B in 0.7 ms,
# a 4 KB sector erase in 80 ms (the README's storage budget uses the same figures).
PROGRAM_US_BASE = 20
PROGRAM_US_PER_BYTE = 2.7
ERASE_US = 80_000

# --- the workload --------------------------------------------------------------
LOAD_W = 5000.0  # heavy household (22.7 A: below the relay's 30 A safe-break current)
VOLTAGE_V = 220.0
START = (2026, 3, 2, 0, 21, 0, 0, 0)  # Monday 21:00
KEY_HEX = "6ff35b9d1f3453e6"
START_BALANCE_E4 = 10_000_000  # 1000.0000 CNY
FLASH_SECTORS = 512  # the ESP32's 2 MB littlefs partition
PASS_MS = fw_board.TICK_MS
MAX_TEAR_OPS = 30  # "torn" cuts land inside one of the next 1..30 flash operations
MAX_SAG_PASSES = 400  # "sag" / "instant" cuts come within 200 s
CUT_KINDS = ("torn", "sag", "instant")
CUT_WEIGHTS = (45, 45, 10)
# per pass: (action, probability)
ACTIONS = (("token", 0.03), ("relay", 0.008), ("tariff", 0.004), ("freeze", 0.006))
OUTAGE_S = (1, 60, 600, 3600, 4 * 3600, 12 * 3600)  # outage lengths, drawn uniformly

# two TOU tariffs the harness switches between; prices per rate in 0.0001 CNY/kWh
PRICES_E4 = ({1: 9000, 2: 5000, 3: 6000, 4: 3000}, {1: 12000, 2: 4000, 3: 7000, 4: 2000})


def tariff_json(k: int) -> str:
    p = PRICES_E4[k]
    return json.dumps({
        "currency": "CNY",
        "rates": {str(r): "%d.%04d" % divmod(v, 10000) for r, v in p.items()},
        "days": {"all": [["00:00", 2], ["07:00", 1], ["23:00", 2]]},
        "weeks": {"std": ["all"] * 7},
        "seasons": [["01-01", "std"]],
    })


def rate_at(sod: int, clock_valid: bool) -> int:
    """The harness's own TOU lookup (tariff.md: rate 3 on an unset clock)."""
    if not clock_valid:
        return 3
    return 1 if 7 * 3600 <= sod < 23 * 3600 else 2


@dataclass
class FaultReport:
    cuts: int = 0
    recovered: int = 0  # boots that came up with every check passing
    corrupt: int = 0  # boots where a record did not load or a check failed
    credit_applied_twice: int = 0
    credit_lost: int = 0
    energy_lost_wh_max: float = 0.0
    flash_erases_per_day: float = 0.0
    energy_lost_bound_wh: float = 0.0  # the save policy's step + one pass at LOAD_W
    balance_mismatch: int = 0  # balance != start + credited - cost of registered energy
    relay_mismatch: int = 0
    freeze_replayed: int = 0
    freeze_gap: int = 0
    energy_lost_wh_total: float = 0.0
    cuts_by_kind: dict[str, int] = field(default_factory=dict)
    cuts_in: dict[str, int] = field(default_factory=dict)  # what the firmware was doing
    tokens_confirmed: int = 0
    tokens_reentered: int = 0
    tariff_activations: int = 0
    freezes_on_flash: int = 0
    saves: int = 0
    power_fail_saves: int = 0
    flash_erases: int = 0
    flash_programs: int = 0
    simulated_days: float = 0.0
    energy_kwh: float = 0.0
    holdup_ms: int = HOLDUP_MS
    wall_s: float = 0.0
    failures: list[str] = field(default_factory=list)  # the first few, for the human

    def ok(self) -> bool:
        return not (self.corrupt or self.credit_applied_twice or self.credit_lost
                    or self.energy_lost_wh_max > self.energy_lost_bound_wh)

    def as_json(self) -> dict:
        d = asdict(self)
        d["energy_lost_wh_max"] = round(self.energy_lost_wh_max, 2)
        d["energy_lost_wh_total"] = round(self.energy_lost_wh_total, 2)
        d["flash_erases_per_day"] = round(self.flash_erases_per_day, 1)
        d["energy_lost_bound_wh"] = round(self.energy_lost_bound_wh, 1)
        d["flash_erases_per_save"] = round(self.flash_erases / self.saves, 2) if self.saves else 0.0
        d["simulated_days"] = round(self.simulated_days, 2)
        d["energy_kwh"] = round(self.energy_kwh, 2)
        d["wall_s"] = round(self.wall_s, 1)
        return d


@dataclass
class _Token:
    digits: str
    value_e4: int


def _silent(*_args: object, **_kw: object) -> None:
    pass


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


class Campaign:
    """One meter's life with power cuts; `run(cuts)` fills a FaultReport."""

    def __init__(self, seed: int, folder: Path, holdup_ms: int = HOLDUP_MS, load_w: float = LOAD_W,
                 sectors: int = FLASH_SECTORS) -> None:
        self.rng = random.Random(seed)
        self.folder = folder
        self.holdup_ms = holdup_ms
        self.load_w = load_w
        self.rep = FaultReport(holdup_ms=holdup_ms)
        shutil.copy(BOARDS_DIR / "default.cal.json", folder / "calibration.json")
        (folder / "tariff.json").write_text(tariff_json(0))
        (folder / "meter.json").write_text(json.dumps({"meter_number": "000000000042"}))
        (folder / "prepay.json").write_text(json.dumps({
            "balance": "%d.%04d" % divmod(START_BALANCE_E4, 10000), "decoder_key": KEY_HEX,
            "reconnect": "auto", "max_balance": "99999.0000"}))
        self.board = LoadBoard(load_board(BOARDS_DIR / "default.json"))
        self.board.rtc.set(START)
        self.rig = FlashRig(sectors, seed)
        self._app: fw_app.App | None = None
        self.num = 1
        # the harness's books
        self.confirmed_e4 = 0  # credit of every token whose entry returned "accepted" before a cut
        self.confirmed: list[_Token] = []
        self.in_flight: _Token | None = None  # entered when power died: may or may not be applied
        self.next_tid = vend.tid_of(dt.datetime(2026, 3, 1), 2014)
        self.tariff_prices: dict[int, dict[int, int]] = {}
        self.next_tariff = 1
        self.relay_closed = True  # the last relay command confirmed
        self.relay_in_flight: bool | None = None
        self.ledger: dict[int, int] = {}  # import register (1/num kWh) -> cost x num (e4 units)
        self.cost_num = 0
        self.last_imp = 0
        self.sim_ms = 0  # powered, loaded time
        self.energy_units = 0
        self.doing = "idle"
        self.lost_wh = 0.0

    @property
    def app(self) -> fw_app.App:
        a = self._app
        assert a is not None, "faults: no firmware running"
        return a

    # --- the board ------------------------------------------------------------
    def _advance(self, ms: int, volts: float = VOLTAGE_V) -> None:
        closed = self.board.pin(fw_board.PIN_RELAY).value() == 1
        w = self.load_w if (closed and volts > 0) else 0.0
        # below the nominal supply (a dip, a cut) the SAG detector must run: full DSP
        self.board.shortcut = volts >= VOLTAGE_V
        self.board.run_load(ms / 1000.0, volts, w)  # the IRQ pin follows (LoadBoard.run_pins)
        self.sim_ms += ms

    def _sleep(self, ms: int) -> None:  # the firmware's sleep (not used by step())
        self._advance(ms)

    def _boot(self) -> fw_app.App:
        machine.attach_board(self.board)
        machine.set_reset_cause(machine.PWRON_RESET)
        machine.WDT.last = None
        hw = fw_hardware.Hardware(ticks_ms=self.board.ticks_ms, sleep_ms=self._sleep)
        a = fw_app.App(hw, fs=self.rig.fs)
        a.out = _silent  # type: ignore[assignment]  (the console's port: nobody reads it here)
        self._app = a
        self.doing = "boot"
        if a.maintenance_requested() is not None:
            raise RuntimeError("faults: the simulated board booted into maintenance mode")
        a.boot()
        a.step()  # the first pass builds the meter, the tariff and the account, restored
        return a

    # --- measuring what the firmware holds --------------------------------------
    def _imp(self) -> int:
        r = self.app.metering.meter.metrology.energy_import  # type: ignore[union-attr]
        return r.kwh * r.num + r.frac

    def _book(self) -> None:
        """After a pass: price the energy it registered with the harness's own table."""
        a = self.app
        imp = self._imp()
        d = imp - self.last_imp
        if d:
            prices = self.tariff_prices[a.billing.tariff_id]
            self.cost_num += d * prices[rate_at(a.clock.sod, a.clock.valid)]
            self.energy_units += d
            self.last_imp = imp
        self.ledger[imp] = self.cost_num

    def _pass(self, what: str = "energy") -> None:
        a = self.app
        self._advance(PASS_MS)
        self.doing = what
        t = a.tariff
        tid, frozen = a.billing.tariff_id, sum(t.freezes.taken) if t is not None else 0
        a.step()
        if a.billing.tariff_id != tid:
            self.doing = "tariff"
            self.rep.tariff_activations += 1
        elif t is not None and sum(t.freezes.taken) != frozen:
            self.doing = "freeze"
        self._book()

    def _cut_now(self) -> bool:
        return self.rig.flash.cut

    # --- workload actions (each between two passes) ----------------------------
    def _token(self) -> None:
        a = self.app
        if self.in_flight is not None:
            tok = self.in_flight
        else:
            value = self.rng.randint(1, 50) * 100  # 1..50 CNY in 0.01 units
            block = vend.make_block(0, 4, self.rng.randrange(16), self.next_tid, vend.amount_raw_exact(value))
            self.next_tid += 1
            tok = _Token(vend.token_from_block(0, block, bytes.fromhex(KEY_HEX)), value * 100)
        self.doing = "token"
        self.in_flight = tok
        with _cwd(self.folder):
            result = a.enter_token(tok.digits)
        if self._cut_now():
            return  # the householder never saw the answer: in flight
        self.in_flight = None
        if result == "accepted":
            self.confirmed.append(tok)
            self.confirmed_e4 += tok.value_e4
            self.rep.tokens_confirmed += 1
        # refused (a lockout after the re-entry checks, ...): the householder gives up on it

    def _relay(self) -> None:
        want = not self.relay_closed if self.rng.random() < 0.8 else True
        self.doing = "relay"
        self.app.command_relay(want)
        if not self._cut_now():
            self.relay_closed = want
        else:
            self.relay_in_flight = want  # the answer never came: either state may come back

    def _tariff(self) -> None:
        a = self.app
        if a.tariff is None or a.tariff.passive is not None:
            return
        k = self.next_tariff % 2
        c = a.clock
        when = c.day * 86400 + c.sod + self.rng.randint(60, 1200)
        self.doing = "tariff"
        why = a.set_passive_tariff(tariff_json(k), when // 86400, when % 86400)
        if why is None and not self._cut_now():
            self.tariff_prices[a.billing._passive_id] = PRICES_E4[k]
            self.next_tariff += 1
        elif why is None:  # stored or not: the harness knows the prices of both ids it may get
            self.tariff_prices[max(a.billing.tariff_id, a.billing._passive_id)] = PRICES_E4[k]

    def _freeze(self) -> None:
        self.doing = "freeze"
        self.app.freeze_now()

    def _workload_step(self) -> None:
        for name, p in ACTIONS:
            if self.rng.random() < p:
                getattr(self, "_" + name)()
                if self._cut_now():
                    return
        self._pass()

    # --- one cut ---------------------------------------------------------------
    def _run_until_cut(self) -> str:
        flash = self.rig.flash
        kind = self.rng.choices(CUT_KINDS, CUT_WEIGHTS)[0]
        if kind == "torn":
            flash.tear_at(self.rng.randint(1, MAX_TEAR_OPS))
            while not flash.cut:
                self._workload_step()
            return kind
        passes = self.rng.randint(1, MAX_SAG_PASSES)
        for _ in range(passes):
            self._workload_step()
            if flash.cut:
                return kind
        if kind == "instant":
            self.doing = "idle"
            flash.power_off()
            return kind
        # the mains drops at a random instant of the next pass interval
        self._advance(self.rng.randrange(PASS_MS))
        a = self.app
        elapsed = 0
        while not a.storage.policy.power_failing() and elapsed < HOLDUP_MS:
            self._advance(1, volts=0.0)  # SAG rises after SAGCYC half cycles
            elapsed += 1
        # the device's sleep returns on the interrupt; the pass saves at once
        budget_ms = self.holdup_ms - elapsed - SAVE_CPU_MS
        self.doing = "power_fail"
        if budget_ms > 0:
            flash.set_power_budget(budget_ms * 1000)
            saves = a.storage.policy.writes[fw_sp.POWER_FAIL]
            a.step()
            self._book()
            if a.storage.policy.writes[fw_sp.POWER_FAIL] > saves and not flash.cut:
                self.rep.power_fail_saves += 1
        flash.set_power_budget(None)
        flash.power_off()
        return kind

    def run(self, cuts: int, progress: Callable[[int], object] | None = None) -> FaultReport:
        rep = self.rep
        t0 = time.perf_counter()
        with _cwd(self.folder):
            self._start()
            while rep.cuts < cuts:
                kind = self._run_until_cut()
                rep.cuts += 1
                rep.cuts_by_kind[kind] = rep.cuts_by_kind.get(kind, 0) + 1
                rep.cuts_in[self.doing] = rep.cuts_in.get(self.doing, 0) + 1
                self._power_down()
                try:
                    self._check()
                except Exception as e:  # noqa: BLE001 - the firmware did not come up: counted, stop here
                    self._fail("campaign stopped: %s: %s" % (type(e).__name__, e))
                    break
                if progress is not None:
                    progress(1)
        fl = self.rig.flash
        rep.flash_erases, rep.flash_programs = fl.erases, fl.programs
        rep.simulated_days = self.sim_ms / 86_400_000
        rep.flash_erases_per_day = fl.erases / rep.simulated_days if rep.simulated_days else 0.0
        rep.energy_kwh = self.energy_units / self.num / 1.0
        rep.wall_s = time.perf_counter() - t0
        return rep

    def _start(self) -> fw_app.App:
        a = self._boot()
        self.num = a.metering.meter.metrology.energy_import.num  # type: ignore[union-attr]
        self.tariff_prices[a.billing.tariff_id] = PRICES_E4[0]
        self.last_imp = self._imp()
        self.ledger[self.last_imp] = 0
        self.rep.energy_lost_bound_wh = fw_sp.STEP_KWH_E3 * 1.0 + self.load_w * PASS_MS / 3_600_000
        return a

    def cut_inside(self, target: str, k: int | None, warmup_passes: int) -> tuple[FaultReport, int]:
        a = self._start()
        for _ in range(warmup_passes):
            self._pass()
        self._token()  # a confirmed credit to keep
        flash = self.rig.flash
        if target == "tariff":
            self._tariff()
            c = a.clock
            when = c.day * 86400 + c.sod + 2  # activation two passes from now
            a.tariff.passive = None  # type: ignore[union-attr]  (replace the random one: sooner)
            a.set_passive_tariff(tariff_json(1), when // 86400, when % 86400)
            self.tariff_prices[a.billing._passive_id] = PRICES_E4[1]
            self._pass()
        elif target == "energy_save":
            p = a.storage.policy
            while p.pending_lsb + 2 * (p.step_lsb // 100) < p.step_lsb:  # up to the pass before the step
                self._pass()
        ops0 = flash.ops
        if k is not None:
            flash.tear_at(k)
        if target == "token":
            self._token()
        elif target == "freeze":
            self._freeze()
        elif target == "relay":
            self._relay()
        else:
            tid, saves = a.billing.tariff_id, a.storage.saves
            for _ in range(4):  # the activation / the step lands in one of these passes
                self._pass(target)
                if a.billing.tariff_id != tid or a.storage.saves != saves:
                    break
            if target == "tariff" and a.billing.tariff_id == tid:
                raise RuntimeError("faults: the passive tariff was not activated")
        ops = flash.ops - ops0
        if k is None or not flash.cut:
            flash.power_off()
        self.rep.cuts = 1
        self.rep.cuts_in[self.doing] = 1
        self._power_down()
        self._check()
        return self.rep, ops

    def _power_down(self) -> None:
        """Power is gone: what the firmware registered is measured, then the board is off."""
        self.cut_imp = self._imp()
        self.cut_doing = self.doing
        self.rep.saves += self.app.storage.saves
        self.board._pins[fw_board.PIN_IRQ].set_irq(None, 0, None)  # the dead firmware's handler
        outage_s = self.rng.choice(OUTAGE_S) * self.rng.random()
        self.board.run_load(outage_s, 0.0, 0.0)  # the RTC runs on its battery
        self.board.model.reset()  # the ADE7753 lost its supply too
        self.board.update_irq()
        self.rig.reboot()

    # --- the checks after a reboot ------------------------------------------
    def _fail(self, what: str) -> None:
        if len(self.rep.failures) < 20:
            self.rep.failures.append("cut %d (%s): %s" % (self.rep.cuts, self.cut_doing, what))

    def _check(self) -> None:
        rep = self.rep
        bad = 0
        try:
            a = self._boot()
        except Exception as e:  # noqa: BLE001 - a boot that fails is a corrupt state
            rep.corrupt += 1
            self._fail("boot failed: %s: %s" % (type(e).__name__, e))
            raise
        kinds = [e[2] for e in a.events.entries()]
        for k in ("storage_lost", "storage_fault", "storage_error", "snapshot_rejected",
                  "prepay_state_rejected", "token_state_rejected"):
            if k in kinds:
                bad += 1
                self._fail("boot logged %s" % k)
        if a.saved is None or a.metering.meter is None or a.prepay is None or a.tariff is None:
            bad += 1
            self._fail("state not restored")
            rep.corrupt += 1
            raise RuntimeError("faults: " + self.rep.failures[-1])
        imp = self._imp()
        lost_units = self.cut_imp - imp
        lost_wh = lost_units * 1000.0 / self.num
        if lost_units < 0:
            bad += 1
            self._fail("energy went up across the cut (%d units)" % -lost_units)
        rep.energy_lost_wh_max = max(rep.energy_lost_wh_max, lost_wh)
        rep.energy_lost_wh_total += max(0.0, lost_wh)
        if lost_wh > rep.energy_lost_bound_wh:
            bad += 1
            self._fail("lost %.1f Wh" % lost_wh)
        # the harness's books roll back to the registers that came back
        if imp not in self.ledger:
            bad += 1
            self._fail("import register %d is no state the meter ever had" % imp)
            self.ledger[imp] = self.cost_num
        self.cost_num = self.ledger[imp]
        self.last_imp = imp
        acc = a.prepay.account
        cred = acc.cred_units * 10000 + acc.cred_e4
        ded = acc.ded_units * 10000 + acc.ded_e4
        # credit: every confirmed token, plus the one in flight if it was applied
        tok = self.in_flight
        if cred < self.confirmed_e4:
            rep.credit_lost += 1
            bad += 1
            self._fail("credited %d < confirmed %d" % (cred, self.confirmed_e4))
        elif cred not in (self.confirmed_e4, self.confirmed_e4 + (tok.value_e4 if tok else 0)):
            rep.credit_applied_twice += 1
            bad += 1
            self._fail("credited %d, confirmed %d" % (cred, self.confirmed_e4))
        expected_ded = self.cost_num // self.num
        if abs(ded - expected_ded) > 1 or acc.balance_e4() != START_BALANCE_E4 + cred - ded:
            rep.balance_mismatch += 1
            bad += 1
            self._fail("deducted %d, cost of the registered energy %d; balance %d"
                       % (ded, expected_ded, acc.balance_e4()))
        if self.relay_in_flight is not None and a.prepay.relay.closed == self.relay_in_flight:
            self.relay_closed = self.relay_in_flight
        self.relay_in_flight = None
        if a.prepay.relay.closed != self.relay_closed:
            rep.relay_mismatch += 1
            bad += 1
            self._fail("relay %s, last confirmed command %s" % (a.prepay.relay.closed, self.relay_closed))
        bad += self._check_freezes(a)
        try:
            a.event_store.entries()  # type: ignore[union-attr]
        except Exception as e:  # noqa: BLE001
            bad += 1
            self._fail("event log unreadable: %s" % e)
        # the householder enters the token in flight again: applied now if it was not
        if tok is not None:
            was_applied = cred == self.confirmed_e4 + tok.value_e4
            self.doing = "token"
            result = a.enter_token(tok.digits)
            rep.tokens_reentered += 1
            if result == "accepted" and was_applied:
                rep.credit_applied_twice += 1
                bad += 1
                self._fail("token applied twice")
            elif result != "accepted" and not was_applied:
                rep.credit_lost += 1
                bad += 1
                self._fail("token not applied and refused (%s)" % result)
            self.in_flight = None
            self.confirmed.append(tok)
            self.confirmed_e4 += tok.value_e4
        if self.confirmed:  # a confirmed token entered again is never credited
            old = self.rng.choice(self.confirmed)
            if a.enter_token(old.digits) == "accepted":
                rep.credit_applied_twice += 1
                bad += 1
                self._fail("a confirmed token was accepted again")
        if bad:
            rep.corrupt += 1
        else:
            rep.recovered += 1

    def _check_freezes(self, a: fw_app.App) -> int:
        fs = a.freeze_store
        bad = 0
        n = 0
        for kind in fz.KIND_NAMES:
            try:
                recs = fs.records(kind)  # type: ignore[union-attr]
            except Exception as e:  # noqa: BLE001
                self._fail("freeze ring %s unreadable: %s" % (kind, e))
                return 1
            times = [r[1] for r in recs]
            n += len(times)
            if any(b <= t for t, b in zip(times, times[1:])):
                self.rep.freeze_replayed += 1
                self._fail("%s freezes not in increasing time: %s" % (kind, times[-5:]))
                bad += 1
            if kind == "daily" and any(b - t != 86400 for t, b in zip(times, times[1:])):
                self.rep.freeze_gap += 1
                self._fail("daily freezes with a gap: %s" % [t // 86400 for t in times[-5:]])
                bad += 1
        self.rep.freezes_on_flash = n
        return bad


TARGETS = ("token", "freeze", "relay", "tariff", "energy_save")


def cut_inside(target: str, k: int | None, seed: int = 0, warmup_passes: int = 20) -> tuple[FaultReport, int]:
    """A fresh meter runs `warmup_passes`, then does `target` with the power lost
    inside its k-th flash operation (None: no cut, just count them); then it
    boots from the flash and is checked. Returns (report, the target's flash
    operations). Targets: a token application, an instant freeze, a relay
    command, a passive tariff's activation (the pass it happens in), the
    energy-step save (the pass it happens in)."""
    if target not in TARGETS:
        raise ValueError(f"faults: target {target!r}: one of {', '.join(TARGETS)}")
    with tempfile.TemporaryDirectory(prefix="faults-") as d:
        c = Campaign(seed, Path(d), sectors=64)
        try:
            with _cwd(c.folder):
                return c.cut_inside(target, k, warmup_passes)
        finally:
            machine.attach_board(None)


def run_faults(cuts: int, seed: int, progress: Callable[[int], object] | None = None,
               holdup_ms: int = HOLDUP_MS, load_w: float = LOAD_W, sectors: int = FLASH_SECTORS) -> FaultReport:
    """The campaign of product.md's `host_sim faults` (see the module doc)."""
    if cuts < 1:
        raise ValueError(f"faults: --cuts {cuts}: at least one cut")
    with tempfile.TemporaryDirectory(prefix="faults-") as d:
        try:
            return Campaign(seed, Path(d), holdup_ms, load_w, sectors).run(cuts, progress)
        finally:
            machine.attach_board(None)

