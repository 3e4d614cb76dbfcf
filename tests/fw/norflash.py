"""NOR flash as a MicroPython block device, for `vfs.VfsLfs2` on the unix port.

The MicroPython twin of host_sim/flash.py (which is CPython only): 4 KB
sectors, program = AND (clears bits only), erase = 0xFF, erase counter per
sector, an operation counter, and tear_at(n): the n-th program/erase from now
only partly happens, and nothing after it reaches `data` (the running
filesystem goes on against a volatile copy until reboot(); see host_sim/flash.py
for why the cut freezes the image instead of raising).

Block-device protocol (extended): readblocks(block, buf, offset),
writeblocks(block, buf, offset) programs without erasing, ioctl(6, block)
erases, ioctl(4)/ioctl(5) give block count/size.
"""
from fwtest import Rng

SECTOR_BYTES = 4096


class NorBlockDev:
    def __init__(self, sectors, seed=1):
        self.sectors = sectors
        self.data = bytearray(sectors * SECTOR_BYTES)  # one allocation: the heap is ESP32-sized
        ff = b"\xff" * 256
        for a in range(0, len(self.data), 256):
            self.data[a:a + 256] = ff
        self.erase_counts = [0] * sectors
        self.ops = 0
        self.cut = False
        self._tear_op = -1
        self._view = {}  # after a cut: sector -> its volatile copy (sparse: the heap is small)
        self._rng = Rng(seed)

    def tear_at(self, n):
        self._tear_op = self.ops + n

    def reboot(self):
        self.cut = False
        self._view = {}
        self._tear_op = -1

    def reseed(self, seed):
        self._rng = Rng(seed)

    def snapshot(self, into=None):
        """(data, erase counts); `into` (a previous snapshot) is reused: the heap is small."""
        if into is None:
            return bytearray(self.data), list(self.erase_counts)
        into[0][:] = self.data
        into[1][:] = self.erase_counts
        return into

    def restore(self, snap):
        self.data[:] = snap[0]
        self.erase_counts[:] = snap[1]
        self.reboot()

    def _tearing_now(self):
        self.ops += 1
        return self.ops == self._tear_op

    def _volatile(self, block):
        """The running code's copy of a sector after the cut."""
        v = self._view.get(block)
        if v is None:
            a = block * SECTOR_BYTES
            v = bytearray(self.data[a:a + SECTOR_BYTES])
            self._view[block] = v
        return v

    # --- MicroPython block-device protocol ---------------------------------
    def readblocks(self, block, buf, offset=0):
        # no allocation here: littlefs may read from a file's finaliser (heap locked)
        v = self._view.get(block) if self.cut else None
        if v is None:
            v = self.data
            offset += block * SECTOR_BYTES
        for i in range(len(buf)):
            buf[i] = v[offset + i]

    def writeblocks(self, block, buf, offset=None):
        if offset is None:  # simple interface: erase then program whole blocks
            for i in range(len(buf) // SECTOR_BYTES):
                self.ioctl(6, block + i)
            offset = 0
        torn = self._tearing_now()
        if self.cut or torn:
            v = self._volatile(block)
            for i in range(len(buf)):
                v[offset + i] &= buf[i]
        if self.cut:
            return
        a = block * SECTOR_BYTES + offset
        n = self._rng.below(len(buf)) if torn else len(buf)
        d = self.data
        for i in range(n):
            d[a + i] &= buf[i]
        if torn:
            self.cut = True

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.sectors
        if op == 5:  # block size
            return SECTOR_BYTES
        if op == 6:  # erase
            torn = self._tearing_now()
            if self.cut or torn:
                v = self._volatile(arg)
                for i in range(SECTOR_BYTES):
                    v[i] = 0xFF
            if self.cut:
                return 0
            a = arg * SECTOR_BYTES
            self.erase_counts[arg] += 1
            n = self._rng.below(SECTOR_BYTES) if torn else SECTOR_BYTES
            d = self.data
            for i in range(n):
                d[a + i] = 0xFF
            if torn:
                d[a + n] |= self._rng.below(256)
                self.cut = True
            return 0
        return 0  # init, deinit, sync
