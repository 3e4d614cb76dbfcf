"""A long-run board: the ADE7753 model driven by the load, not by samples.

Scenarios run months of simulated time; sampling the waveform at 8 kHz would
take hours. Here each simulator step gives (line voltage, active power, power
factor, frequency); the front end's ratios, gain and phase errors and V-to-I
crosstalk turn that into the two pin sinusoids, and the model advances through
`feed_steady` (closed form, same registers, same SPI bus), so the firmware
under test is unchanged.

A faster path still: while the load and the chip's configuration stay the
same, the chip is in steady state and AENERGY rises at a constant rate. The
first step after a change runs `feed_steady` in full; the second (same
conditions) measures the accumulator's rate; later identical steps add
rate x seconds to the accumulator (with the model's own wrap flags, CF count
and apparent energy) without touching the DSP state, whose sample clock
simply pauses, so the next full step continues the same sinusoid seamlessly.
Pin DC offsets and noise are left out: the power path's high-pass filters
remove the DC, and zero-mean noise adds no energy (measured against the
sample-level model in tests/host/test_loadboard.py).
"""
from __future__ import annotations

import cmath
import math

from . import ade7753_model as am
from .frontend import Board
from .simboard import SimBoard

# registers whose value changes the energy the chip integrates
_ENERGY_REGS = (am.MODE, am.GAIN, am.CH1OS, am.CH2OS, am.WGAIN, am.APOS, am.PHCAL, am.WDIV, am.CFNUM, am.CFDEN)


# bytes per register read, by address (reserved addresses answer one byte)
_NBYTES = {a: am._nbytes(am._BY_ADDR[a][1]) if a in am._BY_ADDR else 1 for a in range(64)}
# registers a read only copies out (no side effect but CHKSUM, no alias, no accumulator)
_PLAIN = frozenset(a for a in am._BY_ADDR
                   if a not in (am.AENERGY, am.RAENERGY, am.VAENERGY, am.RVAENERGY, am.TMODE, am.RSTSTATUS,
                                am.RSTIPEAK, am.RSTVPEAK, am.CHKSUM) and am.ADE7753Model._alias(a) == a)
_CHKSUM = am.CHKSUM


class TransferSPI(am.ModelSPI):
    """The model's SPI bus at transfer level: a command byte latches the
    register the chip's protocol would (same `_read`/`_write`, same side
    effects), and the data phase hands over or takes all its bytes at once.
    Anything else (bad SPI mode, an absent chip, injected bit errors, a
    transfer split differently) goes through the per-byte protocol as before."""

    def __init__(self, model: am.ADE7753Model) -> None:
        super().__init__(model)
        self._ok = self.timing_ok

    def init(self, baudrate: int | None = None, polarity: int | None = None,
             phase: int | None = None, **kw) -> None:
        super().init(baudrate, polarity, phase, **kw)
        self._ok = self.timing_ok

    def write(self, buf) -> None:
        m = self._model
        if not (m._cs_low and self._ok) or m.absent or m._bit_errors:
            m._x_out = list(m._x_out)
            return super().write(buf)
        mode = m._x_mode
        if mode == 0 and len(buf) == 1:  # the communications byte
            b = buf[0]
            addr = b & 0x3F
            if b & 0x80:
                m._x_mode, m._x_addr, m._x_need, m._x_in = 2, addr, _NBYTES[addr], []
                return
            if addr in _PLAIN:  # the model's _read, short: the value and the CHKSUM it latches
                r = m._r
                v = r.get(addr, 0)
                r[_CHKSUM] = v.bit_count()
                out = v.to_bytes(_NBYTES[addr], "big")
            elif addr == _CHKSUM:  # reading CHKSUM latches nothing new
                out = m._r.get(_CHKSUM, 0).to_bytes(1, "big")
            else:
                out = m._read(addr).to_bytes(_NBYTES[addr], "big")
            # bytes, not the protocol's list: every per-byte path below turns it back into a list first
            m._x_mode, m._x_out = 1, out  # pyright: ignore[reportAttributeAccessIssue]
            return
        if mode == 2 and len(buf) == m._x_need and not m._x_in:  # a whole write's data
            m._x_mode = 0
            m._write(m._x_addr, int.from_bytes(buf, "big"))
            return
        m._x_out = list(m._x_out)  # the per-byte protocol pops from a list
        proto = m._protocol
        for b in bytes(buf):
            proto(b)

    def readinto(self, buf, write: int = 0x00) -> None:
        m = self._model
        if not (m._cs_low and self._ok) or m.absent or m._bit_errors:
            m._x_out = list(m._x_out)
            return super().readinto(buf, write)
        out = m._x_out
        if m._x_mode == 1 and len(out) == len(buf):  # a whole register read
            buf[:] = out
            m._x_mode, m._x_out = 0, []
            return
        m._x_out = list(out)
        proto = m._protocol
        for i in range(len(buf)):
            buf[i] = proto(write)


class TransferCS(am.ModelPin):
    """Chip select: clears the protocol state only when a transfer was left
    unfinished (what the chip does), not on every edge."""

    def value(self, v: int | None = None) -> int | None:
        if v is None:
            return self._v
        v = 1 if v else 0
        if v != self._v:
            self._v = v
            m = self._model
            m._cs_low = v == 0
            if m._x_mode or m._carry_in or m._carry_out:
                m._reset_spi()
        return None


class LoadBoard(SimBoard):
    def __init__(self, board: Board) -> None:
        super().__init__(board)
        self.model.spi = TransferSPI(self.model)
        self.model.cs = TransferCS(self.model)
        self._key: tuple | None = None
        # False: every step runs feed_steady in full (the rms registers, SAG and
        # the other DSP state move; the closed-form shortcut only adds energy)
        self.shortcut = True
        self._rate_acc_per_s: float | None = None  # accumulator units per second, measured
        self._rate_va_per_s = 0.0
        self._ms = 0.0
        self.full_steps = 0  # steps run through feed_steady (for the bench/profile)
        self.fast_steps = 0

    # --- load -> pins ------------------------------------------------------------
    def pins_for(self, voltage_v: float, power_w: float, pf: float, freq_hz: float) -> tuple[float, float, float]:
        """(ch1 peak V, ch2 peak V, phase of ch1 behind ch2 in rad) at the ADC pins."""
        b = self.board
        if voltage_v <= 0.0:
            return 0.0, 0.0, 0.0
        pf = max(-1.0, min(1.0, pf)) or 1.0
        current_a = abs(power_w) / (voltage_v * abs(pf))
        phi = math.acos(abs(pf)) * (1.0 if pf > 0 else -1.0)  # pf < 0: capacitive (current leads)
        if power_w < 0:
            phi += math.pi  # export
        rel = math.radians(b.current.phase_error_deg - b.voltage.phase_error_deg) * freq_hz / b.fn_hz
        dv, di = (0.0, rel) if rel > 0 else (-rel, 0.0)
        v_pin = voltage_v * math.sqrt(2) / b.voltage.ratio * (1.0 + b.voltage.gain_error) * cmath.exp(-1j * dv)
        i_pin = (current_a * math.sqrt(2) / b.current.ratio * (1.0 + b.current.gain_error)
                 * cmath.exp(-1j * (phi + di)) + b.crosstalk_v_to_i * v_pin)
        phase = cmath.phase(v_pin) - cmath.phase(i_pin) if abs(i_pin) > 0 else 0.0
        return abs(i_pin), abs(v_pin), phase

    # --- time ---------------------------------------------------------------------
    def run_load(self, seconds: float, voltage_v: float, power_w: float, pf: float = 1.0,
                 freq_hz: float = 50.0) -> None:
        """Apply a constant load for `seconds`; advances the virtual clock."""
        ch1, ch2, phase = self.pins_for(voltage_v, power_w, pf, freq_hz)
        self.run_pins(seconds, ch1, ch2, phase, freq_hz)

    def run_pins(self, seconds: float, ch1_pk: float, ch2_pk: float, phase_rad: float, freq_hz: float) -> None:
        m = self.model
        regs = m._r
        key = (ch1_pk, ch2_pk, phase_rad, freq_hz, *(regs[a] for a in _ENERGY_REGS))
        steady_ok = not regs[am.MODE] & am.CYCMODE and not m.absent
        if self.shortcut and key == self._key and self._rate_acc_per_s is not None and steady_ok:
            self._fast(seconds)
        else:
            a0, v0, t0 = m.accumulator + m._acc_frac, m.va_accumulator + m._va_frac, m.time_s
            m.feed_steady(ch1_pk, ch2_pk, phase_rad, freq_hz, seconds)
            self.full_steps += 1
            if key == self._key and m.time_s > t0:
                dt = m.time_s - t0
                self._rate_acc_per_s = _wrap49(m.accumulator + m._acc_frac - a0) / dt
                self._rate_va_per_s = _wrap49(m.va_accumulator + m._va_frac - v0) / dt
            else:
                self._key, self._rate_acc_per_s = key, None
        self._ms += seconds * 1000.0
        self.time_ms = int(round(self._ms))
        # the IRQ pin follows STATUS & IRQEN as time passes (as SimBoard.feed does):
        # else a level left low since boot would hide the next SAG's falling edge
        self.update_irq()

    def run_off(self, seconds: float) -> None:
        """The board unpowered for `seconds`: the chip loses its registers
        (powers up reset), the virtual clock and the battery RTC run on."""
        self.model.reset()
        self._key, self._rate_acc_per_s = None, None
        self._ms += seconds * 1000.0
        self.time_ms = int(round(self._ms))

    def _fast(self, seconds: float) -> None:
        m = self.model
        ea = self._rate_acc_per_s * seconds if self._rate_acc_per_s else 0.0
        r = m._r
        u0 = m._acc + m._acc_frac
        u1 = u0 + ea
        # the model's flags for a path u0 -> u1 (its _flag_active, without numpy per step)
        if _crossed(u0, u1, float(1 << 47)) > 0 or _crossed(u1, u0, -float(1 << 47) + am._U) > 0:
            r[am.STATUS] |= am.AEHF
        if _crossed(u0, u1, -am._H) != 0:
            r[am.STATUS] |= am.AEOF
        m._acc, m._acc_frac = m._integrate(m._acc, m._acc_frac, ea, True)
        ev = self._rate_va_per_s * seconds
        v0 = m._va + m._va_frac
        if _crossed(v0, v0 + ev, am._H) > 0:
            r[am.STATUS] |= am.VAEHF
        if _crossed(v0, v0 + ev, 0.0) != 0:
            r[am.STATUS] |= am.VAEOF
        m._va, m._va_frac = m._integrate(m._va, m._va_frac, ev, False)
        if not r[am.MODE] & am.DISCF:
            # CF counts the energy before WDIV divides it (ade7753.md): undo the divide
            m._cf += abs(ea) / am._U * (r[am.WDIV] or 1) * (r[am.CFNUM] + 1) / (r[am.CFDEN] + 1)
        m.time_s += seconds
        self.fast_steps += 1


def _crossed(u0: float, u1: float, level: float) -> float:
    """Times a path u0 -> u1 crossed level (mod 2**49) upward (negative: downward)."""
    return math.floor((u1 - level) / am._M) - math.floor((u0 - level) / am._M)


def _wrap49(d: float) -> float:
    """Accumulator difference modulo 2**49, as a signed value."""
    span = float(1 << am.ACC_BITS)
    d = math.fmod(d, span)
    if d >= span / 2:
        d -= span
    elif d < -span / 2:
        d += span
    return d
