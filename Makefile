# heapkit — the one build entry point.
#   make                 every library, example and tool        (build/lib, build/bin)
#   make test            builds and runs every test suite       (tests/run.sh sums the results)
#   make bench           benchmarks against glibc and the peers (see bench/README.md)
#   make install PREFIX=/usr/local
#   make example | tests | main | check | test_application, make -C src: the specs' own commands
#                        (mk/specs.mk)
# Options: OPT='-O2 -g' (optimisation), CC=clang, VALGRIND=1 (valgrind client requests).
# Each part of the tree adds its products in mk/<part>.mk by appending to LIBS, EXAMPLES, TESTS,
# HEADERS and BINS, using the object lists and flags defined here.

BUILD    ?= build
PREFIX   ?= /usr/local
OPT      ?= -O2 -g
VALGRIND ?= 0
VERSION  := 0.1.0

WARN     := -Wall -Wextra -Werror
CPPFLAGS := -D_GNU_SOURCE -Iinclude -Isrc -DHEAPKIT_VALGRIND=$(VALGRIND)
# -fno-builtin-* stops the compiler from turning malloc+memset into a calloc call inside calloc.
LIB_CFLAGS := -std=c11 $(WARN) $(OPT) -fPIC -fvisibility=hidden -ftls-model=initial-exec \
	-fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free
SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
TEST_CFLAGS := -std=gnu11 $(WARN) -O1 -g -D_GNU_SOURCE -Iinclude -Isrc -Itests
TEST_LIBS   := -lcriterion -lpthread

LIBDIR := $(BUILD)/lib
BINDIR := $(BUILD)/bin

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

.PHONY: all test bench install clean demo format FORCE
# Keep every built file, so make prints nothing after the tests' closing summary line.
.SECONDARY:
all:

include $(sort $(wildcard mk/*.mk))

all: $(LIBS) $(EXAMPLES) $(BINS) $(BUILD)/heapkit.pc

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

$(BUILD)/heapkit.pc: FORCE
	@rm -f $@
	@mkdir -p $(dir $@)
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: heapkit\nDescription: heapkit memory allocators\nVersion: %s\nLibs: -L$${libdir} -lheapkit\nLibs.private: -lpthread\nCflags: -I$${includedir}/heapkit\n' \
		'$(PREFIX)' '$(VERSION)' > $@

test: all $(TESTS)
	@bash tests/run.sh $(TESTS)

install: all
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/heapkit $(DESTDIR)$(PREFIX)/bin
	$(if $(filter %.a,$(LIBS)),install -m 644 $(filter %.a,$(LIBS)) $(DESTDIR)$(PREFIX)/lib/)
	$(if $(filter %.so,$(LIBS)),install -m 755 $(filter %.so,$(LIBS)) $(DESTDIR)$(PREFIX)/lib/)
	$(if $(HEADERS),install -m 644 $(HEADERS) $(DESTDIR)$(PREFIX)/include/heapkit/)
	install -m 644 $(BUILD)/heapkit.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	$(if $(BINS),install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) src/libosmem.so

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
