# ESP32-shaped unix MicroPython: build settings (see mpconfigvariant.h).

# esp32: 32-bit Xtensa words -> gcc -m32 (Debian: gcc-multilib).
MICROPY_FORCE_32BIT = 1
# esp32: MICROPY_PY_THREAD with MICROPY_PY_THREAD_GIL.
MICROPY_PY_THREAD = 1
MICROPY_PY_THREAD_GIL = 1
# esp32 freezes its own modules; the lane loads ours from files (none frozen).
FROZEN_MANIFEST =
# Not in the source subset (submodules), and nothing the firmware uses:
MICROPY_PY_BTREE = 0
MICROPY_PY_FFI = 0
MICROPY_PY_SSL = 0
MICROPY_SSL_MBEDTLS = 0
# esp32 has its own line editor; no host readline library needed.
MICROPY_USE_READLINE = 0
