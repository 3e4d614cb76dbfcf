"""The simulated boards describe the hardware firmware/board.py was written for."""
import board as fw_board
import pytest

from host_sim.frontend import BOARDS_DIR, BoardError, load_board


@pytest.mark.parametrize("name", ["ideal", "default"])
def test_board_matches_firmware_board_file(name):
    b = load_board(BOARDS_DIR / f"{name}.json")
    assert b.voltage.ratio == fw_board.V_DIVIDER_RATIO
    assert b.current.ratio == pytest.approx(1e6 / fw_board.SHUNT_MICROOHM)
    assert b.ch1_pga == fw_board.CH1_PGA and b.ch2_pga == fw_board.CH2_PGA
    assert b.clkin_hz == fw_board.CLKIN_HZ
    assert b.meter_constant_imp_per_kwh == fw_board.METER_CONSTANT_IMP_PER_KWH
    assert b.un_v * 1000 == fw_board.UN_MV and b.ib_a * 1000 == fw_board.IB_MA
    assert b.imax_a * 1000 == fw_board.IMAX_MA
    # Imax peak must fit the ADC range with the chosen PGA, with headroom
    pin_peak = b.imax_a * 2**0.5 / b.current.ratio * b.ch1_pga
    assert 0.5 * 0.5 < pin_peak < 0.5 * 0.9


def test_bad_board_files_are_named(tmp_path):
    p = tmp_path / "b.json"
    p.write_text('{"un_v": 220, "ib_a": 10, "imax_a": 60, "meter_constant_imp_per_kwh": 1600, "voltage": {"ratio": 1001}}')
    with pytest.raises(BoardError, match=r"b.json: 'current' channel is missing"):
        load_board(p)
    p.write_text('{"un_v": 220, "ib_a": 10, "imax_a": 60, "meter_constant_imp_per_kwh": 1600, '
                 '"voltage": {"ratio": 1001, "gain": 2}, "current": {"ratio": 2000}}')
    with pytest.raises(BoardError, match=r"voltage: unknown key 'gain'"):
        load_board(p)
    p.write_text("{")
    with pytest.raises(BoardError, match="not a readable JSON"):
        load_board(p)
