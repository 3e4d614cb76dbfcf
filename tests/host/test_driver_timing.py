"""The driver keeps the datasheet's SPI gaps: >= 4 us between a read's command
byte and its data, >= 4 us after a write, >= 18 us after a software reset."""
import ade7753
import pytest
from image_chip import ImageChip


class LoggingBus:
    """Passes traffic to the register-image chip and logs the order of events."""

    def __init__(self, log):
        self.chip = ImageChip()
        self.log = log

    def value(self, v=None):
        if v is not None:
            self.log.append(("cs", v))
        return self.chip.value(v)

    def write(self, buf):
        self.log.append(("write", bytes(buf)))
        self.chip.write(buf)

    def readinto(self, buf, write=0):
        self.chip.readinto(buf, write)
        self.log.append(("read", len(buf)))


@pytest.fixture
def logged(monkeypatch):
    log = []
    monkeypatch.setattr(ade7753, "_sleep_us", lambda us: log.append(("sleep", us)))
    bus = LoggingBus(log)
    return log, ade7753.ADE7753(bus, bus, 3579545)


def test_read_waits_between_command_and_data(logged):
    log, drv = logged
    log.clear()
    drv.read(ade7753.VRMS)
    # VRMS then CHKSUM, each: CS low, command, >= 4 us, 3 (1) data bytes, CS high
    assert log == [("cs", 0), ("write", b"\x17"), ("sleep", 4), ("read", 3), ("cs", 1),
                   ("cs", 0), ("write", b"\x3e"), ("sleep", 4), ("read", 1), ("cs", 1)]


def test_write_waits_before_the_next_read(logged):
    log, drv = logged
    log.clear()
    drv.write(ade7753.IRQEN, 0x1042)
    assert log[:5] == [("cs", 0), ("write", b"\x8a"), ("write", b"\x10\x42"), ("cs", 1), ("sleep", 4)]
    assert log[5:7] == [("cs", 0), ("write", b"\x0a")]  # then the read-back


def test_reset_waits_at_least_18_us(logged):
    log, drv = logged
    log.clear()
    drv.software_reset()
    i = log.index(("write", b"\x89"))
    sleeps = [e for e in log[i:] if e[0] == "sleep"]
    assert sleeps[0][1] >= 4 and sum(s[1] for s in sleeps[:2]) >= 18
