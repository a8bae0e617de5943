# The buddy engine (spec 003): libheapkit-buddy.so (the malloc family over src/buddy) and its
# suites: the engine linked directly under ASan+UBSan, the library as the process's malloc,
# (real programs run with the library preloaded are in the cross-engine suites, mk/override.mk).
BUDDY_SRC := $(wildcard src/buddy/*.c)
BUDDY_FRONT_SRC := src/front/override.c src/front/override_cxx.c src/front/heap_dump.c
BUDDY_LIB := $(BUILD_LIB)/libheapkit-buddy.so

# LTO lets malloc/free inline the engine's fast path across files (plain objects under clang,
# see the Makefile's lto).
# The C++ operators must let a std::bad_alloc unwind through them.
$(call lto,src/front/override_cxx.c): LIB_CFLAGS += -fexceptions

# Only the malloc family and the C++ operators are exported (everything else is hidden).
$(BUDDY_LIB).$(VERSION): $(call lto,$(BUDDY_FRONT_SRC) $(BUDDY_SRC)) $(LOWER_LTO) \
		$(call exports,libheapkit-buddy)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LTO_LDFLAGS) $(call shlib_ldflags,libheapkit-buddy) -o $@ \
		$(filter %.o,$^) -lpthread

LIBS += $(BUDDY_LIB)

# Engine unit tests: the engine's objects linked straight into the test, with sanitizers.
$(BUILD)/tests/test_buddy_engine: $(BUILD)/tests-san/test_buddy_engine.o $(call san,$(BUDDY_SRC)) \
		$(LOWER_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(TEST_LIBS)

# The library as this process's malloc (no sanitizer: it would replace malloc itself).
# -fno-builtin: the compiler must not reason malloc calls away (clang drops a malloc whose only
# use is a NULL check, and assumes it succeeded).
# It runs buddy_workload under strace with the library preloaded.
$(BUILD)/tests/test_buddy_override.o: TEST_CFLAGS += -fno-builtin \
	-DHK_BUDDY_LIB='"$(abspath $(BUDDY_LIB))"'
$(BUILD)/tests/test_buddy_override.o: mk/buddy.mk
$(BUILD)/tests/test_buddy_override: $(BUILD)/tests/test_buddy_override.o $(BUDDY_LIB) \
		| $(BUILD)/examples/buddy_workload
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< -L$(BUILD_LIB) -l:libheapkit-buddy.so -Wl,-rpath,$(abspath $(BUILD_LIB)) $(TEST_LIBS)

# Real programs under LD_PRELOAD: the cross-engine suite in mk/override.mk.
TESTS += $(BUILD)/tests/test_buddy_engine $(BUILD)/tests/test_buddy_override

# A small workload for measuring the engine against glibc (see src/buddy/README.md).
$(BUILD)/examples/buddy_workload: tests/buddy_workload.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -O2 -o $@ $< -lpthread

EXAMPLES += $(BUILD)/examples/buddy_workload

# The heap walk: its totals against the statistics, the heap map as JSON (runs python3).
$(BUILD)/tests/test_buddy_walk: $(BUILD)/tests-san/test_buddy_walk.o $(call san,$(BUDDY_SRC)) \
		$(LOWER_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(TEST_LIBS)

TESTS += $(BUILD)/tests/test_buddy_walk
