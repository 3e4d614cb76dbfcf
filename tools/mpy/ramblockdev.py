"""A RAM block device with the ESP32 flash's geometry (4 KB sectors) for
vfs.VfsLfs2 under the MicroPython unix port: slice copies, so timings are the
firmware's and littlefs's CPU time; it counts erases and programmed bytes.
Used by tools/mpy/bench_storage.py and tools/mpy/save_time.py."""

SECTOR = 4096


class RamBlockDev:
    def __init__(self, sectors):
        self.sectors = sectors
        self.buf = bytearray(sectors * SECTOR)  # in the heap here; on the ESP32 it is the flash
        ff = b"\xff" * SECTOR
        for k in range(sectors):
            self.buf[k * SECTOR:(k + 1) * SECTOR] = ff
        self.erases = 0
        self.programmed = 0

    def readblocks(self, block, buf, offset=0):
        a = block * SECTOR + offset
        buf[:] = self.buf[a:a + len(buf)]

    def writeblocks(self, block, buf, offset=0):
        a = block * SECTOR + offset
        self.buf[a:a + len(buf)] = buf
        self.programmed += len(buf)

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.sectors
        if op == 5:  # block size
            return SECTOR
        if op == 6:  # erase
            a = arg * SECTOR
            self.buf[a:a + SECTOR] = b"\xff" * SECTOR
            self.erases += 1
        return 0
