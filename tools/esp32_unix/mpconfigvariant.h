// ESP32-shaped unix MicroPython for the meter's test lane (built 32-bit by
// mpconfigvariant.mk). Each setting mirrors ports/esp32/mpconfigport.h.

// esp32: MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES (same builtins and modules).
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)
// esp32: MICROPY_OBJ_REPR_A; with 32-bit words: 31-bit small ints, 4-byte pointers.
#define MICROPY_OBJ_REPR (MICROPY_OBJ_REPR_A)
// esp32: MICROPY_FLOAT_IMPL_FLOAT (single precision; every float is a heap object).
#define MICROPY_FLOAT_IMPL (MICROPY_FLOAT_IMPL_FLOAT)
// esp32: MICROPY_LONGINT_IMPL_MPZ (ints beyond 2**30 become heap big ints).
#define MICROPY_LONGINT_IMPL (MICROPY_LONGINT_IMPL_MPZ)

#include "variants/mpconfigvariant_common.h"
