# The sampling heap profiler (src/prof, on the core layer): linked into both malloc
# replacements and into the engine suites whose engine calls it, and tested by test_prof_unit
# (the profiler's objects with ASan+UBSan).
# The profiler walks stacks with libgcc's unwinder: the libraries gain libgcc_s.so.1, which the
# compiler drivers link by themselves.
PROF_SRC := $(wildcard src/prof/*.c)

# Extra prerequisites of the products' rules, which link every object among them ($^).
$(BUDDY_LIB).$(VERSION) $(BUILD_LIB)/libheapkit.so.$(VERSION): $(call lto,$(PROF_SRC))
$(BUILD_LIB)/libheapkit.a: $(call obj,$(PROF_SRC))
$(BUILD)/tests/test_buddy_engine: $(call san,$(PROF_SRC))

# Unit tests: the arithmetic, the tables, stack capture and the dump files, with the profiler
# started directly (prof_start_for_tests).
$(BUILD)/tests/test_prof_unit: $(BUILD)/tests-san/test_prof_unit.o $(call san,$(PROF_SRC)) \
		$(LOWER_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -rdynamic -o $@ $^ $(TEST_LIBS) -lm

TESTS += $(BUILD)/tests/test_prof_unit
