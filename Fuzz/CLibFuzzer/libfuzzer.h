// libFuzzer's driver, for a fuzz target that has its own main (SwiftPM gives every executable
// one). Defined only when linked with -sanitize=fuzzer; referenced only under -D FUZZING.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
