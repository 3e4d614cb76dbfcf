"""Storage on real littlefs: VfsLfs2 on the unix port, littlefs-python on CPython,
both over a NOR flash that can tear an operation (tests/fw/flashrig.py)."""
import struct

import storage
from flashrig import new_rig
from fwtest import IS_MICROPYTHON, Rng, raises

# The unix port's heap is ESP32-sized and also holds the simulated flash (and,
# for the cut campaign, a snapshot of it): a small chip there.
_SECTORS = 6 if IS_MICROPYTHON else 8


def _wallet(balance_e4, credited_e4, tids):
    # an owner's payload: two i32 then TIDs; built here independently of storage helpers
    return struct.pack("<ii%dI" % len(tids), balance_e4, credited_e4, *tids)


def test_newest_of_two_copies_survives_a_reboot_and_copies_alternate():
    rig = new_rig(_SECTORS)
    s = storage.Store(rig.fs)
    assert s.load("wallet", 1) is None and s.events == []  # first boot: nothing, nothing to report
    for k in range(1, 6):
        assert s.save("wallet", 1, _wallet(k * 100, k * 1000, [k]))
    # copies alternate: a holds odd sequence numbers, b even ones
    a = storage.decode("wallet", storage.read_file(rig.fs, "wallet.a", 4096))
    b = storage.decode("wallet", storage.read_file(rig.fs, "wallet.b", 4096))
    assert (a[0], b[0]) == (5, 4)
    s2 = storage.Store(rig.reboot())
    assert s2.load("wallet", 1) == _wallet(500, 5000, [5])
    assert s2.seq("wallet") == 5 and s2.events == []
    assert s2.save("wallet", 1, b"x")  # goes to copy b (the older), a keeps seq 5
    assert storage.decode("wallet", storage.read_file(rig.fs, "wallet.a", 4096))[0] == 5


def _flip_bit(fs, path, byte_index, bit):
    raw = bytearray(storage.read_file(fs, path, 4096))
    raw[byte_index] ^= 1 << bit
    with fs.open(path, "wb") as f:
        f.write(raw)


def test_a_bit_flip_in_the_newest_copy_is_detected_and_the_other_used():
    rig = new_rig(_SECTORS)
    s = storage.Store(rig.fs)
    s.save("wallet", 1, _wallet(100, 200, [7]))  # seq 1 -> copy a
    s.save("wallet", 1, _wallet(90, 200, [7, 8]))  # seq 2 -> copy b
    for index in (3, 5, 12, 20):  # version, seq, payload, ...: any byte
        _flip_bit(rig.fs, "wallet.b", index, index % 8)
        s2 = storage.Store(rig.reboot())
        assert s2.load("wallet", 1, now_ms=77) == _wallet(100, 200, [7]), index
        assert len(s2.events) == 1
        t, kind, detail = s2.events[0]
        assert (t, kind) == (77, "storage_recovered")
        assert "copy a (seq 1) used" in detail and "copy b:" in detail, detail
        _flip_bit(rig.fs, "wallet.b", index, index % 8)  # repair for the next case
    # the damaged copy is the one the next save overwrites: a (seq 1) stays
    _flip_bit(rig.fs, "wallet.b", 12, 0)
    s3 = storage.Store(rig.reboot())
    s3.load("wallet", 1)
    assert s3.save("wallet", 1, _wallet(80, 200, [7, 8, 9]))
    assert storage.decode("wallet", storage.read_file(rig.fs, "wallet.b", 4096))[0] == 2
    assert storage.Store(rig.reboot()).load("wallet", 1) == _wallet(80, 200, [7, 8, 9])


def test_truncated_and_foreign_copies_are_rejected_with_the_reason():
    rig = new_rig(_SECTORS)
    s = storage.Store(rig.fs)
    s.save("relay", 1, b"\x01\x02")
    raw = storage.read_file(rig.fs, "relay.a", 4096)
    assert storage.decode("relay", raw[:-1]).startswith("length")
    assert storage.decode("relay", raw[:5]).startswith("too short")
    assert storage.decode("tariff", raw) == "CRC mismatch"  # a copy renamed to another record
    assert storage.decode("relay", b"XX" + raw[2:]) == "bad magic"
    assert storage.decode("relay", None) == "missing"
    with rig.fs.open("relay.a", "wb") as f:
        f.write(raw[:-1])
    s2 = storage.Store(rig.reboot())
    assert s2.load("relay", 1, now_ms=5) is None
    assert s2.events[0][1] == "storage_lost" and "a: length" in s2.events[0][2]


def test_firmware_update_reads_the_previous_version():
    rig = new_rig(_SECTORS)
    old = storage.Store(rig.fs)
    old.save("wallet", 1, struct.pack("<ii", 12345, 50000))  # v1: balance, credited

    def upgrade(version, payload):
        if version == 1:  # v2 adds the purchase count, unknown before: 0
            return payload + struct.pack("<i", 0)
        raise ValueError("no upgrade from version %d" % version)

    new = storage.Store(rig.reboot())
    got = new.load("wallet", 2, upgrade, now_ms=9)
    assert got == struct.pack("<iii", 12345, 50000, 0)
    assert new.events == [(9, "storage_upgraded", "wallet: version 1 -> 2")]
    new.save("wallet", 2, got)
    # an older firmware (reads v1 only) does not misread v2: it reports and gets nothing
    back = storage.Store(rig.reboot())
    assert back.load("wallet", 1) is None
    assert back.events[0][1] == "storage_error" and "stored version 2" in back.events[0][2]
    # and a v2 firmware without an upgrade function refuses v1 data clearly
    rig2 = new_rig(_SECTORS)
    storage.Store(rig2.fs).save("wallet", 1, b"\x00" * 8)
    s = storage.Store(rig2.reboot())
    assert s.load("wallet", 2) is None and "has no upgrade" in s.events[0][2]


def test_bad_input_says_what_and_changes_nothing():
    rig = new_rig(_SECTORS)
    s = storage.Store(rig.fs)
    s.save("wallet", 1, b"ok")
    ops = rig.flash.ops
    e = raises(storage.StorageError, s.save, "Wallet!", 1, b"x")
    assert "Wallet!" in str(e) and "a-z" in str(e)
    e = raises(storage.StorageError, s.save, "wallet", 256, b"x")
    assert "version 256" in str(e)
    e = raises(storage.StorageError, s.save, "wallet", 1, b"x" * (storage.MAX_PAYLOAD + 1))
    assert "exceeds" in str(e)
    e = raises(storage.StorageError, s.save, "a_very_long_name", 1, b"x")
    assert "1..12" in str(e)
    assert rig.flash.ops == ops  # nothing touched the flash
    assert storage.Store(rig.reboot()).load("wallet", 1) == b"ok"


def test_pack_helpers_round_trip_and_reject_malformed_payloads():
    vals = (0, -1, 0x7FFFFFFF, -0x80000000, 999_999)
    p = storage.pack_i32(vals)
    assert p == struct.pack("<5i", *vals) and storage.unpack_i32(p, 5) == vals
    raises(storage.StorageError, storage.pack_i32, (0x80000000,))
    raises(storage.StorageError, storage.unpack_i32, p, 4)
    parts = [b"", b"abc", bytes(range(200))]
    joined = storage.join_parts(parts)
    assert len(joined) == 2 * 3 + 203 and storage.split_parts(joined) == parts
    e = raises(storage.StorageError, storage.split_parts, joined[:-1])
    assert "runs past the end" in str(e)
    raises(storage.StorageError, storage.split_parts, b"\x05")


def _ops_of(rig, fn):
    before = rig.flash.ops
    fn()
    return rig.flash.ops - before


def test_a_save_cut_at_every_operation_leaves_old_or_new_never_corrupt():
    # 90 successive saves, each cut at every one of its flash operations (the
    # metadata compactions, with their erase, come every ~40 saves), with a
    # random torn prefix; after each cut: mount again and check.
    rig = new_rig(_SECTORS, seed=3)
    rng = Rng(11)
    s = storage.Store(rig.fs)
    old = None
    cuts = kept_old = longest = 0
    snap = rig.flash.snapshot()
    for k in range(90):
        new = _wallet(10_000 - k, k, [k, k * 7])
        rig.flash.snapshot(snap)
        n_ops = _ops_of(rig, lambda: s.save("wallet", 1, new))
        longest = max(longest, n_ops)
        for cut in range(1, n_ops + 1):
            rig.flash.restore(snap)
            st = storage.Store(rig.reboot())
            assert st.load("wallet", 1) == old
            rig.flash.reseed(rng.next())
            rig.flash.tear_at(cut)
            st.save("wallet", 1, new)
            assert rig.flash.cut, (k, cut)
            after = storage.Store(rig.reboot())
            got = after.load("wallet", 1)
            assert got == new or got == old, (k, cut, got)
            assert not [e for e in after.events if e[1] == "storage_lost"], after.events
            assert after.save("wallet", 1, b"next")  # the filesystem still takes writes
            assert storage.Store(rig.reboot()).load("wallet", 1) == b"next"
            cuts += 1
            kept_old += got == old
        rig.flash.restore(snap)  # and now the save without a cut
        s = storage.Store(rig.reboot())
        assert s.load("wallet", 1) == old
        assert s.save("wallet", 1, new)
        old = new
    assert longest >= 3 and cuts >= 90 + 4  # compactions (erase + programs) were cut too
    assert kept_old >= 1  # some cuts came before the commit: the previous value held


def test_a_full_filesystem_keeps_the_wallet_and_reports_the_failed_save():
    rig = new_rig(_SECTORS)
    s = storage.Store(rig.fs)
    wallet = _wallet(4321, 10000, [3, 4])
    assert s.save("wallet", 1, wallet) and s.save("wallet", 1, wallet)
    # fill the filesystem, one committed block-sized file at a time, until littlefs says it is full
    block = b"\x5a" * 4096
    full = False
    for i in range(_SECTORS):
        try:
            with rig.fs.open("junk%d" % i, "wb") as f:
                f.write(block)
        except OSError:
            full = True
            break
    assert full
    assert storage.Store(rig.reboot()).load("wallet", 1) == wallet  # filling it lost nothing
    s = storage.Store(rig.fs)
    big = b"\x11" * 1500  # a save that needs a fresh block
    ok = s.save("wallet", 1, big, now_ms=42)
    if not ok:
        assert s.save_failures == 1
        ev = s.events[-1]
        assert ev[0] == 42 and ev[1] == "storage_error" and "wallet" in ev[2] and "seq 3" in ev[2] and "copy a" in ev[2]
    after = storage.Store(rig.reboot())
    assert after.load("wallet", 1) == (big if ok else wallet)
    assert not ok, "the filesystem was not full: the test proves nothing"


def test_last_known_time_survives_a_reboot():
    import lastclock

    rig = new_rig(_SECTORS)
    s = storage.Store(rig.fs)
    assert lastclock.load(s) is None
    assert lastclock.save(s, 830_000_123)
    assert lastclock.load(storage.Store(rig.reboot())) == 830_000_123


def test_the_device_adapter_works_on_a_mounted_filesystem():
    # OsFs is what main.py passes on the ESP32 (littlefs mounted in the VFS, plain
    # open/os.*). MicroPython: a VfsLfs2 mounted at /stortest; CPython: a temp dir.
    if IS_MICROPYTHON:
        import os
        import vfs

        rig = new_rig(_SECTORS)
        vfs.mount(rig.fs, "/stortest")
        root = "/stortest"
    else:
        import tempfile

        tmp = tempfile.TemporaryDirectory()
        root = tmp.name
    try:
        fs = storage.OsFs(root)
        s = storage.Store(fs)
        assert s.load("wallet", 1) is None
        assert s.save("wallet", 1, b"one") and s.save("wallet", 1, b"two")
        assert storage.Store(storage.OsFs(root + "/")).load("wallet", 1) == b"two"
        fs.rename("wallet.a", "spare.a")
        fs.stat("spare.a")
        fs.remove("spare.a")
        assert storage.read_file(fs, "spare.a", 10) is None
    finally:
        if IS_MICROPYTHON:
            vfs.umount("/stortest")
        else:
            tmp.cleanup()
