"""`make mutate`: mutation testing of firmware/ with mutmut (outside CI).

mutmut names a mutant by the module path of its file and only strips a leading
`src.`; the firmware and its tests import modules by top-level name (`import
meter`, via conftest.py). So mutmut runs in a staging folder, build/mutate/, where
`src` links to firmware/ and conftest.py, pytest.ini, setup.cfg, host_sim/, tools/,
tests/ link back to this checkout; inside mutmut's copy, mutants/firmware links to
mutants/src, so conftest.py puts the *mutated* files on sys.path. Every
firmware/*.py is mutated, new files included; results are cached in
build/mutate/mutants/ (a file is re-mutated when it changes).

After the run, prints a score table per module (markdown) and the surviving
mutants; `python -m tools.mutate --report` prints them again without running.
See docs/mutation.md for the latest score and the equivalent mutants.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / "build" / "mutate"
# entries of the staging folder that link back to this checkout
LINKS = {"src": "firmware", "conftest.py": "conftest.py", "pytest.ini": "pytest.ini",
         "setup.cfg": "setup.cfg", "host_sim": "host_sim", "tools": "tools", "tests": "tests"}

# mutmut exit codes (mutmut.stats.status_by_exit_code), grouped for the score
KILLED = {1, 3, 36, 24, -24, 152, 255, 37}  # test failure, pytest error, timeout, type check
SURVIVED = {0}
NO_TESTS = {5, 33}
SKIPPED = {34}


class MutateError(Exception):
    pass


@dataclass
class ModuleScore:
    module: str
    killed: int = 0
    survived: int = 0
    no_tests: int = 0
    skipped: int = 0
    other: int = 0  # not checked, suspicious, segfault (listed unless not checked)
    survivors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.killed + self.survived + self.no_tests + self.skipped + self.other

    @property
    def score_pct(self) -> float:
        tested = self.total - self.skipped
        return 100.0 * self.killed / tested if tested else 100.0


def link(path: Path, target: str) -> None:
    """Make `path` a symlink to `target` (relative), replacing a stale one."""
    if path.is_symlink():
        if os.readlink(path) == target:
            return
        path.unlink()
    elif path.exists():
        raise MutateError(f"{path}: exists and is not a symlink; remove it (make clean)")
    path.symlink_to(target)


def stage(fresh_copies: bool) -> None:
    STAGE.mkdir(parents=True, exist_ok=True)
    back = os.path.relpath(ROOT, STAGE)
    for name, target in LINKS.items():
        link(STAGE / name, os.path.join(back, target))
    (STAGE / "mutants").mkdir(exist_ok=True)
    link(STAGE / "mutants" / "firmware", "src")
    # mutmut copies these over its old copies: drop them first, so a test
    # renamed or deleted here does not keep running there
    for name in ("tests", "host_sim", "tools") if fresh_copies else ():
        shutil.rmtree(STAGE / "mutants" / name, ignore_errors=True)


def run_mutmut(max_children: int, names: list[str]) -> int:
    cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children), *names]
    return subprocess.run(cmd, cwd=STAGE).returncode


def scores(mutants_src: Path) -> list[ModuleScore]:
    table = []
    for meta in sorted(mutants_src.glob("*.py.meta")):
        module = meta.name[: -len(".py.meta")]
        s = ModuleScore(module)
        exit_codes = json.loads(meta.read_text())["exit_code_by_key"]
        for key, code in sorted(exit_codes.items()):
            if code in KILLED:
                s.killed += 1
            elif code in SURVIVED:
                s.survived += 1
                s.survivors.append(key)
            elif code in NO_TESTS:
                s.no_tests += 1
                s.survivors.append(key)
            elif code in SKIPPED:
                s.skipped += 1
            else:
                s.other += 1
                if code is not None:  # None: not checked yet (an interrupted run)
                    s.survivors.append(key)
        table.append(s)
    return table


def report(table: list[ModuleScore]) -> str:
    rows = ["| module | mutants | killed | survived | no tests | other | score |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    total = ModuleScore("**all**")
    for s in table + [total]:
        rows.append(f"| {s.module} | {s.total} | {s.killed} | {s.survived} | {s.no_tests} | "
                    f"{s.other} | {s.score_pct:.1f} % |")
        if s is not total:
            total.killed += s.killed
            total.survived += s.survived
            total.no_tests += s.no_tests
            total.skipped += s.skipped
            total.other += s.other
    rows.append("")
    rows.append("score = killed / (mutants - skipped); killed includes timeouts. Not killed:")
    rows += [f"  {name}" for s in table for name in s.survivors]
    rows.append("(`cd build/mutate && ../../.venv/bin/mutmut show NAME` prints a mutant's diff)")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.mutate", description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--max-children", type=int, default=2,
                    help="parallel mutmut workers (default 2: the build machine has 2 shared cores)")
    ap.add_argument("--report", action="store_true", help="print the last run's table; run nothing")
    ap.add_argument("names", nargs="*",
                    help="mutant names or globs to (re)run, e.g. 'meter.x*' (default: all not yet tested)")
    args = ap.parse_args(argv)
    try:
        if args.max_children < 1:
            raise MutateError(f"--max-children {args.max_children}: must be at least 1")
        stage(fresh_copies=not args.report)
        if not args.report:
            rc = run_mutmut(args.max_children, args.names)
            if rc not in (0, None):
                raise MutateError(f"mutmut run exited with status {rc} (see its output above)")
        table = scores(STAGE / "mutants" / "src")
        if not table:
            raise MutateError(f"{STAGE / 'mutants' / 'src'}: no mutmut results (run `make mutate`)")
    except MutateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(report(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
