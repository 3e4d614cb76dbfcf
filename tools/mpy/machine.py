"""A MicroPython-compatible stand-in for `machine` (unix port; never deployed).

On the unix port a machine.py on MICROPYPATH overrides the built-in module, so
firmware/app.py builds its real object graph (hardware.py) against a
register-image ADE7753 (tests/fw/image_chip.py). Used by tools/mpy/main_run.py.
"""
import board

CHIP = None  # the image chip the SPI bus and chip select talk to
BUTTON_LEVEL = 1  # the service button: 1 = released (pulled up)

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
RESET_CAUSE = PWRON_RESET


class Pin:
    IRQ_FALLING = 2
    IN = 0
    OUT = 1
    PULL_UP = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self._v = 0 if value is None else value
        if id == board.PIN_CS and value is not None:
            CHIP.value(value)

    def value(self, v=None):
        if self.id == board.PIN_CS:
            return CHIP.value(v)
        if self.id == board.PIN_BUTTON and v is None:
            return BUTTON_LEVEL
        if v is None:
            return self._v
        self._v = 1 if v else 0

    def __call__(self, v=None):
        return self.value(v)

    def irq(self, handler=None, trigger=0):
        pass  # the power-fail IRQ (hardware.on_power_fail): never fires here


class SPI:
    def __init__(self, id, baudrate=1000000, polarity=0, phase=0, sck=None, mosi=None, miso=None):
        if polarity != 0 or phase != 1:
            raise ValueError("ADE7753 needs SPI mode 1")

    def write(self, buf):
        CHIP.write(buf)

    def readinto(self, buf, write=0):
        CHIP.readinto(buf, write)


class WDT:
    feeds = 0

    def __init__(self, id=0, timeout=5000):
        WDT.feeds = 0

    def feed(self):
        WDT.feeds += 1


class RTC:
    now = (2026, 3, 1, 6, 8, 0, 0, 0)

    def datetime(self, dt=None):
        if dt is not None:
            RTC.now = dt
        return RTC.now


def reset_cause():
    return RESET_CAUSE


def reset():
    raise SystemExit("machine.reset()")
