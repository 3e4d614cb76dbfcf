"""A NOR-flash chip for the simulator, with real littlefs on top.

`NorFlash` behaves like the ESP32's SPI NOR flash as far as a filesystem can
tell: 4 KB sectors, a program can only clear bits (new = old AND data), an
erase sets a whole sector to 0xFF, and every sector counts its erases. Every
program and erase is one *operation*; `tear_at(n)` makes the n-th operation
from now the one power is lost in: only a random part of it reaches the
flash (a prefix of the bytes of a program, a prefix of the sector of an
erase) and nothing after it does.

Power loss without exceptions: littlefs-python swallows an exception raised in
its block-device callbacks ("Exception ignored in _lfs_prog") and then
asserts inside lfs_file_close, which aborts the interpreter. So instead of
raising, the flash *freezes* its persistent image at the cut: the running
filesystem goes on against a volatile copy (as if the CPU had a moment more of
power but nothing more reached the chip), and `reboot()` drops that copy and
mounts again from exactly what the chip holds. Nothing written after the cut
can ever be seen after the reboot, which is all a power cut means to flash.

`LfsOs` gives the firmware's storage the small os-like API it uses on the
device (open/rename/remove/stat/listdir raising OSError with an errno), over
littlefs-python configured like MicroPython's `vfs.VfsLfs2` on the ESP32
(read/prog 32 B, cache 128 B, lookahead 32 B, block_cycles 100).
"""
from __future__ import annotations

import errno
import random
from dataclasses import dataclass, field
from typing import Any

from littlefs import LittleFS, LittleFSError, UserContext

SECTOR_BYTES = 4096
# MicroPython's VfsLfs2 defaults (extmod/vfs_lfsx.c): the ESP32 uses these.
LFS_CONFIG = dict(block_size=SECTOR_BYTES, read_size=32, prog_size=32, cache_size=128,
                  lookahead_size=32, block_cycles=100)


@dataclass
class NorFlash:
    """NOR flash of `sectors` x 4 KB; `data` is what survives a power cut."""

    sectors: int
    seed: int = 0
    data: bytearray = field(init=False)
    erase_counts: list[int] = field(init=False)
    ops: int = 0  # program + erase operations so far
    programs: int = 0
    erases: int = 0
    bytes_programmed: int = 0
    bits_set_by_program: int = 0  # a program that tried 0 -> 1 (NOR cannot): a filesystem bug
    cut: bool = False  # power lost: `data` is frozen until reboot()
    _tear_op: int | None = None
    _budget_us: float | None = None  # power left for flash operations (set_power_budget)
    program_us_base: float = 20.0  # a program's time: base + per byte (0.7 ms per 256 B page)
    program_us_per_byte: float = 2.7
    erase_us: float = 80_000.0  # a 4 KB sector erase
    _view: bytearray | None = None  # what the running code sees after the cut

    def __post_init__(self) -> None:
        if self.sectors < 2:
            raise ValueError(f"flash: {self.sectors} sectors, need at least 2")
        self.data = bytearray(b"\xff" * (self.sectors * SECTOR_BYTES))
        self.erase_counts = [0] * self.sectors
        self._rng = random.Random(self.seed)

    @property
    def size(self) -> int:
        return len(self.data)

    # --- what a power cut does ------------------------------------------------
    def tear_at(self, n: int) -> None:
        """Lose power inside the n-th program/erase from now (n >= 1)."""
        if n < 1:
            raise ValueError(f"flash: tear_at({n}): operations are counted from 1")
        self._tear_op = self.ops + n

    def set_power_budget(self, us: float | None) -> None:
        """Power lasts `us` more microseconds of flash work (None: no limit): the
        operation that does not fit is torn. Models the supply's hold-up time."""
        self._budget_us = us

    def power_off(self) -> None:
        """Lose power between operations: everything done so far is kept."""
        if not self.cut:
            self._view = bytearray(self.data)
            self.cut = True
        self._tear_op = None

    def reboot(self) -> None:
        """Power back: the volatile view is gone, the chip holds `data`."""
        self.cut = False
        self._view = None
        self._tear_op = None
        self._budget_us = None

    def reseed(self, seed: int) -> None:
        """New random source for how much of a torn operation lands."""
        self._rng = random.Random(seed)

    def snapshot(self, into: tuple[bytearray, list[int]] | None = None) -> tuple[bytearray, list[int]]:
        """(data, erase counts): what the chip holds; `into` is reused if given."""
        if into is None:
            return bytearray(self.data), list(self.erase_counts)
        into[0][:] = self.data
        into[1][:] = self.erase_counts
        return into

    def restore(self, snap: tuple[bytearray, list[int]]) -> None:
        self.data[:] = snap[0]
        self.erase_counts[:] = snap[1]
        self.reboot()

    # --- the chip's operations ------------------------------------------------
    def _check(self, addr: int, n: int) -> None:
        if addr < 0 or addr + n > self.size:
            raise ValueError(f"flash: {n} bytes at {addr:#x} fall outside the {self.size:#x}-byte chip")

    def read(self, addr: int, n: int) -> bytearray:
        if addr < 0 or addr + n > len(self.data):
            self._check(addr, n)
        src = self._view if self._view is not None else self.data
        return src[addr:addr + n]

    def _tearing_now(self, cost_us: float) -> bool:
        self.ops += 1
        if self._tear_op is not None and self.ops == self._tear_op:
            self._view = bytearray(self.data)
            return True
        if self._budget_us is not None and not self.cut:
            self._budget_us -= cost_us
            if self._budget_us < 0:
                self._view = bytearray(self.data)
                return True
        return False

    def program(self, addr: int, buf: bytes) -> None:
        self._check(addr, len(buf))
        if addr // SECTOR_BYTES != (addr + len(buf) - 1) // SECTOR_BYTES:
            raise ValueError(f"flash: program of {len(buf)} bytes at {addr:#x} crosses a sector")
        self.programs += 1
        self.bytes_programmed += len(buf)
        torn = self._tearing_now(self.program_us_base + self.program_us_per_byte * len(buf))
        seen = self._view if (self.cut or torn) and self._view is not None else self.data
        for i, b in enumerate(buf):
            if b & ~seen[addr + i] & 0xFF:
                self.bits_set_by_program += 1
                break
        if self.cut:  # after the cut: only the volatile view changes
            _and_into(self._view, addr, buf)  # type: ignore[arg-type]
            return
        if torn:
            _and_into(self._view, addr, buf)  # type: ignore[arg-type]
            _and_into(self.data, addr, buf[:self._rng.randrange(len(buf))])
            self.cut = True
            return
        _and_into(self.data, addr, buf)

    def erase(self, sector: int) -> None:
        if not 0 <= sector < self.sectors:
            raise ValueError(f"flash: sector {sector} outside 0..{self.sectors - 1}")
        self.erases += 1
        torn = self._tearing_now(self.erase_us)
        start = sector * SECTOR_BYTES
        if self.cut:
            self._view[start:start + SECTOR_BYTES] = b"\xff" * SECTOR_BYTES  # type: ignore[index]
            return
        self.erase_counts[sector] += 1  # a torn erase still stressed the sector
        if torn:
            self._view[start:start + SECTOR_BYTES] = b"\xff" * SECTOR_BYTES  # type: ignore[index]
            done = self._rng.randrange(SECTOR_BYTES)
            self.data[start:start + done] = b"\xff" * done
            self.data[start + done] |= self._rng.randrange(256)  # the byte being erased: some bits up
            self.cut = True
            return
        self.data[start:start + SECTOR_BYTES] = b"\xff" * SECTOR_BYTES


def _and_into(dst: bytearray, addr: int, buf: bytes) -> None:
    for i, b in enumerate(buf):
        dst[addr + i] &= b


class _FlashContext(UserContext):
    """littlefs-python's block-device callbacks onto a NorFlash."""

    def __init__(self, flash: NorFlash) -> None:  # no buffer of our own
        self.flash = flash

    def read(self, cfg: Any, block: int, off: int, size: int) -> bytearray:
        return self.flash.read(block * SECTOR_BYTES + off, size)

    def prog(self, cfg: Any, block: int, off: int, data: bytes) -> int:
        self.flash.program(block * SECTOR_BYTES + off, data)
        return 0

    def erase(self, cfg: Any, block: int) -> int:
        self.flash.erase(block)
        return 0

    def sync(self, cfg: Any) -> int:
        return 0


_ERRNO: dict[int, int] = {
    LittleFSError.Error.LFS_ERR_NOENT: errno.ENOENT,
    LittleFSError.Error.LFS_ERR_NOSPC: errno.ENOSPC,
    LittleFSError.Error.LFS_ERR_EXIST: errno.EEXIST,
    LittleFSError.Error.LFS_ERR_ISDIR: errno.EISDIR,
    LittleFSError.Error.LFS_ERR_NOTDIR: errno.ENOTDIR,
    LittleFSError.Error.LFS_ERR_CORRUPT: errno.EIO,
    LittleFSError.Error.LFS_ERR_IO: errno.EIO,
}


def _oserror(e: LittleFSError, what: str) -> OSError:
    return OSError(_ERRNO.get(int(e.code), errno.EIO), f"littlefs: {what}: {e.name}")


class _File:
    """Unbuffered littlefs file whose errors are OSErrors, usable in `with`."""

    def __init__(self, raw: Any, name: str) -> None:
        self._raw = raw
        self._name = name

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except LittleFSError as e:
            raise _oserror(e, f"{what} {self._name}") from None

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            chunks = []
            while True:
                c = self._call("read", self._raw.read, 4096)
                if not c:
                    return b"".join(chunks)
                chunks.append(bytes(c))
        return bytes(self._call("read", self._raw.read, n) or b"")

    def readinto(self, buf: Any) -> int:
        return self._call("read", self._raw.readinto, buf)

    def write(self, data: bytes) -> int:
        return self._call("write", self._raw.write, data)

    def seek(self, off: int, whence: int = 0) -> int:
        return self._call("seek", self._raw.seek, off, whence)

    def flush(self) -> None:
        self._call("flush", self._raw.flush)

    def close(self) -> None:
        if not self._raw.closed:
            self._call("close", self._raw.close)

    def __enter__(self) -> "_File":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class LfsOs:
    """The os-like API `firmware/storage.py` uses, over a littlefs-python mount."""

    def __init__(self, lfs: LittleFS) -> None:
        self.lfs = lfs

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except LittleFSError as e:
            raise _oserror(e, what) from None
        except FileNotFoundError:
            raise OSError(errno.ENOENT, f"littlefs: {what}: no such file") from None

    def open(self, path: str, mode: str = "rb") -> _File:
        if "b" not in mode:
            raise ValueError(f"littlefs adapter: binary modes only, got {mode!r}")
        return _File(self._call(f"open {path}", self.lfs.open, path, mode, 0), path)

    def rename(self, src: str, dst: str) -> None:
        self._call(f"rename {src} -> {dst}", self.lfs.rename, src, dst)

    def remove(self, path: str) -> None:
        self._call(f"remove {path}", self.lfs.remove, path)

    def stat(self, path: str) -> tuple[int, ...]:
        st = self._call(f"stat {path}", self.lfs.stat, path)
        return (0x8000 if st.type == 1 else 0x4000, 0, 0, 0, 0, 0, st.size, 0, 0, 0)

    def listdir(self, path: str = "/") -> list[str]:
        return self._call(f"listdir {path}", self.lfs.listdir, path)

    def mkdir(self, path: str) -> None:
        self._call(f"mkdir {path}", self.lfs.mkdir, path)


def mount(flash: NorFlash, format: bool = False) -> LfsOs:
    """Mount littlefs on `flash` (formatting it first if asked); OSError if it will not mount."""
    ctx = _FlashContext(flash)
    lfs = LittleFS(ctx, mount=False, block_count=flash.sectors, **LFS_CONFIG)  # type: ignore[arg-type]
    try:
        if format:
            lfs.format()
        lfs.mount()
    except LittleFSError as e:
        raise _oserror(e, "mount") from None
    return LfsOs(lfs)


class FlashRig:
    """A flash chip with littlefs mounted on it, and the power switch.

    `fs` is the mounted filesystem; `reboot()` ends the running firmware's
    view (any volatile state after a cut) and mounts again from the chip."""

    def __init__(self, sectors: int = 64, seed: int = 0) -> None:
        self.flash = NorFlash(sectors, seed)
        self.fs = mount(self.flash, format=True)
        self.reboots = 0

    def reboot(self) -> LfsOs:
        self.flash.reboot()
        self.fs = mount(self.flash)
        self.reboots += 1
        return self.fs
