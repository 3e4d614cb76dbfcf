"""The ADE7753 as an energy source: the chip-specific half of metering.

It configures the chip (cold boot, after a chip reset), recognises a warm chip
that kept counting while only the ESP32 restarted, polls STATUS and AENERGY
each tick and hands back the signed AENERGY difference (modulo 2**24), the
interval, and the raw display registers. What the energy is worth and where it
goes is metrology.py's business (Tasmota's xnrg driver / xdrv energy split).
A steady-state poll allocates nothing; every integer stays below 2**30.
"""
from micropython import const

import ade7753 as chip_regs
import board
from ticks import ticks_diff

_WRAP = const(0x1000000)  # AENERGY is 24-bit two's complement
_HALF = const(0x800000)

# Chip configuration outside calibration: CF pulses on (DISCF clear), SAG
# detection on (DISSAG clear) for power-fail, AENERGY in normal (not line-cycle)
# mode, waveform rate DTRT = 11 (unused by metering). DTRT makes the value
# non-zero on purpose: a dead bus that reads all zeros also passes CHKSUM, and
# must not look like a configured chip.
METER_MODE = const(0x1800)
_IRQEN = const(0x1002)  # SAG | ZXTO raise the IRQ pin (RESET cannot: the datasheet gives its IRQEN bit no function)

# Power-fail warning (SAG). SAGLVL is compared with the CH2 peak after LPF1
# (ade7753.md): (|CH2 code| >> 7) < SAGLVL for SAGCYC half cycles raises SAG.
# A full-scale (0.5 V peak, PGA 1) sine peaks at code 0x2518 (the datasheet's
# 60 Hz figure; LPF1 lets 50 Hz through about 2 % higher), so the nominal voltage
# at the pin scales to SAGLVL as below. 60 % of nominal for 2 half cycles
# (20 ms): far below the meter's 0.8 Un operating limit (no false warnings on
# ordinary dips) and early enough to leave most of the supply's hold-up time
# for the save (host_sim/faults.py HOLDUP_MS).
_CH2_PEAK_CODE_FS = const(0x2518)  # CH2 peak code at 0.5 V peak, 50 Hz, PGA 1
SAG_PERCENT = const(60)
SAG_HALF_CYCLES = const(2)


def sag_level(gain_reg, un_mv=board.UN_MV, divider=board.V_DIVIDER_RATIO, percent=SAG_PERCENT):
    """SAGLVL for `percent` of the nominal voltage with the CH2 PGA of GAIN.
    Integers only, every product below 2**30 (boot time, not the tick)."""
    pga = 1 << ((gain_reg >> 5) & 7)
    pk_uv = un_mv * 1414 // divider  # nominal peak at the CH2 pin, uV (sqrt 2 = 1.414)
    code = pk_uv * pga // 100 * _CH2_PEAK_CODE_FS // 5000  # full scale 500 000 uV
    lvl = (code * percent // 100) >> 7
    return lvl if lvl < 255 else 255


# The chip's fastest count: both ADCs clip at 1.587 x the spec full scale, so two
# clipped (square) inputs give 2 x 1.587**2 = 5.04 x the 22 372 LSB/s of full-scale
# sines, x1.5 with the largest WGAIN: 169 100 LSB/s (the ADE7753 model measures
# 166 900 with 20x overdriven sines: tests/host/test_chip_errors.py).
# Slowest allowed poll: AENERGY must not move 2**23 LSB between two reads. At the
# clipped maximum of a real board (current clipped, voltage at Un) that is > 200 s;
# only both inputs clipped at the largest WGAIN wrap it sooner (49.6 s), and AEOF
# without a wrap of our own then reports the loss (aeof_unexplained).
_OVERFLOW_BUDGET_MS = const(200_000)
# A bigger AENERGY step than 170 LSB per ms is not energy.
_MAX_LSB_PER_MS = const(170)
_PLAUSIBLE_ALL_MS = const(49_345)  # 170 LSB/ms x 49.345 s = 2**23: any step is possible

# Poll results
OK = const(0)
BASELINE = const(1)  # no difference this poll: the baseline was (re)taken
CHIP_RESET = const(2)  # the chip lost its registers: call rebaseline()
REJECTED = const(3)  # a step the chip cannot have counted: never energy


def _cal_registers(cal):
    """(register, value) pairs the calibration puts in the chip, in write order."""
    return (
        (chip_regs.GAIN, cal.gain), (chip_regs.CH1OS, cal.ch1os), (chip_regs.CH2OS, cal.ch2os),
        (chip_regs.WGAIN, cal.wgain), (chip_regs.APOS, cal.apos), (chip_regs.PHCAL, cal.phcal),
        (chip_regs.WDIV, cal.wdiv), (chip_regs.CFNUM, cal.cfnum), (chip_regs.CFDEN, cal.cfden),
        (chip_regs.VRMSOS, cal.vrmsos), (chip_regs.IRMSOS, cal.irmsos),
        (chip_regs.SAGCYC, SAG_HALF_CYCLES), (chip_regs.SAGLVL, sag_level(cal.gain)),
        (chip_regs.IRQEN, _IRQEN),
    )


class ADE7753Source:
    def __init__(self, chip, calibration):
        self.chip = chip
        self.cal = calibration
        self._cal_regs = _cal_registers(calibration)
        self.last_raw = 0  # AENERGY at the last poll (the baseline)
        self._last_ms = 0
        self.need_baseline = True  # no trustworthy AENERGY reference yet
        self._wraps_unflagged = 0  # wraps we saw before the chip's AEOF flag did
        self.status = 0  # flags of the last poll (SAG for power-fail, ...)
        # Results of the last poll
        self.delta_lsb = 0
        self.dt_ms = 0
        self.aeof_unexplained = False  # AEOF with no wrap in our difference
        self.overdue = False  # the poll came later than the overflow budget
        self.reset_reason = ""  # why the last CHIP_RESET: status_reset / mode_lost
        self.vrms_raw = 0
        self.irms_raw = 0
        self.period_raw = 0

    # --- set-up ----------------------------------------------------------------
    def configure(self):
        """Write calibration and configuration into the chip; MODE last, so a
        chip whose MODE reads METER_MODE has had everything else written."""
        c = self.chip
        for reg, value in self._cal_regs:
            c.write(reg, value)
        c.write(chip_regs.MODE, METER_MODE)

    def is_warm(self):
        """True when the chip still holds this firmware's configuration and
        calibration and has not reset since: its AENERGY is still ours."""
        c = self.chip
        if c.read_raw(chip_regs.MODE) != METER_MODE:
            return False
        if c.read_raw(chip_regs.STATUS) & chip_regs.ST_RESET:
            return False
        for reg, value in self._cal_regs:
            if c.read(reg) != value:
                return False
        return True

    def cold_start(self, now_ms):
        """Reset, identify and configure the chip; baseline from zero."""
        self.need_baseline = True
        self.chip.software_reset()
        self.chip.identify()
        self.rebaseline(now_ms)

    def warm_start(self, now_ms, stored_raw=None):
        """Keep the chip's count. With the AENERGY value stored with the
        registers, the difference to now is energy the chip counted while the
        ESP32 was down: returned (signed LSB) for metrology to book. Without
        one, the baseline is taken where the chip stands and 0 is returned."""
        self.chip.read_status_and_clear()
        raw = self.chip.read(chip_regs.AENERGY)
        delta = 0
        if stored_raw is not None:
            delta = raw - stored_raw
            if delta >= _HALF:
                delta -= _WRAP
            elif delta < -_HALF:
                delta += _WRAP
        self.last_raw = raw
        self._last_ms = now_ms
        self._wraps_unflagged = 0
        self.need_baseline = False
        return delta

    def rebaseline(self, now_ms):
        # Until this completes, no difference is taken: a failure half-way
        # (chip still misbehaving) leaves need_baseline set for the next poll.
        self.configure()
        self.chip.read_status_and_clear()
        self.last_raw = self.chip.read(chip_regs.AENERGY)
        self._last_ms = now_ms
        self._wraps_unflagged = 0
        self.need_baseline = False

    # --- the poll (steady state allocates nothing) -------------------------
    def poll(self, now_ms):
        """One tick: OK with delta_lsb/dt_ms set, or BASELINE / CHIP_RESET."""
        chip = self.chip
        self.delta_lsb = 0
        self.dt_ms = 0
        self.aeof_unexplained = False
        self.overdue = False
        if self.need_baseline:
            self.rebaseline(now_ms)
            return BASELINE
        status = chip.read_status_and_clear()
        self.status = status
        if status & chip_regs.ST_RESET:
            self.reset_reason = "status_reset"
        elif chip.read_raw(chip_regs.MODE) != METER_MODE:
            self.reset_reason = "mode_lost"
        else:
            self.reset_reason = ""
        if self.reset_reason:
            # The chip lost its registers: whatever it gathered since the last
            # poll is gone (at most one tick). The caller logs it and calls
            # rebaseline() (configure and start again).
            self.need_baseline = True
            return CHIP_RESET
        raw = chip.read(chip_regs.AENERGY)
        prev = self.last_raw
        delta = raw - prev
        if delta >= _HALF:
            delta -= _WRAP
        elif delta < -_HALF:
            delta += _WRAP
        wrapped = prev + delta != raw
        aeof = status & chip_regs.ST_AEOF
        if wrapped and not aeof:
            # The register wrapped between our status and AENERGY reads:
            # its AEOF flag arrives with the next status read.
            self._wraps_unflagged += 1
        elif aeof and not wrapped:
            if self._wraps_unflagged:
                self._wraps_unflagged -= 1
            else:
                # AEOF with no wrap in our own difference: a whole register
                # revolution (2**24 LSB) may be missing.
                self.aeof_unexplained = True
        dt = ticks_diff(now_ms, self._last_ms)
        self.delta_lsb = delta
        self.dt_ms = dt
        self.last_raw = raw
        self._last_ms = now_ms
        self.overdue = dt > _OVERFLOW_BUDGET_MS
        adelta = delta if delta >= 0 else -delta
        if dt < 0 or (dt < _PLAUSIBLE_ALL_MS and adelta > _MAX_LSB_PER_MS * dt + 16):
            # More than the chip can count in dt: a corrupted read that passed
            # CHKSUM. The baseline moves on; the step is never energy.
            return REJECTED
        return OK

    def read_display(self):
        """Display registers, after the energy is booked: a failure here
        cannot lose the tick's energy."""
        chip = self.chip
        self.vrms_raw = chip.read_raw(chip_regs.VRMS)
        self.irms_raw = chip.read_raw(chip_regs.IRMS)
        self.period_raw = chip.read_raw(chip_regs.PERIOD)
