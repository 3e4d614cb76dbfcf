"""Command line: python -m host_sim {replay,calibrate,accuracy,console,faults,run} ... (see --help)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import calibration as fw_cal
import readout as fw_readout

from .frontend import BoardError, load_board
from .waveforms import RecordingError, load_recording


def _writable_file(path: str) -> Path:
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{path}: is a folder, expected a file to write")
    if not p.parent.is_dir():
        raise OutputError(f"{path}: folder {p.parent} does not exist")
    return p


def _writable_dir(path: str) -> Path:
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{path}: exists and is not a folder")
    return p


class OutputError(ValueError):
    pass


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def cmd_replay(a: argparse.Namespace) -> int:
    from .replay import replay, resolve_board

    rec = load_recording(a.recording)
    board, cal = resolve_board(a.board, a.calibration)
    r = replay(rec, board, cal)
    if a.json:
        print(json.dumps(r.as_json()))
        return 0
    err = "n/a" if r.error_pct is None else f"{r.error_pct:+.3f} %"
    print(f"replay {a.recording}  ({r.seconds:.3f} s, board {board.name})")
    print(f"  import      {r.import_wh:12.4f} Wh     export {r.export_wh:.4f} Wh")
    print(f"  true energy {r.true_wh:12.4f} Wh     error  {err}")
    # the meter's display precision (firmware/readout.py): what the chip can give
    print(f"  voltage     {r.vrms_v:10.0f} V      current {fw_readout.current_text(r.irms_a)} A")
    print(f"  power       {r.power_w:10.1f} W      PF {r.pf:.3f}   frequency {r.frequency_hz:.3f} Hz")
    print(f"  ticks {r.ticks}, missed intervals {r.missed_intervals}, chip resets {r.chip_resets}")
    return 0


def cmd_calibrate(a: argparse.Namespace) -> int:
    from .calibrate import calibrate

    board = load_board(a.board)
    out = _writable_file(a.out)  # refuse before minutes of work, not after
    res = calibrate(board)
    out.write_text(res.calibration.to_json())
    for s in res.steps:
        print(f"  {s.name:7s} {s.condition:28s} {s.measured:22s} -> {s.result}")
    print(f"wrote {a.out}")
    return 0


def cmd_accuracy(a: argparse.Namespace) -> int:
    from .accuracy import format_table, run_table, worst_per_row, write_report
    from .replay import resolve_board

    board, cal = resolve_board(a.board, a.calibration)
    report = _writable_dir(a.report)
    points = run_table(board, cal)
    print(f"IEC 62053-21 table, board {board.name} (limits: half of class 1)")
    print(format_table(points))
    written = write_report(points, board, report)
    print(f"report: {', '.join(str(p) for p in written)}")
    bad = [p for p in points if not p.ok]
    print(f"{len(points) - len(bad)} of {len(points)} points within the project limit")
    if a.random:
        from tqdm import tqdm

        from .calibrate import calibrate
        from .frontend import random_board

        tables = []
        for seed in tqdm(range(a.random), desc="random boards", unit="board", file=sys.stderr):
            rb = random_board(seed, board)
            tables.append(run_table(rb, calibrate(rb).calibration))
        worst = worst_per_row(tables)
        print(f"\nworst error per row over {a.random} random boards (seeds 0..{a.random - 1}), each calibrated:")
        print(format_table(worst))
        bad += [p for p in worst if not p.ok]
    return 0 if not bad else 1


def cmd_console(a: argparse.Namespace) -> int:
    from .console import run_cli

    return run_cli(a)


def cmd_faults(a: argparse.Namespace) -> int:
    """product.md "Fault campaign"; exit 1 when a check failed."""
    from tqdm import tqdm

    from .faults import run_faults

    if a.cuts < 1:
        raise OutputError(f"--cuts {a.cuts}: at least 1")
    if a.holdup_ms < 0:
        raise OutputError(f"--holdup-ms {a.holdup_ms}: must be 0 or more")
    with tqdm(total=a.cuts, desc="power cuts", unit="cut", file=sys.stderr, disable=a.quiet) as bar:
        r = run_faults(a.cuts, a.seed, progress=bar.update, holdup_ms=a.holdup_ms)
    if a.json:
        print(json.dumps(r.as_json()))
    else:
        print(f"faults: {r.cuts} cuts (seed {a.seed}, hold-up {r.holdup_ms} ms), {r.wall_s:.0f} s")
        print(f"  recovered {r.recovered}, corrupt {r.corrupt}, credit applied twice {r.credit_applied_twice}, "
              f"credit lost {r.credit_lost}")
        print(f"  energy lost per cut: max {r.energy_lost_wh_max:.1f} Wh (bound {r.energy_lost_bound_wh:.1f} Wh)")
        print(f"  flash erases per day at this workload's rate: {r.flash_erases_per_day:.0f}")
        print(f"  cuts by kind {r.cuts_by_kind}; inside {r.cuts_in}")
        for f in r.failures:
            print(f"  FAILED {f}")
    return 0 if r.ok() else 1


def cmd_run(a: argparse.Namespace) -> int:
    # --- run (scenario.md) ---
    from .report import summary, write_report
    from .run import run_scenario
    from .scenario import ScenarioError, load_scenario

    try:
        s = load_scenario(a.scenario)
        report_dir = _writable_dir(a.report) if a.report else None  # refuse before the run, not after
        res = run_scenario(s, progress=True)
    except ScenarioError as e:
        return _fail(str(e))
    if report_dir is not None:
        written = write_report(res, s, report_dir)
        print(f"report: {', '.join(str(p) for p in written)}", file=sys.stderr if a.json else sys.stdout)
    if a.json:
        print(json.dumps(res.report))
    else:
        print(summary(res.report, s))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m host_sim", description="Prepaid meter simulator.")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("replay", help="replay a COMTRADE or CSV recording through the firmware")
    r.add_argument("recording", help="COMTRADE .cfg (with its .dat) or CSV t_s,voltage_v,current_a")
    r.add_argument("--board", help="board JSON (default: host_sim/boards/default.json)")
    r.add_argument("--calibration", help="calibration JSON (default: the board's shipped one)")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.set_defaults(fn=cmd_replay)
    c = sub.add_parser("calibrate", help="run the datasheet calibration on a simulated board")
    c.add_argument("--board", required=True, help="board JSON")
    c.add_argument("--out", required=True, help="calibration JSON to write")
    c.set_defaults(fn=cmd_calibrate)
    acc = sub.add_parser("accuracy", help="run the IEC 62053-21 accuracy table and write a report")
    acc.add_argument("--board", help="board JSON (default: host_sim/boards/default.json)")
    acc.add_argument("--calibration", help="calibration JSON (default: the board's shipped one)")
    acc.add_argument("--report", required=True, help="folder for the plots and the table")
    acc.add_argument("--random", type=int, default=0, metavar="N",
                     help="also calibrate N random boards of the same design and report the worst error per row")
    acc.set_defaults(fn=cmd_accuracy)
    con = sub.add_parser("console", help="the firmware application on a simulated board, its technician "
                         "port (IEC 62056-21) on a pty or TCP")
    con.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal (the default); prints its path")
    con.add_argument("--tcp", type=int, metavar="PORT", help="serve on TCP 127.0.0.1:PORT instead (0: any free port)")
    con.add_argument("--meter", default="12345678", help="meter number (the sign-on address), 1..16 digits")
    con.add_argument("--key-hex", default=None, help="management key, hex (default: the simulator's key, "
                     "00112233445566778899aabbccddeeff; or env METER_KEY)")
    con.add_argument("--speed", type=float, default=1.0, help="virtual time: the meter's clock runs this many "
                     "times real time (default 1: real time; clients need ~1 for the protocol's pauses)")
    con.add_argument("--board", help="board JSON for the simulated meter (default: the default board; its "
                     ".cal.json beside it is the initial calibration)")
    con.add_argument("--calibration", help="initial calibration JSON (default: the board's .cal.json)")
    con.add_argument("--files", help="the device's filesystem folder (kept; default: a temporary one)")
    con.add_argument("--postpaid", action="store_true", help="no prepay.json: a postpaid meter")
    con.add_argument("--load-w", type=float, default=2200.0, help="steady load in W (default 2200)")
    con.add_argument("--pf", type=float, default=1.0, help="load power factor, -1..1 (default 1)")
    con.add_argument("--seconds", type=float, default=None, help="stop after this many seconds of real time")
    con.set_defaults(fn=cmd_console)
    flt = sub.add_parser("faults", help="power cuts at random instants of the firmware on torn littlefs flash, "
                         "every invariant checked after each reboot (product.md)")
    flt.add_argument("--cuts", type=int, required=True, help="number of power cuts")
    flt.add_argument("--seed", type=int, default=0, help="random seed for the instants and the workload")
    flt.add_argument("--json", action="store_true", help="print one JSON object")
    flt.add_argument("--holdup-ms", type=int, default=None,
                     help="supply hold-up time after the mains drops (default: host_sim/faults.py HOLDUP_MS)")
    flt.add_argument("--quiet", action="store_true", help="no progress bar")
    flt.set_defaults(fn=cmd_faults)
    run = sub.add_parser("run", help="run a scenario (load, tariff, prepay, events) through the firmware")
    run.add_argument("scenario", help="SCENARIO.toml (see scenario.md)")
    run.add_argument("--json", action="store_true", help="print the report as one JSON object")
    run.add_argument("--report", metavar="DIR", help="also write plots and tables to this folder")
    run.set_defaults(fn=cmd_run)
    a = p.parse_args(argv)
    if a.cmd == "faults" and a.holdup_ms is None:
        from .faults import HOLDUP_MS

        a.holdup_ms = HOLDUP_MS
    if a.cmd == "console" and a.key_hex is None:
        import os

        from .console import DEFAULT_KEY_HEX
        a.key_hex = os.environ.get("METER_KEY", DEFAULT_KEY_HEX)
    try:
        return a.fn(a)
    except (RecordingError, BoardError, fw_cal.CalibrationError) as e:
        return _fail(str(e))
    except ValueError as e:  # CalibrationRefused, OutputError: one line, no traceback
        return _fail(str(e))
    except OSError as e:  # e.g. a disk that fills while writing a report
        return _fail(f"{e.filename or ''}: {e.strerror or e}")


if __name__ == "__main__":
    sys.exit(main())
