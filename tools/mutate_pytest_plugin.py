"""pytest plugin for `make mutate` only (setup.cfg [mutmut] pytest_add_cli_args).

Property tests must give every mutant the same examples: a random search
would let a mutant survive or die by luck, and hypothesis' example database
would carry a failing example found under one mutant into the next runs
(and into the clean run, which then aborts mutmut). So: derandomized, no
database. The normal test lanes are untouched.
"""
from hypothesis import settings

settings.register_profile("mutmut", derandomize=True, database=None)
settings.load_profile("mutmut")
