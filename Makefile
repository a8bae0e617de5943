# heapkit — the one build entry point.
#   make                 every library, example and tool        (build/lib, build/bin)
#   make test            builds and runs every test suite       (tests/run.sh sums the results)
#   make bench           benchmarks against glibc and the peers (see bench/README.md)
#   make install         libraries, headers, pkg-config and CMake files, man pages, the command
#                        (PREFIX=/usr/local, LIBDIR, DESTDIR...: see mk/install.mk); make uninstall
#   make deb             build/heapkit_<version>_<arch>.deb (mk/deb.mk)
#   make example | tests | main | check | test_application, make -C src: the specs' own commands
#                        (mk/specs.mk)
# Options: OPT='-O2 -g' (optimisation), CC=clang, VALGRIND=1 (valgrind client requests).
# Each part of the tree adds its products in mk/<part>.mk by appending to LIBS, EXAMPLES, TESTS,
# HEADERS and BINS, using the object lists and flags defined here.

BUILD    ?= build
OPT      ?= -O2 -g
VALGRIND ?= 0
# The version is written in one place, HEAPKIT_VERSION in include/heapkit.h; hk_version(), the
# shared libraries' names, the pkg-config and CMake files, the man pages, the command and the
# Debian package all read it from there. SOVERSION, the first number, names the ABI (SONAME).
VERSION   := $(shell sed -n 's/^\#define HEAPKIT_VERSION "\([0-9.]*\)"$$/\1/p' include/heapkit.h)
SOVERSION := $(firstword $(subst ., ,$(VERSION)))
ifeq ($(VERSION),)
$(error cannot read HEAPKIT_VERSION from include/heapkit.h)
endif

WARN     := -Wall -Wextra -Werror
CPPFLAGS := -D_GNU_SOURCE -Iinclude -Isrc -DHEAPKIT_VALGRIND=$(VALGRIND)
# -fno-builtin-* stops the compiler from turning malloc+memset into a calloc call inside calloc.
LIB_CFLAGS := -std=c11 $(WARN) $(OPT) -fPIC -fvisibility=hidden -ftls-model=initial-exec \
	-fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free
SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
TEST_CFLAGS := -std=gnu11 $(WARN) -O1 -g -D_GNU_SOURCE -Iinclude -Isrc -Itests
TEST_LIBS   := -lcriterion -lpthread

BUILD_LIB := $(BUILD)/lib
BUILD_BIN := $(BUILD)/bin

# Shared libraries: each is built as $(BUILD_LIB)/libNAME.so.$(VERSION) with the SONAME
# libNAME.so.$(SOVERSION) and the usual links (libNAME.so.$(SOVERSION) -> libNAME.so.$(VERSION),
# libNAME.so -> libNAME.so.$(SOVERSION)), so LD_PRELOAD=$(BUILD_LIB)/libNAME.so and -lNAME work
# from the build tree. Its version script (src/front/exports/libNAME.map) lists exactly what it
# exports. Rules list $(call exports,libNAME) among the prerequisites and link
# $(filter %.o,$^) with $(call shlib_ldflags,libNAME). Every process that preloads a library
# pays for its pages, so they are few: relative relocations packed (DT_RELR, glibc 2.36) and
# libgcc's unwinder linked in rather than libgcc_s.so.1 loaded (about 130 KiB less resident).
exports = src/front/exports/$(1).map
shlib_ldflags = -Wl,-soname,$(1).so.$(SOVERSION) -Wl,--version-script,$(call exports,$(1)) \
	-Wl,-z,relro -Wl,-z,now -Wl,-z,pack-relative-relocs -static-libgcc

# obj/san map sources to objects: obj is the normal build, san the sanitizer build used by the
# tests of engines that are not the process's malloc.
obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
san = $(patsubst %.c,$(BUILD)/san/%.o,$(1))
# lto: link-time-optimised objects, so a malloc replacement's exported entry points (front end)
# inline the engine's fast path across files. Link such objects with $(LTO_LDFLAGS).
lto = $(patsubst %.c,$(BUILD)/lto/%.o,$(1))
LTO_FLAGS   := -flto=auto -fno-fat-lto-objects
LTO_LDFLAGS := $(LTO_FLAGS) $(OPT) -fPIC
# clang has no gcc-style LTO plugin setup here: it builds the same products from plain objects.
ifneq ($(findstring clang,$(shell $(CC) --version 2>/dev/null | head -n 1)),)
lto = $(call obj,$(1))
LTO_LDFLAGS := $(OPT) -fPIC
endif

# The lower layers every product links.
LOWER_SRC := $(wildcard src/os/*.c) $(wildcard src/core/*.c)
LOWER_OBJ := $(call obj,$(LOWER_SRC))
LOWER_SAN := $(call san,$(LOWER_SRC))
LOWER_LTO = $(call lto,$(LOWER_SRC))

LIBS     :=
EXAMPLES :=
TESTS    :=
HEADERS  :=
BINS     :=

.PHONY: all test bench clean demo format
# Keep every built file, so make prints nothing after the tests' closing summary line.
.SECONDARY:
all:

include $(sort $(wildcard mk/*.mk))

all: $(LIBS) $(EXAMPLES) $(BINS)

$(BUILD_LIB)/%.so.$(SOVERSION): $(BUILD_LIB)/%.so.$(VERSION)
	ln -sfn $(notdir $<) $@

$(BUILD_LIB)/%.so: $(BUILD_LIB)/%.so.$(SOVERSION)
	ln -sfn $(notdir $<) $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(LIB_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(LIB_CFLAGS) $(SAN_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/lto/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(LIB_CFLAGS) $(LTO_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests-san/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(SAN_FLAGS) -MMD -MP -c $< -o $@

test: all $(TESTS)
	@bash tests/run.sh $(TESTS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) src/libosmem.so

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
