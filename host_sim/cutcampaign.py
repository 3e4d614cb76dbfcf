"""Power cuts at random flash operations of a working meter's storage, on real littlefs.

A small model of the meter's persistent life drives the firmware's storage
(`storage.Store`, `flashring`, `savepolicy`) on a NorFlash: energy is used and
deducted, tokens are entered (credit + TID committed in one record), the relay
switches, a passive tariff is activated, daily freezes and events are written.
After every cut the firmware is rebooted from what the flash holds and the
invariants are checked: every record readable (never corrupt), the wallet equals
the credits in its TID memory minus the cost of its registered energy (a credit
and its TID are atomic; energy and money move together), every token the meter
confirmed is still there (never lost), the token being entered at the cut is
re-entered by the householder and applied exactly once (never twice), freezes
stay in strictly increasing time, and the energy a cut lost stays within one
save step. This is the storage part of `host_sim faults`.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import host_sim  # noqa: F401  (firmware on sys.path)
from host_sim.flash import FlashRig

import flashring  # type: ignore[import-not-found]
import savepolicy  # type: ignore[import-not-found]
import storage  # type: ignore[import-not-found]

STATE = "state"
STATE_VERSION = 1
PRICE_E4_PER_WH = 5  # 0.5 yuan/kWh
STEP_WH = 100  # the policy's energy step (0.1 kWh)
MAX_WH_PER_ACTION = 40  # the campaign's "tick": a cut can also lose the step in progress
TID_MEMORY = 16
_FIELDS = 9  # energy_wh, balance_e4, credited_e4, relay, tariff_active, tariff_passive, passive_at_s, clock_s, days


@dataclass
class MeterState:
    energy_wh: int = 0
    balance_e4: int = 100_000
    credited_e4: int = 0
    relay: int = 1
    tariff_active: int = 1
    tariff_passive: int = 0
    passive_at_s: int = 0
    clock_s: int = 820_540_800
    days_frozen: int = 0
    tids: list[int] = field(default_factory=list)

    def payload(self) -> bytes:
        return storage.join_parts([
            storage.pack_i32((self.energy_wh, self.balance_e4, self.credited_e4, self.relay, self.tariff_active,
                              self.tariff_passive, self.passive_at_s, self.clock_s, self.days_frozen)),
            storage.pack_i32(tuple(self.tids)),
        ])

    @classmethod
    def from_payload(cls, p: bytes) -> "MeterState":
        regs, tids = storage.split_parts(p)
        v = storage.unpack_i32(regs, _FIELDS)
        return cls(*v, tids=list(storage.unpack_i32(tids, len(tids) // 4)))


@dataclass
class CampaignResult:
    cuts: int = 0
    recovered: int = 0  # boots that came up with every check passing
    corrupt: int = 0  # a record or ring that did not read back
    credit_applied_twice: int = 0
    credit_lost: int = 0
    wallet_mismatch: int = 0  # balance != credits - cost of energy
    freeze_replayed: int = 0
    max_energy_lost_wh: int = 0
    energy_lost_wh: int = 0
    energy_wh: int = 0  # energy the householder used over the campaign
    cuts_in: dict[str, int] = field(default_factory=dict)
    saves: int = 0
    erases: int = 0
    flash_ops: int = 0
    tokens_accepted: int = 0

    def flash_erases_per_day(self, kwh_per_day: float = 30.0) -> float:
        """Erases at the campaign's rate, scaled to a household using kwh_per_day."""
        days = self.energy_wh / 1000 / kwh_per_day
        return self.erases / days if days else 0.0

    def report(self) -> dict:
        """The keys product.md fixes for `host_sim faults --json`, then the rest."""
        return {"cuts": self.cuts, "recovered": self.recovered, "corrupt": self.corrupt,
                "credit_applied_twice": self.credit_applied_twice, "credit_lost": self.credit_lost,
                "energy_lost_wh_max": self.max_energy_lost_wh,
                "flash_erases_per_day": round(self.flash_erases_per_day(), 1),
                "wallet_mismatch": self.wallet_mismatch, "freeze_replayed": self.freeze_replayed,
                "cuts_in": self.cuts_in, "saves": self.saves, "erases": self.erases,
                "tokens_accepted": self.tokens_accepted}

    def ok(self) -> bool:
        return not (self.corrupt or self.credit_applied_twice or self.credit_lost or self.wallet_mismatch
                    or self.freeze_replayed or self.max_energy_lost_wh >= STEP_WH + MAX_WH_PER_ACTION)


class _Meter:
    """The firmware's storage side, as booted from the flash."""

    def __init__(self, rig: FlashRig, result: CampaignResult) -> None:
        self.store = storage.Store(rig.fs)
        p = self.store.load(STATE, STATE_VERSION)
        self.fresh = p is None
        self.state = MeterState() if p is None else MeterState.from_payload(p)
        self.log = flashring.EventLog(rig.fs)
        self.freezes = flashring.FreezeStore(rig.fs)
        self.policy = savepolicy.SavePolicy(STEP_WH, 0)
        for ev in self.store.events:
            if ev[1] in ("storage_lost", "storage_error"):
                result.corrupt += 1

    def save(self, reason: int) -> bool:
        ok = self.store.save(STATE, STATE_VERSION, self.state.payload())
        self.policy.saved(0, reason, ok)
        return ok

    def consume(self, wh: int) -> None:
        self.state.energy_wh += wh
        self.state.balance_e4 -= wh * PRICE_E4_PER_WH
        self.policy.note_energy(wh)
        if self.policy.due(0) == savepolicy.ENERGY:
            self.save(savepolicy.ENERGY)

    def enter_token(self, tid: int, value_e4: int) -> bool:
        """True when the credit is applied and on flash (the meter says 'accepted')."""
        if tid in self.state.tids:
            return False  # used token: rejected
        self.state.balance_e4 += value_e4
        self.state.credited_e4 += value_e4
        self.state.tids = (self.state.tids + [tid])[-TID_MEMORY:]
        self.policy.credit()
        ok = self.save(savepolicy.CREDIT)
        self.log.append(self.state.clock_s, "token_accepted", tid, value_e4)
        return ok


def _failures(r: CampaignResult) -> int:
    return r.corrupt + r.credit_applied_twice + r.credit_lost + r.wallet_mismatch + r.freeze_replayed


def run_campaign(cuts: int, seed: int, sectors: int = 64, progress=None) -> CampaignResult:
    """Drive the meter until `cuts` power cuts have happened; check after each."""
    rng = random.Random(seed)
    rig = FlashRig(sectors, seed)
    res = CampaignResult()
    m = _Meter(rig, res)
    true_wh = 0  # energy the householder really used
    lost_wh = 0  # of it, what cuts made the meter forget
    credits: dict[int, int] = {}  # every token ever issued: tid -> value
    accepted: set[int] = set()
    next_tid = 1000
    rig.flash.tear_at(rng.randint(1, 40))
    pending_token: tuple[int, int] | None = None
    while res.cuts < cuts:
        action = rng.choices(["consume", "token", "relay", "tariff", "freeze"], [70, 8, 8, 6, 8])[0]
        if pending_token is not None:
            action = "token"
        s = m.state
        if action == "consume":
            wh = rng.randint(1, MAX_WH_PER_ACTION)
            true_wh += wh
            m.consume(wh)
        elif action == "token":
            if pending_token is None:
                pending_token = (next_tid, rng.randint(1, 50) * 10_000)
                credits[next_tid] = pending_token[1]
                next_tid += 1
            tid, value = pending_token
            if m.enter_token(tid, value) and not rig.flash.cut:
                accepted.add(tid)
                res.tokens_accepted += 1
            if not rig.flash.cut:
                pending_token = None
        elif action == "relay":
            s.relay ^= 1
            m.save(savepolicy.POWER_FAIL)
            m.log.append(s.clock_s, "relay_close" if s.relay else "relay_open")
        elif action == "tariff":
            if s.tariff_passive:
                s.tariff_active, s.tariff_passive, s.passive_at_s = s.tariff_passive, 0, 0
                m.log.append(s.clock_s, "tariff_change", s.tariff_active)
            else:
                s.tariff_passive, s.passive_at_s = s.tariff_active + 1, s.clock_s + 86400
            m.save(savepolicy.CREDIT)
        elif action == "freeze":
            s.clock_s += 86400
            m.freezes.append("daily", s.clock_s, storage.pack_i32((s.energy_wh, s.balance_e4)))
            s.days_frozen += 1
            m.save(savepolicy.TIMER)
        if not rig.flash.cut:
            continue
        # --- power is gone: boot again from the flash and check ---------------
        res.cuts += 1
        bad_before = _failures(res)
        res.cuts_in[action] = res.cuts_in.get(action, 0) + 1
        res.saves += m.store.saves
        rig.reboot()
        m = _Meter(rig, res)
        s = m.state
        if m.fresh and res.saves:
            res.corrupt += 1
        lost_now = true_wh - lost_wh - s.energy_wh
        res.max_energy_lost_wh = max(res.max_energy_lost_wh, lost_now)
        lost_wh += lost_now
        if s.balance_e4 != MeterState().balance_e4 + s.credited_e4 - s.energy_wh * PRICE_E4_PER_WH:
            res.wallet_mismatch += 1
        # what the meter must hold: every confirmed token, and the one in flight if its TID is in
        in_flight = pending_token is not None and pending_token[0] in s.tids
        expected = sum(credits[t] for t in accepted) + (pending_token[1] if in_flight else 0)  # type: ignore[index]
        if s.credited_e4 > expected or len(set(s.tids)) != len(s.tids):
            res.credit_applied_twice += 1
        elif s.credited_e4 < expected:
            res.credit_lost += 1
        times = [t for _, t, _ in m.freezes.records("daily")]
        if any(b <= a for a, b in zip(times, times[1:])):
            res.freeze_replayed += 1
        try:
            m.log.entries()
        except Exception:  # noqa: BLE001 - any failure to read back is corruption
            res.corrupt += 1
        if pending_token is not None:  # the householder enters the token again
            tid, value = pending_token
            before = s.credited_e4
            m.enter_token(tid, value)  # no cut is armed: it completes
            if m.state.credited_e4 - before != (0 if in_flight else value):
                res.credit_applied_twice += 1
            accepted.add(tid)
            pending_token = None
        if _failures(res) == bad_before:
            res.recovered += 1
        if progress:
            progress(1)
        rig.flash.tear_at(rng.randint(1, 40))
    res.energy_lost_wh = lost_wh
    res.energy_wh = true_wh
    res.saves += m.store.saves
    res.erases = rig.flash.erases
    res.flash_ops = rig.flash.ops
    return res
