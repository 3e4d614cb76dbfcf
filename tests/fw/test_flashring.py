"""Event log and freeze rings on real littlefs (VfsLfs2 / littlefs-python)."""
import struct

import flashring
import storage
from flashrig import new_rig
from fwtest import IS_MICROPYTHON, Rng, raises

# The unix port's heap (ESP32-sized) also has to hold the simulated flash, so
# the MicroPython lane runs the same code on smaller rings; CPython runs the
# product's sizes (256 events, 64 daily and 12 billing freezes).
_SECTORS = 8 if IS_MICROPYTHON else 24
_EVENTS = 32 if IS_MICROPYTHON else flashring.EVENT_SLOTS
_FREEZE_KINDS = (("daily", "fzd", 8), ("billing", "fzb", 4)) if IS_MICROPYTHON else flashring.FREEZE_KINDS


def _event(k):
    # (time_s, kind, a, b) of the k-th test event, computed independently
    kinds = ("power_up", "token_accepted", "relay_open", "clock_set")
    return (800_000_000 + 60 * k, kinds[k % 4], k * 3 - 100, -k)


def test_event_log_keeps_the_newest_entries_in_order_across_a_reboot():
    assert IS_MICROPYTHON or _EVENTS >= 256
    rig = new_rig(_SECTORS)
    log = flashring.EventLog(rig.fs, _EVENTS)
    n = _EVENTS + _EVENTS // 4 + 3  # wrapped once, part-way round again
    for k in range(1, n + 1):
        t, kind, a, b = _event(k)
        assert log.append(t, kind, a, b)
    log2 = flashring.EventLog(rig.reboot(), _EVENTS)
    got = log2.entries()
    assert [e[0] for e in got] == list(range(n - _EVENTS + 1, n + 1))  # the newest, oldest first
    for seq, t, kind, a, b in got:
        assert (t, kind, a, b) == _event(seq)
    assert log2.append(1, "power_down")  # continues after the newest
    assert log2.entries()[-1][:3] == (n + 1, 1, "power_down")
    assert log2.entries()[0][0] == n - _EVENTS + 2


def test_a_damaged_event_slot_is_skipped_and_the_rest_kept():
    rig = new_rig(_SECTORS)
    log = flashring.EventLog(rig.fs)
    for k in range(1, 9):
        log.append(*_event(k))
    page = storage.read_file(rig.fs, "ev.00", 4096)  # slots 0..3: seq 1..4
    bad = bytearray(page)
    bad[24 + 6] ^= 0x10  # inside the second slot (seq 2)
    with rig.fs.open("ev.00", "wb") as f:
        f.write(bad)
    got = flashring.EventLog(rig.reboot()).entries()
    assert [e[0] for e in got] == [1, 3, 4, 5, 6, 7, 8]


def test_an_append_cut_at_any_operation_keeps_every_earlier_event():
    rig = new_rig(6 if IS_MICROPYTHON else 8, seed=5)
    rng = Rng(2)
    log = flashring.EventLog(rig.fs, slots=32)
    for k in range(1, 40):
        log.append(*_event(k))
    snap = rig.flash.snapshot()
    before = rig.flash.ops
    log.append(*_event(40))
    n_ops = rig.flash.ops - before
    for cut in range(1, n_ops + 1):
        rig.flash.restore(snap)
        log = flashring.EventLog(rig.reboot(), slots=32)
        rig.flash.reseed(rng.next())
        rig.flash.tear_at(cut)
        log.append(*_event(40))
        assert rig.flash.cut
        got = flashring.EventLog(rig.reboot(), slots=32).entries()
        seqs = [e[0] for e in got]
        assert seqs in (list(range(8, 40)), list(range(9, 41))), (cut, seqs)
        for seq, t, kind, a, b in got:
            assert (t, kind, a, b) == _event(seq)


def test_unknown_event_kind_and_oversized_entries_are_refused():
    rig = new_rig(_SECTORS)
    log = flashring.EventLog(rig.fs)
    e = raises(storage.StorageError, log.append, 0, "coffee")
    assert "coffee" in str(e)
    e = raises(storage.StorageError, log.ring.append, b"x" * 17)
    assert "17 bytes exceeds 16" in str(e)
    assert log.entries() == []
    raises(storage.StorageError, flashring.SlotRing, rig.fs, "r", 10, 8, 4)  # 10 not a multiple of 4


def _regs(day):
    # a freeze's registers as its owner would pack them (7 i32)
    return struct.pack("<7i", day * 10, day, 2 * day, 3 * day, 4 * day, -day, 5000 - day)


def test_freezes_keep_62_daily_and_12_billing_in_order_and_refuse_a_replay():
    sizes = {}
    for kind, _, slots in _FREEZE_KINDS:
        sizes[kind] = slots
    assert IS_MICROPYTHON or (sizes["daily"] >= 62 and sizes["billing"] >= 12)
    rig = new_rig(_SECTORS)
    fz = flashring.FreezeStore(rig.fs, _FREEZE_KINDS)
    day0 = 820_540_800
    days, months = sizes["daily"] + 6, sizes["billing"] + 2
    for d in range(days):
        assert fz.append("daily", day0 + d * 86400, _regs(d))
    for m in range(months):
        assert fz.append("billing", day0 + m * 2_592_000, _regs(100 + m))
    fz2 = flashring.FreezeStore(rig.reboot(), _FREEZE_KINDS)
    daily = fz2.records("daily")
    assert [(t, p) for _, t, p in daily] == [(day0 + d * 86400, _regs(d)) for d in range(6, days)]
    billing = fz2.records("billing")
    assert [(t, p) for _, t, p in billing] == [(day0 + m * 2_592_000, _regs(100 + m)) for m in range(2, months)]
    # the clock set back a day: the same daily freeze is not taken again, even after a reboot
    last = day0 + (days - 1) * 86400
    assert not fz2.append("daily", last, _regs(0), now_ms=3)
    assert not fz2.append("daily", last - 86400, _regs(0))
    assert fz2.events[0][:2] == (3, "freeze_refused") and "daily" in fz2.events[0][2]
    assert fz2.records("daily")[-1][1:] == (last, _regs(days - 1))
    assert fz2.append("daily", last + 1, _regs(days))  # the next one is fine
    assert fz2.records("billing")[-1][2] == _regs(100 + months - 1)
    e = raises(storage.StorageError, fz2.append, "weekly", last + 2, b"")
    assert "weekly" in str(e)
    e = raises(storage.StorageError, fz2.append, "billing", last + 2, b"x" * 92)
    assert "92 bytes" in str(e)
