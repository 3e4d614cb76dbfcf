"""A prepay service on fake pins, a fake metrology and a manual clock.

The fake calibration has 3 600 000 LSB per kWh (num/den = 3600000/1), so one
AENERGY LSB is exactly 1 W.s: a load of P watts books P/2 LSB per 500 ms tick.
Everything the fakes do is allocation-free (preallocated values only).
"""
import account
import button
import buzzer
import prepay
import relay
from clock import Clock, days_from_civil
from events import EventLog

LSB_PER_KWH = 3_600_000
MONDAY = days_from_civil(2026, 1, 5)  # a Monday


class ManualClock:
    """ticks_ms under the test's control (fixtures.py's, without its imports)."""

    def __init__(self, ms=0):
        self.ms = ms

    def __call__(self):
        return self.ms


class Pin:
    def __init__(self, v=0):
        self.v = v

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v
        return None


class FakeCal:
    irms_lsb_ref = 100_000  # IRMS reading at 10 A
    i_ref_ma = 10_000

    def lsb_per_kwh(self):
        return LSB_PER_KWH, 1


class FakeMetrology:
    def __init__(self):
        self.cal = FakeCal()
        self.irms_raw = 0
        self.tick_import_lsb = 0
        self.last_dt_ms = 500

    def set_current_ma(self, ma):
        self.irms_raw = ma * 10


class Rig:
    """rig = Rig({"balance": "1.0000", ...}); rig.run(seconds, watts, cost_e4_per_tick)."""

    def __init__(self, cfg=None, day=MONDAY, sod=12 * 3600, special_days=None, feedback=False,
                 account_cls=None):
        self.ticks = ManualClock(1000)
        self.clock = Clock(self.ticks)
        self.clock.set(day, sod)
        self.events = EventLog(self.clock, 64)
        self.cfg = prepay.parse_config(cfg or {}, special_days)
        self.account = account.Account(self.cfg, self.events, LSB_PER_KWH, 1)
        self.relay_pin = Pin(0)
        self.fb_pin = Pin(1) if feedback else None
        self.relay = relay.Relay(self.relay_pin, self.events, self.fb_pin)
        self.buzz_pin = Pin(0)
        self.buzzer = buzzer.Buzzer(self.buzz_pin)
        self.button_pin = Pin(1)  # active low: 1 = released
        self.button = button.Button(self.button_pin)
        self.meter = FakeMetrology()
        self.svc = prepay.PrepayService(self.clock, self.events, self.account, self.relay,
                                        self.buzzer, self.button, self.get_meter)
        self.watts = 0
        self.cost_e4_per_tick = 0
        self.buzz_on_ticks = 0
        self.billed_lsb = 0
        self.billed_cost_e4 = 0

    def get_meter(self):
        return self.meter

    def tick(self):
        """One 500 ms pass: the load draws only while the relay is closed."""
        self.ticks.ms += 500
        self.clock.update()
        m = self.meter
        lsb = self.watts // 2 if self.relay.closed else 0
        m.tick_import_lsb = lsb
        cost = self.cost_e4_per_tick if lsb else 0
        self.billed_lsb += lsb  # the harness's own count of what it handed over
        self.billed_cost_e4 += cost
        self.svc.bill(lsb, cost)
        self.svc.poll(self.clock.now_ms)
        if self.buzz_pin.v:
            self.buzz_on_ticks += 1

    def run(self, seconds, watts=None, cost_e4_per_tick=None):
        if watts is not None:
            self.watts = watts
        if cost_e4_per_tick is not None:
            self.cost_e4_per_tick = cost_e4_per_tick
        for _ in range(seconds * 2):
            self.tick()

    def run_until(self, cond, max_s):
        for _ in range(max_s * 2):
            self.tick()
            if cond():
                return True
        return False

    def hold_button(self, seconds):
        self.button_pin.v = 0
        self.run(seconds)
        self.button_pin.v = 1
        self.tick()

    def press(self):
        self.button_pin.v = 0
        self.tick()
        self.button_pin.v = 1
        self.tick()

    def logged(self, kind, detail=None):
        """Details of the events of this kind still in the ring, oldest first."""
        ev = self.events
        out = []
        first = ev.seq - ev.size if ev.seq > ev.size else 0
        for s in range(first, ev.seq):
            i = s % ev.size
            if ev.kind[i] == kind and (detail is None or ev.detail[i] == detail):
                out.append(ev.detail[i])
        return out

    def balance_e4(self):
        return self.account.balance_e4()
