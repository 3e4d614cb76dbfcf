"""A simulated meter board: analog front end + ADE7753 model + virtual clock.

It is what the fake `machine` module talks to (attach it with
machine.attach_board), and what replay, calibration and scenarios feed with
line voltage and current.
"""
from __future__ import annotations

import numpy as np

import board as fw_board  # firmware/board.py: the device's wiring

from .ade7753_model import ADE7753Model
from .frontend import Board, FrontEnd


class _Pin:
    """A GPIO with nothing behind it (relay, buzzer...): just holds its level."""

    def __init__(self) -> None:
        self.level = 0
        self._irq: tuple | None = None  # (handler, trigger, the firmware's Pin object)

    def value(self, v: int | None = None) -> int | None:
        if v is None:
            return self.level
        self.level = 1 if v else 0
        return None

    def set_irq(self, handler, trigger: int, fw_pin) -> None:
        self._irq = (handler, trigger, fw_pin) if handler is not None else None

    def drive(self, level: int) -> None:
        """An input driven from outside (the chip's IRQ line): fires the
        firmware's handler on the edge it asked for (1 rising, 2 falling)."""
        old, self.level = self.level, 1 if level else 0
        if self._irq is not None and old != self.level:
            handler, trigger, fw_pin = self._irq
            if (trigger & 2 and self.level == 0) or (trigger & 1 and self.level == 1):
                handler(fw_pin)


class SimRTC:
    """The ESP32's RTC on the virtual clock: runs while the board is powered
    (across resets), reads 2000-01-01 once the time is lost (power cut)."""

    def __init__(self, board: "SimBoard") -> None:
        self._board = board
        self._base: tuple[int, int] | None = None  # (wall ms, board ms) when set

    def set(self, dt: tuple) -> None:
        import clock as fw_clock

        day = fw_clock.days_from_civil(dt[0], dt[1], dt[2])
        wall_ms = (day * 86400 + dt[4] * 3600 + dt[5] * 60 + dt[6]) * 1000
        self._base = (wall_ms, self._board.time_ms)

    def lose(self) -> None:
        self._base = None

    def get(self) -> tuple:
        import clock as fw_clock

        if self._base is None:
            return (2000, 1, 1, 5, 0, 0, 0, 0)
        wall_s = (self._base[0] + self._board.time_ms - self._base[1]) // 1000
        day, sod = divmod(wall_s, 86400)
        y, m, d = fw_clock.civil_from_days(day)
        return (y, m, d, fw_clock.weekday(day), sod // 3600, sod // 60 % 60, sod % 60, 0)


class SimBoard:
    def __init__(self, board: Board) -> None:
        self.board = board
        self.frontend = FrontEnd(board)
        self.model = ADE7753Model(clkin_hz=board.clkin_hz, chip=board.chip)
        self.time_ms = 0  # virtual clock, advanced by feed()
        self._samples = 0.0
        self._pins: dict[int, _Pin] = {}
        self.rtc = SimRTC(self)
        self.rtc_battery = True  # the board's RTC keeps time through a power cut
        self.pin(fw_board.PIN_BUTTON).value(1)  # pulled up: not pressed
        self.pin(fw_board.PIN_IRQ).value(1)  # open drain, pulled up: idle high

    # --- what the fake machine module asks for -------------------------
    def spi_bus(self, spi_id: int, *, baudrate: int, polarity: int, phase: int):
        self.model.spi.init(baudrate=baudrate, polarity=polarity, phase=phase)
        return self.model.spi

    def pin(self, pin_id: int):
        if pin_id == fw_board.PIN_CS:
            return self.model.cs
        return self._pins.setdefault(pin_id, _Pin())

    def ticks_ms(self) -> int:
        return self.time_ms & ((1 << 30) - 1)

    # --- the analog side --------------------------------------------------
    def feed(self, voltage_v: np.ndarray, current_a: np.ndarray, fs_hz: float) -> None:
        """Apply line voltage/current samples; advances the virtual clock."""
        ch1, ch2 = self.frontend.pins(voltage_v, current_a, fs_hz)
        self.model.feed(ch1, ch2, fs_hz)
        self._samples += voltage_v.size * 1000.0 / fs_hz
        self.time_ms = int(round(self._samples))
        self.update_irq()

    def update_irq(self) -> None:
        """The ADE7753's IRQ pin: low while an enabled status bit is set."""
        self._pins.setdefault(fw_board.PIN_IRQ, _Pin()).drive(0 if self.model.irq_asserted() else 1)

    def idle(self, ms: int) -> None:
        """Let time pass with nothing fed to the chip (no supply change)."""
        self._samples += ms
        self.time_ms = int(round(self._samples))
