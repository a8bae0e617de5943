# The buddy engine (spec 003): libheapkit-buddy.so (the malloc family over src/buddy) and its
# suites: the engine linked directly under ASan+UBSan, the library as the process's malloc,
# and real programs run with the library preloaded.
BUDDY_SRC := $(wildcard src/buddy/*.c)
BUDDY_FRONT_SRC := src/front/override.c src/front/override_cxx.c
BUDDY_LIB := $(LIBDIR)/libheapkit-buddy.so

# LTO lets malloc/free inline the engine's fast path across files. clang rejects gcc's
# -fno-fat-lto-objects (in LTO_FLAGS), so a clang build links plain objects.
ifneq ($(findstring clang,$(shell $(CC) --version 2>/dev/null | head -n 1)),)
buddy_objs = $(call obj,$(1))
BUDDY_LOWER := $(LOWER_OBJ)
BUDDY_LDFLAGS := $(OPT) -fPIC
else
buddy_objs = $(call lto,$(1))
BUDDY_LOWER := $(LOWER_LTO)
BUDDY_LDFLAGS := $(LTO_LDFLAGS)
endif

# The C++ operators must let a std::bad_alloc unwind through them.
$(call buddy_objs,src/front/override_cxx.c): LIB_CFLAGS += -fexceptions

# Only the malloc family and the C++ operators are exported (everything else is hidden).
$(BUDDY_LIB): $(call buddy_objs,$(BUDDY_FRONT_SRC) $(BUDDY_SRC)) $(BUDDY_LOWER)
	@mkdir -p $(dir $@)
	$(CC) -shared $(BUDDY_LDFLAGS) -Wl,-z,now -Wl,-z,relro -o $@ $^ -lpthread

LIBS += $(BUDDY_LIB)

# Engine unit tests: the engine's objects linked straight into the test, with sanitizers.
$(BUILD)/tests/test_buddy_engine: $(BUILD)/tests-san/test_buddy_engine.o $(call san,$(BUDDY_SRC)) \
		$(LOWER_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(TEST_LIBS)

# The library as this process's malloc (no sanitizer: it would replace malloc itself).
# -fno-builtin: the compiler must not reason malloc calls away (clang drops a malloc whose only
# use is a NULL check, and assumes it succeeded).
$(BUILD)/tests/test_buddy_override.o: TEST_CFLAGS += -fno-builtin
$(BUILD)/tests/test_buddy_override: $(BUILD)/tests/test_buddy_override.o $(BUDDY_LIB)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< -L$(LIBDIR) -l:libheapkit-buddy.so -Wl,-rpath,$(abspath $(LIBDIR)) $(TEST_LIBS)

# Real programs, preloaded through an absolute path.
$(BUILD)/tests/test_buddy_programs.o: TEST_CFLAGS += \
	-DBUDDY_PRELOAD='"LD_PRELOAD=$(abspath $(BUDDY_LIB))"' -DBUDDY_SOURCE_DIR='"$(CURDIR)"'
$(BUILD)/tests/test_buddy_programs: $(BUILD)/tests/test_buddy_programs.o | $(BUDDY_LIB)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(TEST_LIBS)

TESTS += $(BUILD)/tests/test_buddy_engine $(BUILD)/tests/test_buddy_override \
	$(BUILD)/tests/test_buddy_programs

# A small workload for measuring the engine against glibc (see src/buddy/README.md).
$(BUILD)/examples/buddy_workload: tests/buddy_workload.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -O2 -o $@ $< -lpthread

EXAMPLES += $(BUILD)/examples/buddy_workload
