"""Freeze records (冻结): bounded RAM rings of fixed-size binary snapshots.

One ring per kind. A record is packed straight into its ring slot, so taking
a freeze allocates nothing and every record is already the compact bytes that
storage will persist (RECORD_BYTES each, little-endian, layout below).
"""
import struct

from micropython import const

DAILY = const(0)
BILLING = const(1)
SETTLEMENT = const(2)
TARIFF_SWITCH = const(3)
INSTANT = const(4)
KIND_NAMES = ("daily", "billing", "settlement", "tariff_switch", "instant")
# Newest records kept per kind (tariff.md: at least 62 daily and 12 billing).
CAPACITY = (62, 12, 12, 4, 8)
# With flash behind it (persist.py moves every new record to the flash rings at
# the next save), RAM only stages: 2.5 KB instead of 6.9 KB of the boot heap.
# Only a catch-up after an outage of more than 16 days takes more daily freezes
# at once; the oldest of those (all with the same registers: nothing was
# metered in the outage) are then dropped and a "freeze_dropped" event says so.
STAGING = (16, 4, 4, 4, 8)

# flags
LATE = const(1)  # taken after its instant (outage, clock set forwards, unset clock)
NO_BALANCE = const(2)  # postpaid: no balance to record
CLOCK_SET = const(4)  # caught up because the clock was set forwards

# day (since 2000-01-01), second of day, kind, flags, rate in force, tier,
# import kWh + frac, rates 1..4 kWh + frac, export kWh + frac,
# step-period kWh + frac, balance (0.0001 units; 0 with NO_BALANCE).
# Energy fractions are in 1/num kWh (the calibration's LSB-per-kWh numerator).
FORMAT = "<HIBBBB" + "I" * 14 + "i"
RECORD_BYTES = const(70)  # struct.calcsize(FORMAT)
# Rings are built from 8-record buffers (560 bytes): no large contiguous block
# is needed from a heap that code loading has fragmented.
_PER_BUF = const(8)


class FreezeLog:
    def __init__(self, capacity=CAPACITY):
        self.capacity = capacity
        self._rings = [[bytearray(min(_PER_BUF, n - k) * RECORD_BYTES) for k in range(0, n, _PER_BUF)]
                       for n in capacity]
        self._next = [0] * len(capacity)  # slot the next record goes to
        self.taken = [0] * len(capacity)  # records ever taken, per kind

    def take(self, kind, day, sod, flags, rate, tier, imp, rate_regs, exp, step, balance_e4):
        """Pack one record into kind's ring (overwriting its oldest when full).
        rate_regs[1..4] are EnergyRegisters; balance_e4 None means postpaid."""
        if balance_e4 is None:
            flags |= NO_BALANCE
            balance_e4 = 0
        slot = self._next[kind]
        struct.pack_into(FORMAT, self._rings[kind][slot // _PER_BUF], (slot % _PER_BUF) * RECORD_BYTES, day, sod, kind, flags, rate, tier,
                         imp.kwh, imp.frac, rate_regs[1].kwh, rate_regs[1].frac, rate_regs[2].kwh,
                         rate_regs[2].frac, rate_regs[3].kwh, rate_regs[3].frac, rate_regs[4].kwh,
                         rate_regs[4].frac, exp.kwh, exp.frac, step.kwh, step.frac, balance_e4)
        slot += 1
        self._next[kind] = 0 if slot >= self.capacity[kind] else slot
        self.taken[kind] += 1

    def count(self, kind):
        """Records held for kind (at most its capacity)."""
        n = self.taken[kind]
        cap = self.capacity[kind]
        return n if n < cap else cap

    def raw(self, kind, i):
        """The i-th held record of kind as bytes (0 = oldest held)."""
        n = self.count(kind)
        if not 0 <= i < n:
            raise IndexError("freeze: %s record %d of %d" % (KIND_NAMES[kind], i, n))
        cap = self.capacity[kind]
        slot = (self._next[kind] - n + i) % cap
        off = (slot % _PER_BUF) * RECORD_BYTES
        return bytes(self._rings[kind][slot // _PER_BUF][off:off + RECORD_BYTES])

    def records(self, kind):
        """Decoded records of kind, oldest first (allocates: readout and storage only)."""
        return [decode(self.raw(kind, i)) for i in range(self.count(kind))]


def decode(b):
    """Record bytes -> dict with integer fields (energy as (kwh, frac) pairs)."""
    v = struct.unpack(FORMAT, b)
    return {
        "day": v[0], "sod": v[1], "kind": KIND_NAMES[v[2]], "flags": v[3], "rate": v[4], "tier": v[5],
        "import": (v[6], v[7]),
        "rates": ((v[8], v[9]), (v[10], v[11]), (v[12], v[13]), (v[14], v[15])),
        "export": (v[16], v[17]), "step": (v[18], v[19]),
        "balance_e4": None if v[3] & NO_BALANCE else v[20],
    }
