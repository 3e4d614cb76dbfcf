"""Rings of fixed-size slots in flash: the event log and the freeze records.

A ring of N slots is kept in page files NAME.00, NAME.01, ... of a few slots
each. The entry with sequence number s (1, 2, ...) always lives in slot
(s - 1) % N, so an append rewrites one small page, and at boot the newest
entry is the valid slot with the highest sequence number. A slot is
  seq u32 | payload (fixed size) | CRC-32 of both, seeded with the ring's name
so a torn, erased (0xFF) or damaged slot is simply not an entry. On littlefs a
page rewrite is atomic at close, so a cut loses at most the entry being
appended. Appends allocate (not on the per-tick path).
"""
import binascii
import struct

from micropython import const

from storage import StorageError, check_name, name_crc, read_file

_SLOT_OVERHEAD = const(8)  # seq + CRC
_EVENTS_MAX = const(8)


class SlotRing:
    def __init__(self, fs, name, slots, payload_bytes, slots_per_page):
        check_name(name)
        if slots < 1 or payload_bytes < 1 or slots_per_page < 1 or slots % slots_per_page:
            raise StorageError("ring %s: %d slots must be a multiple of %d per page"
                               % (name, slots, slots_per_page))
        self.fs = fs
        self.name = name
        self.slots = slots
        self.payload_bytes = payload_bytes
        self.slot_bytes = payload_bytes + _SLOT_OVERHEAD
        self.slots_per_page = slots_per_page
        self._crc0 = name_crc(name)
        self._page = bytearray(self.slot_bytes * slots_per_page)
        self.next_seq = 1
        self.newest_payload = None  # payload of the newest entry (found by scan)
        self.appends = 0
        self.append_failures = 0
        self.events = []  # (now_ms, kind, detail), drained by the owner
        self.scan()

    def _path(self, page):
        return "%s.%02d" % (self.name, page)

    def _load_page(self, page):
        """Read a page into self._page (0xFF where the file is missing or short)."""
        buf = self._page
        for i in range(len(buf)):
            buf[i] = 0xFF
        raw = read_file(self.fs, self._path(page), len(buf))
        if raw:
            n = min(len(raw), len(buf))
            buf[0:n] = raw[0:n]

    def _slot_seq(self, k, page):
        """seq of slot k of the loaded page (page number `page`), or 0 if the
        slot is not valid (CRC) or its seq does not belong there."""
        buf = self._page
        o = k * self.slot_bytes
        end = o + 4 + self.payload_bytes
        (crc,) = struct.unpack_from("<I", buf, end)
        if binascii.crc32(memoryview(buf)[o:end], self._crc0) != crc:
            return 0
        (seq,) = struct.unpack_from("<I", buf, o)
        if seq < 1 or (seq - 1) % self.slots != page * self.slots_per_page + k:
            return 0
        return seq

    def _payload(self, k):
        o = k * self.slot_bytes + 4
        return bytes(self._page[o:o + self.payload_bytes])

    def _entries(self):
        """All valid entries whose seq belongs in their slot: [(seq, payload)]."""
        out = []
        spp = self.slots_per_page
        for page in range(self.slots // spp):
            try:
                self._load_page(page)
            except OSError:
                continue  # an unreadable page: its entries are gone, the rest are not
            for k in range(spp):
                seq = self._slot_seq(k, page)
                if seq:
                    out.append((seq, self._payload(k)))
        return out

    def scan(self):
        """Find the newest entry (boot); returns how many entries are held.
        Keeps only the newest payload: a full 256-entry ring is scanned in the
        boot heap without a list of every entry (make test-esp32, 56 KB)."""
        newest = 0
        held = 0
        self.newest_payload = None
        spp = self.slots_per_page
        for page in range(self.slots // spp):
            try:
                self._load_page(page)
            except OSError:
                continue  # an unreadable page: its entries are gone, the rest are not
            for k in range(spp):
                seq = self._slot_seq(k, page)
                if seq:
                    held += 1
                    if seq > newest:
                        newest = seq
                        self.newest_payload = self._payload(k)
        self.next_seq = newest + 1
        return held

    def append(self, payload, now_ms=0):
        """Write the next entry; True when on flash, False (with an event) if not."""
        if len(payload) > self.payload_bytes:
            raise StorageError("ring %s: entry of %d bytes exceeds %d" % (self.name, len(payload), self.payload_bytes))
        seq = self.next_seq
        idx = (seq - 1) % self.slots
        page, k = idx // self.slots_per_page, idx % self.slots_per_page
        try:
            self._load_page(page)
            buf = self._page
            o = k * self.slot_bytes
            struct.pack_into("<I", buf, o, seq)
            for i in range(self.payload_bytes):
                buf[o + 4 + i] = payload[i] if i < len(payload) else 0
            end = o + 4 + self.payload_bytes
            struct.pack_into("<I", buf, end, binascii.crc32(memoryview(buf)[o:end], self._crc0))
            with self.fs.open(self._path(page), "wb") as f:
                f.write(buf)
        except OSError as e:
            self.append_failures += 1
            if len(self.events) >= _EVENTS_MAX:
                self.events.pop(0)
            self.events.append((now_ms, "storage_error", "%s: entry %d not written (%s)" % (self.name, seq, e)))
            return False
        self.next_seq = seq + 1
        self.newest_payload = bytes(payload)
        self.appends += 1
        return True

    def read_all(self):
        """Entries oldest first: [(seq, payload)], at most `slots` of them."""
        entries = self._entries()
        entries.sort()
        oldest = self.next_seq - self.slots
        return [e for e in entries if e[0] >= oldest]


# --- the event log --------------------------------------------------------------
# Codes for what prepay.md lists as events; values are (a, b) integers whose
# meaning the code fixes. New codes are appended, never renumbered.
EVENT_KINDS = (
    "power_up", "power_down", "token_accepted", "token_rejected", "relay_open",
    "relay_close", "alarm", "emergency_credit", "clock_set", "clock_lost",
    "tariff_change", "config_change", "calibration_change", "tamper",
    "reverse_energy", "chip_error", "chip_reset", "energy_overflow",
    "storage_recovered", "storage_lost", "storage_error", "storage_upgraded",
    "freeze_refused",
    # appended 2026-12-02 (codes are stable: only ever append): every kind the
    # firmware logs in RAM now reaches flash (tests/host/test_event_kinds.py)
    "boot", "boot_record_corrupt", "deliberate_reset", "fault", "maintenance",
    "warm_boot", "warm_boot_unsaved", "cold_chip", "not_calibrated", "implausible_delta",
    "missed_interval", "metering_paused", "metering_resumed", "meter_test", "snapshot_rejected",
    "storage_fault", "freeze_dropped", "clock_unset", "config_rejected", "tariff_rejected",
    "tariff_state_rejected", "tariff_passive", "prepay_state_rejected", "token_state_rejected",
    "credit", "credit_cleared", "balance_state", "emergency_repaid", "disconnect_imminent",
    "relay_closed", "relay_open_forced", "relay_open_deferred", "relay_mismatch",
    "guaranteed_supply", "power_limit_set", "power_lockout", "tamper_cleared", "token_not_stored",
    "auth_failed", "console_error", "console_no_key", "console_refused", "message",
)
_EVENT_FMT = "<IHhii"  # time_s, code, spare, a, b
EVENT_PAYLOAD_BYTES = const(16)
EVENT_SLOTS = const(256)
_EVENT_SLOTS_PER_PAGE = const(4)  # 96-byte pages stay inline in littlefs metadata: 0.08 erase per append, not 1


def event_code(kind):
    for i in range(len(EVENT_KINDS)):
        if EVENT_KINDS[i] == kind:
            return i + 1
    raise StorageError("event log: unknown event kind %r" % kind)


def event_kind(code):
    return EVENT_KINDS[code - 1] if 1 <= code <= len(EVENT_KINDS) else "code_%d" % code


class EventLog:
    """>= 256 events in flash: (seq, time_s, kind, a, b), oldest first."""

    def __init__(self, fs, slots=EVENT_SLOTS):
        self.ring = SlotRing(fs, "ev", slots, EVENT_PAYLOAD_BYTES, _EVENT_SLOTS_PER_PAGE)

    def append(self, time_s, kind, a=0, b=0, now_ms=0):
        return self.ring.append(struct.pack(_EVENT_FMT, time_s, event_code(kind), 0, a, b), now_ms)

    def entries(self):
        out = []
        for seq, p in self.ring.read_all():
            t, code, _, a, b = struct.unpack(_EVENT_FMT, p)
            out.append((seq, t, event_kind(code), a, b))
        return out


# --- freezes ----------------------------------------------------------------------
# kind -> (ring name, slots): >= 62 daily and 12 billing (tariff.md), others bounded.
FREEZE_KINDS = (
    ("daily", "fzd", 64),
    ("billing", "fzb", 12),
    ("settlement", "fzs", 4),
    ("tariff_switch", "fzt", 4),
    ("instant", "fzi", 8),
)
FREEZE_PAYLOAD_BYTES = const(96)  # time 4 + length 1 + up to 91 bytes of registers
_FREEZE_SLOTS_PER_PAGE = const(1)  # 104-byte pages: inline (littlefs inline_max = cache_size = 128 B)


class FreezeStore:
    """Freeze records per kind: (seq, time_s, payload), oldest first.

    A freeze whose time is not later than the newest of its kind is refused:
    a clock set backwards cannot take (or replay) a freeze a second time."""

    def __init__(self, fs, kinds=FREEZE_KINDS):
        self.rings = {}
        self.last_time_s = {}
        for kind, ring_name, slots in kinds:
            ring = SlotRing(fs, ring_name, slots, FREEZE_PAYLOAD_BYTES, _FREEZE_SLOTS_PER_PAGE)
            self.rings[kind] = ring
            p = ring.newest_payload
            self.last_time_s[kind] = struct.unpack_from("<I", p, 0)[0] if p else -1
        self.events = []

    def _ring(self, kind):
        if kind not in self.rings:
            raise StorageError("freeze: unknown kind %r" % kind)
        return self.rings[kind]

    def append(self, kind, time_s, payload, now_ms=0):
        ring = self._ring(kind)
        if len(payload) > FREEZE_PAYLOAD_BYTES - 5:
            raise StorageError("freeze %s: %d bytes of registers exceed %d" % (kind, len(payload), FREEZE_PAYLOAD_BYTES - 5))
        if time_s <= self.last_time_s[kind]:
            self.events.append((now_ms, "freeze_refused", "%s freeze at %d s: not after the last one (%d s)"
                                % (kind, time_s, self.last_time_s[kind])))
            return False
        ok = ring.append(struct.pack("<IB", time_s, len(payload)) + payload, now_ms)
        if ok:
            self.last_time_s[kind] = time_s
        else:
            self.events.extend(ring.events)
            ring.events.clear()
        return ok

    def records(self, kind):
        out = []
        for seq, p in self._ring(kind).read_all():
            t, n = struct.unpack_from("<IB", p, 0)
            out.append((seq, t, p[5:5 + n]))
        return out
