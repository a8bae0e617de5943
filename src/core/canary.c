/* The junk run that freed memory is compared with (see canary.h). */
#include "core/canary.h"

const uint8_t hk_junk_bytes[256] = {[0 ... 255] = HK_JUNK_BYTE};
