"""Maximum power limit (prepay.md): mean power over a window above the limit
for the trip delay asks the relay to open; the trips are counted, and the
lockout_trips-th trip within the lockout window locks the relay open until
the button. Integers only: each pass's energy is turned into 8 x W.s (8 x
W.ms per AENERGY LSB from the calibration, in chunks below 2**29), the window's
limit is compared as 8 x limit x ms / 1000, both far below 2**30 for any
limit up to 100 kW and window up to 600 s.
"""
from ticks import ticks_diff


class PowerLimit:
    def __init__(self, cfg):
        self.cfg = cfg
        self._k8 = 0  # 8 x W.ms per AENERGY LSB
        self._chunk = 1
        self._ws8 = 0  # energy in the window, 8 x W.s
        self._carry = 0  # below one 8 x W.s, in 8 x W.ms
        self._ms = 0
        self._over_ms = 0
        self.trip_due = False
        self.trips = 0
        self.locked_out = False
        self._trip_ms = 0

    def set_scale(self, num, den):
        """The calibration's num/den AENERGY LSB per kWh (once per metrology)."""
        self._k8 = max(1, den * 3_600_000 * 8000 // num)  # 3.6e9 W.ms per kWh
        self._chunk = max(1, (1 << 29) // self._k8)

    def reset(self):
        self._ws8 = self._carry = self._ms = self._over_ms = 0
        self.trip_due = False

    def add(self, lsb, dt_ms, limit_w):
        """One pass of import energy while the relay is closed."""
        if limit_w <= 0 or dt_ms <= 0 or self._k8 == 0:
            self.reset()
            return
        k8 = self._k8
        while lsb > 0:
            n = lsb if lsb < self._chunk else self._chunk
            lsb -= n
            x = n * k8 + self._carry
            w = x // 1000
            self._carry = x - w * 1000
            self._ws8 += w
        self._ms += dt_ms
        cfg = self.cfg
        if self._ms < cfg.power_window_s * 1000:
            return
        ms = self._ms
        # mean power > limit  <=>  8 E[W.s] > 8 limit ms / 1000
        allowed = limit_w * 8 * (ms // 1000) + limit_w * 8 * (ms % 1000) // 1000
        if self._ws8 > allowed:
            self._over_ms += ms
            if self._over_ms >= cfg.power_trip_delay_s * 1000:
                self.trip_due = True
        else:
            self._over_ms = 0
            self.trip_due = False
        self._ws8 = self._carry = self._ms = 0

    def tripped(self, now_ms):
        """The relay opened for the limit; True when this trip locks it out."""
        self.reset()
        if self.trips and ticks_diff(now_ms, self._trip_ms) > self.cfg.power_lockout_window_s * 1000:
            self.trips = 0  # the earlier trips are too long ago to count
        self.trips += 1
        self._trip_ms = now_ms
        if self.trips >= self.cfg.power_lockout_trips:
            self.locked_out = True
        return self.locked_out

    def unlock(self):
        self.locked_out = False
        self.trips = 0
