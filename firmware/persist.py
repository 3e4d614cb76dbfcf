"""The meter's registers on flash: one record, written by the save policy.

Everything whose parts must agree is one A/B record ("regs", storage.py), so
a power cut at any instant leaves either the whole previous state or the whole
new one: the energy registers with the AENERGY baseline they match, the
tariff's registers and calendar position, the prepaid account with the relay
state, the token gateway's TID memory (a token's credit and its TID commit
together: applied once, never twice, never lost), and the last-known time.

The storage service (a service of the loop) decides when, through
savepolicy.SavePolicy: every 0.1 kWh, every hour, at once on the power-fail
warning and after every credit. Before each save it moves new events and
freezes from their RAM rings into the flash rings (flashring.py), freezes
first: a cut after a freeze is on flash but before the registers are means the
freeze is taken again at power-up and refused as a duplicate by FreezeStore
(not later than the newest of its kind), never lost.
"""
import struct

from micropython import const

import flashring
import freeze as fz
import savepolicy as sp
import storage

RECORD = "regs"
VERSION = const(1)
_PARTS = const(5)  # meter, tariff, prepay, tokens, misc
_MISC_FMT = "<ii"  # last-known time (s since 2000, -1 unknown), tariff id
_EVENTS_PER_PASS = const(8)  # events moved to flash per pass (each is a page write)
_DETAIL_MAX = const(0x3FFFFFFF)  # event details kept on flash: small ints on the device
_SOURCE = "storage"


def time_s(clock):
    return clock.day * 86400 + clock.sod if clock.valid else -1


class Saved:
    """The parts of a loaded "regs" record (bytes each; empty when absent)."""

    def __init__(self, parts):
        self.meter, self.tariff, self.prepay, self.tokens = parts[0], parts[1], parts[2], parts[3]
        self.time_s, self.tariff_id = struct.unpack(_MISC_FMT, parts[4])


def encode(meter_text, tariff_b, prepay_b, tokens_b, last_time_s, tariff_id):
    return storage.join_parts((meter_text, tariff_b, prepay_b, tokens_b,
                               struct.pack(_MISC_FMT, last_time_s, tariff_id)))


def decode(payload):
    parts = storage.split_parts(payload)
    if len(parts) != _PARTS or len(parts[4]) != struct.calcsize(_MISC_FMT):
        raise storage.StorageError("regs: %d parts, expected %d" % (len(parts), _PARTS))
    return Saved(parts)


class StorageService:
    """Saves the registers when the policy says so; drains events and freezes."""

    name = "storage"

    def __init__(self, app, store, event_store, freeze_store, policy):
        self.app = app
        self.store = store
        self.event_store: "flashring.EventLog | None" = event_store
        self.freeze_store: "flashring.FreezeStore | None" = freeze_store
        self.policy = policy
        self._event_seq = 0  # RAM events up to this sequence are on flash
        self._freezes_taken = [0] * len(fz.KIND_NAMES)  # per kind, moved to flash
        self.last_reason = ""
        self.saves = 0

    def poll(self, now_ms):
        reason = self.policy.due(now_ms)
        if reason == sp.POWER_FAIL:
            # the registers first: the supply's hold-up time may cover one save
            # (a 4 KB erase on the ESP32) and not the event pages as well
            self.save(now_ms, reason)
            return
        self.drain_events(now_ms)
        if reason != sp.NONE:
            self.save(now_ms, reason)

    def save(self, now_ms, reason=sp.TIMER):
        app = self.app
        self.drain_freezes(now_ms)
        ok = self.store.save(RECORD, VERSION, app.state_payload(), now_ms)
        self.policy.saved(now_ms, reason, ok)
        self.last_reason = sp.REASONS[reason]
        if ok:
            self.saves += 1
        self._drain_store_events()
        return ok

    def _drain_store_events(self):
        ev = self.app.events
        for _, kind, detail in self.store.events:
            ev.log(kind, _SOURCE, detail)
        self.store.events.clear()
        if self.freeze_store is not None:
            for _, kind, detail in self.freeze_store.events:
                ev.log(kind, _SOURCE, detail)
            self.freeze_store.events.clear()

    def drain_freezes(self, now_ms):
        t = self.app.tariff
        fs = self.freeze_store
        if t is None or fs is None:
            return
        log = t.freezes
        for kind in range(len(fz.KIND_NAMES)):
            new = log.taken[kind] - self._freezes_taken[kind]
            held = log.count(kind)
            if new > held:  # more than the RAM ring holds: the oldest are gone
                self.app.events.log("freeze_dropped", _SOURCE, new - held)
                new = held
            for i in range(held - new, held):
                raw = log.raw(kind, i)
                r = fz.decode(raw)
                fs.append(fz.KIND_NAMES[kind], r["day"] * 86400 + r["sod"], bytes(raw), now_ms)
            self._freezes_taken[kind] = log.taken[kind]

    def drain_events(self, now_ms):
        es = self.event_store
        ev = self.app.events
        if es is None or self._event_seq == ev.seq:
            return
        n = len(ev)
        first = ev.seq - n  # oldest still in RAM
        if self._event_seq < first:
            self._event_seq = first
        k = self._event_seq - first
        moved = 0
        while k < n and moved < _EVENTS_PER_PASS:
            day, sod, kind, source, detail, count = ev.entry(k)
            # small ints only (within +-2^30 on the device); others are kept as 0
            a = detail if isinstance(detail, int) and -_DETAIL_MAX <= detail <= _DETAIL_MAX else 0
            try:
                es.append(day * 86400 + sod, kind, a, count, now_ms)
            except storage.StorageError:
                pass  # a kind the flash log has no code for stays in RAM only
            k += 1
            moved += 1
            self._event_seq += 1
