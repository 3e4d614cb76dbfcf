"""Regenerate the bundled recordings in host_sim/recordings (COMTRADE 1999 binary).

They are made by the project's own synthesiser so they can be shipped freely:
  resistive_ib       220 V, Ib = 10 A, PF 1
  inductive_pf05     220 V, Ib = 10 A, PF 0.5 inductive
  smps_distorted     220 V, a switch-mode power supply's peaky current (odd harmonics)
Usage: python -m tools.make_recordings [--out DIR]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import host_sim  # noqa: F401  (paths)
from host_sim.waveforms import synthesize, write_comtrade

OUT = Path(__file__).resolve().parent.parent / "host_sim" / "recordings"

# A capacitor-input rectifier draws narrow pulses at the voltage peaks: a
# fundamental nearly in phase plus large odd harmonics in the same sense.
SMPS_HARMONICS = {3: (0.85, 180.0), 5: (0.62, 0.0), 7: (0.38, 180.0), 9: (0.18, 0.0),
                  11: (0.07, 180.0)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=OUT, help="output folder")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    recs = {
        "resistive_ib": synthesize(seconds=3.0, fs_hz=6400, v_rms=220, i_rms=10.0, pf=1.0,
                                   v_noise_rms=0.2, i_noise_rms=0.01, seed=1),
        "inductive_pf05": synthesize(seconds=3.0, fs_hz=6400, v_rms=220, i_rms=10.0, pf=0.5,
                                     inductive=True, v_noise_rms=0.2, i_noise_rms=0.01, seed=2),
        "smps_distorted": synthesize(seconds=3.0, fs_hz=6400, v_rms=220, i_rms=0.6, pf=0.97,
                                     inductive=False, i_harmonics=SMPS_HARMONICS,
                                     v_harmonics={3: (0.02, 0.0), 5: (0.03, 180.0)}, seed=3),
    }
    for name, rec in recs.items():
        path = a.out / f"{name}.cfg"
        write_comtrade(rec, path, station="prepaid-meter-sim", data_format="BINARY", rev_year=1999)
        print(f"wrote {path} ({rec.seconds:.1f} s, {rec.true_energy_wh():.4f} Wh)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
