"""ADE7753 driver limits found untested by mutation (make mutate,
docs/mutation.md): write ranges at exactly their ends, retry counts, the exact
one-line errors, a chip that never reports its reset, identify's refusals.
Widths and ranges are written out from the datasheet table (ade7753.md)."""
import ade7753
from fwtest import raises
from image_chip import ImageChip


def new():
    chip = ImageChip()
    return chip, ade7753.ADE7753(chip, chip, 3579545)


def test_write_ranges_at_exactly_their_ends():
    chip, drv = new()
    # (address, lowest, highest): signed 12/6/16-bit and unsigned 8/12/16-bit registers
    for addr, lo, hi in ((0x12, -2048, 2047), (0x10, -32, 31), (0x11, -32768, 32767),
                         (0x0F, 0, 255), (0x15, 0, 4095), (0x1C, 0, 65535)):
        for v in (lo, hi):
            drv.write(addr, v)
            assert drv.read(addr) == v, (addr, v)
        for v in (lo - 1, hi + 1):
            e = raises(ValueError, drv.write, addr, v)
            assert str(e) == "ADE7753: value %d out of range %d..%d for register 0x%02X" % (v, lo, hi, addr)
    assert drv.write_errors == 0 and drv.checksum_errors == 0


def test_writes_land_in_the_right_bytes():
    chip, drv = new()
    drv.write(0x11, -2)  # APOS 16-bit two's complement: 0xFFFE
    assert chip.regs[0x11] == 0xFFFE
    drv.write(0x15, 0xABC)  # CFDEN 12 bits in two bytes
    assert chip.regs[0x15] == 0xABC
    drv.write(0x0F, 0x5A)
    assert chip.regs[0x0F] == 0x5A


def test_not_writable_and_no_register_errors():
    chip, drv = new()
    for addr in (0x02, 0x0B, 0x3D, 0x3F):  # AENERGY, STATUS, TMODE (never), DIEREV
        e = raises(ValueError, drv.write, addr, 0)
        assert str(e) == "ADE7753: register 0x%02X is not writable" % addr
    for addr in (0x00, 0x28, 0x3C):
        e = raises(ValueError, drv.read_raw, addr)
        assert str(e) == "ADE7753: no register at 0x%02X" % addr
    assert chip.transfers == 0


def test_a_read_is_tried_exactly_three_times():
    chip, drv = new()
    chip.corrupt_addr = 0x17  # every VRMS transfer has a bit flipped
    e = raises(ade7753.ADE7753Error, drv.read, 0x17)
    assert str(e) == "ADE7753 read 0x17: CHKSUM disagreed 3 times (chip absent or bus noisy)"
    assert drv.checksum_errors == 3
    assert chip.transfers == 6  # 3 x (VRMS, CHKSUM)
    chip.corrupt_addr = -1
    chip.corrupt_reads = 2  # two bad bytes: the first try fails, the second passes
    chip.set(0x17, 0x123456)
    assert drv.read(0x17) == 0x123456 and drv.checksum_errors == 4


def test_a_write_is_tried_exactly_three_times():
    chip, drv = new()
    chip.ro[0x12] = 1  # WGAIN ignores writes
    e = raises(ade7753.ADE7753Error, drv.write, 0x12, 7)
    assert str(e) == "ADE7753 write 0x12: read-back differed 3 times"
    assert drv.write_errors == 3


def test_a_noisy_rststatus_keeps_the_status_flags_and_is_counted():
    chip, drv = new()
    chip.regs[0x0B] = 0x0080  # AEOF pending
    chip.corrupt_addr = 0x0C  # the clearing read fails its CHKSUM
    assert drv.read_status_and_clear() == 0x0080
    assert drv.checksum_errors == 1


def test_a_chip_that_never_reports_its_reset():
    chip, drv = new()
    drv.read_status_and_clear()  # the power-on RESET flag is taken
    chip.ro[0x09] = 1  # MODE ignores writes: the software reset never happens
    before = chip.transfers
    e = raises(ade7753.ADE7753Error, drv.software_reset)
    assert str(e) == "ADE7753 did not report RESET after a software reset"
    assert chip.transfers - before == 1 + 10 * 2  # the MODE write, then 10 polls (+ CHKSUM)


def test_identify_refuses_a_wrong_mode_or_a_dead_dierev():
    chip, drv = new()
    assert drv.identify() == 0x02
    chip.regs[0x09] = 0x000D
    e = raises(ade7753.ADE7753Error, drv.identify)
    assert str(e) == "ADE7753 not answering: MODE reads 0x000D after reset, expected 0x000C"
    chip.regs[0x09] = 0x000C
    for rev in (0x00, 0xFF):
        chip.regs[0x3F] = rev
        e = raises(ade7753.ADE7753Error, drv.identify)
        assert str(e) == "ADE7753 not answering: DIEREV reads 0x%02X" % rev
    chip.regs[0x3F] = 0x01
    assert drv.identify() == 0x01
