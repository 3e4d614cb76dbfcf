import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
import host_sim  # noqa: E402,F401  (puts firmware/ and the fakes on sys.path)


@pytest.fixture
def run_cli():
    """Run `python -m MODULE args...` as a user would; returns CompletedProcess."""
    import subprocess

    def run(*args: str, module: str = "host_sim"):
        return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=600)

    return run
