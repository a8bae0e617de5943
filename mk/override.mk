# Cross-engine suites for every malloc-replacement product: API conformance and misuse, threads
# and fork (test_override_<product>, linked against the product so it is the process's malloc),
# and real programs under LD_PRELOAD (test_programs_<product>). A product is tested when its
# engine's sources are in the tree.

# -fno-builtin: the compiler must not reason allocation calls away (clang drops a malloc whose
# only use is a NULL check, and assumes it succeeded).
# $(1) product name, $(2) library path
define override_suite
$(BUILD)/tests/$(1)/%.o: tests/%.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(TEST_CFLAGS) -fno-builtin -DHK_PRODUCT_NAME='"$(1)"' -DHK_PRODUCT_LIB='"$(abspath $(2))"' \
		-DHK_SOURCE_DIR='"$(CURDIR)"' -MMD -MP -c $$< -o $$@

$(BUILD)/tests/test_override_$(1): $(BUILD)/tests/$(1)/test_override_api.o \
		$(BUILD)/tests/$(1)/test_override_threads.o $(2) \
		| $(BUILD)/tests/helper_misuse_$(1) $(BUILD)/tests/helper_signal_fork_$(1)
	@mkdir -p $$(dir $$@)
	$$(CC) -o $$@ $$(filter %.o,$$^) -L$(dir $(2)) -l:$(notdir $(2)) \
		-Wl,-rpath,$(abspath $(dir $(2))) $$(TEST_LIBS) -ldl

$(BUILD)/tests/helper_%_$(1): $(BUILD)/tests/$(1)/helper_%.o $(2)
	@mkdir -p $$(dir $$@)
	$$(CC) -o $$@ $$< -L$(dir $(2)) -l:$(notdir $(2)) -Wl,-rpath,$(abspath $(dir $(2))) -lpthread

$(BUILD)/tests/test_programs_$(1): $(BUILD)/tests/$(1)/test_programs.o | $(2)
	@mkdir -p $$(dir $$@)
	$$(CC) -o $$@ $$^ $$(TEST_LIBS)

TESTS += $(BUILD)/tests/test_override_$(1) $(BUILD)/tests/test_programs_$(1)
endef

ifneq ($(wildcard src/fast/*.c),)
$(eval $(call override_suite,heapkit,$(BUILD_LIB)/libheapkit.so))
endif
ifneq ($(wildcard src/buddy/*.c),)
$(eval $(call override_suite,heapkit-buddy,$(BUILD_LIB)/libheapkit-buddy.so))
endif
