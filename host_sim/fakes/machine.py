"""Host stand-in for MicroPython's `machine` module (never deployed).

SPI and Pin do nothing by themselves: `attach_board(board)` connects them to a
simulated board (host_sim.simboard.SimBoard), so firmware/main.py builds its
real object graph against the ADE7753 model.
"""
from __future__ import annotations

from typing import Any

_board: Any = None


def attach_board(board: Any) -> None:
    """Route SPI traffic and chip-select to a simulated board."""
    global _board
    _board = board


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 2
    PULL_DOWN = 3
    IRQ_FALLING = 2
    IRQ_RISING = 1

    def __init__(self, id: int, mode: int = -1, pull: int = -1, *, value: int | None = None) -> None:
        self.id = id
        self.mode = mode
        self._value = 0 if value is None else value
        self._target = None
        if _board is not None:
            self._target = _board.pin(id)
            if value is not None and self._target is not None:
                self._target.value(value)

    def value(self, v: int | None = None) -> int | None:
        if self._target is not None:
            return self._target.value(v)
        if v is None:
            return self._value
        self._value = 1 if v else 0
        return None

    def __call__(self, v: int | None = None) -> int | None:
        return self.value(v)

    def on(self) -> None:
        self.value(1)

    def off(self) -> None:
        self.value(0)

    def irq(self, handler: Any = None, trigger: int = 0) -> None:
        """With a simulated board, the board pin fires `handler(pin)` on its edge."""
        if self._target is not None and hasattr(self._target, "set_irq"):
            self._target.set_irq(handler, trigger, self)


class SPI:
    def __init__(self, id: int, baudrate: int = 1_000_000, *, polarity: int = 0, phase: int = 0,
                 bits: int = 8, firstbit: int = 0, sck: Any = None, mosi: Any = None, miso: Any = None) -> None:
        if _board is None:
            raise OSError("fake machine.SPI: no simulated board attached")
        self._bus = _board.spi_bus(id, baudrate=baudrate, polarity=polarity, phase=phase)

    def init(self, **kw: Any) -> None:
        self._bus.init(**kw)

    def write(self, buf: bytes) -> None:
        self._bus.write(buf)

    def readinto(self, buf: bytearray, write: int = 0) -> None:
        self._bus.readinto(buf, write)

    def read(self, n: int, write: int = 0) -> bytes:
        return self._bus.read(n, write)

    def write_readinto(self, wbuf: bytes, rbuf: bytearray) -> None:
        self._bus.write_readinto(wbuf, rbuf)

    def deinit(self) -> None:
        pass


PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

_reset_cause = PWRON_RESET


class DeviceReset(BaseException):
    """The board resets: raised through the firmware (never caught by its
    `except Exception` guards) to the simulator, which boots it again."""

    def __init__(self, cause: int, why: str) -> None:
        super().__init__(why)
        self.cause = cause


def set_reset_cause(cause: int) -> None:
    global _reset_cause
    _reset_cause = cause


def reset_cause() -> int:
    return _reset_cause


class WDT:
    """Watchdog in virtual time: counts feeds; with a simulated board attached,
    `check()` (the simulator calls it as time passes) resets the board when
    the firmware has not fed it within the timeout, as the real one does."""

    last: "WDT | None" = None

    def __init__(self, id: int = 0, timeout: int = 5000) -> None:
        self.timeout = timeout
        self.feeds = 0
        self.last_feed_ms = _board.time_ms if _board is not None else 0
        WDT.last = self

    def feed(self) -> None:
        self.feeds += 1
        if _board is not None:
            self.last_feed_ms = _board.time_ms

    def check(self, now_ms: int) -> None:
        if now_ms - self.last_feed_ms > self.timeout:
            raise DeviceReset(WDT_RESET, f"watchdog: not fed for {now_ms - self.last_feed_ms} ms")


def reset() -> None:
    raise DeviceReset(SOFT_RESET, "machine.reset()")


class RTC:
    """The ESP32 RTC: keeps time across resets, loses it on a power cut.
    With a simulated board attached it is the board's `rtc` (host_sim.simboard.SimRTC)."""

    def __init__(self) -> None:
        self._board = _board

    def datetime(self, dt: tuple | None = None) -> tuple:
        if self._board is None or getattr(self._board, "rtc", None) is None:
            if dt is not None:
                return dt
            return (2000, 1, 1, 5, 0, 0, 0, 0)
        if dt is not None:
            self._board.rtc.set(dt)
            return dt
        return self._board.rtc.get()


def unique_id() -> bytes:
    return b"\x00\x00\x00\x00\x00\x01"
