"""The simulated NOR flash: what program, erase and a torn operation do."""
import pytest

from host_sim.flash import SECTOR_BYTES, FlashRig, NorFlash


def test_program_only_clears_bits_and_erase_sets_ff_and_counts():
    f = NorFlash(4)
    f.program(10, b"\x0f\xf0")
    f.program(10, b"\xff\x3c")  # tries to set bits: NOR cannot, the AND stays
    assert f.read(10, 2) == b"\x0f\x30"
    assert f.bits_set_by_program == 1
    f.erase(0)
    assert f.read(0, SECTOR_BYTES) == b"\xff" * SECTOR_BYTES
    assert f.erase_counts == [1, 0, 0, 0] and f.ops == 3


def test_torn_program_lands_a_prefix_and_nothing_after_reaches_the_chip():
    f = NorFlash(4, seed=7)
    f.tear_at(2)
    f.program(0, b"\x00" * 64)  # op 1: lands whole
    f.program(100, b"\x00" * 64)  # op 2: torn
    assert f.cut
    landed = f.data[100:164]
    k = landed.index(b"\xff") if b"\xff" in landed else 64
    assert k < 64 and landed[:k] == b"\x00" * k and landed[k:] == b"\xff" * (64 - k)
    assert f.read(100, 64) == b"\x00" * 64  # the running code saw its write
    f.program(200, b"\x00")  # after the cut: volatile only
    f.erase(1)
    assert f.data[200] == 0xFF and f.erase_counts[1] == 0
    f.reboot()
    assert f.read(100, 64) == landed and f.read(0, 64) == b"\x00" * 64


def test_torn_erase_leaves_the_sector_partly_erased():
    f = NorFlash(2, seed=3)
    f.program(SECTOR_BYTES, b"\x00" * 256)
    f.tear_at(1)
    f.erase(1)
    f.reboot()
    sector = f.read(SECTOR_BYTES, 256)
    assert f.erase_counts[1] == 1
    assert b"\x00" in sector or sector == b"\xff" * 256  # not all of it was erased (prefix < 4096)
    assert f.read(SECTOR_BYTES + 256, SECTOR_BYTES - 256) == b"\xff" * (SECTOR_BYTES - 256)


def test_bad_operations_are_refused():
    f = NorFlash(2)
    with pytest.raises(ValueError, match="crosses a sector"):
        f.program(SECTOR_BYTES - 2, b"abcd")
    with pytest.raises(ValueError, match="outside"):
        f.erase(2)
    with pytest.raises(ValueError, match="fall outside"):
        f.read(2 * SECTOR_BYTES - 1, 2)
    with pytest.raises(ValueError, match="counted from 1"):
        f.tear_at(0)


def test_reboot_mounts_what_the_chip_holds():
    rig = FlashRig(16)
    with rig.fs.open("x", "wb") as fh:
        fh.write(b"kept")
    rig.flash.power_off()
    with rig.fs.open("x", "wb") as fh:
        fh.write(b"after the cut")
    fs = rig.reboot()
    with fs.open("x", "rb") as fh:
        assert fh.read() == b"kept"
    assert rig.flash.bits_set_by_program == 0  # littlefs never programs unerased bits
