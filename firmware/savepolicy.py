"""When the meter's registers are written to flash.

Four triggers: an energy step (every `step_lsb` AENERGY LSB of energy, import
and export together), a timer (no save for `max_interval_ms`), the power-fail
warning (the SAG interrupt schedules `power_fail()`), and every credit (a
token's credit and its TID are one record: `credit()` asks for it at once).
The loop calls `note_energy(lsb)` each tick and `due(now_ms)`; when due is not
NONE it saves and calls `saved(now_ms, reason)`. note_energy/due allocate
nothing (per-tick path). What this costs in flash wear and what a cut without
warning can lose: tools/storage_budget.py and the README's storage section.
"""
from micropython import const

from ticks import ticks_add, ticks_diff

NONE = const(0)
POWER_FAIL = const(1)
CREDIT = const(2)
ENERGY = const(3)
TIMER = const(4)
REASONS = ("none", "power_fail", "credit", "energy", "timer")

# 0.1 kWh steps and an hour at most: see the budget in tools/storage_budget.py.
STEP_KWH_E3 = const(100)  # energy step in Wh
MAX_INTERVAL_MS = const(3_600_000)
RETRY_MS = const(10_000)  # after a failed save (full or failing flash), not every tick


def step_lsb_for(lsb_per_kwh_num, lsb_per_kwh_den, step_wh=STEP_KWH_E3):
    """AENERGY LSB in `step_wh` Wh for a calibration's exact LSB/kWh = num/den
    (rounded up, so a step is never smaller than asked)."""
    return -(-lsb_per_kwh_num * step_wh // (lsb_per_kwh_den * 1000))


class SavePolicy:
    def __init__(self, step_lsb, now_ms, max_interval_ms=MAX_INTERVAL_MS):
        if step_lsb < 1 or step_lsb >= 1 << 29:
            raise ValueError("save policy: energy step of %r LSB outside 1..2**29" % step_lsb)
        if not 1000 <= max_interval_ms < 1 << 29:  # ticks_diff is exact below 2**29 ms
            raise ValueError("save policy: timer of %r ms outside 1 s..2**29 ms" % max_interval_ms)
        self.step_lsb = step_lsb
        self.max_interval_ms = max_interval_ms
        self.pending_lsb = 0  # energy registered since the last save
        self.last_save_ms = now_ms
        self._power_fail = False
        self._credit = False
        self._retry_at_ms = 0
        self._retrying = False
        # writes per reason, index = reason code (0 unused)
        self.writes = [0, 0, 0, 0, 0]
        self.failures = 0

    def note_energy(self, lsb):
        """Energy (import or export, LSB, >= 0) the tick just registered."""
        p = self.pending_lsb + lsb
        self.pending_lsb = p if p < self.step_lsb else self.step_lsb  # capped: stays small

    def power_fail(self, _arg=None):
        """From the SAG interrupt via micropython.schedule: save before the supply dies."""
        self._power_fail = True

    def power_failing(self):
        """A power-fail save is pending: the loop must not sleep on it."""
        return self._power_fail

    def credit(self):
        """A credit (token) was applied in RAM: persist it before anything else."""
        self._credit = True

    def due(self, now_ms):
        """The most urgent reason to save now, or NONE."""
        if self._power_fail:
            return POWER_FAIL
        if self._retrying:
            if ticks_diff(now_ms, self._retry_at_ms) < 0:
                return NONE
            self._retrying = False
        if self._credit:
            return CREDIT
        if self.pending_lsb >= self.step_lsb:
            return ENERGY
        if ticks_diff(now_ms, self.last_save_ms) >= self.max_interval_ms:
            return TIMER
        return NONE

    def saved(self, now_ms, reason, ok=True):
        """The save for `reason` was attempted; a failed one is due again after
        RETRY_MS (a power-fail save at once)."""
        if not ok:
            self.failures += 1
            self._retrying = True
            self._retry_at_ms = ticks_add(now_ms, RETRY_MS)
            return
        self.writes[reason] += 1
        self.pending_lsb = 0
        self.last_save_ms = now_ms
        self._retrying = False
        self._credit = False
        if reason == POWER_FAIL:
            self._power_fail = False

    def total_writes(self):
        w = self.writes
        return w[1] + w[2] + w[3] + w[4]
