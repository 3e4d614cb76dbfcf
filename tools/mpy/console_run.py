"""The technician port under the MicroPython unix port, on its own stdin/stdout.

MICROPYPATH=firmware:tests/fw:.frozen micropython tools/mpy/console_run.py KEYHEX METER SECONDS
    the protocol alone over the test fake provider (tests/fw/fake_provider.py)
MICROPYPATH=tools/mpy:firmware:tests/fw:.frozen micropython tools/mpy/console_run.py app KEYHEX METER SECONDS DIR
    the whole application (firmware/app.py with its console service,
    firmware/techport.py) on the register-image ADE7753 (tests/fw/image_chip.py,
    a ~1.4 kW load), its files in DIR, in real time
MICROPYPATH=tools/mpy:firmware:tests/fw:.frozen micropython tools/mpy/console_run.py appmem DIR
    memory of the console service on that application (tools/bench.py): one JSON line,
    console_app_state_bytes (heap retained by one TechPortService: port, buffers,
    providers) and console_app_readout_alloc_bytes (heap allocated by one whole
    data readout of the real registers, sign-on to idle), console_app_idle_poll_alloc_bytes
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


def _build(key_hex, meter, folder, console, ticks_ms, sleep_ms):
    import os

    import machine  # tools/mpy/machine.py
    from fixtures import design_cal
    from image_chip import ImageChip

    chip = ImageChip()
    machine.CHIP = chip
    import app
    import hardware
    import techport  # noqa: F401  (app imports it lazily: load it before the chdir below)

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

    def sleep(ms):
        chip.add_energy(ms)  # 1 LSB per ms while the loop sleeps
        sleep_ms(ms)

    hw = hardware.Hardware(ticks_ms=ticks_ms, sleep_ms=sleep, console=console)
    a = app.App(hw)
    a.boot()
    return a


def application(key_hex, meter, seconds, folder):
    from serialport import StdioPort

    a = _build(key_hex, meter, folder, StdioPort(), time.ticks_ms, time.sleep_ms)
    a.run(max_passes=seconds * 2)


def app_memory(folder):
    import gc
    import json

    import techport
    from fake_provider import CountingIO

    clock = [0]

    def ticks():
        return clock[0]

    def sleep(ms):
        clock[0] += ms

    io = CountingIO()
    a = _build("00112233445566778899aabbccddeeff", "12345678", folder, io, ticks, sleep)
    a.run(max_passes=4)
    svc = a.console
    gc.collect()
    base = gc.mem_alloc()
    extra = techport.TechPortService(a, CountingIO())
    gc.collect()
    state = gc.mem_alloc() - base
    del extra

    def readout(now):
        io.load(b"/?!\r\n")
        gc.collect()
        gc.disable()
        a0 = gc.mem_alloc()
        for _ in range(30):  # 300 ms: identification
            now += 10
            svc.poll(now)
        io.load(b"\x06050\r\n")
        while True:
            now += 10
            svc.poll(now)
            if not svc.busy():
                break
        a1 = gc.mem_alloc()
        gc.enable()
        return a1 - a0, now

    sent0 = io.sent
    _, now = readout(clock[0])  # warm-up
    sent1 = io.sent
    alloc, now = readout(now)
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    for _ in range(1000):  # nobody connected: the service's cost per pass
        now += 500
        svc.poll(now)
    idle = (gc.mem_alloc() - a0) // 1000
    gc.enable()
    print(json.dumps({"console_app_state_bytes": state, "console_app_readout_alloc_bytes": alloc,
                      "console_app_readout_bytes": sent1 - sent0, "console_app_idle_poll_alloc_bytes": idle}))


if sys.argv[1] == "app":
    application(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
elif sys.argv[1] == "appmem":
    app_memory(sys.argv[2])
else:
    protocol(binascii.unhexlify(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
