# The sampling heap profiler (src/prof, on the core layer): linked into both malloc
# replacements (their front end dumps it at exit and exports hk_prof_dump), into the engine
# suites whose engine calls it, and tested by test_prof_unit (the profiler's objects with
# ASan+UBSan) and test_prof (programs on libheapkit-buddy.so with HEAPKIT_PROF=1).
# The profiler walks stacks with libgcc's unwinder, linked into the libraries statically
# (-static-libgcc in shlib_ldflags): no process pays for loading libgcc_s.so.1 (about 100 KiB
# of resident pages) for a profiler that is off.
PROF_SRC := $(wildcard src/prof/*.c)

# Extra prerequisites of the products' rules, which link every object among them ($^).
$(BUDDY_LIB).$(VERSION) $(BUILD_LIB)/libheapkit.so.$(VERSION): $(call lto,$(PROF_SRC))
$(BUILD_LIB)/libheapkit.a: $(call obj,$(PROF_SRC))
$(BUILD)/tests/test_buddy_engine $(BUILD)/tests/test_fast_engine $(BUILD)/tests/test_fast_huge \
	$(BUILD)/tests/test_fast_walk $(BUILD)/tests/test_fast_heaps $(BUILD)/tests/test_buddy_walk \
	$(BUILD)/tests/test_fast_harden: \
	$(call san,$(PROF_SRC))
$(BUILD)/vg/libheapkit.so: $(patsubst %.c,$(BUILD)/vg/%.o,$(PROF_SRC))

# Unit tests: the arithmetic, the tables, stack capture and the dump files, with the profiler
# started directly (prof_start_for_tests).
$(BUILD)/tests/test_prof_unit: $(BUILD)/tests-san/test_prof_unit.o $(call san,$(PROF_SRC)) \
		$(LOWER_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -rdynamic -o $@ $^ $(TEST_LIBS) -lm

# The profile of programs with known allocation sites (tests/helper_prof_sites.c, linked with
# libheapkit-buddy.so so that it is their malloc), read back by the test, by google-pprof, and
# from the folded file.
$(BUILD)/tests/helper_prof_sites: tests/helper_prof_sites.c $(BUDDY_LIB) include/heapkit.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -fno-builtin -o $@ $< -L$(BUILD_LIB) -l:libheapkit-buddy.so \
		-Wl,-rpath,$(abspath $(BUILD_LIB)) -lpthread

$(BUILD)/tests/helper_prof_sites_fast: tests/helper_prof_sites.c $(BUILD_LIB)/libheapkit.so \
		include/heapkit.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -fno-builtin -o $@ $< -L$(BUILD_LIB) -l:libheapkit.so \
		-Wl,-rpath,$(abspath $(BUILD_LIB)) -lpthread

$(BUILD)/tests/test_prof.o: TEST_CFLAGS += -DHK_BUILD_DIR='"$(abspath $(BUILD))"'
$(BUILD)/tests/test_prof: $(BUILD)/tests/test_prof.o | $(BUILD)/tests/helper_prof_sites \
		$(BUILD)/tests/helper_prof_sites_fast
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(TEST_LIBS) -lm

TESTS += $(BUILD)/tests/test_prof_unit $(BUILD)/tests/test_prof
