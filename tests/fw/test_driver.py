"""ADE7753 driver against the register-image chip, byte for byte."""
import ade7753
from fwtest import raises
from image_chip import ImageChip

# (address, bits, signed) straight from the datasheet table in ade7753.md
DATASHEET = (
    (0x01, 24, 1), (0x02, 24, 1), (0x03, 24, 1), (0x04, 24, 1), (0x05, 24, 0),
    (0x06, 24, 0), (0x07, 24, 0), (0x08, 24, 1), (0x09, 16, 0), (0x0A, 16, 0),
    (0x0B, 16, 0), (0x0C, 16, 0), (0x0F, 8, 0), (0x10, 6, 1), (0x11, 16, 1),
    (0x12, 12, 1), (0x13, 8, 0), (0x14, 12, 0), (0x15, 12, 0), (0x16, 24, 0),
    (0x17, 24, 0), (0x18, 12, 1), (0x19, 12, 1), (0x1A, 12, 1), (0x1B, 8, 0),
    (0x1C, 16, 0), (0x1D, 12, 0), (0x1E, 8, 0), (0x1F, 8, 0), (0x20, 8, 0),
    (0x21, 8, 0), (0x22, 24, 0), (0x23, 24, 0), (0x24, 24, 0), (0x25, 24, 0),
    (0x26, 8, 1), (0x27, 16, 0), (0x3F, 8, 0),
)
WRITABLE = (0x09, 0x0A, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x18,
            0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x21)


def new():
    chip = ImageChip()
    return chip, ade7753.ADE7753(chip, chip, 3579545)


def test_every_register_width_and_sign():
    chip, drv = new()
    for addr, bits, signed in DATASHEET:
        assert ade7753.width_bits(addr) == bits, addr
        assert ade7753.is_signed(addr) == bool(signed), addr
        top = 1 << (bits - 1)
        # the image keeps one status word behind STATUS and RSTSTATUS
        src = ade7753.STATUS if addr == ade7753.RSTSTATUS else addr
        chip.set(src, top)  # only the sign bit set
        got = drv.read(addr)
        assert got == (-top if signed else top), (addr, got)
        chip.set(src, top - 1)  # largest positive
        assert drv.read(addr) == top - 1
        chip.set(src, (1 << bits) - 1)  # all ones
        assert drv.read(addr) == (-1 if signed else (1 << bits) - 1)


def test_writes_land_whole_and_read_back():
    chip, drv = new()
    drv.write(ade7753.IRQEN, 0x1042)  # 16-bit: the high byte must survive
    assert chip.regs[0x0A] == 0x1042
    drv.write(ade7753.WGAIN, -5)  # 12-bit two's complement
    assert chip.regs[0x12] == 0xFFB
    assert drv.read(ade7753.WGAIN) == -5
    drv.write(ade7753.PHCAL, -32)
    assert chip.regs[0x10] == 0x20
    drv.write(ade7753.APOS, -32768)
    assert chip.regs[0x11] == 0x8000
    drv.write(ade7753.LINECYC, 0xFFFF)
    assert drv.read(ade7753.LINECYC) == 0xFFFF
    for addr in WRITABLE:
        assert ade7753.is_writable(addr), addr


def test_write_rejects_out_of_range_and_read_only():
    chip, drv = new()
    raises(ValueError, drv.write, ade7753.WGAIN, 2048)
    raises(ValueError, drv.write, ade7753.CFDEN, -1)
    raises(ValueError, drv.write, ade7753.AENERGY, 1)
    raises(ValueError, drv.write, ade7753.TMODE, 0)
    assert chip.transfers == 0  # nothing went on the bus


def test_checksum_failure_is_retried():
    chip, drv = new()
    chip.set(ade7753.VRMS, 0x123456)
    chip.corrupt_reads = 1
    assert drv.read(ade7753.VRMS) == 0x123456
    assert drv.checksum_errors == 1


def test_persistent_checksum_failure_raises():
    chip, drv = new()
    chip.corrupt_reads = 100
    e = raises(ade7753.ADE7753Error, drv.read, ade7753.VRMS)
    assert "CHKSUM" in str(e) and "0x17" in str(e)


def test_absent_chip_reported():
    for floating in (0xFF, 0x00):
        chip, drv = new()
        chip.absent = True
        chip.float_byte = floating
        e = raises(ade7753.ADE7753Error, lambda: (drv.software_reset(), drv.identify()))
        assert "ADE7753" in str(e)


def test_reset_restores_defaults_and_identify_passes():
    chip, drv = new()
    drv.write(ade7753.MODE, 0)
    drv.software_reset()
    assert drv.read(ade7753.MODE) == ade7753.MODE_DEFAULT
    assert drv.read(ade7753.PHCAL) == 0x0D
    assert drv.identify() == 2


def test_write_readback_failure_raises():
    chip, drv = new()
    chip.ro[ade7753.WGAIN] = 1  # chip ignores the write
    e = raises(ade7753.ADE7753Error, drv.write, ade7753.WGAIN, 7)
    assert "read-back" in str(e)
    assert drv.write_errors == 3
