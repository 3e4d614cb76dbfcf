"""ADE7753 driver: moves register values over SPI, nothing else.

All traffic goes through `_xfer_read` / `_xfer_write` on preallocated buffers, so
a steady-state read allocates nothing. Every read is checked against CHKSUM and
every write is read back; both retry a bounded number of times and then raise
ADE7753Error. Accounting lives in metrology.py, not here.
"""
from micropython import const

import time


def _no_wait(us):
    pass  # CPython has no sleep_us; the simulated bus needs no gaps


_sleep_us = getattr(time, "sleep_us", _no_wait)


# Register addresses (datasheet order). Public: metrology and tools name them.
WAVEFORM = const(0x01)
AENERGY = const(0x02)
RAENERGY = const(0x03)
LAENERGY = const(0x04)
VAENERGY = const(0x05)
RVAENERGY = const(0x06)
LVAENERGY = const(0x07)
LVARENERGY = const(0x08)
MODE = const(0x09)
IRQEN = const(0x0A)
STATUS = const(0x0B)
RSTSTATUS = const(0x0C)
CH1OS = const(0x0D)
CH2OS = const(0x0E)
GAIN = const(0x0F)
PHCAL = const(0x10)
APOS = const(0x11)
WGAIN = const(0x12)
WDIV = const(0x13)
CFNUM = const(0x14)
CFDEN = const(0x15)
IRMS = const(0x16)
VRMS = const(0x17)
IRMSOS = const(0x18)
VRMSOS = const(0x19)
VAGAIN = const(0x1A)
VADIV = const(0x1B)
LINECYC = const(0x1C)
ZXTOUT = const(0x1D)
SAGCYC = const(0x1E)
SAGLVL = const(0x1F)
IPKLVL = const(0x20)
VPKLVL = const(0x21)
IPEAK = const(0x22)
RSTIPEAK = const(0x23)
VPEAK = const(0x24)
RSTVPEAK = const(0x25)
TEMP = const(0x26)
PERIOD = const(0x27)
TMODE = const(0x3D)
CHKSUM = const(0x3E)
DIEREV = const(0x3F)

# MODE bits
MODE_DISHPF = const(0x0001)
MODE_DISLPF2 = const(0x0002)
MODE_DISCF = const(0x0004)
MODE_DISSAG = const(0x0008)
MODE_ASUSPEND = const(0x0010)
MODE_TEMPSEL = const(0x0020)
MODE_SWRST = const(0x0040)
MODE_CYCMODE = const(0x0080)
MODE_POAM = const(0x8000)
MODE_DEFAULT = const(0x000C)

# STATUS / RSTSTATUS / IRQEN bits
ST_AEHF = const(0x0001)
ST_SAG = const(0x0002)
ST_CYCEND = const(0x0004)
ST_WSMP = const(0x0008)
ST_ZX = const(0x0010)
ST_TEMP = const(0x0020)
ST_RESET = const(0x0040)
ST_AEOF = const(0x0080)
ST_PKV = const(0x0100)
ST_PKI = const(0x0200)
ST_VAEHF = const(0x0400)
ST_VAEOF = const(0x0800)
ST_ZXTO = const(0x1000)
ST_PPOS = const(0x2000)
ST_PNEG = const(0x4000)

# Register map, one byte per address: bits 0-4 width in bits, then flags.
# 0 = no register there. Widths and signedness follow the datasheet table.
_T_S = const(0x20)  # two's complement
_T_SM = const(0x40)  # sign-magnitude (CH1OS, CH2OS): returned raw
_T_W = const(0x80)  # writable
_MAP = (
    b"\x00"  # 0x00
    b"\x38\x38\x38\x38\x18\x18\x18\x38"  # 0x01-0x08 energies / waveform (24)
    b"\x90\x90\x10\x10"  # 0x09 MODE, IRQEN (W), STATUS, RSTSTATUS (16 U)
    b"\xc8\xc8\x88"  # 0x0D CH1OS, CH2OS (SM, W), GAIN (8 U W)
    b"\xa6\xb0\xac\x88\x8c\x8c"  # PHCAL 6S, APOS 16S, WGAIN 12S, WDIV 8U, CFNUM, CFDEN 12U
    b"\x18\x18\xac\xac\xac\x88"  # IRMS, VRMS 24U, IRMSOS, VRMSOS, VAGAIN 12S, VADIV 8U
    b"\x90\x8c\x88\x88\x88\x88"  # LINECYC 16U, ZXTOUT 12U, SAGCYC, SAGLVL, IPKLVL, VPKLVL 8U
    b"\x18\x18\x18\x18\x28\x10"  # IPEAK..RSTVPEAK 24U, TEMP 8S, PERIOD 16U
    + bytes(0x3D - 0x28)  # 0x28-0x3C reserved
    + b"\x08\x06\x08"  # TMODE (never written), CHKSUM 6U, DIEREV 8U
)

_READ_RETRIES = const(3)
_WRITE_RETRIES = const(3)
_RESET_POLLS = const(10)


class ADE7753Error(Exception):
    """The chip is absent, or its transfers keep failing their checks."""


def _ones(value):
    n = 0
    while value:
        value &= value - 1
        n += 1
    return n


def width_bits(addr):
    """Register width in bits (0 for a reserved address)."""
    return _MAP[addr] & 0x1F


def is_signed(addr):
    return bool(_MAP[addr] & _T_S)


def is_writable(addr):
    return bool(_MAP[addr] & _T_W)


class ADE7753:
    """One ADE7753 on an SPI bus (mode 1) with its own chip-select pin."""

    def __init__(self, spi, cs, clkin_hz):
        self._spi = spi
        self._cs = cs
        self.clkin_hz = clkin_hz
        self._cmd = bytearray(1)
        self._bufs = (None, bytearray(1), bytearray(2), bytearray(3))
        self.checksum_errors = 0  # transfers that failed CHKSUM and were retried
        self.write_errors = 0  # writes whose read-back differed and were retried
        cs.value(1)

    # --- transfer layer: the only code that touches the bus ---------------
    def _xfer_read(self, addr, nbytes):
        buf = self._bufs[nbytes]
        self._cmd[0] = addr & 0x3F
        self._cs.value(0)
        try:
            self._spi.write(self._cmd)
            _sleep_us(4)  # >= 4 us between command and first data byte
            self._spi.readinto(buf)
        finally:
            self._cs.value(1)
        value = buf[0]
        if nbytes > 1:
            value = (value << 8) | buf[1]
            if nbytes > 2:
                value = (value << 8) | buf[2]
        return value

    def _xfer_write(self, addr, nbytes, raw):
        buf = self._bufs[nbytes]
        i = nbytes - 1
        while i >= 0:
            buf[i] = raw & 0xFF
            raw >>= 8
            i -= 1
        self._cmd[0] = 0x80 | (addr & 0x3F)
        self._cs.value(0)
        try:
            self._spi.write(self._cmd)
            self._spi.write(buf)
        finally:
            self._cs.value(1)
        _sleep_us(4)  # >= 4 us after a write before the next read

    # --- register layer -------------------------------------------------
    def read_raw(self, addr):
        """Unsigned register bits, validated with CHKSUM (retried)."""
        code = _MAP[addr]
        bits = code & 0x1F
        if not bits:
            raise ValueError("ADE7753: no register at 0x%02X" % addr)
        nbytes = (bits + 7) >> 3
        mask = (1 << bits) - 1
        tries = 0
        while tries < _READ_RETRIES:
            tries += 1
            raw = self._xfer_read(addr, nbytes)
            if addr == CHKSUM:
                return raw & mask
            check = self._xfer_read(CHKSUM, 1) & 0x3F
            if check == _ones(raw):
                return raw & mask
            self.checksum_errors += 1
        raise ADE7753Error(
            "ADE7753 read 0x%02X: CHKSUM disagreed %d times (chip absent or bus noisy)"
            % (addr, _READ_RETRIES)
        )

    def read(self, addr):
        """Register value with its datasheet sign (SM registers come back raw)."""
        raw = self.read_raw(addr)
        code = _MAP[addr]
        if code & _T_S:
            bits = code & 0x1F
            if raw & (1 << (bits - 1)):
                raw -= 1 << bits
        return raw

    def write(self, addr, value):
        """Write a register and read it back; retried, then ADE7753Error."""
        code = _MAP[addr]
        bits = code & 0x1F
        if not code & _T_W or addr == TMODE:
            raise ValueError("ADE7753: register 0x%02X is not writable" % addr)
        if code & _T_S:
            lo = -(1 << (bits - 1))
            hi = (1 << (bits - 1)) - 1
        else:
            lo = 0
            hi = (1 << bits) - 1
        if value < lo or value > hi:
            raise ValueError(
                "ADE7753: value %d out of range %d..%d for register 0x%02X"
                % (value, lo, hi, addr)
            )
        nbytes = (bits + 7) >> 3
        raw = value & ((1 << bits) - 1)
        tries = 0
        while tries < _WRITE_RETRIES:
            tries += 1
            self._xfer_write(addr, nbytes, raw)
            if self.read_raw(addr) == raw:
                return
            self.write_errors += 1
        raise ADE7753Error(
            "ADE7753 write 0x%02X: read-back differed %d times" % (addr, _WRITE_RETRIES)
        )

    def read_status_and_clear(self):
        """Pending interrupt flags, then clear them, losing none to bus noise.

        STATUS is read first (non-destructive, so its CHKSUM retry is safe);
        then RSTSTATUS is read exactly once to clear the flags, and, if that one
        transfer passes CHKSUM, flags raised between the two reads are added.
        Retrying RSTSTATUS instead would return 0 and lose AEOF or SAG.
        """
        flags = self.read_raw(STATUS)
        raw = self._xfer_read(RSTSTATUS, 2)
        if self._xfer_read(CHKSUM, 1) & 0x3F == _ones(raw):
            flags |= raw
        else:
            self.checksum_errors += 1
        return flags

    # --- chip-level operations --------------------------------------------
    def software_reset(self):
        """Reset every register to its default and wait for STATUS.RESET."""
        self._xfer_write(MODE, 2, MODE_DEFAULT | MODE_SWRST)
        polls = 0
        while polls < _RESET_POLLS:
            _sleep_us(20)  # datasheet: >= 18 us
            polls += 1
            if self.read_raw(RSTSTATUS) & ST_RESET:
                return
        raise ADE7753Error("ADE7753 did not report RESET after a software reset")

    def identify(self):
        """Check that a real ADE7753 answers: defaults right after a reset.

        A missing chip reads as all ones (fails CHKSUM) or all zeros (passes
        CHKSUM but MODE reads 0 instead of its default), so both are caught.
        """
        mode = self.read_raw(MODE)
        if mode != MODE_DEFAULT:
            raise ADE7753Error(
                "ADE7753 not answering: MODE reads 0x%04X after reset, expected 0x%04X"
                % (mode, MODE_DEFAULT)
            )
        rev = self.read_raw(DIEREV)
        if rev in (0, 0xFF):
            raise ADE7753Error("ADE7753 not answering: DIEREV reads 0x%02X" % rev)
        return rev
