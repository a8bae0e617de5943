# Hardening (docs/hardening.md): the misuse cases of tests/misuse_cases.h run under every product
# and mode (test_misuse_cases), and the table of what each stops, for docs/hardening.md
# (make misuse-table). The fuzz targets are in mk/fuzz.mk, the ThreadSanitizer runs in mk/tsan.mk.

# The cases run in a helper that links no heapkit: LD_PRELOAD picks the malloc (none: glibc's).
# -fno-builtin: the compiler must keep every call the misuse is made of.
$(BUILD)/tests/helper_misuse_cases: tests/helper_misuse_cases.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -fno-builtin -o $@ $< -ldl

$(BUILD)/tests/test_misuse_cases.o $(BUILD)/tests/misuse_table.o: TEST_CFLAGS += \
	-DHK_BUILD_DIR='"$(abspath $(BUILD))"' -DHK_SOURCE_DIR='"$(CURDIR)"'
$(BUILD)/tests/test_misuse_cases.o $(BUILD)/tests/misuse_table.o: mk/harden.mk

MISUSE_LIBS := $(BUILD_LIB)/libheapkit.so $(BUILD_LIB)/libheapkit-secure.so \
	$(BUILD_LIB)/libheapkit-buddy.so

$(BUILD)/tests/test_misuse_cases: $(BUILD)/tests/test_misuse_cases.o \
		| $(BUILD)/tests/helper_misuse_cases $(MISUSE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(TEST_LIBS)

$(BUILD)/tests/misuse_table: $(BUILD)/tests/misuse_table.o \
		| $(BUILD)/tests/helper_misuse_cases $(MISUSE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^

TESTS += $(BUILD)/tests/test_misuse_cases

# The table of docs/hardening.md, from real runs (glibc's column too).
.PHONY: misuse-table
misuse-table: $(BUILD)/tests/misuse_table
	@$(BUILD)/tests/misuse_table
