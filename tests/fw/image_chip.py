"""An allocation-free ADE7753 stand-in for the firmware lane (both interpreters).

It speaks the chip's SPI byte protocol from a register image: enough to test
the driver and metrology under MicroPython, where the numpy register model of
host_sim cannot run, and to measure a tick under heap_lock() without blaming
the firmware for the fake's garbage. Its register table is written out here on
purpose, independently of firmware/ade7753.py.
"""

# address: (bits, default, read-only)
_TABLE = {
    0x01: (24, 0, 1), 0x02: (24, 0, 1), 0x03: (24, 0, 1), 0x04: (24, 0, 1),
    0x05: (24, 0, 1), 0x06: (24, 0, 1), 0x07: (24, 0, 1), 0x08: (24, 0, 1),
    0x09: (16, 0x000C, 0), 0x0A: (16, 0x0040, 0), 0x0B: (16, 0, 1), 0x0C: (16, 0, 1),
    0x0D: (8, 0, 0), 0x0E: (8, 0, 0), 0x0F: (8, 0, 0), 0x10: (6, 0x0D, 0),
    0x11: (16, 0, 0), 0x12: (12, 0, 0), 0x13: (8, 0, 0), 0x14: (12, 0x3F, 0),
    0x15: (12, 0x3F, 0), 0x16: (24, 0, 1), 0x17: (24, 0, 1), 0x18: (12, 0, 0),
    0x19: (12, 0, 0), 0x1A: (12, 0, 0), 0x1B: (8, 0, 0), 0x1C: (16, 0xFFFF, 0),
    0x1D: (12, 0xFFF, 0), 0x1E: (8, 0xFF, 0), 0x1F: (8, 0, 0), 0x20: (8, 0xFF, 0),
    0x21: (8, 0xFF, 0), 0x22: (24, 0, 1), 0x23: (24, 0, 1), 0x24: (24, 0, 1),
    0x25: (24, 0, 1), 0x26: (8, 0, 1), 0x27: (16, 0, 1), 0x3E: (6, 0, 1),
    0x3F: (8, 0x02, 1),
}
_STATUS = 0x0B
_RSTSTATUS = 0x0C
_MODE = 0x09
_AENERGY = 0x02
_CHKSUM = 0x3E
_RESET_BIT = 0x0040
_AEOF_BIT = 0x0080


def _ones(v):
    n = 0
    while v:
        v &= v - 1
        n += 1
    return n


class ImageChip:
    def __init__(self):
        self.bits = [0] * 64
        self.ro = [1] * 64
        self.regs = [0] * 64
        for addr in _TABLE:
            bits, _, ro = _TABLE[addr]
            self.bits[addr] = bits
            self.ro[addr] = ro
        self.cs_low = False
        self._addr = -1  # register of the transfer in progress, -1 = expect command
        self._writing = False
        self._left = 0  # data bytes left in this transfer
        self._acc = 0
        self._out = 0
        self.corrupt_reads = 0  # flip a bit in this many coming data bytes
        self.corrupt_addr = -1  # flip a bit in every read of this register
        self.absent = False  # no chip: writes vanish, reads return float_byte
        self.float_byte = 0xFF  # what the floating MISO line reads (pull-up or down)
        self.transfers = 0
        self.reset()

    # --- test controls --------------------------------------------------
    def reset(self):
        for addr in _TABLE:
            self.regs[addr] = _TABLE[addr][1]
        self.regs[_STATUS] = _RESET_BIT

    def add_energy(self, lsb):
        """The load consumed `lsb` AENERGY LSB: wrap like the chip, flag AEOF."""
        v = self.regs[_AENERGY]
        if v & 0x800000:
            v -= 0x1000000
        v += lsb
        if v >= 0x800000 or v < -0x800000:
            self.regs[_STATUS] |= _AEOF_BIT
        self.regs[_AENERGY] = v & 0xFFFFFF

    def set(self, addr, raw):
        self.regs[addr] = raw & ((1 << self.bits[addr]) - 1)

    # --- machine.Pin side (chip select) ---------------------------------
    def value(self, v=None):
        if v is None:
            return 0 if self.cs_low else 1
        self.cs_low = not v
        self._addr = -1
        self._left = 0
        return None

    # --- machine.SPI side --------------------------------------------------
    def write(self, buf):
        for i in range(len(buf)):
            self._byte_in(buf[i])

    def readinto(self, buf, write=0):
        for i in range(len(buf)):
            buf[i] = self._byte_out()

    def _byte_in(self, b):
        if not self.cs_low or self.absent:
            return
        if self._addr < 0:
            self._addr = b & 0x3F
            self._writing = bool(b & 0x80)
            bits = self.bits[self._addr]
            self._left = (bits + 7) >> 3
            self._acc = 0
            if not self._writing:
                src = _STATUS if self._addr == _RSTSTATUS else self._addr
                self._out = self.regs[src]
            self.transfers += 1
            return
        if self._writing and self._left:
            self._acc = (self._acc << 8) | b
            self._left -= 1
            if not self._left:
                addr = self._addr
                if not self.ro[addr] and self.bits[addr]:
                    if addr == _MODE and self._acc & 0x40:
                        self.reset()  # software reset
                    else:
                        self.set(addr, self._acc)
                self._addr = -1

    def _byte_out(self):
        if not self.cs_low:
            return 0xFF
        if self.absent:
            return self.float_byte
        if self._addr < 0 or self._writing or not self._left:
            return 0
        self._left -= 1
        b = (self._out >> (8 * self._left)) & 0xFF
        if self._addr == self.corrupt_addr:
            b ^= 0x01
        if not self._left:
            addr = self._addr
            if addr != _CHKSUM:
                self.regs[_CHKSUM] = _ones(self._out)
            if addr == _RSTSTATUS:
                self.regs[_STATUS] = 0
            self._addr = -1
        if self.corrupt_reads:
            self.corrupt_reads -= 1
            b ^= 0x10
        return b
