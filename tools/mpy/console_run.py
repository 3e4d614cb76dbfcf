"""The technician port under the MicroPython unix port, on its own stdin/stdout.

MICROPYPATH=firmware:tests/fw:.frozen micropython tools/mpy/console_run.py KEYHEX METER SECONDS
    the protocol alone over the test fake provider (tests/fw/fake_provider.py)
MICROPYPATH=tools/mpy:firmware:tests/fw:.frozen micropython tools/mpy/console_run.py app KEYHEX METER SECONDS DIR
    the whole application (firmware/app.py with its console service,
    firmware/techport.py) on the register-image ADE7753 (tests/fw/image_chip.py,
    a ~1.4 kW load), its files in DIR, in real time
The host test starts it with stdin and stdout on the master side of a
pseudo-terminal and talks to the slave with an IEC 62056-21 client: the
protocol code runs here exactly as on the device. Prints nothing of its own.
"""
import sys
import time

import binascii


def protocol(key, meter, seconds):
    from fake_provider import DictProvider
    from iec62056 import Iec62056Port
    from serialport import StdioPort

    provider = DictProvider()
    provider.token_results["23716100501183194197"] = "ACCEPT"
    port = Iec62056Port(StdioPort(), provider, key, meter)
    start = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), start) < seconds * 1000:
        port.poll(time.ticks_ms())
        time.sleep_ms(5 if port.busy() else 20)


def application(key_hex, meter, seconds, folder):
    import os

    import machine  # tools/mpy/machine.py
    from fixtures import design_cal
    from image_chip import ImageChip

    chip = ImageChip()
    machine.CHIP = chip
    import app
    import hardware
    import techport  # noqa: F401  (app imports it lazily: load it before the chdir below)
    from serialport import StdioPort

    os.chdir(folder)
    with open("calibration.json", "w") as f:
        f.write(design_cal().to_json())
    with open("tariff.json", "w") as f:
        f.write('{"currency": "CNY", "rates": {"1": "0.9000", "2": "0.6000", "3": "0.4000", "4": "0.3000"},'
                ' "days": {"all": [["00:00", 3], ["08:00", 2], ["18:00", 1], ["22:00", 3]]},'
                ' "weeks": {"std": ["all", "all", "all", "all", "all", "all", "all"]},'
                ' "seasons": [["01-01", "std"]]}')
    with open("prepay.json", "w") as f:
        f.write('{"balance": "100.0000", "decoder_key": "6ff35b9d1f3453e6"}')
    with open("meter.json", "w") as f:
        f.write('{"meter_number": "%s", "management_key": "%s"}' % (meter, key_hex))

    def sleep_ms(ms):
        chip.add_energy(ms)  # 1 LSB per ms while the loop sleeps
        time.sleep_ms(ms)

    hw = hardware.Hardware(ticks_ms=time.ticks_ms, sleep_ms=sleep_ms, console=StdioPort())
    a = app.App(hw)
    a.boot()
    a.run(max_passes=seconds * 2)


if sys.argv[1] == "app":
    application(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
else:
    protocol(binascii.unhexlify(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
