"""The prepaid account (prepay.md): balance, emergency credit, totals, states.

Units: the balance is integer 0.0001 units of the credit mode: currency
(0.0001 currency units, debited by the tariff's exact cost_e4) or energy
(0.0001 kWh, debited from AENERGY LSB exactly: e4 = lsb * den * 10000 / num,
the remainder carried in 1/num of 0.0001 kWh, so no split loses anything).

Every register is split (whole units + 0.0001 units in 0..9999) so it stays an
ESP32 small int however long the meter runs; a debit or credit of one call is
below 2**29 e-4. Invariant, exact at every instant:
    balance == start + credited - deducted - cleared
(cleared is what an STS "clear credit" token removed; 0 otherwise).

Emergency credit: the balance may go below zero down to -emergency_limit once
emergency credit is in use (automatically at R <= 0, or when the householder
presses the button, per config). The negative balance is the debt: a top-up
adds to the balance, so it repays the debt first; the emergency ends when R > 0.

Implements the token gateway's account interface (tokens.py): can_credit,
apply_credit, set_power_limit_w, clear_credit, clear_tamper, meter_test.
"""
from micropython import const

import prepaycfg as cfgmod

NORMAL = "normal"
ALARM1 = "alarm1"
ALARM2 = "alarm2"
EMERGENCY = "emergency"
EXHAUSTED = "exhausted"
STATES = (NORMAL, ALARM1, ALARM2, EMERGENCY, EXHAUSTED)

FUNCTION_NOT_SUPPORTED = "function_not_supported"  # tokens.py result names
OVERFLOW = "overflow"
RANGE = "range"

_E4 = const(10000)
_CHUNK = const(1 << 16)  # units per step: chunk * 10000 + carry < 2**30
_SOURCE = "prepay"


def split(v):
    """0.0001 units -> (whole, e4) with 0 <= e4 < 10000 (floor division)."""
    w = v // _E4
    return w, v - w * _E4


def text(units, e4):
    """Split register -> '-12.3456'."""
    if units < 0 and e4:
        return "-%d.%04d" % (-units - 1, _E4 - e4)
    return "%d.%04d" % (units, e4)


def _gt(u, e, tu, te):
    return u > tu or (u == tu and e > te)


class Account:
    """cfg: prepaycfg.Config; events: events.EventLog; num/den: calibration
    LSB per kWh (energy mode only)."""

    def __init__(self, cfg, events, num=1, den=1):
        self.cfg = cfg
        self.events = events
        self.mode = cfg.mode
        self.num = num
        self.den = den
        su, se = split(cfg.balance_e4)
        self.start_units, self.start_e4 = su, se
        self.bal_units, self.bal_e4 = su, se
        self.cred_units = self.cred_e4 = 0
        self.ded_units = self.ded_e4 = 0
        self.clr_units = self.clr_e4 = 0
        self.purchases = 0
        self.emergency_active = False
        self.carry = 0  # energy mode: remainder in 1/num of 0.0001 kWh
        self.power_limit_w = cfg.power_limit_w
        self.power_limit_changes = 0  # bumps when a token sets it (the relay re-reads)
        self.tamper = False
        self.last_test = -1  # control bits of the last class 1 token
        # thresholds, split once
        self._a1u, self._a1e = split(cfg.alarm1_e4)
        self._a2u, self._a2e = split(cfg.alarm2_e4)
        self._elu, self._ele = split(-cfg.emergency_limit_e4)
        self._rcu, self._rce = split(cfg.reconnect_threshold_e4)
        self._mxu, self._mxe = split(cfg.max_balance_e4)
        self.state = self._evaluate()

    # --- reading ----------------------------------------------------------
    def balance_text(self):
        return text(self.bal_units, self.bal_e4)

    def debt_text(self):
        """The emergency debt: the negative part of the balance."""
        u, e = self.bal_units, self.bal_e4
        if u >= 0:
            return "0.0000"
        return text(-u - 1, _E4 - e) if e else text(-u, 0)

    def balance_e4(self):
        """Whole balance in 0.0001 units (may be a big int on the device: edges only)."""
        return self.bal_units * _E4 + self.bal_e4

    def positive(self):
        return _gt(self.bal_units, self.bal_e4, 0, 0)

    def above_reconnect(self):
        return _gt(self.bal_units, self.bal_e4, self._rcu, self._rce)

    def emergency_offered(self):
        """R <= 0, emergency credit by button, not taken yet."""
        return (self.cfg.emergency == cfgmod.BUTTON and self.cfg.emergency_limit_e4 > 0
                and not self.emergency_active and not self.positive())

    def margin_e4(self, cap):
        """Balance above the disconnect point, in 0.0001 units, clipped to cap (< 2**29)."""
        if self.emergency_active or (self.cfg.emergency == cfgmod.AUTO and self.cfg.emergency_limit_e4 > 0):
            fu, fe = self._elu, self._ele
        else:
            fu, fe = 0, 0
        du = self.bal_units - fu
        if du > cap // _E4 + 1:
            return cap
        m = du * _E4 + self.bal_e4 - fe
        return cap if m > cap else m

    # --- the states -------------------------------------------------------
    def _evaluate(self):
        u, e = self.bal_units, self.bal_e4
        if _gt(u, e, self._a1u, self._a1e):
            return NORMAL
        if _gt(u, e, self._a2u, self._a2e):
            return ALARM1
        if _gt(u, e, 0, 0):
            return ALARM2
        if self.emergency_active and _gt(u, e, self._elu, self._ele):
            return EMERGENCY
        return EXHAUSTED

    def update(self):
        """Re-evaluate after a change; automatic emergency credit; events. Returns the state."""
        cfg = self.cfg
        if self.positive():
            if self.emergency_active:
                self.emergency_active = False  # the debt is repaid
                self.events.log("emergency_repaid", _SOURCE, 0)
        elif (not self.emergency_active and cfg.emergency == cfgmod.AUTO and cfg.emergency_limit_e4 > 0
              and _gt(self.bal_units, self.bal_e4, self._elu, self._ele)):
            self.emergency_active = True
            self.events.log("emergency_credit", _SOURCE, "auto")
        s = self._evaluate()
        if s != self.state:
            self.state = s
            self.events.log("balance_state", _SOURCE, s)
        return s

    def take_emergency(self):
        """Button-mode emergency credit; True if it was offered and is now taken."""
        if not self.emergency_offered():
            return False
        self.emergency_active = True
        self.events.log("emergency_credit", _SOURCE, "button")
        self.update()
        return True

    # --- money out ----------------------------------------------------------
    def _sub(self, c):
        e = self.bal_e4 - c
        w = e // _E4
        self.bal_units += w
        self.bal_e4 = e - w * _E4
        e = self.ded_e4 + c
        w = e // _E4
        self.ded_units += w
        self.ded_e4 = e - w * _E4

    def deduct_cost_e4(self, cost_e4):
        """Currency mode: debit the tariff's exact cost (0 <= cost_e4 < 2**29)."""
        if self.mode != cfgmod.CURRENCY:
            raise ValueError("prepay: deduct_cost_e4: the account is in %s mode" % self.mode)
        if cost_e4 > 0:
            self._sub(cost_e4)
            self.update()

    def deduct_energy_lsb(self, lsb):
        """Energy mode: debit imported AENERGY LSB (0 <= lsb < 2**23), exactly."""
        if self.mode != cfgmod.ENERGY:
            raise ValueError("prepay: deduct_energy_lsb: the account is in %s mode" % self.mode)
        u = lsb * self.den  # 1/num kWh
        num = self.num
        total = 0
        while u > 0:
            n = u if u < _CHUNK else _CHUNK
            u -= n
            x = n * _E4 + self.carry
            k = x // num
            self.carry = x - k * num
            total += k
        if total:
            self._sub(total)
            self.update()

    # --- money in (the token gateway's account interface) -------------------
    def _credit_split(self, mode, amount):
        if mode == cfgmod.ENERGY:  # amount in Wh -> 0.0001 kWh
            return amount // 1000, (amount % 1000) * 10
        return split(amount)

    def can_credit(self, mode, amount):
        """None if the credit may be applied, else the STS result to refuse with."""
        if mode != self.mode:
            return FUNCTION_NOT_SUPPORTED
        if amount < 0:
            return RANGE
        cu, ce = self._credit_split(mode, amount)
        e = self.bal_e4 + ce
        u = self.bal_units + cu + e // _E4
        if _gt(u, e % _E4, self._mxu, self._mxe):
            return OVERFLOW  # hoarding limit: nothing is credited
        return None

    def apply_credit(self, mode, amount, tid):
        """Credit an accepted token (debt is repaid first: it is the negative balance)."""
        refused = self.can_credit(mode, amount)
        if refused is not None:
            raise ValueError("prepay: apply_credit: refused (%s); nothing credited" % refused)
        cu, ce = self._credit_split(mode, amount)
        e = self.bal_e4 + ce
        self.bal_units += cu + e // _E4
        self.bal_e4 = e % _E4
        e = self.cred_e4 + ce
        self.cred_units += cu + e // _E4
        self.cred_e4 = e % _E4
        self.purchases += 1
        self.events.log("credit", _SOURCE, tid)
        self.update()

    def set_power_limit_w(self, w):
        self.power_limit_w = w
        self.power_limit_changes += 1
        self.events.log("power_limit_set", _SOURCE, w)

    def clear_credit(self):
        """STS clear credit: the balance becomes 0; what it held is booked as cleared."""
        e = self.clr_e4 + self.bal_e4
        self.clr_units += self.bal_units + e // _E4
        self.clr_e4 = e % _E4
        self.bal_units = self.bal_e4 = 0
        self.emergency_active = False
        self.events.log("credit_cleared", _SOURCE, 0)
        self.update()

    def clear_tamper(self):
        self.tamper = False
        self.events.log("tamper_cleared", _SOURCE, 0)

    def meter_test(self, subclass, control):
        self.last_test = control
        self.events.log("meter_test", _SOURCE, control)

    # --- persistence ----------------------------------------------------------
    def registers(self):
        """Everything persistent, as small ints in a fixed order."""
        return (self.bal_units, self.bal_e4, self.cred_units, self.cred_e4, self.ded_units,
                self.ded_e4, self.clr_units, self.clr_e4, self.start_units, self.start_e4,
                self.purchases, 1 if self.emergency_active else 0, self.carry,
                self.power_limit_w, STATES.index(self.state), 1 if self.tamper else 0)

    def restore(self, r):
        if len(r) != 16 or not (0 <= r[1] < _E4 and 0 <= r[3] < _E4 and 0 <= r[5] < _E4
                                and 0 <= r[7] < _E4 and 0 <= r[9] < _E4 and 0 <= r[12] < self.num
                                and 0 <= r[14] < len(STATES)):
            raise ValueError("prepay: account record: field out of range")
        (self.bal_units, self.bal_e4, self.cred_units, self.cred_e4, self.ded_units, self.ded_e4,
         self.clr_units, self.clr_e4, self.start_units, self.start_e4, self.purchases, em,
         self.carry, self.power_limit_w, st, tp) = r
        self.emergency_active = em == 1
        self.state = STATES[st]
        self.tamper = tp == 1
