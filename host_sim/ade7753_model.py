"""Register-level model of the Analog Devices ADE7753 energy-metering IC.

The firmware driver talks to it over a fake SPI bus byte by byte, exactly as to
the real chip (`model.spi`, `model.cs`); the simulator feeds it the analog
voltages at the ADC pins (`feed`, or `feed_steady` for long ideal runs). It is
an independent reading of /work/shared/spec/ade7753.md and the datasheet (DS),
not derived from the firmware driver.

Signal chain per sample (vectorised numpy, state kept across feed() calls):

  pins -> SWAP/DISCH -> PGA x reference drift + offsets -> x + c3 x^3 -> clip at 1.587 FS,
          16-bit codes                                                   (x1, x2)
  x2 -> LPF1 (140 Hz) -> z -> zero crossings, PERIOD, ZX, ZXTO, SAG, VPEAK; |z| -> LPF3 -> VRMS
  x1 -> [integrator] -> HPF (CH1 only) -> h1 -> IPEAK, WAVEFORM; h1^2 -> LPF3 -> IRMS
  h1, x2 -> PHCAL and chip skew (one net delay) -> d1, d2 -> multiplier -> APOS, WGAIN -> energy

What the model covers (checked against the Rev C datasheet, DS; tests in
tests/host/test_ade7753_model.py and tests/host/test_chip_errors.py):

| area | status |
| --- | --- |
| SPI protocol, register map, widths, signs, CHKSUM, defaults, SWRST | modelled |
| 49-bit active/apparent accumulators, AEHF/AEOF, POAM, no-load threshold | modelled |
| LPF2 -> +APOS -> xWGAIN -> /WDIV (DS Fig. 63/65); CF = DFC x CFNUM/CFDEN, no WDIV | modelled |
| line-cycle accumulation; the first one after CYCMODE starts mid-cycle | modelled |
| STATUS/IRQ: RESET never raises IRQ | modelled |
| PGA, CHxOS, 16-bit codes, clipping at 1.587 x spec full scale (PrC Fig. 25) | modelled |
| Chip errors (class Chip): ADC cubic non-linearity, ADC offsets, reference | modelled (figures: |
|   drift vs temperature_c, CH1/CH2 sampling skew                           |   Chip docstring) |
| HPF on CH1 only, with its phase compensation: one 0.075 Hz pole whose lead | approximated |
|   is the residual (< 0.1 deg over 45-65 Hz, DS/PrC Fig. 28/29)             |              |
| VRMS: mean abs(LPF1 output) through LPF3, full scale at 60 Hz (DS Fig. 56)   | modelled; LPF3 pole (check) |
| IRMS: CH1 squared through LPF3, sqrt; both keep LPF3's 2f ripple          | modelled; LPF3 pole (check) |
| LPF2 | approximated: 20 ms block averages (no 2f ripple on WAVEFORM) |
| ZX, PERIOD, ZXTO, SAG, PKV/PKI, VPEAK/IPEAK (CH2 scale 0x2518 at 60 Hz), TEMP | approximated |
| di/dt integrator | approximated: leaky integrator, unity gain at 50 Hz (DS Fig. 51 differs) |
| ADC noise and its shaping, supply monitor, CLKIN jitter, WAVEFORM timing | not modelled |
| temperature drift of anything but the reference; ageing | not modelled |

Modelling choices worth knowing when reading results:
- LPF2 is modelled by 20 ms block averages: the no-load threshold, POAM and the
  power sign act per block, and a block's energy reaches the accumulators when
  the block is complete, so AENERGY/VAENERGY/LAENERGY lag the input by less
  than one block (none when whole blocks have been fed).
- Register writes take effect at the next feed() chunk; PERIOD measured inside
  a chunk already steers that chunk's quarter-period delay.
- Writing MODE with SWRST resets the chip (MODE reads back 0x000C); TEMPSEL
  self-clears. Unknown addresses read 0x00 and do not touch CHKSUM.
"""
from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

# ---------------------------------------------------------------------------
# Assumptions: every number not given exactly by the spec lives here. (check)
# ---------------------------------------------------------------------------
MULT_FULL_SCALE = 0xCCCCD        # spec: mean multiplier output, full-scale in-phase sines
ACC_BITS = 49                    # spec: active energy accumulator width
ENERGY_SHIFT = 25                # AENERGY = acc >> 25 (49 - 24)
ACC_CLK_DIV = 4                  # spec: accumulator updated every 4/CLKIN
TICK_CLK_DIV = 8                 # spec: PERIOD and PHCAL unit = 8/CLKIN
NOLOAD_FRACTION = 1e-5           # spec: 0.001 % of MULT_FULL_SCALE
LPF2_BLOCK_S = 0.020             # (check) LPF2 modelled as 20 ms block averages
HPF_CORNER_HZ = 0.075            # (check) CH1 only: the HPF and its on-chip phase compensation,
                                 #   net, as one first-order HPF. Its lead is the residual phase the
                                 #   DS plots (PrC Fig. 28/29: lead falling with f, ~0.1 deg at 50 Hz;
                                 #   Rev C "Phase Error Between Channels": within 0.1 deg, 45-65 Hz)
NOMINAL_LINE_HZ = 50.0           # (check) the integrator is normalised to unity gain here
RMS_FULL_SCALE_HZ = 60.0         # DS p.26: VRMS full scale (and CH2's 0x2518) are 60 Hz figures
LPF3_CORNER_HZ = 0.5             # (check) single-pole LPF3 of the rms paths: leaves a 2f ripple
                                 #   ("quite low", ADI: about +-0.25 % on IRMS, +-0.33 % on VRMS at
                                 #   50 Hz) and settles with a 0.32 s time constant
LPF1_CORNER_HZ = 140.0           # spec: single pole on the ZX/period path
INTEGRATOR_LEAK_HZ = 0.05        # (check) pole of the leaky di/dt integrator (CH1OS bit 7)
INTEGRATOR_GAIN = 1.0            # (check) gain at 50 Hz; DS Fig. 51 suggests 0x1EF73C/0x2851EC
ADC_FULL_CODE = 32768            # 16-bit ADC: 32768 codes over its whole (clipping) range
ADC_CLIP_FS = 0x4000 / 0x2852    # 1.587: the ADC's range over the spec full scale (PrC Fig. 25:
                                 #   0.5 V gives 0x2852 of 0x4000, "63 %"; Rev C Fig. 51 0x2851EC)
IRMS_FULL_SCALE = 1_868_467      # (check) DS: IRMS for a 0.5 V peak sine, PGA 1
VRMS_FULL_SCALE = 1_561_400      # DS p.26 Fig. 56: VRMS (mean absolute value of LPF1's output,
                                 #   through LPF3) for a 0.5 V peak sine at 60 Hz, PGA 1
CH1_WAVE_FULL_SCALE = 0x2851EC   # (check) CH1 waveform code at +full scale
CH2_WAVE_FULL_SCALE = 0x2518     # DS p.26: CH2 waveform (LPF1 output) peak code, full scale at 60 Hz
                                 # apparent power: rms from (x^2 + x(t - T/4)^2)/2 per block, T the
                                 #   measured period (no 2f ripple off 50 Hz); after a reset the
                                 #   first quarter period (at 45 Hz) uses x^2 alone
FRESH_QUARTER_HZ = 45.0
ZXTOUT_CLK_DIV = 128             # (check) ZXTOUT unit = 128/CLKIN; ZXTOUT 0 disables ZXTO
OFFSET_LSB_V = {1: 1.61e-3, 2: 1.19e-3, 4: 0.97e-3, 8: 0.84e-3, 16: 0.77e-3}
                                 # (check) DS table 6: CHxOS LSB per PGA gain, taken as volts at
                                 #   the ADC input (after the PGA); CH2OS adds -value
PEAK_CH1_SHIFT = 15              # (check) PKI: (|CH1 code| >> 15) > IPKLVL  (full scale 0x50)
PEAK_CH2_SHIFT = 7               # (check) PKV/SAG: (|CH2 code| >> 7) vs VPKLVL/SAGLVL (0x4A), as
                                 #   the ADE7763 DS "MSB of LPF1 output shifted left by one"
SAG_NOZX_WINDOW_S = 0.010        # SAG windows when no zero crossing for 2 windows
TEMP_OFFSET_C = 25.0             # (check) TEMP = round((T + 25) * 1.5), 0 near -25 degC
TEMP_LSB_PER_C = 1.5             # (check)
MAX_SKEW_S = 20e-6               # largest |Chip.phase_skew_us| the delay lines hold
DIEREV_VALUE = 0x01              # (check) die revision: any fixed nonzero value
PHCAL_ZERO = 0x0D                # spec: PHCAL 0x0D = no delay; (PHCAL-13) steps delay CH2,
                                 #   negative values delay CH1 instead (CH2 "advance")
SPI_MAX_HZ = 10_000_000          # spec: faster SCLK corrupts the transfer
STEADY_FS_HZ = 8000.0            # feed_steady() sample rate when feed() has not set one
STEADY_TAIL_S = 0.1              # feed_steady(): last part run sample by sample



@dataclass(frozen=True)
class Chip:
    """The ADE7753's own error terms: one part as it left the fab, at one temperature.

    Each default is Chip() = an error-free part; a board file's "chip" object sets them.
    Where the figures come from (DS = ADE7753 Rev C datasheet):
    - adc_cubic: ADC gain non-linearity, code = x + adc_cubic * x^3 (x in spec full-scale
      units), so the gain at peak amplitude A changes by 0.75 * adc_cubic * A^2. The DS
      promises < 0.1 % active energy error over 1000:1 at 25 degC (p.1, Fig. 8-10 "Active
      Energy Error as a Percentage of Reading"): |adc_cubic| <= 0.001 keeps a part's
      spread over that range below 0.08 %.
    - ch1_offset_fs / ch2_offset_fs: ADC offset at the ADC output, in full-scale units
      (DS Specifications "ADC offset error", order of 10 mV at 0.5 V full scale (check)).
      CH1's is removed by the HPF; CH2's reaches VRMS, ZX and SAG, never the mean power.
    - ref_tempco_ppm_per_c: drift of the 2.42 V reference; every ADC code scales by
      1 / (1 + tc * (T - 25 degC)), energy by its square (DS Specifications "Reference
      input / on-chip reference, temperature coefficient", 20-30 ppm/degC typ (check);
      the ADE7758 sibling states 30 ppm/degC typ on p.1).
    - phase_skew_us: CH1 sampled later than CH2 by this much; a phase mismatch that grows
      with frequency (360 f skew degrees: 0.018 deg per us at 50 Hz), on top of the HPF's
      residual (DS "Phase Error Between Channels": within 0.1 deg over 45-65 Hz).
    - temperature_c: the die temperature (TEMP register and reference drift).
    """

    adc_cubic: float = 0.0
    ch1_offset_fs: float = 0.0
    ch2_offset_fs: float = 0.0
    ref_tempco_ppm_per_c: float = 0.0
    phase_skew_us: float = 0.0
    temperature_c: float = 25.0


# ---------------------------------------------------------------------------
# Register map (name -> address, bits, type, default), as the spec table.
# ---------------------------------------------------------------------------
REGISTERS: dict[str, tuple[int, int, str, int]] = {
    "WAVEFORM": (0x01, 24, "S", 0), "AENERGY": (0x02, 24, "S", 0),
    "RAENERGY": (0x03, 24, "S", 0), "LAENERGY": (0x04, 24, "S", 0),
    "VAENERGY": (0x05, 24, "U", 0), "RVAENERGY": (0x06, 24, "U", 0),
    "LVAENERGY": (0x07, 24, "U", 0), "LVARENERGY": (0x08, 24, "S", 0),
    "MODE": (0x09, 16, "U", 0x000C), "IRQEN": (0x0A, 16, "U", 0x0040),
    "STATUS": (0x0B, 16, "U", 0), "RSTSTATUS": (0x0C, 16, "U", 0),
    "CH1OS": (0x0D, 8, "SM", 0), "CH2OS": (0x0E, 8, "SM", 0),
    "GAIN": (0x0F, 8, "U", 0), "PHCAL": (0x10, 6, "S", 0x0D),
    "APOS": (0x11, 16, "S", 0), "WGAIN": (0x12, 12, "S", 0),
    "WDIV": (0x13, 8, "U", 0), "CFNUM": (0x14, 12, "U", 0x3F),
    "CFDEN": (0x15, 12, "U", 0x3F), "IRMS": (0x16, 24, "U", 0),
    "VRMS": (0x17, 24, "U", 0), "IRMSOS": (0x18, 12, "S", 0),
    "VRMSOS": (0x19, 12, "S", 0), "VAGAIN": (0x1A, 12, "S", 0),
    "VADIV": (0x1B, 8, "U", 0), "LINECYC": (0x1C, 16, "U", 0xFFFF),
    "ZXTOUT": (0x1D, 12, "U", 0xFFF), "SAGCYC": (0x1E, 8, "U", 0xFF),
    "SAGLVL": (0x1F, 8, "U", 0), "IPKLVL": (0x20, 8, "U", 0xFF),
    "VPKLVL": (0x21, 8, "U", 0xFF), "IPEAK": (0x22, 24, "U", 0),
    "RSTIPEAK": (0x23, 24, "U", 0), "VPEAK": (0x24, 24, "U", 0),
    "RSTVPEAK": (0x25, 24, "U", 0), "TEMP": (0x26, 8, "S", 0),
    "PERIOD": (0x27, 16, "U", 0), "TMODE": (0x3D, 8, "U", 0),
    "CHKSUM": (0x3E, 6, "U", 0), "DIEREV": (0x3F, 8, "U", DIEREV_VALUE),
}
_ADDR = {name: spec[0] for name, spec in REGISTERS.items()}
_BY_ADDR = {spec[0]: (name, spec[1]) for name, spec in REGISTERS.items()}
_READ_ONLY = {_ADDR[n] for n in ("WAVEFORM", "AENERGY", "RAENERGY", "LAENERGY", "VAENERGY",
                                 "RVAENERGY", "LVAENERGY", "LVARENERGY", "STATUS", "RSTSTATUS",
                                 "IRMS", "VRMS", "IPEAK", "RSTIPEAK", "VPEAK", "RSTVPEAK",
                                 "TEMP", "PERIOD", "CHKSUM", "DIEREV")}
# register addresses as module constants (AENERGY = 0x02, ...)
(WAVEFORM, AENERGY, RAENERGY, LAENERGY, VAENERGY, RVAENERGY, LVAENERGY, LVARENERGY, MODE,
 IRQEN, STATUS, RSTSTATUS, CH1OS, CH2OS, GAIN, PHCAL, APOS, WGAIN, WDIV, CFNUM, CFDEN, IRMS,
 VRMS, IRMSOS, VRMSOS, VAGAIN, VADIV, LINECYC, ZXTOUT, SAGCYC, SAGLVL, IPKLVL, VPKLVL, IPEAK,
 RSTIPEAK, VPEAK, RSTVPEAK, TEMP, PERIOD, TMODE, CHKSUM, DIEREV) = (
    _ADDR[n] for n in REGISTERS)

# MODE bits
DISHPF, DISLPF2, DISCF, DISSAG, ASUSPEND, TEMPSEL, SWRST, CYCMODE = (1 << b for b in range(8))
DISCH1, DISCH2, SWAP, POAM = 1 << 8, 1 << 9, 1 << 10, 1 << 15
# STATUS bits
(AEHF, SAG, CYCEND, WSMP, ZX, TEMP_FLAG, RESET, AEOF, PKV, PKI, VAEHF, VAEOF, ZXTO, PPOS,
 PNEG) = (1 << b for b in range(15))

_M = float(1 << ACC_BITS)       # accumulator modulus
_H = float(1 << (ACC_BITS - 1))
_U = float(1 << ENERGY_SHIFT)   # one AENERGY LSB in accumulator units


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _sign_mag(v: int) -> int:
    """CHxOS bits 5..0: bit 5 sign, bits 4..0 magnitude."""
    return -(v & 0x1F) if v & 0x20 else v & 0x1F


def _nbytes(bits: int) -> int:
    return 1 if bits <= 8 else 2 if bits <= 16 else 3


def _count(u0, u1, level):
    """Times a path u0 -> u1 crossed level (mod 2^49) upward (negative: downward)."""
    return np.floor((u1 - level) / _M) - np.floor((u0 - level) / _M)


class _IIR1:
    """First-order IIR y = (b0 + b1 z^-1)/(1 + a1 z^-1) x with state kept across calls."""

    def __init__(self, n1: float, n0: float, d0: float, fs: float, norm_hz: float | None,
                 norm_gain: float = 1.0, zi: float = 0.0) -> None:
        # bilinear transform of H(s) = (n1 s + n0)/(s + d0)
        c = 2.0 * fs
        self.b0, self.b1 = (n1 * c + n0) / (c + d0), (n0 - n1 * c) / (c + d0)
        self.a1 = (d0 - c) / (c + d0)
        if norm_hz is not None:
            k = norm_gain / abs(self.response(2 * math.pi * norm_hz / fs))
            self.b0, self.b1 = self.b0 * k, self.b1 * k
        self.b, self.a = np.array([self.b0, self.b1]), np.array([1.0, self.a1])
        self.zi = np.array([zi])

    def run(self, x: np.ndarray) -> np.ndarray:
        y, self.zi = lfilter(self.b, self.a, x, zi=self.zi)
        return y

    def response(self, w: float) -> complex:
        e = complex(math.cos(w), -math.sin(w))
        return (self.b0 + self.b1 * e) / (1.0 + self.a1 * e)

    def set_steady(self, x_last: float, y_last: float) -> None:
        """State after a sample x_last -> y_last (transposed direct form II)."""
        self.zi = np.array([self.b1 * x_last - self.a1 * y_last])


def _frac_delay(hist: np.ndarray, x: np.ndarray, d: float) -> np.ndarray:
    """x delayed by d samples (linear interpolation); hist holds the samples before x."""
    k = int(math.floor(d))
    mu = d - k
    h = len(hist)
    ext = np.concatenate((hist, x))
    n = len(x)
    out = ext[h - k:h - k + n] * (1.0 - mu)
    if mu:
        out += ext[h - k - 1:h - k - 1 + n] * mu
    return out


def _frac_delay_response(w: float, d: float) -> complex:
    k = math.floor(d)
    mu = d - k
    return complex(math.cos(w * k), -math.sin(w * k)) * ((1 - mu) + mu * complex(math.cos(w), -math.sin(w)))


def _keep_tail(hist: np.ndarray, x: np.ndarray) -> np.ndarray:
    h = len(hist)
    return x[-h:].copy() if len(x) >= h else np.concatenate((hist, x))[-h:]


def _sum_product(p: tuple[float, complex], q: tuple[float, complex], w: float, n0: int, nm: int) -> float:
    """Sum over n0 <= n < n0+nm of (p0 + Re(P e^{jwn})) * (q0 + Re(Q e^{jwn}))."""
    def geo(k: float) -> complex:
        z = complex(math.cos(k), math.sin(k))
        if abs(1 - z) < 1e-12:
            return complex(nm, 0)
        start = complex(math.cos(k * n0), math.sin(k * n0))
        return start * (1 - complex(math.cos(k * nm), math.sin(k * nm))) / (1 - z)
    (p0, pp), (q0, qq) = p, q
    total = nm * (p0 * q0 + (pp * qq.conjugate()).real / 2)
    total += ((p0 * qq + q0 * pp) * geo(w)).real + (pp * qq * geo(2 * w)).real / 2
    return total


def _lpf_periodic(filt: _IIR1, sig, w: float, theta: float) -> float:
    """Set `filt` to its steady state for the periodic input sig(phase) (phase advancing w
    per sample) just after the sample at phase theta; return that output sample."""
    k = 256
    coef = np.fft.rfft(sig(2 * math.pi * np.arange(k) / k)) / k
    y = coef[0].real * filt.response(0.0).real
    for h in range(1, len(coef)):
        if abs(coef[h]) > 1e-15:
            y += 2 * (coef[h] * filt.response(h * w) * complex(math.cos(h * theta), math.sin(h * theta))).real
    x_last = float(sig(np.array([theta]))[0])
    filt.set_steady(x_last, y)
    return y


class ModelPin:
    """machine.Pin-like chip select (active low) wired to the model."""

    def __init__(self, model: "ADE7753Model") -> None:
        self._model, self._v = model, 1

    def value(self, v: int | None = None) -> int | None:
        if v is None:
            return self._v
        v = 1 if v else 0
        if v != self._v:
            self._v = v
            self._model._cs_edge(v)
        return None

    def __call__(self, v: int | None = None) -> int | None:
        return self.value(v)

    def on(self) -> None:
        self.value(1)

    def off(self) -> None:
        self.value(0)

    def init(self, *args, **kw) -> None:
        pass


class ModelIRQPin:
    """The IRQ output (active low), readable like a machine.Pin."""

    def __init__(self, model: "ADE7753Model") -> None:
        self._model = model

    def value(self, v: int | None = None) -> int:
        return 0 if self._model.irq_asserted() else 1

    __call__ = value


class ModelSPI:
    """machine.SPI-like bus to the model. Mode 1 (polarity 0, phase 1) at <= 10 MHz works;
    anything else shifts every byte by one bit, as the wrong clock edge would."""

    def __init__(self, model: "ADE7753Model", baudrate: int = 1_000_000, polarity: int = 0,
                 phase: int = 1) -> None:
        self._model = model
        self.baudrate, self.polarity, self.phase = baudrate, polarity, phase

    def init(self, baudrate: int | None = None, polarity: int | None = None,
             phase: int | None = None, **kw) -> None:
        if baudrate is not None:
            self.baudrate = baudrate
        if polarity is not None:
            self.polarity = polarity
        if phase is not None:
            self.phase = phase

    def deinit(self) -> None:
        pass

    @property
    def timing_ok(self) -> bool:
        return self.polarity == 0 and self.phase == 1 and self.baudrate <= SPI_MAX_HZ

    def _xfer(self, mosi: int) -> int:
        return self._model._spi_byte(mosi & 0xFF, self.timing_ok)

    def write(self, buf) -> None:
        for b in bytes(buf):
            self._xfer(b)

    def readinto(self, buf, write: int = 0x00) -> None:
        for i in range(len(buf)):
            buf[i] = self._xfer(write)

    def read(self, nbytes: int, write: int = 0x00) -> bytes:
        return bytes(self._xfer(write) for _ in range(nbytes))

    def write_readinto(self, write_buf, read_buf) -> None:
        for i, b in enumerate(bytes(write_buf)):
            read_buf[i] = self._xfer(b)


class ADE7753Model:
    """The chip: registers, SPI protocol and the metering DSP."""

    def __init__(self, clkin_hz: float = 3_579_545.0, temperature_c: float | None = None,
                 chip: Chip | None = None) -> None:
        self.clkin = float(clkin_hz)
        self.chip = chip or Chip()
        # the die temperature: TEMP reads it, the reference drifts with it (settable at run time)
        self.temperature_c = self.chip.temperature_c if temperature_c is None else temperature_c
        self.absent = False
        self.time_s = 0.0
        self.spi = ModelSPI(self)
        self.cs = ModelPin(self)
        self.irq = ModelIRQPin(self)
        self._fs = 0.0  # sample rate of the analog input; 0 until the first feed
        self._bit_errors = 0
        self._rng = random.Random(0)
        self._cs_low = False
        self._reset_spi()
        self.reset()

    # ------------------------------------------------------------------ API
    @property
    def accumulator(self) -> int:
        return self._acc

    @property
    def va_accumulator(self) -> int:
        return self._va

    @property
    def cf_pulses(self) -> int:
        return int(math.floor(self._cf))

    @property
    def fs_hz(self) -> float | None:
        return self._fs or None

    def irq_asserted(self) -> bool:
        # DS STATUS table: RESET "cannot be enabled to cause an interrupt"
        return bool(self._r[STATUS] & self._r[IRQEN] & ~RESET)

    def peek(self, reg: int | str) -> int:
        addr = self._addr(reg)
        if addr in (AENERGY, RAENERGY):
            return (self._acc >> ENERGY_SHIFT) & 0xFFFFFF
        if addr in (VAENERGY, RVAENERGY):
            return (self._va >> ENERGY_SHIFT) & 0xFFFFFF
        if addr == TMODE:
            return 0
        return self._r.get(self._alias(addr), 0)

    def poke(self, reg: int | str, value: int) -> None:
        addr = self._addr(reg)
        value &= (1 << _BY_ADDR[addr][1]) - 1
        low = (1 << ENERGY_SHIFT) - 1
        if addr in (AENERGY, RAENERGY):
            self._acc = (_signed(value, 24) << ENERGY_SHIFT) | (self._acc & low)
        elif addr in (VAENERGY, RVAENERGY):
            self._va = (value << ENERGY_SHIFT) | (self._va & low)
        else:
            self._r[self._alias(addr)] = value

    def inject_bit_errors(self, count: int, seed: int = 0) -> None:
        self._bit_errors = count
        self._rng = random.Random(seed)

    def reset(self) -> None:
        """Power-on / brown-out / SWRST: registers to defaults, DSP state cleared."""
        self._r = {spec[0]: spec[3] for spec in REGISTERS.values()}
        self._r[STATUS] = RESET
        self._acc, self._acc_frac = 0, 0.0
        self._va, self._va_frac = 0, 0.0
        self._cf = 0.0
        self._irms0 = self._vrms0 = 0.0
        self._irms_ms = self._vrms_ma = 0.0  # LPF3 outputs: mean square CH1, mean |CH2|
        self._last_sign = 0
        self._lc_reset()
        self._zx_prev = 0.0
        self._zx_last: float | None = None   # last accepted crossing (global sample position)
        self._zx_dir = 0                     # +1 rising, -1 falling
        self._zx_rise: float | None = None
        self._zxto_ref: float = 0.0
        self._lc_queue: deque[float] = deque()
        self._sag_count, self._sag_peak = 0, 0.0
        self._sag_start = 0.0
        self._pend = None
        self._steady_next = None
        self._reset_spi()
        if self._fs:
            self._design(self._fs, keep_state=False)
            self._zxto_ref = self._sag_start = float(self._gidx)

    # ---------------------------------------------------------- SPI protocol
    def _reset_spi(self) -> None:
        self._x_mode, self._x_out, self._x_in = 0, [], []
        self._x_addr = self._x_need = 0
        self._carry_in = self._carry_out = 0

    def _cs_edge(self, level: int) -> None:
        self._cs_low = level == 0
        self._reset_spi()  # a write interrupted by CS high is discarded

    def _spi_byte(self, mosi: int, timing_ok: bool) -> int:
        if self.absent or not self._cs_low:
            return 0xFF
        if not timing_ok:  # the chip samples one bit late: a one-bit shift both ways
            mosi, self._carry_in = ((self._carry_in & 1) << 7) | (mosi >> 1), mosi
        miso = self._protocol(mosi)
        if not timing_ok:
            miso, self._carry_out = ((self._carry_out & 1) << 7) | (miso >> 1), miso
        return miso

    def _protocol(self, b: int) -> int:
        if self._x_mode == 1:  # clocking out read data
            out = self._x_out.pop(0)
            if not self._x_out:
                self._x_mode = 0
            if self._bit_errors > 0:
                self._bit_errors -= 1
                out ^= 1 << self._rng.randrange(8)
            return out
        if self._x_mode == 2:  # collecting write data
            self._x_in.append(b)
            if len(self._x_in) == self._x_need:
                value = int.from_bytes(bytes(self._x_in), "big")
                self._x_mode = 0
                self._write(self._x_addr, value)
            return 0x00
        addr = b & 0x3F  # communications byte
        bits = _BY_ADDR[addr][1] if addr in _BY_ADDR else 8
        if b & 0x80:
            self._x_mode, self._x_addr, self._x_need, self._x_in = 2, addr, _nbytes(bits), []
        else:
            n = _nbytes(bits)
            value = self._read(addr)
            self._x_mode, self._x_out = 1, list(value.to_bytes(n, "big"))
        return 0x00

    def _read(self, addr: int) -> int:
        """Value latched for a read, with the read's side effects."""
        if addr not in _BY_ADDR:
            return 0
        value = self.peek(addr)
        low = (1 << ENERGY_SHIFT) - 1
        if addr == RAENERGY:
            self._acc &= low  # keep the sub-LSB part
        elif addr == RVAENERGY:
            self._va &= low
        elif addr == RSTSTATUS:
            self._r[STATUS] = 0
        elif addr == RSTIPEAK:
            self._r[IPEAK] = 0
        elif addr == RSTVPEAK:
            self._r[VPEAK] = 0
        if addr != CHKSUM:
            self._r[CHKSUM] = bin(value).count("1")
        return value

    def _write(self, addr: int, value: int) -> None:
        if addr not in _BY_ADDR or addr in _READ_ONLY or addr == TMODE:
            return
        value &= (1 << _BY_ADDR[addr][1]) - 1
        if addr == MODE:
            if value & SWRST:
                self.reset()
                return
            if value & TEMPSEL:  # one conversion, bit self-clears
                code = round((self.temperature_c + TEMP_OFFSET_C) * TEMP_LSB_PER_C)
                self._r[TEMP] = max(-128, min(127, code)) & 0xFF
                self._r[STATUS] |= TEMP_FLAG
                value &= ~TEMPSEL
            if value & CYCMODE and not self._r[MODE] & CYCMODE:
                # the accumulation starts at once, not at a zero crossing: the first
                # LAENERGY after setting CYCMODE may cover a partial half cycle (DS
                # "Line Cycle Energy Accumulation Mode"); read from the second CYCEND on
                self._lc_reset()
                self._lc_started = True
        self._r[addr] = value
        if addr in (IRMSOS, VRMSOS):
            self._set_rms_registers()

    @staticmethod
    def _addr(reg: int | str) -> int:
        addr = _ADDR[reg.upper()] if isinstance(reg, str) else int(reg)
        if addr not in _BY_ADDR:
            raise KeyError(f"no ADE7753 register at {addr:#x}")
        return addr

    @staticmethod
    def _alias(addr: int) -> int:
        return {RSTSTATUS: STATUS, RSTIPEAK: IPEAK, RSTVPEAK: VPEAK}.get(addr, addr)

    # ------------------------------------------------------------ DSP set-up
    def _design(self, fs: float, keep_state: bool = True) -> None:
        """(Re)build the filters and histories for sample rate fs."""
        keep = keep_state and hasattr(self, "_hpf1")
        zi = lambda name: float(getattr(self, name).zi[0]) if keep else 0.0  # noqa: E731
        wc = 2 * fs * math.tan(math.pi * HPF_CORNER_HZ / fs)
        wl = 2 * fs * math.tan(math.pi * LPF1_CORNER_HZ / fs)
        wi = 2 * fs * math.tan(math.pi * INTEGRATOR_LEAK_HZ / fs)
        w3 = 2 * fs * math.tan(math.pi * LPF3_CORNER_HZ / fs)
        self._hpf1 = _IIR1(1, 0, wc, fs, None, zi=zi("_hpf1"))
        self._lpf1 = _IIR1(0, wl, wl, fs, None, zi=zi("_lpf1"))
        self._lpf3i = _IIR1(0, w3, w3, fs, None, zi=zi("_lpf3i"))
        self._lpf3v = _IIR1(0, w3, w3, fs, None, zi=zi("_lpf3v"))
        self._integ = _IIR1(0, 1, wi, fs, NOMINAL_LINE_HZ, INTEGRATOR_GAIN,
                            zi=zi("_integ"))
        lpf1_fs = abs(self._lpf1.response(2 * math.pi * RMS_FULL_SCALE_HZ / fs))
        self._ch2_wave = CH2_WAVE_FULL_SCALE / lpf1_fs
        # mean |sine| = 2/pi of its peak: a full-scale 60 Hz sine reads VRMS_FULL_SCALE
        self._vrms_k = VRMS_FULL_SCALE / (2 / math.pi * lpf1_fs)
        max_phcal = (46 * TICK_CLK_DIV / self.clkin + 2 * MAX_SKEW_S)
        self._hist1 = np.zeros(int(math.ceil(max_phcal * fs)) + 2)
        self._hist2 = np.zeros_like(self._hist1)
        max_quarter = 0x7FFF * TICK_CLK_DIV / self.clkin / 4  # longest PERIOD / 4
        self._histq = np.zeros(int(math.ceil(max_quarter * fs)) + 2)
        self._histq1, self._histq2 = np.zeros_like(self._histq), np.zeros_like(self._histq)
        self._q_valid = 0
        self._q_fresh = int(math.ceil(fs / FRESH_QUARTER_HZ / 4)) + 1
        self._gidx = 0            # samples since the sample rate was set
        self._pend, self._pend_g0 = None, 0
        self._block = max(1, int(round(LPF2_BLOCK_S * fs)))

    def _retune(self, fs: float) -> None:
        if self._fs:
            self._flush()
            shift, r = self._gidx, fs / self._fs  # keep crossing history in the new units
            conv = lambda p: (p - shift) * r  # noqa: E731
            self._zx_last = None if self._zx_last is None else conv(self._zx_last)
            self._zx_rise = None if self._zx_rise is None else conv(self._zx_rise)
            self._zxto_ref, self._sag_start = conv(self._zxto_ref), conv(self._sag_start)
            self._lc_queue.clear()
            self._steady_next = None
        self._design(fs, keep_state=bool(self._fs))
        self._fs = float(fs)

    def _front(self, mode: int) -> tuple[float, float, float, float]:
        """x = v * g + dc for (CH1, CH2), from GAIN, CHxOS, DISCHx."""
        gain = self._r[GAIN]
        pga1, pga2 = 1 << min(gain & 7, 4), 1 << min((gain >> 5) & 7, 4)
        fs1 = 0.5 / (1 << min((gain >> 3) & 3, 2))
        chip = self.chip
        ref = 1.0 / (1.0 + chip.ref_tempco_ppm_per_c * 1e-6 * (self.temperature_c - 25.0))
        g1, g2 = pga1 / fs1 * ref, pga2 / 0.5 * ref
        dc1 = _sign_mag(self._r[CH1OS]) * OFFSET_LSB_V[pga1] / fs1 + chip.ch1_offset_fs
        dc2 = -_sign_mag(self._r[CH2OS]) * OFFSET_LSB_V[pga2] / 0.5 + chip.ch2_offset_fs
        return (0.0 if mode & DISCH1 else g1), dc1, (0.0 if mode & DISCH2 else g2), dc2

    def _phcal_steps(self) -> int:
        return _signed(self._r[PHCAL], 6) - PHCAL_ZERO

    def _delays(self) -> tuple[float, float]:
        """(CH1, CH2) delays in samples before the multiplier: PHCAL delays CH2 (advances it
        when negative, i.e. delays CH1), the chip's channel skew delays CH1."""
        skew = max(-MAX_SKEW_S, min(MAX_SKEW_S, self.chip.phase_skew_us * 1e-6))
        net = skew - self._phcal_steps() * TICK_CLK_DIV / self.clkin  # CH1 later than CH2, s
        return (net * self._fs, 0.0) if net > 0 else (0.0, -net * self._fs)

    def _quarter(self) -> tuple[float, float]:
        """Quarter of the measured period in samples, and the gain that undoes the
        linear-interpolation droop of that delay at the measured frequency."""
        period = self._r[PERIOD] & 0x7FFF or self.clkin / TICK_CLK_DIV / NOMINAL_LINE_HZ
        q = min(period * TICK_CLK_DIV / self.clkin / 4 * self._fs, len(self._histq) - 2)
        return q, 1.0 / abs(_frac_delay_response(math.pi / 2 / q, q))

    # ------------------------------------------------------------- feeding
    def feed(self, ch1_v: np.ndarray, ch2_v: np.ndarray, fs_hz: float) -> None:
        """Analog input chunk (volts at the ADC pins, CH1 current, CH2 voltage) at fs_hz."""
        v1 = np.asarray(ch1_v, dtype=np.float64).ravel()
        v2 = np.asarray(ch2_v, dtype=np.float64).ravel()
        if v1.shape != v2.shape:
            raise ValueError("ch1 and ch2 chunks differ in length")
        if fs_hz != self._fs:
            self._retune(float(fs_hz))
        if len(v1):
            self._process(v1, v2)

    def _process(self, v1: np.ndarray, v2: np.ndarray) -> None:
        mode, r, n, g0 = self._r[MODE], self._r, len(v1), self._gidx
        # ADC: PGA, offset, the chip's non-linearity, clip at the ADC's range, 16-bit codes
        if mode & ASUSPEND:
            x1 = x2 = np.zeros(n)
        else:
            if mode & SWAP:
                v1, v2 = v2, v1
            g1, dc1, g2, dc2 = self._front(mode)
            x1, x2 = v1 * g1 + dc1, v2 * g2 + dc2
            c3, lsb = self.chip.adc_cubic, ADC_CLIP_FS / ADC_FULL_CODE
            for x in (x1, x2):
                if c3:
                    x += c3 * x * x * x
                np.clip(x, -ADC_CLIP_FS, ADC_CLIP_FS - lsb, out=x)
                x *= 1.0 / lsb
                np.rint(x, out=x)
                x *= lsb
        # zero-crossing path
        z = self._lpf1.run(x2)
        self._zero_crossings(z, g0, mode)
        # CH1: integrator, HPF (with its phase compensation); CH2 has no HPF (DS p.26:
        # removing the offset from one channel is enough for the power)
        h1 = self._integ.run(x1) if r[CH1OS] & 0x80 else x1
        h2 = x2
        if not mode & DISHPF:
            h1 = self._hpf1.run(h1)
        # PHCAL and the chip's channel skew: one net delay on CH1 or CH2
        dl1, dl2 = self._delays()
        d1 = _frac_delay(self._hist1, h1, dl1) if dl1 else h1
        d2 = _frac_delay(self._hist2, h2, dl2) if dl2 else h2
        self._hist1, self._hist2 = _keep_tail(self._hist1, h1), _keep_tail(self._hist2, h2)
        # peaks and waveform register
        ipk = max(h1.max(), -h1.min()) * CH1_WAVE_FULL_SCALE
        vpk = max(z.max(), -z.min()) * self._ch2_wave
        self._r[IPEAK] = max(self._r[IPEAK], min(int(ipk), 0xFFFFFF))
        self._r[VPEAK] = max(self._r[VPEAK], min(int(vpk), 0xFFFFFF))
        if (int(ipk) >> PEAK_CH1_SHIFT) > r[IPKLVL]:
            r[STATUS] |= PKI
        if (int(vpk) >> PEAK_CH2_SHIFT) > r[VPKLVL]:
            r[STATUS] |= PKV
        wavsel = (mode >> 13) & 3
        if wavsel == 2:
            r[WAVEFORM] = int(round(h1[-1] * CH1_WAVE_FULL_SCALE)) & 0xFFFFFF
        elif wavsel == 3:
            r[WAVEFORM] = int(round(z[-1] * self._ch2_wave)) & 0xFFFFFF
        elif wavsel == 1:
            r[WAVEFORM] = 0
        self._wsmp(n / self._fs)
        # IRMS: LPF3 of CH1 squared; VRMS: LPF3 of |LPF1 output| (DS Fig. 56, mean absolute
        # value); both keep LPF3's 2f ripple. Ripple-free squares for apparent power.
        sq1, sq2 = h1 * h1, h2 * h2
        self._irms_ms = float(self._lpf3i.run(sq1)[-1])
        self._vrms_ma = float(self._lpf3v.run(np.abs(z))[-1])
        self._set_rms0()
        quarter, comp = self._quarter()
        s1 = _frac_delay(self._histq1, h1, quarter)
        s2 = _frac_delay(self._histq2, h2, quarter)
        s1 *= comp
        s2 *= comp
        self._histq1, self._histq2 = _keep_tail(self._histq1, h1), _keep_tail(self._histq2, h2)
        s1 *= s1
        s1 += sq1
        s1 *= 0.5
        s2 *= s2
        s2 += sq2
        s2 *= 0.5
        fresh = self._q_fresh - self._q_valid  # delayed samples from before the reset
        if fresh > 0:
            s1[:fresh], s2[:fresh] = sq1[:fresh], sq2[:fresh]
        self._q_valid = min(self._q_valid + n, len(self._histq))
        # active (and, in line-cycle mode, reactive) multiplier output
        if mode & ASUSPEND:
            a = np.zeros(n)
        else:
            # DS Fig. 63/65: APOS is added to LPF2's output, then WGAIN scales the sum
            wg = 1 + _signed(r[WGAIN], 12) / 4096
            a = d1 * d2
            a *= 2.0 * MULT_FULL_SCALE * wg
            a += _signed(r[APOS], 16) / 256 * wg
        if mode & CYCMODE:
            q = d1 * _frac_delay(self._histq, d2, quarter) * (2.0 * MULT_FULL_SCALE * comp)
        else:
            q = None
        self._histq = _keep_tail(self._histq, d2)
        if wavsel == 0 and mode & DISLPF2:
            r[WAVEFORM] = max(-(1 << 23), min((1 << 23) - 1, int(round(a[-1])))) & 0xFFFFFF
        self._gidx = g0 + n
        self.time_s += n / self._fs
        self._energy(a, q, s1, s2)
        self._set_rms_registers()

    def _wsmp(self, dt: float) -> None:
        rate = self.clkin / 128 / (1 << ((self._r[MODE] >> 11) & 3))
        if math.floor((self.time_s + dt) * rate) > math.floor(self.time_s * rate):
            self._r[STATUS] |= WSMP

    # ------------------------------------------------------ zero crossings
    def _debounce(self) -> float:
        period = self._r[PERIOD] & 0x7FFF
        half_s = period * TICK_CLK_DIV / self.clkin / 2 if period else 0.5 / NOMINAL_LINE_HZ
        return half_s / 4 * self._fs

    def _zero_crossings(self, z: np.ndarray, g0: int, mode: int) -> None:
        """ZX, PERIOD, ZXTO, SAG and the crossing queue for line-cycle accumulation."""
        neg = z < 0
        prev, self._zx_prev = self._zx_prev, float(z[-1])
        k = np.flatnonzero(neg[1:] != neg[:-1]) + 1
        if neg[0] != (prev < 0):
            k = np.concatenate(([0], k))
        pos = np.empty(0)
        if len(k):
            zb = z[k - 1] if k[0] else np.concatenate(([prev], z[k[1:] - 1]))
            za = z[k]
            pos_all = g0 + k - 1 + zb / (zb - za)
            dirs = np.where(neg[k], -1, 1)
            gap = self._debounce()
            first_ok = (self._zx_last is None or (pos_all[0] - self._zx_last >= gap
                                                  and dirs[0] != self._zx_dir))
            if first_ok and np.all(np.diff(pos_all) >= gap) and np.all(dirs[1:] != dirs[:-1]):
                pos, d = pos_all, dirs
            else:  # noisy: accept alternating crossings at least `gap` apart
                keep, last, last_dir = [], self._zx_last, self._zx_dir
                for i in range(len(pos_all)):
                    if dirs[i] != last_dir and (last is None or pos_all[i] - last >= gap):
                        keep.append(i)
                        last, last_dir = pos_all[i], dirs[i]
                pos, d = pos_all[keep], dirs[keep]
        end = float(g0 + len(z))
        self._zxto(pos, float(g0), end)
        if len(pos):
            self._r[STATUS] |= ZX
            self._zx_last, self._zx_dir = float(pos[-1]), int(d[-1])
            rises = pos[d > 0]
            if len(rises):
                chain = ([self._zx_rise] if self._zx_rise is not None else []) + list(rises[-2:])
                if len(chain) >= 2:
                    self._set_period(chain[-1] - chain[-2])
                self._zx_rise = float(rises[-1])
            self._lc_queue.extend(pos.tolist())
        self._sag(np.abs(z), pos, g0, end, mode)

    def _set_period(self, samples: float) -> None:
        ticks = int(math.floor(samples / self._fs * self.clkin / TICK_CLK_DIV))
        self._r[PERIOD] = max(0, min(0x7FFF, ticks))

    def _zxto(self, pos: np.ndarray, start: float, end: float) -> None:
        """ZXTO each time ZXTOUT x 128/CLKIN elapses without a crossing (re-armed)."""
        t = self._r[ZXTOUT] * ZXTOUT_CLK_DIV / self.clkin * self._fs
        if t <= 0:
            return
        refs = np.concatenate(([self._zxto_ref], pos))
        stops = np.concatenate((pos, [end]))
        seen = np.floor((np.maximum(refs, start) - refs) / t)
        if np.any(np.floor((stops - refs) / t) > seen):
            self._r[STATUS] |= ZXTO
        self._zxto_ref = float(refs[-1])

    def _sag(self, absz: np.ndarray, pos: np.ndarray, g0: int, end: float, mode: int) -> None:
        """Peak of CH2 per half cycle (or per 10 ms without crossings) against SAGLVL."""
        w = SAG_NOZX_WINDOW_S * self._fs
        bounds: list[float] = []
        last = self._sag_start
        for c in [*pos.tolist(), None]:
            stop = end if c is None else c
            while stop - last > 2 * w:
                last += w
                bounds.append(last)
            if c is not None:
                bounds.append(c)
                last = c
        self._sag_start = last
        n = len(absz)
        idx = [min(n, max(0, int(math.floor(b - g0)) + 1)) for b in bounds]
        lo = 0
        level, cycles = self._r[SAGLVL], max(1, self._r[SAGCYC])
        for hi in idx:
            peak = max(self._sag_peak, absz[lo:hi].max() if hi > lo else 0.0)
            self._sag_peak, lo = 0.0, hi
            if (int(peak * self._ch2_wave) >> PEAK_CH2_SHIFT) < level:
                self._sag_count += 1
                if self._sag_count == cycles and not mode & DISSAG:
                    self._r[STATUS] |= SAG
            else:
                self._sag_count = 0
        if n > lo:
            self._sag_peak = max(self._sag_peak, absz[lo:].max())

    # ------------------------------------------------------------------ rms
    def _set_rms0(self) -> None:
        """IRMS0/VRMS0 (before the offset registers) from the LPF3 outputs."""
        self._irms0 = math.sqrt(max(0.0, self._irms_ms) * 2) * IRMS_FULL_SCALE
        self._vrms0 = max(0.0, self._vrms_ma) * self._vrms_k

    def _set_rms_registers(self) -> None:
        i2 = self._irms0 ** 2 + 32768 * _signed(self._r[IRMSOS], 12)
        self._r[IRMS] = min(0xFFFFFF, int(round(math.sqrt(max(0.0, i2)))))
        v = self._vrms0 + _signed(self._r[VRMSOS], 12)
        self._r[VRMS] = max(0, min(0xFFFFFF, int(round(v))))

    # --------------------------------------------------------------- energy
    def _energy(self, a: np.ndarray, q: np.ndarray | None, s1: np.ndarray, s2: np.ndarray) -> None:
        """Queue samples; integrate every complete LPF2 block."""
        if q is None:
            q = np.zeros(len(a))
        if self._pend is not None:
            a, q, s1, s2 = (np.concatenate((p, x)) for p, x in zip(self._pend, (a, q, s1, s2)))
        b = self._block
        m = len(a) // b * b
        self._pend = None if m == len(a) else tuple(x[m:].copy() for x in (a, q, s1, s2))
        if m:
            r0 = self._pend_g0
            self._pend_g0 = r0 + m
            self._blocks(a[:m], q[:m], s1[:m], s2[:m], b, r0)

    def _flush(self) -> None:
        """Integrate a partial block (sample-rate change)."""
        if self._pend is not None:
            a, q, s1, s2 = self._pend
            self._pend = None
            self._blocks(a, q, s1, s2, len(a), self._pend_g0)
            self._pend_g0 += len(a)

    def _rates(self) -> tuple[float, float, float, float]:
        """(per-sample accumulator units per multiplier LSB for active, apparent; thresholds)."""
        k = self.clkin / ACC_CLK_DIV / self._fs
        return (k / (self._r[WDIV] or 1), k / (self._r[VADIV] or 1),
                NOLOAD_FRACTION * MULT_FULL_SCALE, 1 + _signed(self._r[VAGAIN], 12) / 4096)

    def _blocks(self, a, q, s1, s2, b: int, r0: int) -> None:
        mode, nb = self._r[MODE], len(a) // b
        ka, kv, thr, vag = self._rates()
        avg_a = a.reshape(nb, b).sum(1) / b
        avg_q = q.reshape(nb, b).sum(1) / b
        va = np.sqrt(s1.reshape(nb, b).sum(1) / b * (s2.reshape(nb, b).sum(1) / b)) * (2.0 * MULT_FULL_SCALE * vag)
        above = np.abs(avg_a) >= thr
        gate_a = above & (avg_a > 0) if mode & POAM else above
        gate_q, gate_v = np.abs(avg_q) >= thr, va >= thr
        if mode & ASUSPEND:
            gate_a[:] = gate_q[:] = gate_v[:] = False
        ea = np.where(gate_a, avg_a, 0.0) * (b * ka)       # block energies, accumulator units
        eq = np.where(gate_q, avg_q, 0.0) * (b * ka)
        ev = np.where(gate_v, va, 0.0) * (b * kv)
        signs = np.sign(avg_a[above])
        self._add_active(ea, signs)
        self._add_apparent(ev)
        if not mode & DISCF:
            # CF is not divided by WDIV (DS "Energy-to-Frequency Conversion": CFNUM/CFDEN only)
            self._cf += np.abs(ea).sum() / _U * (self._r[WDIV] or 1) * (self._r[CFNUM] + 1) / (self._r[CFDEN] + 1)
        if (mode >> 13) & 3 == 0 and not mode & DISLPF2:
            self._r[WAVEFORM] = max(-(1 << 23), min((1 << 23) - 1, int(round(avg_a[-1])))) & 0xFFFFFF
        # line-cycle accumulation between the crossings inside this region
        r1 = r0 + len(a)
        cross = []
        while self._lc_queue and self._lc_queue[0] < r1:
            cross.append(self._lc_queue.popleft())
        if not mode & CYCMODE:
            return
        totals = (ea.sum(), eq.sum(), ev.sum())
        if not cross:
            if self._lc_started:
                self._lc_acc = [x + y for x, y in zip(self._lc_acc, totals)]
            return
        cpos = np.clip(np.array(cross) - r0, 0.0, len(a))
        i = np.minimum(np.floor(cpos).astype(np.int64), len(a) - 1)
        frac = cpos - i
        at = []
        for per_sample in (np.repeat(np.where(gate_a, 1.0, 0.0), b) * a * ka,
                           np.repeat(np.where(gate_q, 1.0, 0.0), b) * q * ka,
                           np.repeat(ev / b, b)):
            cum = np.concatenate(([0.0], np.cumsum(per_sample)))
            at.append(cum[i] + frac * per_sample[i])
        prev = [0.0, 0.0, 0.0]
        for j in range(len(cross)):
            now = [at[0][j], at[1][j], at[2][j]]
            self._lc_crossing([x - y for x, y in zip(now, prev)])
            prev = now
        if self._lc_started:
            self._lc_acc = [x + t - p for x, t, p in zip(self._lc_acc, totals, prev)]

    def _add_active(self, ea: np.ndarray, signs: np.ndarray) -> None:
        u0 = self._acc + self._acc_frac
        path = u0 + np.cumsum(ea)
        before = np.concatenate(([u0], path[:-1]))
        self._flag_active(before, path)
        if len(signs):
            seq = np.concatenate(([self._last_sign], signs)) if self._last_sign else signs
            if np.any((seq[:-1] < 0) & (seq[1:] > 0)):
                self._r[STATUS] |= PPOS
            if np.any((seq[:-1] > 0) & (seq[1:] < 0)):
                self._r[STATUS] |= PNEG
            self._last_sign = int(signs[-1])
        self._acc, self._acc_frac = self._integrate(self._acc, self._acc_frac, float(ea.sum()), True)

    def _flag_active(self, u0, u1) -> None:
        if np.any(_count(u0, u1, float(1 << 47)) > 0) or np.any(_count(u1, u0, -float(1 << 47) + _U) > 0):
            self._r[STATUS] |= AEHF
        if np.any(_count(u0, u1, -_H) != 0):
            self._r[STATUS] |= AEOF

    def _add_apparent(self, ev: np.ndarray) -> None:
        u0 = self._va + self._va_frac
        path = u0 + np.cumsum(ev)
        self._flag_apparent(np.concatenate(([u0], path[:-1])), path)
        self._va, self._va_frac = self._integrate(self._va, self._va_frac, float(ev.sum()), False)

    def _flag_apparent(self, u0, u1) -> None:
        if np.any(_count(u0, u1, _H) > 0):
            self._r[STATUS] |= VAEHF
        if np.any(_count(u0, u1, 0.0) != 0):
            self._r[STATUS] |= VAEOF

    @staticmethod
    def _integrate(acc: int, frac: float, energy: float, signed: bool) -> tuple[int, float]:
        """Exact integer accumulator plus a float fractional carry, wrapping mod 2^49."""
        total = frac + energy
        whole = math.floor(total)
        acc += int(whole)
        acc &= (1 << ACC_BITS) - 1
        if signed and acc >> (ACC_BITS - 1):
            acc -= 1 << ACC_BITS
        return acc, total - whole

    # ------------------------------------------------------ line-cycle mode
    def _lc_reset(self) -> None:
        self._lc_started, self._lc_count = False, 0
        self._lc_acc = [0.0, 0.0, 0.0]
        self._lc_carry = [0.0, 0.0, 0.0]

    def _lc_crossing(self, seg: list[float]) -> None:
        if not self._lc_started:
            self._lc_started, self._lc_count, self._lc_acc = True, 0, [0.0, 0.0, 0.0]
            return
        self._lc_acc = [x + s for x, s in zip(self._lc_acc, seg)]
        self._lc_count += 1
        if self._lc_count >= max(1, self._r[LINECYC]):
            lsb = []
            for i in range(3):
                total = self._lc_carry[i] + self._lc_acc[i]
                lsb.append(math.floor(total / _U))
                self._lc_carry[i] = total - lsb[-1] * _U
            self._lc_latch(*lsb)

    def _lc_latch(self, la: int, lq: int, lv: int) -> None:
        self._r[LAENERGY], self._r[LVARENERGY] = la & 0xFFFFFF, lq & 0xFFFFFF
        self._r[LVAENERGY] = lv & 0xFFFFFF
        self._r[STATUS] |= CYCEND
        self._lc_count, self._lc_acc = 0, [0.0, 0.0, 0.0]

    # ------------------------------------------------------ analytic steady
    def feed_steady(self, ch1_peak_v: float, ch2_peak_v: float, phase_rad: float,
                    freq_hz: float, seconds: float, start_phase_rad: float | None = None) -> None:
        """Ideal sinusoids ch2 = V sin(wt + p0), ch1 = I sin(wt + p0 - phase) for `seconds`,
        computed in closed form except a head (to finish an open LPF2 block) and a short
        sampled tail (rms, peaks, waveform). p0 = start_phase_rad; by default it continues
        the previous feed_steady() call of the same frequency, else 0. Falls back to
        sampling when the inputs clip."""
        if not self._fs:
            self._retune(STEADY_FS_HZ)
        fs, b = self._fs, self._block
        total = int(round(seconds * fs))
        if total <= 0:
            return
        if start_phase_rad is None:
            cont = self._steady_next
            start_phase_rad = cont[1] if cont and cont[0] == (freq_hz, self._gidx) else 0.0
        w, p0 = 2 * math.pi * freq_hz / fs, float(start_phase_rad)
        synth = lambda n0, n: (ch1_peak_v * np.sin(w * np.arange(n0, n0 + n) + (p0 - phase_rad)),  # noqa: E731
                               ch2_peak_v * np.sin(w * np.arange(n0, n0 + n) + p0))
        head = (b - len(self._pend[0])) % b if self._pend is not None else 0
        tail = int(math.ceil(STEADY_TAIL_S * fs))
        middle = (total - head - tail) // b * b
        chain = None
        if middle >= b and freq_hz > 0:
            chain = self._steady_chain(ch1_peak_v, ch2_peak_v, phase_rad, p0, w)
        if chain is None:
            for n0 in range(0, total, 1 << 18):
                self._process(*synth(n0, min(1 << 18, total - n0)))
        else:
            if head:
                self._process(*synth(0, head))
            self._steady_middle(chain, head, middle, w)
            self._process(*synth(head + middle, total - head - middle))
        self._steady_next = ((freq_hz, self._gidx), math.fmod(p0 + w * total, 2 * math.pi))

    def _steady_chain(self, i_pk: float, v_pk: float, phi: float, p0: float, w: float) -> dict | None:
        """Phasors (x(n) = dc + Re(X e^{jwn})) of every stage for the current registers."""
        mode, r = self._r[MODE], self._r
        p1 = i_pk * complex(math.cos(p0 - phi - math.pi / 2), math.sin(p0 - phi - math.pi / 2))
        p2 = v_pk * complex(math.cos(p0 - math.pi / 2), math.sin(p0 - math.pi / 2))
        if mode & SWAP:
            p1, p2 = p2, p1
        g1, dc1, g2, dc2 = self._front(mode)
        x1, x2 = p1 * g1, p2 * g2
        if mode & ASUSPEND:
            x1 = x2 = 0j
            dc1 = dc2 = 0.0
        c3 = self.chip.adc_cubic
        if c3:  # the cubic's dc and fundamental (its 2nd/3rd harmonics carry no mean power)
            a1, a2 = abs(x1) ** 2, abs(x2) ** 2
            x1, dc1 = x1 * (1 + c3 * (3 * dc1 * dc1 + 0.75 * a1)), dc1 + c3 * (dc1 ** 3 + 1.5 * dc1 * a1)
            x2, dc2 = x2 * (1 + c3 * (3 * dc2 * dc2 + 0.75 * a2)), dc2 + c3 * (dc2 ** 3 + 1.5 * dc2 * a2)
        if abs(x1) + abs(dc1) > ADC_CLIP_FS or abs(x2) + abs(dc2) > ADC_CLIP_FS:
            return None  # clipping: not a sinusoid any more
        c = {"x1": (dc1, x1), "x2": (dc2, x2), "z": (dc2, x2 * self._lpf1.response(w))}
        i1 = (dc1 * self._integ.response(0.0).real, x1 * self._integ.response(w)) if r[CH1OS] & 0x80 else (dc1, x1)
        c["i1"] = i1
        c["h1"] = i1 if mode & DISHPF else (0.0, i1[1] * self._hpf1.response(w))
        c["h2"] = (dc2, x2)
        dl1, dl2 = self._delays()
        c["d1"] = (c["h1"][0], c["h1"][1] * (_frac_delay_response(w, dl1) if dl1 else 1))
        c["d2"] = (c["h2"][0], c["h2"][1] * (_frac_delay_response(w, dl2) if dl2 else 1))
        return c

    @staticmethod
    def _at(sig: tuple[float, complex], n: np.ndarray, w: float) -> np.ndarray:
        return sig[0] + (sig[1] * np.exp(1j * w * n)).real

    @staticmethod
    def _at1(sig: tuple[float, complex], n: int, w: float) -> float:
        return sig[0] + (sig[1] * complex(math.cos(w * n), math.sin(w * n))).real

    def _steady_middle(self, c: dict, n0: int, nm: int, w: float) -> None:
        """Advance nm samples (whole LPF2 blocks) from sample n0 of the sinusoid, in closed form."""
        r, mode, fs, g0 = self._r, self._r[MODE], self._fs, self._gidx
        ka, kv, thr, vag = self._rates()
        mean = lambda p, q: (p[1] * q[1].conjugate()).real / 2 + p[0] * q[0]  # noqa: E731
        wg = 1 + _signed(r[WGAIN], 12) / 4096
        gain = 2 * MULT_FULL_SCALE * wg
        apos = _signed(r[APOS], 16) / 256 * wg  # APOS before WGAIN, as in _process
        a = mean(c["d1"], c["d2"]) * gain + apos
        # exact sum over the samples, 2f ripple included, so the accumulator matches feed()
        a_sum = _sum_product(c["d1"], c["d2"], w, n0, nm) * gain + apos * nm
        quarter, comp = self._quarter()
        dq = c["d2"][1] * _frac_delay_response(w, quarter) * comp
        q = mean(c["d1"], (c["d2"][0], dq)) * 2 * MULT_FULL_SCALE
        droop = abs(_frac_delay_response(w, quarter) * comp) ** 2
        rms = lambda s: math.sqrt(abs(s[1]) ** 2 * (1 + droop) / 4 + s[0] ** 2)  # noqa: E731
        va = rms(c["h1"]) * rms(c["h2"]) * 2 * MULT_FULL_SCALE * vag
        on = not mode & ASUSPEND
        gate_a = on and abs(a) >= thr and not (mode & POAM and a <= 0)
        ra = a * ka if gate_a else 0.0          # accumulator units per sample
        ea = a_sum * ka if gate_a else 0.0
        rq = q * ka if on and abs(q) >= thr else 0.0
        rv = va * kv if on and va >= thr else 0.0
        if on and abs(a) >= thr:
            s = 1 if a > 0 else -1
            if self._last_sign and s != self._last_sign:
                r[STATUS] |= PPOS if s > 0 else PNEG
            self._last_sign = s
        u0 = self._acc + self._acc_frac
        self._flag_active(np.array([u0]), np.array([u0 + ea]))
        self._acc, self._acc_frac = self._integrate(self._acc, self._acc_frac, ea, True)
        v0 = self._va + self._va_frac
        self._flag_apparent(np.array([v0]), np.array([v0 + rv * nm]))
        self._va, self._va_frac = self._integrate(self._va, self._va_frac, rv * nm, False)
        if not mode & DISCF:
            self._cf += abs(ea) / _U * (r[WDIV] or 1) * (r[CFNUM] + 1) / (r[CFDEN] + 1)
        if (mode >> 13) & 3 == 0 and not mode & DISLPF2:
            r[WAVEFORM] = max(-(1 << 23), min((1 << 23) - 1, int(round(a)))) & 0xFFFFFF
        self._wsmp(nm / fs)
        # zero crossings of the LPF1 output dc + R cos(wn + psi), positions in [n0-1, n0+nm-1)
        dcz, zz = c["z"]
        period = 2 * math.pi / w
        lo, hi = n0 - 1.0, n0 + nm - 1.0
        seqs = []
        if abs(zz) > abs(dcz):
            alpha, psi = math.acos(-dcz / abs(zz)), math.atan2(zz.imag, zz.real)
            for phase, d in (((-alpha - psi) / w, 1), ((alpha - psi) / w, -1)):
                first = phase + math.ceil((lo - phase) / period) * period
                count = max(0, math.ceil((hi - first) / period))
                seqs.append((first, count, d))
        nx = sum(s[1] for s in seqs)
        glob = g0 - n0  # sinusoid sample index -> global sample position
        if nx:
            seqs.sort()
            (f0, c0, d0), (f1, c1, d1) = seqs
            delta = f1 - f0
            cross = lambda k: f0 + (k // 2) * period + (k % 2) * delta  # noqa: E731
            last_k = nx - 1
            last_pos, last_dir = cross(last_k), d0 if last_k % 2 == 0 else d1
            r[STATUS] |= ZX
            t_out = r[ZXTOUT] * ZXTOUT_CLK_DIV / self.clkin * fs
            self._zxto(np.array([glob + f0]), float(g0), glob + f0)
            if t_out > 0 and nx > 1 and max(delta, period - delta) > t_out:
                r[STATUS] |= ZXTO
            self._zxto_ref = glob + last_pos
            self._zxto(np.empty(0), glob + last_pos, float(g0 + nm))
            fr, cr = (f0, c0) if d0 > 0 else (f1, c1)
            if cr:
                rise = fr + (cr - 1) * period
                self._zx_rise = glob + rise
                self._set_period(period)
            self._zx_last, self._zx_dir = glob + last_pos, last_dir
            self._sag_start, self._sag_peak = glob + last_pos, 0.0
            peak = (abs(zz) + abs(dcz)) * self._ch2_wave
            half_cycles = nx
        else:
            self._zxto(np.empty(0), float(g0), float(g0 + nm))
            win = SAG_NOZX_WINDOW_S * fs
            half_cycles = int((g0 + nm - self._sag_start) // win) - 1
            if half_cycles > 0:
                self._sag_start += half_cycles * win
            peak = (abs(zz) + abs(dcz)) * self._ch2_wave
        if half_cycles > 0:
            if (int(peak) >> PEAK_CH2_SHIFT) < r[SAGLVL]:
                before = self._sag_count
                self._sag_count += half_cycles
                if before < max(1, r[SAGCYC]) <= self._sag_count and not mode & DISSAG:
                    r[STATUS] |= SAG
            else:
                self._sag_count = 0
        # line-cycle accumulation: constant rates, crossings at cross(k)
        if mode & CYCMODE and (nx or self._lc_started):
            rates = (ra, rq, rv)
            eff = lambda p: max(p, float(n0))  # noqa: E731
            linecyc = max(1, r[LINECYC])
            if not self._lc_started:
                start_k, base = 0, eff(cross(0))
                self._lc_started, self._lc_count, self._lc_acc = True, 0, [0.0, 0.0, 0.0]
                first_done = linecyc
            else:
                start_k, base = None, float(n0)
                first_done = max(0, linecyc - self._lc_count - 1)
            done = max(0, (nx - 1 - first_done) // linecyc + 1) if nx and first_done <= nx - 1 else 0
            if done:
                k_last = first_done + (done - 1) * linecyc
                f = lambda k, i: self._lc_carry[i] + self._lc_acc[i] + rates[i] * (eff(cross(k)) - base)  # noqa: E731
                lsb = []
                for i in range(3):
                    now = math.floor(f(k_last, i) / _U)
                    before = math.floor(f(k_last - linecyc, i) / _U) if done > 1 else 0
                    lsb.append(now - before)
                    self._lc_carry[i] = f(k_last, i) - now * _U
                self._lc_latch(*lsb)
                self._lc_acc = [rt * (n0 + nm - eff(cross(k_last))) for rt in rates]
                self._lc_count = nx - 1 - k_last
            else:
                self._lc_acc = [x + rt * (n0 + nm - base) for x, rt in zip(self._lc_acc, rates)]
                self._lc_count += nx - (1 if start_k == 0 else 0)
        # filter states and histories as if the samples had been run
        self._gidx = self._pend_g0 = g0 + nm
        self.time_s += nm / fs
        self._set_states(c, n0 + nm, w)

    def _set_states(self, c: dict, n_end: int, w: float) -> None:
        """Steady-state filter states and sample histories just before sample n_end."""
        r, at = self._r, lambda key, n: self._at1(c[key], n, w)
        last = n_end - 1
        self._lpf1.set_steady(at("x2", last), at("z", last))
        self._zx_prev = at("z", last)
        if r[CH1OS] & 0x80:
            self._integ.set_steady(at("x1", last), at("i1", last))
        if not r[MODE] & DISHPF:
            self._hpf1.set_steady(at("i1", last), at("h1", last))
        hist = lambda key, h: self._at(c[key], np.arange(n_end - h, n_end, dtype=float), w)  # noqa: E731
        self._hist1, self._hist2 = hist("h1", len(self._hist1)), hist("h2", len(self._hist2))
        self._histq = hist("d2", len(self._histq))
        self._histq1, self._histq2 = hist("h1", len(self._histq)), hist("h2", len(self._histq))
        self._q_valid = len(self._histq)
        # LPF3 in its periodic steady state: CH1 squared and |LPF1 output| as Fourier series
        th = w * last
        self._irms_ms = _lpf_periodic(self._lpf3i, lambda t: self._at(c["h1"], t, 1.0) ** 2, w, th)
        self._vrms_ma = _lpf_periodic(self._lpf3v, lambda t: np.abs(self._at(c["z"], t, 1.0)), w, th)
        self._set_rms0()
