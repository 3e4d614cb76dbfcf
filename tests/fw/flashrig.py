"""A littlefs filesystem on simulated NOR flash, on either interpreter.

MicroPython: tests/fw/norflash.py under `vfs.VfsLfs2` (the code the ESP32
runs). CPython: host_sim/flash.py under littlefs-python, configured the same.
Both give `rig.fs` (open/rename/remove/stat), `rig.flash` (tear_at, cut, ops,
data, erase_counts) and `rig.reboot()` (mount again from what the flash holds).
"""
from fwtest import IS_MICROPYTHON


class _MpyRig:
    def __init__(self, sectors, seed):
        import vfs
        from norflash import NorBlockDev

        self._vfs = vfs
        self.flash = NorBlockDev(sectors, seed)
        vfs.VfsLfs2.mkfs(self.flash)
        self.fs = vfs.VfsLfs2(self.flash)

    def reboot(self):
        self.flash.reboot()
        self.fs = self._vfs.VfsLfs2(self.flash)
        return self.fs


def new_rig(sectors=8, seed=1):
    if IS_MICROPYTHON:
        import gc

        gc.collect()  # the previous test's flash image
        return _MpyRig(sectors, seed)
    from host_sim.flash import FlashRig

    return FlashRig(sectors, seed)
