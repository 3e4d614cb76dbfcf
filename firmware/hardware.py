"""The one wiring function: every machine object the meter uses, built from
board.py. Nothing else in the firmware constructs hardware (color_setup.py in
nano-gui is the model). The simulator passes its virtual clock as ticks_ms and
sleep_ms; on the device they are MicroPython's own.
"""
import sys
import time

import board
import machine
import micropython


class Hardware:
    def __init__(self, ticks_ms=None, sleep_ms=None, console=None):
        self.ticks_ms = ticks_ms or time.ticks_ms
        self.sleep_ms = sleep_ms or self._sleep_ms
        self._woken = False  # the power-fail interrupt fired during a sleep
        self.console = console  # the technician port's io (the simulator passes one)
        self._irq_pin = None
        self._power_fail_cb = None
        self.button = machine.Pin(board.PIN_BUTTON, machine.Pin.IN, machine.Pin.PULL_UP)
        self.rtc = machine.RTC()
        self.wdt = None
        self.spi = None
        self.cs = None

    def build_metering_bus(self):
        """SPI bus and chip select of the ADE7753."""
        if self.spi is None:
            self.spi = machine.SPI(
                board.SPI_ID,
                baudrate=board.SPI_BAUD,
                polarity=0,
                phase=1,  # ADE7753: SPI mode 1
                sck=machine.Pin(board.PIN_SCK),
                mosi=machine.Pin(board.PIN_MOSI),
                miso=machine.Pin(board.PIN_MISO),
            )
            self.cs = machine.Pin(board.PIN_CS, machine.Pin.OUT, value=1)
        return self.spi, self.cs

    def build_prepay_pins(self):
        """(relay, buzzer, button, relay feedback or None) for prepay.py.
        The relay pin is made an output at its current level (no glitch at boot:
        the prepay service drives the state it restores)."""
        relay = machine.Pin(board.PIN_RELAY, machine.Pin.OUT)
        buzzer = machine.Pin(board.PIN_BUZZER, machine.Pin.OUT, value=0)
        return relay, buzzer, self.button, None  # this board has no relay feedback contact

    def console_io(self):
        """The technician port: UART0 (the REPL's) on the ESP32, the given io
        in the simulator, none elsewhere (a unix-port run keeps its stdio)."""
        if self.console is None and sys.platform == "esp32":
            import serialport

            self.console = serialport.StdioPort(machine.UART(0))
        return self.console

    def on_power_fail(self, callback):
        """The ADE7753 IRQ (active low; SAG among its sources, ade7753_source)
        schedules callback(0): the handler only schedules, the loop saves."""
        self._power_fail_cb = callback
        self._irq_pin = machine.Pin(board.PIN_IRQ, machine.Pin.IN, machine.Pin.PULL_UP)
        self._irq_pin.irq(handler=self._irq, trigger=machine.Pin.IRQ_FALLING)

    def _sleep_ms(self, ms):
        """time.sleep_ms in 10 ms slices that returns early once the power-fail
        interrupt has fired (its scheduled callback runs inside time.sleep_ms),
        so the loop saves within the supply's hold-up time."""
        end = time.ticks_add(time.ticks_ms(), ms)
        self._woken = False
        while not self._woken:
            left = time.ticks_diff(end, time.ticks_ms())
            if left <= 0:
                return
            time.sleep_ms(left if left < 10 else 10)

    def _irq(self, _pin):
        self._woken = True
        cb = self._power_fail_cb
        if cb is not None:
            micropython.schedule(cb, 0)

    def button_held(self):
        """The service button (active low) held down now, debounced over 30 ms."""
        n = 0
        while n < 3:
            if self.button.value():
                return False
            self.sleep_ms(10)
            n += 1
        return True

    def start_watchdog(self):
        self.wdt = machine.WDT(timeout=board.WDT_TIMEOUT_MS)

    def feed_watchdog(self):
        if self.wdt is not None:
            self.wdt.feed()

    def reset_cause(self):
        """'power_on', 'watchdog', 'soft', 'hard', 'deep_sleep' or 'other'."""
        c = machine.reset_cause()
        if c == machine.PWRON_RESET:
            return "power_on"
        if c == machine.WDT_RESET:
            return "watchdog"
        if c == machine.SOFT_RESET:
            return "soft"
        if c == machine.HARD_RESET:
            return "hard"
        if c == machine.DEEPSLEEP_RESET:
            return "deep_sleep"
        return "other"

    def rtc_datetime(self):
        return self.rtc.datetime()

    def set_rtc(self, dt):
        self.rtc.datetime(dt)

    def reset(self):
        """Reset the board on purpose (the loop saved state and logged why)."""
        machine.reset()
