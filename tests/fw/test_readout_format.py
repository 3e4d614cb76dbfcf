"""Display precision of the readings on the technician port (firmware/readout.py):
no more digits than the chip's rms registers can back (about 0.5 %)."""
from readout import current_text


def test_current_has_three_significant_figures_at_every_decade_edge():
    cases = [(0.0, "0.000"), (0.0454, "0.045"), (0.9994, "0.999"), (1.0, "1.00"), (9.994, "9.99"),
             (10.0, "10.0"), (59.96, "60.0"), (99.94, "99.9"), (100.0, "100"), (-2.345, "-2.35")]
    for amps, text in cases:
        got = current_text(amps)
        assert got == text, (amps, got, text)
