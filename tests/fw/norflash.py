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
        self.data = bytearray(b"\xff" * (sectors * SECTOR_BYTES))
        self.erase_counts = [0] * sectors
        self.ops = 0
        self.cut = False
        self._tear_op = -1
        self._view = None
        self._rng = Rng(seed)

    def tear_at(self, n):
        self._tear_op = self.ops + n

    def reboot(self):
        self.cut = False
        self._view = None
        self._tear_op = -1

    def _tearing_now(self):
        self.ops += 1
        if self.ops == self._tear_op:
            self._view = bytearray(self.data)
            return True
        return False

    # --- MicroPython block-device protocol ---------------------------------
    def readblocks(self, block, buf, offset=0):
        src = self._view if self.cut else self.data
        a = block * SECTOR_BYTES + offset
        buf[:] = src[a:a + len(buf)]

    def writeblocks(self, block, buf, offset=None):
        if offset is None:  # simple interface: erase then program whole blocks
            for i in range(len(buf) // SECTOR_BYTES):
                self.ioctl(6, block + i)
            offset = 0
        a = block * SECTOR_BYTES + offset
        torn = self._tearing_now()
        if self.cut or torn:
            v = self._view
            for i in range(len(buf)):
                v[a + i] &= buf[i]
        if self.cut:
            return
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
            a = arg * SECTOR_BYTES
            if self.cut or torn:
                v = self._view
                for i in range(SECTOR_BYTES):
                    v[a + i] = 0xFF
            if self.cut:
                return 0
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
