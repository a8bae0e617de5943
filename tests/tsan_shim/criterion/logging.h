/* The shim's criterion/criterion.h has the logging macros too. */
#include "criterion/criterion.h"
