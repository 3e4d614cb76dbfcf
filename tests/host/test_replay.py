"""Replay through the simulated board and the real firmware, and its CLI."""
import json
import math

import pytest

from host_sim.frontend import BOARDS_DIR, load_board
from host_sim.replay import load_calibration, replay
from host_sim.waveforms import synthesize, write_comtrade, write_csv

KEYS = ("seconds", "import_wh", "export_wh", "vrms_v", "irms_a", "power_w", "pf", "frequency_hz")


@pytest.fixture(scope="module")
def ideal():
    return load_board(BOARDS_DIR / "ideal.json"), load_calibration(BOARDS_DIR / "ideal.cal.json")


@pytest.mark.parametrize("pf", [1.0, 0.5])
def test_ideal_board_within_0_1_percent_at_ib(ideal, pf):
    board, cal = ideal
    rec = synthesize(seconds=10.0, fs_hz=8000, v_rms=220, i_rms=10.0, pf=pf, inductive=True)
    r = replay(rec, board, cal)
    assert r.error_pct is not None and abs(r.error_pct) < 0.1, r
    assert r.vrms_v == pytest.approx(220, rel=0.005)
    assert r.irms_a == pytest.approx(10, rel=0.005)
    assert r.power_w == pytest.approx(2200 * pf, rel=0.01)
    assert r.pf == pytest.approx(pf, abs=0.01)
    assert r.frequency_hz == pytest.approx(50, abs=0.01)
    assert r.export_wh == 0 and r.missed_intervals == 0


def test_export_registers_separately(ideal):
    board, cal = ideal
    rec = synthesize(seconds=5.0, fs_hz=8000, v_rms=220, i_rms=5.0, pf=-1.0)
    r = replay(rec, board, cal)
    assert r.import_wh == 0
    assert r.export_wh == pytest.approx(-rec.true_energy_wh(), rel=0.002)


def test_cli_json_contract(run_cli):
    p = run_cli("replay", "host_sim/recordings/resistive_ib.cfg", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    for k in KEYS:
        assert isinstance(out[k], (int, float)), k
    assert out["seconds"] == pytest.approx(3.0)
    assert out["import_wh"] == pytest.approx(220 * 10 * 3 / 3600, rel=0.005)


def test_cli_csv_and_readable_output(run_cli, tmp_path):
    rec = synthesize(seconds=2.0, fs_hz=4000, v_rms=220, i_rms=0.5, pf=1.0)
    path = tmp_path / "low.csv"
    write_csv(rec, path)
    p = run_cli("replay", str(path))
    assert p.returncode == 0, p.stderr
    assert "import" in p.stdout and "Wh" in p.stdout


def _bad(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("time,v,i\n0,1,2\n")
    (tmp_path / "garbled.csv").write_text("t_s,voltage_v,current_a\n0,1,2\n0.001,x,2\n")
    rows = ["t_s,voltage_v,current_a"] + [f"{t / 1000:.4f},1,1" for t in range(50)]
    rows[20] = "0.0005,1,1"
    (tmp_path / "backwards.csv").write_text("\n".join(rows) + "\n")
    rec = synthesize(seconds=0.1, fs_hz=4000)
    write_comtrade(rec, tmp_path / "novolt.cfg")
    cfg = (tmp_path / "novolt.cfg").read_text().replace(",V,", ",X,").replace(",V\n", ",X\n")
    (tmp_path / "novolt.cfg").write_text(cfg)
    return {
        "missing.cfg": "missing", "empty.csv": "empty", "header.csv": "header",
        "garbled.csv": "line", "backwards.csv": "line", "novolt.cfg": "voltage",
    }


def test_bad_recordings_one_line_exit_2(run_cli, tmp_path):
    for name, word in _bad(tmp_path).items():
        p = run_cli("replay", str(tmp_path / name), "--json")
        assert p.returncode == 2, (name, p.stdout, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1, (name, p.stderr)
        assert name in lines[0] and word in lines[0].lower(), (name, lines[0])
        assert "Traceback" not in p.stderr and p.stdout == ""


def test_two_second_replay_at_005_ib_can_be_judged(ideal):
    # registered energy resolves well below 1 mWh: 2 s at 0.05 Ib is 61 mWh
    board, cal = ideal
    rec = synthesize(seconds=2.0, fs_hz=8000, v_rms=220, i_rms=0.5, pf=1.0)
    r = replay(rec, board, cal)
    num, den = cal.lsb_per_kwh()
    assert den * 1e6 / num < 1.0  # mWh per AENERGY LSB
    assert r.error_pct is not None and abs(r.error_pct) < 0.75, r


def test_cli_calibrate_then_replay_with_that_board(run_cli, tmp_path):
    cal = tmp_path / "cal.json"
    p = run_cli("calibrate", "--board", "host_sim/boards/default.json", "--out", str(cal))
    assert p.returncode == 0, p.stderr
    assert cal.read_text() == (BOARDS_DIR / "default.cal.json").read_text()  # reproducible
    p = run_cli("replay", "host_sim/recordings/inductive_pf05.cfg", "--board", "host_sim/boards/default.json",
                "--calibration", str(cal), "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert abs(out["error_pct"]) < 0.5 and out["pf"] == pytest.approx(0.5, abs=0.01)


def test_cli_bad_board_calibration_and_outputs(run_cli, tmp_path):
    (tmp_path / "b.json").write_text('{"un_v": 220}')
    (tmp_path / "c.json").write_text('{"version": 1, "crc32": 5}')
    cases = [
        (("replay", "host_sim/recordings/resistive_ib.cfg", "--board", str(tmp_path / "b.json")), "b.json"),
        (("replay", "host_sim/recordings/resistive_ib.cfg", "--calibration", str(tmp_path / "c.json")), "c.json"),
        (("replay", "host_sim/recordings/resistive_ib.cfg", "--board", str(tmp_path / "none.json")), "none.json"),
        (("calibrate", "--board", "host_sim/boards/default.json", "--out", str(tmp_path)), "folder"),
        (("accuracy", "--report", str(tmp_path / "b.json")), "not a folder"),
    ]
    for args, word in cases:
        p = run_cli(*args)
        assert p.returncode == 2, (args, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1 and word in p.stderr, (args, p.stderr)
        assert "Traceback" not in p.stderr
