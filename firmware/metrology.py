"""Energy accounting from the ADE7753's own accumulator (chip independent core).

The chip integrates; this module accounts. Each tick reads AENERGY (a
non-destructive read, so a retried transfer cannot lose energy) and takes the
difference from the previous reading modulo 2**24. Positive differences go to
the import register, negative ones to export. Registers are exact integers:
whole kWh plus a remainder in 1/num kWh, where num/den is the calibrated number
of AENERGY LSB per kWh, so nothing is rounded and nothing drifts.
Every hot-path integer stays below 2**30 (ESP32 small ints), and a
steady-state tick allocates nothing.
"""
from micropython import const

import ade7753 as chip_regs
from ticks import ticks_diff

_WRAP = const(0x1000000)  # AENERGY is 24-bit two's complement
_HALF = const(0x800000)
_KWH_ROLLOVER = const(1_000_000)  # registers show 999 999.999 kWh, then 0
# Slowest allowed poll: AENERGY must not move 2**23 LSB between two reads.
# Clipped full-scale inputs give ~1.6 x 22 372 LSB/s at WDIV 1 -> 234 s.
_OVERFLOW_BUDGET_MS = const(200_000)
# Firmware no-load cut-off: half the class 1 starting current (0.004 Ib).
_CUTOFF_PER_MILLE_IB = const(2)

# Chip configuration outside calibration: CF pulses on (DISCF clear), SAG
# detection on (DISSAG clear) for power-fail, AENERGY in normal (not line-cycle)
# mode, waveform rate DTRT = 11 (unused by metering). DTRT makes the value
# non-zero on purpose: a dead bus that reads all zeros also passes CHKSUM, and
# must not look like a configured chip.
METER_MODE = const(0x1800)
# Clipped full-scale inputs give at most ~1.6 x 22 372 LSB/s, x1.5 with the
# largest WGAIN: a bigger AENERGY step than 60 LSB per ms is not energy.
_MAX_LSB_PER_MS = const(60)
_PLAUSIBLE_ALL_MS = const(140_000)  # 60 LSB/ms x 140 s > 2**23: any step is possible
_EVENTS_MAX = const(8)
_IRQEN = const(0x1042)  # SAG | RESET | ZXTO: raise the IRQ pin for these


class EnergyRegister:
    """Exact, monotonic energy register: whole kWh + remainder in 1/num kWh."""

    def __init__(self, num, den):
        self.num = num  # LSB per kWh is num/den (exact fraction)
        self.den = den
        self.kwh = 0
        self.frac = 0  # 0 <= frac < num, in units of 1/num kWh

    def add_lsb(self, lsb):
        """Add a non-negative count of AENERGY LSB."""
        self.frac += lsb * self.den
        if self.frac >= self.num:
            whole = self.frac // self.num
            self.frac -= whole * self.num
            self.kwh += whole
            if self.kwh >= _KWH_ROLLOVER:
                self.kwh -= _KWH_ROLLOVER

    def add_units(self, units):
        """Add a non-negative amount in 1/num kWh (the tariff splits LSB at tier
        thresholds, which can fall inside one LSB). units < 2**30 - num."""
        self.frac += units
        if self.frac >= self.num:
            whole = self.frac // self.num
            self.frac -= whole * self.num
            self.kwh += whole
            if self.kwh >= _KWH_ROLLOVER:
                self.kwh -= _KWH_ROLLOVER

    def restore(self, kwh, frac):
        if not (0 <= kwh < _KWH_ROLLOVER and 0 <= frac < self.num):
            raise ValueError("energy register: %d kWh + %d/%d out of range" % (kwh, frac, self.num))
        self.kwh = kwh
        self.frac = frac

    def wh(self):
        """Value in Wh as a float, for display and JSON only."""
        return self.kwh * 1000.0 + self.frac * 1000.0 / self.num

    def micro_wh(self):
        """Exact value in whole µWh (host-side arithmetic: may be a big int)."""
        return self.kwh * 1_000_000_000 + self.frac * 1_000_000_000 // self.num

    def kwh_text(self):
        """'123456.789': the readout form, truncated (never rounds up)."""
        return "%d.%03d" % (self.kwh, self.frac * 1000 // self.num)


class Metrology:
    """Polls one ADE7753, keeps the import/export registers and live readings."""

    def __init__(self, chip, calibration, ib_ma, un_mv):
        self._chip = chip
        self.cal = calibration
        num, den = calibration.lsb_per_kwh()
        self.energy_import = EnergyRegister(num, den)
        self.energy_export = EnergyRegister(num, den)
        # ms one LSB takes at the cut-off power: below it a tick registers nothing.
        # (Big-int arithmetic here is fine: it runs once, not per tick.)
        cutoff_mw = ib_ma * _CUTOFF_PER_MILLE_IB * un_mv // 1_000_000
        self._cutoff_ms_per_lsb = max(1, 3_600_000_000_000 * den // (num * max(cutoff_mw, 1)))
        # |delta| below this keeps |delta| * _cutoff_ms_per_lsb under 2**30
        self._cutoff_guard = ((1 << 30) - 1) // self._cutoff_ms_per_lsb
        self._last_raw = 0
        self._last_ms = 0
        self._need_baseline = True  # no trustworthy AENERGY reference yet
        self._wraps_unflagged = 0  # wraps we saw before the chip's AEOF flag did
        # Live readings (raw register values; converted at the edge).
        self.vrms_raw = 0
        self.irms_raw = 0
        self.period_raw = 0
        self.last_delta_lsb = 0
        self.last_dt_ms = 0
        # Health counters and rare events (events allocate; steady state never does).
        self.chip_resets = 0
        self.missed_intervals = 0
        self.rejected_lsb = 0  # implausible AENERGY steps, never registered
        self.withheld_lsb = 0  # energy below the no-load cut-off, not registered
        self.events = []  # (now_ms, kind, detail), at most _EVENTS_MAX, drained by Meter

    def _log(self, now_ms, kind, detail):
        if len(self.events) >= _EVENTS_MAX:
            self.events.pop(0)
        self.events.append((now_ms, kind, detail))

    # --- chip set-up ------------------------------------------------------
    def configure(self):
        """Write configuration and calibration into the chip (boot, after reset)."""
        c = self._chip
        cal = self.cal
        c.write(chip_regs.GAIN, cal.gain)
        c.write(chip_regs.CH1OS, cal.ch1os)
        c.write(chip_regs.CH2OS, cal.ch2os)
        c.write(chip_regs.WGAIN, cal.wgain)
        c.write(chip_regs.APOS, cal.apos)
        c.write(chip_regs.PHCAL, cal.phcal)
        c.write(chip_regs.WDIV, cal.wdiv)
        c.write(chip_regs.CFNUM, cal.cfnum)
        c.write(chip_regs.CFDEN, cal.cfden)
        c.write(chip_regs.VRMSOS, cal.vrmsos)
        c.write(chip_regs.IRMSOS, cal.irmsos)
        c.write(chip_regs.IRQEN, _IRQEN)
        c.write(chip_regs.MODE, METER_MODE)

    def start(self, now_ms):
        """Reset, identify and configure the chip; take the energy baseline."""
        self._need_baseline = True
        self._chip.software_reset()
        self._chip.identify()
        self._rebaseline(now_ms)

    def _rebaseline(self, now_ms):
        # Until this completes, no difference is taken: a failure half-way
        # (chip still misbehaving) leaves _need_baseline set for the next tick.
        self.configure()
        self._chip.read_raw(chip_regs.RSTSTATUS)
        self._last_raw = self._chip.read(chip_regs.AENERGY)
        self._last_ms = now_ms
        self._wraps_unflagged = 0
        self._need_baseline = False

    def _recover(self, now_ms, why):
        # The chip lost its registers: whatever it gathered since the last poll
        # is gone (at most one tick), so report the interval and start again.
        self.chip_resets += 1
        self.missed_intervals += 1
        self._need_baseline = True
        self._log(now_ms, "chip_reset", why)
        self._rebaseline(now_ms)

    # --- the metering tick (steady state allocates nothing) ---------------
    def tick(self, now_ms):
        chip = self._chip
        if self._need_baseline:
            self._rebaseline(now_ms)
            return
        status = chip.read_raw(chip_regs.RSTSTATUS)
        if status & chip_regs.ST_RESET:
            self._recover(now_ms, "status_reset")
            return
        if chip.read_raw(chip_regs.MODE) != METER_MODE:
            self._recover(now_ms, "mode_lost")
            return
        raw = chip.read(chip_regs.AENERGY)
        prev = self._last_raw
        dt = ticks_diff(now_ms, self._last_ms)
        delta = raw - prev
        if delta >= _HALF:
            delta -= _WRAP
        elif delta < -_HALF:
            delta += _WRAP
        self._last_raw = raw
        self._last_ms = now_ms
        self._account(now_ms, status, prev + delta != raw, delta, dt)
        # Display readings last: if one of these reads fails, the energy above
        # is already booked and the baseline already moved on.
        self.vrms_raw = chip.read_raw(chip_regs.VRMS)
        self.irms_raw = chip.read_raw(chip_regs.IRMS)
        self.period_raw = chip.read_raw(chip_regs.PERIOD)

    def _account(self, now_ms, status, wrapped, delta, dt):
        aeof = status & chip_regs.ST_AEOF
        if wrapped and not aeof:
            # The register wrapped between our RSTSTATUS and AENERGY reads:
            # its AEOF flag arrives with the next status read.
            self._wraps_unflagged += 1
        elif aeof and not wrapped:
            if self._wraps_unflagged:
                self._wraps_unflagged -= 1
            else:
                # AEOF with no wrap in our own difference: a whole register
                # revolution (2**24 LSB) may be missing.
                self.missed_intervals += 1
                self._log(now_ms, "missed_interval", dt)
        if dt > _OVERFLOW_BUDGET_MS:
            self.missed_intervals += 1
            self._log(now_ms, "missed_interval", dt)
        adelta = delta if delta >= 0 else -delta
        if dt < 0 or (dt < _PLAUSIBLE_ALL_MS and adelta > _MAX_LSB_PER_MS * dt + 16):
            # More than the chip can count in dt: a corrupted read that passed
            # CHKSUM, never energy. Dropped, logged, and the baseline moves on.
            self.rejected_lsb += adelta
            self._log(now_ms, "implausible_delta", delta)
            return
        self.last_delta_lsb = delta
        self.last_dt_ms = dt
        if adelta < self._cutoff_guard and adelta * self._cutoff_ms_per_lsb < dt:
            self.withheld_lsb += adelta
            return
        if delta > 0:
            self.energy_import.add_lsb(delta)
        elif delta < 0:
            self.energy_export.add_lsb(-delta)

    # --- readings at the edge (floats: display only) ------------------------
    def vrms_v(self):
        return self.vrms_raw * self.cal.v_ref_mv / (self.cal.vrms_lsb_ref * 1000.0)

    def irms_a(self):
        return self.irms_raw * self.cal.i_ref_ma / (self.cal.irms_lsb_ref * 1000.0)

    def power_w(self):
        """Mean active power over the last tick, from the energy difference."""
        if self.last_dt_ms <= 0:
            return 0.0
        num, den = self.cal.lsb_per_kwh()
        return self.last_delta_lsb * den * 3.6e9 / (num * self.last_dt_ms)

    def power_factor(self):
        s = self.vrms_v() * self.irms_a()
        if s <= 0.0:
            return 1.0
        pf = self.power_w() / s
        return max(-1.0, min(1.0, pf))

    def frequency_hz(self):
        if self.period_raw == 0:
            return 0.0
        return self.cal.clkin_hz / (8.0 * self.period_raw)
