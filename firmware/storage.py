"""Persistent records: two alternating copies, each with sequence number and CRC-32.

Every named record (`wallet`, `state`, `tariff`, ...) lives in two files,
NAME.a and NAME.b. A save writes the copy that does *not* hold the newest
valid value, with the next sequence number; a load reads both and takes the
valid copy with the higher sequence number. So a save cut at any instant
leaves the previous value intact in the other copy, and a copy damaged later
(a flipped bit, a truncated file) is detected by its CRC and the other one is
used. On littlefs each file write is itself atomic at close (copy-on-write),
so a torn write normally leaves the old copy; the A/B pair does not rely on
that, and it is what catches corruption littlefs cannot see (littlefs checks
its metadata, not file data).

Why A/B rather than temporary file + rename: a single renamed file has no
second copy to fall back on when its contents are damaged, and the rename is
one more metadata commit per save (measured in tools/storage_budget.py).

Layout of one copy (little-endian):
  magic 'M' 'R' | format (1) | payload version (1) | seq u32 | length u16 |
  payload | CRC-32 of all of the above, seeded with the CRC of the name
The payload is bytes made by the owning module; its `version` is the owner's
format number. A firmware that reads version N is given an `upgrade` function
that turns a version k payload into version k+1, so it reads what the previous
firmware wrote. `FORMAT` is this container's own layout number.

Saves are never on the per-tick path (they allocate); `savepolicy` says when.
The filesystem is passed in: on the device `OsFs()` (littlefs at `/`), in
tests a mounted littlefs (VfsLfs2 on the unix port, littlefs-python on CPython).
"""
import binascii
import struct

from micropython import const

FORMAT = const(1)
_MAGIC = b"MR"
_HEAD_BYTES = const(10)  # magic 2, format 1, version 1, seq 4, length 2
_CRC_BYTES = const(4)
MAX_PAYLOAD = const(2048)
_EVENTS_MAX = const(16)
_NAME_MAX = const(12)
COPIES = ("a", "b")


class StorageError(ValueError):
    pass


def check_name(name):
    """Record names: 1..12 of a-z, 0-9, '_' (they become file names)."""
    if not isinstance(name, str) or not 0 < len(name) <= _NAME_MAX:
        raise StorageError("storage: record name %r must be 1..%d characters" % (name, _NAME_MAX))
    for ch in name:
        if not ("a" <= ch <= "z" or "0" <= ch <= "9" or ch == "_"):
            raise StorageError("storage: record name %r: only a-z, 0-9 and _ are allowed" % name)
    return name


def name_crc(name):
    # binascii.crc32 is unsigned on both interpreters (no mask: 0xFFFFFFFF is a big int on the ESP32)
    return binascii.crc32(name.encode())


def encode(name, version, seq, payload):
    """The bytes of one copy (also used by tests to build old-format records)."""
    if not 0 <= version <= 255:
        raise StorageError("storage: %s: version %r outside 0..255" % (name, version))
    if len(payload) > MAX_PAYLOAD:
        raise StorageError("storage: %s: payload of %d bytes exceeds %d" % (name, len(payload), MAX_PAYLOAD))
    buf = bytearray(_HEAD_BYTES + len(payload) + _CRC_BYTES)
    buf[0:2] = _MAGIC
    struct.pack_into("<BBIH", buf, 2, FORMAT, version, seq, len(payload))
    buf[_HEAD_BYTES:_HEAD_BYTES + len(payload)] = payload
    crc = binascii.crc32(memoryview(buf)[:_HEAD_BYTES + len(payload)], name_crc(name))
    struct.pack_into("<I", buf, _HEAD_BYTES + len(payload), crc)
    return buf


def decode(name, raw):
    """(seq, version, payload) of one copy, or a string saying why it is not valid."""
    if raw is None:
        return "missing"
    n = len(raw)
    if n == 0:  # littlefs commits a file's creation before its data: a first save cut
        return "empty"
    if n < _HEAD_BYTES + _CRC_BYTES:
        return "too short (%d bytes)" % n
    if raw[0:2] != _MAGIC:
        return "bad magic"
    fmt, version, seq, length = struct.unpack_from("<BBIH", raw, 2)
    if fmt != FORMAT:
        return "container format %d unknown" % fmt
    if n != _HEAD_BYTES + length + _CRC_BYTES:
        return "length %d does not match the file's %d bytes" % (length, n)
    (crc,) = struct.unpack_from("<I", raw, _HEAD_BYTES + length)
    if binascii.crc32(memoryview(raw)[:_HEAD_BYTES + length], name_crc(name)) != crc:
        return "CRC mismatch"
    return (seq, version, bytes(raw[_HEAD_BYTES:_HEAD_BYTES + length]))


def _absent(copy):
    return copy == "missing" or copy == "empty"


class OsFs:
    """The device's filesystem with the API Store uses. root "" is the
    working folder: "/" (littlefs) on the device, the device's folder in the
    simulator."""

    def __init__(self, root=""):
        import os

        self._os = os
        self.root = root if (not root or root.endswith("/")) else root + "/"

    def open(self, path, mode="rb"):
        return open(self.root + path, mode)

    def rename(self, src, dst):
        self._os.rename(self.root + src, self.root + dst)

    def remove(self, path):
        self._os.remove(self.root + path)

    def stat(self, path):
        return self._os.stat(self.root + path)


def read_file(fs, path, limit):
    """The file's bytes (at most `limit` + 1), or None if it does not exist.
    Reads exactly the file's size: read(n) would allocate n bytes up front."""
    try:
        size = fs.stat(path)[6]
        with fs.open(path, "rb") as f:
            return f.read(min(size, limit + 1))
    except OSError as e:
        if e.args and e.args[0] == 2:  # ENOENT
            return None
        raise


class Store:
    """Named, versioned A/B records on a filesystem object.

    load(name, version, upgrade) -> payload bytes or None
    save(name, version, payload) -> True, or False (reported in `events`)
    Events are (now_ms, kind, detail) tuples, newest last, at most 16, for the
    meter to drain into its log: storage_recovered, storage_lost,
    storage_upgraded, storage_error.
    """

    def __init__(self, fs):
        self.fs = fs
        self._seq = {}  # name -> sequence number of the newest valid copy (0: none)
        self._newest = {}  # name -> index into COPIES of that copy (-1: none)
        self.events = []
        self.events_dropped = 0
        self.saves = 0
        self.save_failures = 0
        self.bytes_written = 0

    def _event(self, now_ms, kind, detail):
        if len(self.events) >= _EVENTS_MAX:
            self.events.pop(0)
            self.events_dropped += 1
        self.events.append((now_ms, kind, detail))

    def _path(self, name, i):
        return name + "." + COPIES[i]

    def _scan(self, name):
        """Both copies decoded: [(seq, version, payload) or reason, ...]."""
        out = []
        for i in range(2):
            try:
                raw = read_file(self.fs, self._path(name, i), _HEAD_BYTES + MAX_PAYLOAD + _CRC_BYTES)
            except OSError as e:
                out.append("unreadable (%s)" % e)
                continue
            out.append(decode(name, raw))
        return out

    def _choose(self, name, copies, now_ms):
        """Index of the newest valid copy (or -1); logs what was recovered."""
        best = -1
        for i in range(2):
            c = copies[i]
            if isinstance(c, tuple) and (best < 0 or c[0] > copies[best][0]):
                best = i
        self._newest[name] = best
        self._seq[name] = copies[best][0] if best >= 0 else 0
        other = 1 - best
        if best < 0:
            if not (_absent(copies[0]) and _absent(copies[1])):
                self._event(now_ms, "storage_lost", "%s: no valid copy (a: %s; b: %s)"
                            % (name, copies[0], copies[1]))
        elif not isinstance(copies[other], tuple):
            # The very first save leaves the other copy missing: that is normal.
            if not _absent(copies[other]) or copies[best][0] > 1:
                self._event(now_ms, "storage_recovered", "%s: copy %s (seq %d) used; copy %s: %s"
                            % (name, COPIES[best], copies[best][0], COPIES[other], copies[other]))
        return best

    def load(self, name, version, upgrade=None, now_ms=0):
        """Payload of the newest valid copy, in `version` (upgraded if older), or None."""
        check_name(name)
        copies = self._scan(name)
        best = self._choose(name, copies, now_ms)
        if best < 0:
            return None
        seq, stored, payload = copies[best]
        if stored == version:
            return payload
        if stored > version or upgrade is None:
            self._event(now_ms, "storage_error", "%s: stored version %d, this firmware reads %d%s"
                        % (name, stored, version, "" if stored > version else " and has no upgrade"))
            return None
        v = stored
        try:
            while v < version:
                payload = upgrade(v, payload)
                v += 1
        except ValueError as e:
            self._event(now_ms, "storage_error", "%s: upgrade from version %d failed: %s" % (name, v, e))
            return None
        self._event(now_ms, "storage_upgraded", "%s: version %d -> %d" % (name, stored, version))
        return payload

    def save(self, name, version, payload, now_ms=0):
        """Write the next copy; True when it is on flash, False (with an event) if not."""
        check_name(name)
        if name not in self._newest:  # never overwrite a copy we have not looked at
            self._choose(name, self._scan(name), now_ms)
        seq = self._seq[name] + 1  # u32: 2**32 saves at one per 27 s (the fastest) is 3700 years
        target = 1 - self._newest[name] if self._newest[name] >= 0 else 0
        buf = encode(name, version, seq, payload)
        try:
            with self.fs.open(self._path(name, target), "wb") as f:
                f.write(buf)
        except OSError as e:
            self.save_failures += 1
            self._event(now_ms, "storage_error", "%s: save of seq %d to copy %s failed (%s); seq %d kept"
                        % (name, seq, COPIES[target], e, seq - 1))
            return False
        self._seq[name] = seq
        self._newest[name] = target
        self.saves += 1
        self.bytes_written += len(buf)
        return True

    def seq(self, name):
        """Sequence number of the newest copy (0: none yet)."""
        return self._seq.get(name, 0)


# --- payload helpers (allocate: save time only, never in the tick) -------------
def pack_i32(values):
    """Signed 32-bit integers, little-endian, in the given order."""
    for v in values:
        if v >> 31 not in (0, -1):  # outside -2**31..2**31-1 (no big-int constant on the ESP32)
            raise StorageError("storage: %d does not fit a signed 32-bit field" % v)
    return struct.pack("<%di" % len(values), *values)


def unpack_i32(payload, count):
    """`count` signed 32-bit integers; StorageError if the payload is not that long."""
    if len(payload) != 4 * count:
        raise StorageError("storage: payload of %d bytes is not %d integers" % (len(payload), count))
    return struct.unpack("<%di" % count, payload)


def join_parts(parts):
    """Several owners' payloads in one record (so they are committed together)."""
    out = bytearray()
    for p in parts:
        if len(p) > 0xFFFF:
            raise StorageError("storage: part of %d bytes exceeds 65535" % len(p))
        out += struct.pack("<H", len(p))
        out += p
    return bytes(out)


def split_parts(payload):
    """Inverse of join_parts; StorageError on a malformed payload."""
    parts = []
    i = 0
    n = len(payload)
    while i < n:
        if i + 2 > n:
            raise StorageError("storage: part header cut at byte %d" % i)
        (k,) = struct.unpack_from("<H", payload, i)
        i += 2
        if i + k > n:
            raise StorageError("storage: part of %d bytes at byte %d runs past the end (%d)" % (k, i, n))
        parts.append(bytes(payload[i:i + k]))
        i += k
    return parts
