"""Random and mutated frames into the technician port of the REAL application
(firmware/techport.py over firmware/app.py on a simulated board), without a
session: nothing escapes, nothing the meter keeps changes (registers, relay,
clock, files on its flash, metering), the port keeps answering.
`fuzz_app()` runs at 100 000 frames from `python -m tools.fuzz_console --app`."""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from fake_provider import MemoryIO  # tests/fw
from fwtest import Rng
from host_sim.console import Settings, SimConsoleMeter
from iec_client import frame

# every write the App offers, and the bench session's codes (all must be refused)
CORPUS = (
    b"/?!\r\n", b"/?12345678!\r\n", b"\x06051\r\n", b"\x06050\r\n", frame(b"B0"),
    frame(b"R1", b"1.8.0()"), frame(b"R1", b"C.98.0()"), frame(b"R1", b"C.96.1*01()"), frame(b"R1", b"C.63.9()"),
    frame(b"P2", b"(0011223344556677)"), frame(b"P1", b"(00000000)"),
    frame(b"W1", b"0-0:1.0.0(2027-01-01 00:00:00)"), frame(b"W1", b"C.56.0(DISCONNECT)"),
    frame(b"W1", b"C.57.0(1)"), frame(b"W1", b"C.58.0(1)"), frame(b"W1", b"C.59.0(1)"),
    frame(b"W1", b"C.55.0(alarm1=1.0000)"), frame(b"W1", b"C.60.0(PAUSE)"), frame(b"W1", b"C.60.1(RESET)"),
    frame(b"W1", b"C.63.18(100)"), frame(b"W1", b"C.61.0(BEGIN)"), frame(b"W1", b"C.61.1(7b7d)"),
    frame(b"W1", b"C.61.2(00000000)"), frame(b"W1", b"C.65.0(BEGIN)"), frame(b"W1", b"C.65.2(00000000)"),
    frame(b"W1", b"C.99.9(230;5;0;50)"),
)


def _frames(rng: Rng, count: int):
    for k in range(count):
        if k % 3 == 0:
            yield bytes(rng.below(256) for _ in range(rng.below(40)))
            continue
        f = bytearray(CORPUS[rng.below(len(CORPUS))])
        for _ in range(rng.below(3)):  # 0..2 mutations: unmutated writes must be refused too
            op = rng.below(3)
            i = rng.below(len(f))
            if op == 0:
                f[i] = rng.below(256)
            elif op == 1:
                f = f[:i] or bytearray(b"\x01")
            else:
                f = f[:i] + bytes([rng.below(256)]) + f[i:]
        yield bytes(f)


def _kept(meter: SimConsoleMeter) -> tuple:
    """What the meter keeps: files on its flash, registers, relay, clock, metering."""
    app = meter.app
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(meter.files.iterdir())}
    p = app.prepay
    return (files, app.state_payload(), p.relay.closed, p.periods.guaranteed, app.clock.day, app.clock.sod,
            app.metering.paused, app.metering.meter.metrology.cal.wgain, app.tariff.passive is None,
            meter.maintenance, meter.bench.source)


def fuzz_app(count: int, seed: int) -> tuple[int, int]:
    """count frames into the App's port in programming mode, not authenticated.
    Returns (frames, NAKs); asserts nothing escaped and nothing changed."""
    with tempfile.TemporaryDirectory() as tmp:
        io = MemoryIO()
        meter = SimConsoleMeter(io, Settings(files=Path(tmp)))
        meter.run_to(2000)  # booted, metering, first save done
        app = meter.app
        svc = app.console
        now = [meter.board.ticks_ms()]

        def send(data: bytes, ms: int = 250) -> bytes:
            io.inject(data)
            end = now[0] + ms
            with meter._cwd():
                while now[0] < end:
                    now[0] += 10
                    svc.poll(now[0] & 0x3FFFFFFF)
            return io.take()

        def restart() -> None:
            send(frame(b"B0"))
            assert send(b"/?!\r\n") == b"/XXX5PPM1\r\n"  # still answering
            assert send(b"\x06051\r\n", 1200)[:3] == b"\x01P0"

        with meter._cwd():
            before = _kept(meter)
        restart()
        naks = 0
        for k, f in enumerate(_frames(Rng(seed), count)):
            out = send(f, 250 if k % 50 else 2000)
            naks += out.count(b"\x15")
            if svc.port.state_name() == "idle" or k % 97 == 0:
                restart()
            assert svc.port.last_error is None, svc.port.last_error
            assert not svc.port.authenticated
        with meter._cwd():
            assert _kept(meter) == before
        meter.close()
    return count, naks


def test_fuzz_the_app_port_nothing_escapes_nothing_changes():
    frames, naks = fuzz_app(1500, 5)
    assert naks > frames // 5  # the writes really reached the port and were refused
