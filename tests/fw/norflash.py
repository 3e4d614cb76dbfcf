"""NOR flash as a MicroPython block device, for `vfs.VfsLfs2` on the unix port.

The MicroPython twin of host_sim/flash.py (which is CPython only): 4 KB
sectors, program = AND (clears bits only), erase = 0xFF, erase counter per
sector, an operation counter, and tear_at(n): the n-th program/erase from now
only partly happens, and nothing after it reaches the chip (the running
filesystem goes on against volatile copies of the sectors it touches until
reboot(); see host_sim/flash.py for why the cut freezes the image instead of
raising). Each sector is kept as 16 buffers of 256 bytes: the unix port's
heap is ESP32-sized and, after the other tests, too fragmented for 4 KB blocks.

Block-device protocol (extended): readblocks(block, buf, offset),
writeblocks(block, buf, offset) programs without erasing, ioctl(6, block)
erases, ioctl(4)/ioctl(5) give block count/size.
"""
from fwtest import Rng

SECTOR_BYTES = 4096
_CHUNK_BITS = 8
_CHUNK = 256
_CHUNKS = SECTOR_BYTES // _CHUNK


def _erased():
    s = []
    for _ in range(_CHUNKS):
        c = bytearray(_CHUNK)
        for i in range(_CHUNK):
            c[i] = 0xFF
        s.append(c)
    return s


def _copy(sector):
    return [bytearray(c) for c in sector]


def _copy_into(dst, src):
    for i in range(_CHUNKS):
        dst[i][:] = src[i]


class NorBlockDev:
    def __init__(self, sectors, seed=1):
        self.sectors = sectors
        self.chip = [_erased() for _ in range(sectors)]  # what survives a cut
        self.erase_counts = [0] * sectors
        self.ops = 0
        self.cut = False
        self._tear_op = -1
        self._view = {}  # after a cut: sector -> its volatile copy
        self._rng = Rng(seed)

    def tear_at(self, n):
        self._tear_op = self.ops + n

    def reseed(self, seed):
        self._rng = Rng(seed)

    def reboot(self):
        self.cut = False
        self._view = {}
        self._tear_op = -1

    def snapshot(self, into=None):
        """What the chip holds; `into` (a previous snapshot) is reused."""
        if into is None:
            return [_copy(s) for s in self.chip], list(self.erase_counts)
        for i in range(self.sectors):
            _copy_into(into[0][i], self.chip[i])
        into[1][:] = self.erase_counts
        return into

    def restore(self, snap):
        for i in range(self.sectors):
            _copy_into(self.chip[i], snap[0][i])
        self.erase_counts[:] = snap[1]
        self.reboot()

    def _tearing_now(self):
        self.ops += 1
        return self.ops == self._tear_op

    def _volatile(self, block):
        v = self._view.get(block)
        if v is None:
            v = _copy(self.chip[block])
            self._view[block] = v
        return v

    # --- MicroPython block-device protocol ---------------------------------
    def readblocks(self, block, buf, offset=0):
        # no allocation here: littlefs may read from a file's finaliser (heap locked)
        v = self._view.get(block) if self.cut else None
        if v is None:
            v = self.chip[block]
        for i in range(len(buf)):
            o = offset + i
            buf[i] = v[o >> _CHUNK_BITS][o & 255]

    def writeblocks(self, block, buf, offset=None):
        if offset is None:  # simple interface: erase then program whole blocks
            for i in range(len(buf) // SECTOR_BYTES):
                self.ioctl(6, block + i)
            offset = 0
        torn = self._tearing_now()
        if self.cut or torn:
            _program(self._volatile(block), offset, buf, len(buf))
        if self.cut:
            return
        n = self._rng.below(len(buf)) if torn else len(buf)
        _program(self.chip[block], offset, buf, n)
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
                _erase(self._volatile(arg), SECTOR_BYTES)
            if self.cut:
                return 0
            self.erase_counts[arg] += 1
            n = self._rng.below(SECTOR_BYTES) if torn else SECTOR_BYTES
            d = self.chip[arg]
            _erase(d, n)
            if torn:
                d[n >> _CHUNK_BITS][n & 255] |= self._rng.below(256)
                self.cut = True
            return 0
        return 0  # init, deinit, sync


def _program(sector, offset, buf, n):
    for i in range(n):
        o = offset + i
        sector[o >> _CHUNK_BITS][o & 255] &= buf[i]


def _erase(sector, n):
    for o in range(n):
        sector[o >> _CHUNK_BITS][o & 255] = 0xFF
