"""The prepay service: the account, protected periods, the relay policy, the
buzzer's warnings and the button, polled by the loop (prepay.md).

Wiring (the loop, each pass, after metering):
    lsb = metrology.take_import_lsb(); tariff.book(lsb)
    prepay.bill(lsb, tariff.take_cost_e4())   # debits the account in its mode
    prepay.poll(now_ms)                        # a service of the loop
and after every token: prepay.token_feedback(result, now_ms).

Protected periods: friendly hours (may wrap midnight), weekends, special
days, and the guaranteed-supply flag (an authorised command). While one is in
force the relay is not opened for lack of credit; consumption goes on and
becomes debt. The edge rule: credit that runs out inside a protected period
opens the relay when that period ends, not before (with the "disconnect
imminent" pattern a minute ahead); a period that starts while the relay is
already open does not close it (only the reconnect rule closes it). With an
unset clock only the guaranteed-supply flag protects (times are unknown).

Relay policy:
- credit: opens when the state is exhausted and nothing protects. Closes when
  the balance rises above reconnect_threshold (the balance is net of
  emergency debt, so a top-up must repay the debt and add the threshold),
  after a 3 s button hold or at once with reconnect = "auto". Taking
  button-mode emergency credit (a press) closes it too.
- power limit: mean power over power_window_s above the limit for
  power_trip_delay_s opens it; it recloses after power_holdoff_s; the
  power_lockout_trips-th trip within power_lockout_window_s locks it open
  until a 3 s button hold.
- never opened above the safe-break current (relay.py waits, then a timeout).
- persistent: state_bytes()/load_state(); at power-up the persisted state is
  driven (logged power_up_restore) and the first poll applies the rules NOW
  (a relay closed by a friendly period that has ended meanwhile opens).
Warnings: alarm1 at most hourly, alarm2/emergency (and exhausted while
protected) every 10 min, not in quiet hours nor while silenced by a button
press; token feedback, "disconnect imminent" and "relay opened" always.
"""
import binascii
import struct

from micropython import const

import account as acc
import buzzer as bz
import relay as rl
from account import Account  # noqa: F401  (re-exported: the prepay API)
from periods import Protection
from powerlimit import PowerLimit
from prepaycfg import BUTTON, AUTO, Config, PrepayError, parse_config  # noqa: F401
from ticks import ticks_add, ticks_diff

POWER_LIMIT_MAX_W = const(100_000)  # keeps the window arithmetic in small ints
_IMMINENT_S = const(60)
_BUCKET_MS = const(10_000)  # debit history: 6 buckets = the last minute
_BUCKETS = const(6)
_BUCKET_CAP = const(1 << 26)
_ALARM1_MS = const(3_600_000)
_ALARM2_MS = const(600_000)
_STATE_VERSION = const(1)
_STATE_FMT = "<B16iBBBBB"
_SOURCE = "prepay"
_WARNINGS = {acc.ALARM1: bz.ALARM1, acc.ALARM2: bz.ALARM2, acc.EMERGENCY: bz.EMERGENCY,
             acc.EXHAUSTED: bz.EMERGENCY}


class PrepayService:
    name = "prepay"

    def __init__(self, clock, events, account, relay, buzzer, button, meter_fn=None):
        self.clock = clock
        self.events = events
        self.account = account
        self.cfg = account.cfg
        self.relay = relay
        self.buzzer = buzzer
        self.button = button
        self.meter_fn = meter_fn  # () -> metrology.Metrology or None (not yet calibrated)
        self.periods = Protection(self.cfg, clock)
        self.power = PowerLimit(self.cfg)
        self.protected = False
        self.quiet = False
        self._m = None  # the metrology the constants below were made for
        self._safe_raw = 0x3FFFFFFF
        self._power_seen = account.power_limit_changes
        # debit history (account units) for "disconnect imminent"
        self._bucket = [0] * _BUCKETS
        self._bucket_i = 0
        self._bucket_ms = 0
        self._imminent = False  # played for this approach
        # warnings
        self._warn_state = ""
        self._warn_ms = 0
        self._warn_due = False
        self._silence_ms = 0
        self.silenced = False
        self._started = False
        self._cmd_open = False  # an authorised open command stands until a close command

    # --- inputs from the rest of the firmware ----------------------------
    def bill(self, import_lsb, cost_e4):
        """Debit what the tariff priced (currency) or the energy (energy mode)."""
        a = self.account
        if a.mode == acc.cfgmod.ENERGY:
            before_u, before_e = a.ded_units, a.ded_e4
            a.deduct_energy_lsb(import_lsb)
            d = (a.ded_units - before_u) * 10000 + a.ded_e4 - before_e
        else:
            a.deduct_cost_e4(cost_e4)
            d = cost_e4
        b = self._bucket
        i = self._bucket_i
        if b[i] < _BUCKET_CAP:
            b[i] += d

    def token_feedback(self, result, now_ms):
        """One short for accepted (or a key-change section), three short otherwise."""
        ok = result == "accepted" or result == "kc1_accepted" or result == "kc2_accepted"
        self.buzzer.play(bz.TOKEN_ACCEPTED if ok else bz.TOKEN_REJECTED, bz.PRIO_TOKEN, now_ms)

    def set_guaranteed_supply(self, on):
        """Authorised command: while on, no disconnection for lack of credit."""
        self.periods.guaranteed = bool(on)
        self.events.log("guaranteed_supply", _SOURCE, 1 if on else 0)

    def command_relay(self, closed, now_ms):
        """Authorised open/close command (reason 'command'); an open waits for a close command."""
        self._cmd_open = not closed
        if closed:
            self.relay.close(rl.COMMAND, now_ms)
        else:
            self._open(rl.COMMAND, now_ms, self._current_over())

    # --- metrology-derived inputs ------------------------------------------
    def _meter(self):
        m = self.meter_fn() if self.meter_fn is not None else None
        if m is not None and m is not self._m:
            self._m = m
            cal = m.cal
            num, den = cal.lsb_per_kwh()
            self._safe_raw = self.cfg.safe_break_ma * cal.irms_lsb_ref // cal.i_ref_ma
            self.power.set_scale(num, den)
        return m

    def _current_over(self):
        m = self._m
        return m is not None and m.irms_raw > self._safe_raw

    def _safe_timeout_ms(self):
        return self.cfg.safe_break_timeout_s * 1000

    # --- the loop -----------------------------------------------------------
    def poll(self, now_ms):
        clock = self.clock
        a = self.account
        r = self.relay
        cfg = self.cfg
        if not self._started:
            self._started = True
            self._bucket_ms = now_ms
            self.power._trip_ms = now_ms
            if not r.closed:
                r.changed_ms = now_ms  # a hold-off restarts at power-up
        m = self._meter()
        if m is not None and r.closed:
            self.power.add(m.tick_import_lsb, m.last_dt_ms, a.power_limit_w)
        over = self._current_over()
        if a.power_limit_changes != self._power_seen:
            self._power_seen = a.power_limit_changes
            self.power.reset()
        if ticks_diff(now_ms, self._bucket_ms) >= _BUCKET_MS:
            self._bucket_ms = ticks_add(self._bucket_ms, _BUCKET_MS)
            if ticks_diff(now_ms, self._bucket_ms) >= _BUCKET_MS:
                self._bucket_ms = now_ms  # fell behind (clock stall): resync
            self._bucket_i = (self._bucket_i + 1) % _BUCKETS
            self._bucket[self._bucket_i] = 0
        b = self.button
        b.poll(now_ms)
        state = a.update()
        day = clock.day
        sod = clock.sod
        self.protected = prot = self.periods.at(day, sod)
        self.quiet = self.periods.quiet(sod)
        if self.silenced and ticks_diff(now_ms, self._silence_ms) >= 0:
            self.silenced = False
        # the button: a press takes offered emergency credit, else silences warnings
        if b.pressed:
            if a.emergency_offered():
                a.take_emergency()
                state = a.state
                if not r.closed and r.reason == rl.CREDIT_EXHAUSTED and state != acc.EXHAUSTED:
                    r.close(rl.BUTTON, now_ms)
            elif cfg.silence_s:
                self.silenced = True
                self._silence_ms = ticks_add(now_ms, cfg.silence_s * 1000)
        if b.held and not r.closed:
            if r.reason == rl.CREDIT_EXHAUSTED and a.above_reconnect():
                r.close(rl.BUTTON, now_ms)
            elif r.reason == rl.POWER_LIMIT and self.power.locked_out and (state != acc.EXHAUSTED or prot):
                self.power.unlock()
                r.close(rl.BUTTON, now_ms)
        # the relay policy
        if r.closed:
            if self._cmd_open:
                self._open(rl.COMMAND, now_ms, over)
            elif state == acc.EXHAUSTED and not prot:
                self._open(rl.CREDIT_EXHAUSTED, now_ms, over)
            elif self.power.trip_due:
                self._open(rl.POWER_LIMIT, now_ms, over)
            elif r.waiting:
                r.cancel_open()  # the cause went away while the current was too high
            else:
                self._maybe_imminent(state, prot, day, sod, now_ms)
        elif r.reason == rl.CREDIT_EXHAUSTED:
            if cfg.reconnect == AUTO and a.above_reconnect():
                r.close(rl.CREDIT_RESTORED, now_ms)
        elif r.reason == rl.POWER_LIMIT and not self.power.locked_out:
            if ticks_diff(now_ms, r.changed_ms) >= cfg.power_holdoff_s * 1000:
                if state == acc.EXHAUSTED and not prot:
                    r.set_reason(rl.CREDIT_EXHAUSTED)
                else:
                    r.close(rl.POWER_LIMIT, now_ms)
        elif r.reason == rl.POWER_UP_RESTORE:  # restored open without a known cause
            if a.above_reconnect():
                r.close(rl.CREDIT_RESTORED, now_ms)
        self._warnings(state, now_ms)
        r.check()
        self.buzzer.poll(now_ms)

    def _open(self, reason, now_ms, over):
        r = self.relay
        if not r.request_open(reason, now_ms, over, self._safe_timeout_ms()):
            return
        self._imminent = False
        if reason == rl.COMMAND:
            self._cmd_open = False
        self.buzzer.play(bz.RELAY_OPENED, bz.PRIO_RELAY, now_ms)
        if reason == rl.POWER_LIMIT and self.power.tripped(now_ms):
            self.events.log("power_lockout", _SOURCE, self.power.trips)

    def _maybe_imminent(self, state, prot, day, sod, now_ms):
        """'Disconnect imminent' once, about a minute before a credit disconnection."""
        soon = False
        if not self.periods.at(day, sod + _IMMINENT_S):
            if state == acc.EXHAUSTED:
                soon = prot  # the protected period ends within the minute
            else:
                b = self._bucket
                last_minute = b[0] + b[1] + b[2] + b[3] + b[4] + b[5]
                soon = last_minute > 0 and self.account.margin_e4(_BUCKET_CAP) <= last_minute
        if soon and not self._imminent:
            self._imminent = True
            self.events.log("disconnect_imminent", _SOURCE, 0)
            self.buzzer.play(bz.IMMINENT, bz.PRIO_RELAY, now_ms)
        elif not soon and state != acc.EXHAUSTED and self.account.above_reconnect():
            self._imminent = False

    def _warnings(self, state, now_ms):
        pattern = _WARNINGS.get(state)
        if state == acc.EXHAUSTED and not self.relay.closed:
            pattern = None  # the relay-opened tone said it
        if state != self._warn_state:
            self._warn_state = state
            self._warn_due = True
        elif pattern is not None and ticks_diff(now_ms, self._warn_ms) >= 0:
            self._warn_due = True
        if pattern is None or not self._warn_due:
            return
        self._warn_due = False
        self._warn_ms = ticks_add(now_ms, _ALARM1_MS if state == acc.ALARM1 else _ALARM2_MS)
        if not self.quiet and not self.silenced:
            self.buzzer.play(pattern, bz.PRIO_WARNING, now_ms)

    # --- persistence ---------------------------------------------------------
    def state_bytes(self):
        """Account registers, relay state and reason, power-limit trips, CRC-32."""
        r = self.relay
        body = struct.pack(_STATE_FMT, _STATE_VERSION, *(self.account.registers() + (
            1 if r.closed else 0, rl.REASONS.index(r.reason), min(self.power.trips, 255),
            1 if self.power.locked_out else 0, 1 if self.periods.guaranteed else 0)))
        return body + struct.pack("<I", binascii.crc32(body))

    def load_state(self, data, now_ms):
        """Restore after a power cut; ValueError (and nothing changed) if corrupt."""
        n = struct.calcsize(_STATE_FMT)
        if len(data) != n + 4:
            raise ValueError("prepay state: %d bytes, expected %d" % (len(data), n + 4))
        body = data[:n]
        if struct.unpack("<I", data[n:])[0] != binascii.crc32(body):  # unsigned on both interpreters
            raise ValueError("prepay state: CRC does not match (corrupt record)")
        v = struct.unpack(_STATE_FMT, body)
        if v[0] != _STATE_VERSION:
            raise ValueError("prepay state: version %d, this firmware reads %d" % (v[0], _STATE_VERSION))
        closed, reason, trips, locked, guaranteed = v[17:]
        if closed > 1 or reason >= len(rl.REASONS) or locked > 1 or guaranteed > 1:
            raise ValueError("prepay state: relay field out of range")
        self.account.restore(v[1:17])
        self.power.trips = trips
        self.power.locked_out = locked == 1
        self.periods.guaranteed = guaranteed == 1
        self._warn_state = ""
        self.relay.restore(closed == 1, rl.REASONS[reason], now_ms)
