# The list heap (src/list) and its three seed front ends (src/front/{osmem,chunks,pool}.c):
# libosmem.so (spec 001), libmemory_allocation.so/.a (spec 000), libmemalloc.so (spec 002),
# their examples, and their Criterion suites (ASan+UBSan: none of them is the process's malloc).

LIST_SRC   := src/list/list.c src/list/list_check.c
OSMEM_SRC  := src/front/osmem.c $(LIST_SRC)
CHUNKS_SRC := src/front/chunks.c $(LIST_SRC)
POOL_SRC   := src/front/pool.c $(LIST_SRC)

LIST_EXAMPLE_CFLAGS := -std=gnu11 $(WARN) $(OPT) -D_GNU_SOURCE -Iinclude -Isrc
# $(1) library path: link flags that find it at run time from the build tree
list_link = -L$(dir $(1)) -l:$(notdir $(1)) -Wl,-rpath,$(abspath $(dir $(1)))

$(BUILD_LIB)/libosmem.so.$(VERSION): $(call obj,$(OSMEM_SRC)) $(LOWER_OBJ) $(call exports,libosmem)
	@mkdir -p $(dir $@)
	$(CC) -shared $(call shlib_ldflags,libosmem) -o $@ $(filter %.o,$^) -lpthread

$(BUILD_LIB)/libmemory_allocation.so.$(VERSION): $(call obj,$(CHUNKS_SRC)) $(LOWER_OBJ) \
		$(call exports,libmemory_allocation)
	@mkdir -p $(dir $@)
	$(CC) -shared $(call shlib_ldflags,libmemory_allocation) -o $@ $(filter %.o,$^) -lpthread

$(BUILD_LIB)/libmemory_allocation.a: $(call obj,$(CHUNKS_SRC)) $(LOWER_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD_LIB)/libmemalloc.so.$(VERSION): $(call obj,$(POOL_SRC)) $(LOWER_OBJ) \
		$(call exports,libmemalloc)
	@mkdir -p $(dir $@)
	$(CC) -shared $(call shlib_ldflags,libmemalloc) -o $@ $(filter %.o,$^) -lpthread

LIBS += $(BUILD_LIB)/libosmem.so $(BUILD_LIB)/libmemory_allocation.so $(BUILD_LIB)/libmemory_allocation.a \
	$(BUILD_LIB)/libmemalloc.so
HEADERS += include/osmem.h include/block_meta.h include/memory_allocation.h include/memalloc.h

# Examples: the seeds' own programs (unchanged) against the shared libraries, plus a syscall
# walk-through of libosmem and a statistics demo linked with the objects (it reads the heap's
# internal counters, which the shared library does not export).
$(BUILD)/examples/osmem_example: examples/osmem_example.c $(BUILD_LIB)/libosmem.so
	@mkdir -p $(dir $@)
	$(CC) $(LIST_EXAMPLE_CFLAGS) -o $@ $< $(call list_link,$(BUILD_LIB)/libosmem.so)

$(BUILD)/examples/chunks_example: examples/chunks_example.c $(BUILD_LIB)/libmemory_allocation.so
	@mkdir -p $(dir $@)
	$(CC) $(LIST_EXAMPLE_CFLAGS) -o $@ $< $(call list_link,$(BUILD_LIB)/libmemory_allocation.so)

$(BUILD)/examples/pool_main: examples/pool_main.c $(BUILD_LIB)/libmemalloc.so
	@mkdir -p $(dir $@)
	$(CC) $(LIST_EXAMPLE_CFLAGS) -o $@ $< $(call list_link,$(BUILD_LIB)/libmemalloc.so)

$(BUILD)/examples/list_stats_demo: examples/list_stats_demo.c $(call obj,$(OSMEM_SRC)) \
		$(call obj,src/front/chunks.c src/front/pool.c) $(LOWER_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LIST_EXAMPLE_CFLAGS) -o $@ $^ -lpthread

EXAMPLES += $(BUILD)/examples/osmem_example $(BUILD)/examples/chunks_example \
	$(BUILD)/examples/pool_main $(BUILD)/examples/list_stats_demo

# Tests. test_list_osmem runs osmem_example under strace and opens libosmem.so, so it knows
# where they are.
$(BUILD)/tests-san/test_list_osmem.o: TEST_CFLAGS += \
	-DLIST_EXAMPLES_DIR='"$(abspath $(BUILD))/examples"' -DLIST_LIB_DIR='"$(abspath $(BUILD_LIB))"'

$(BUILD)/tests/test_list_heap: $(BUILD)/tests-san/test_list_heap.o $(call san,$(LIST_SRC)) $(LOWER_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(TEST_LIBS)

$(BUILD)/tests/test_list_osmem: $(BUILD)/tests-san/test_list_osmem.o $(call san,$(OSMEM_SRC)) \
		$(LOWER_SAN) | $(BUILD)/examples/osmem_example $(BUILD_LIB)/libosmem.so
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(TEST_LIBS)

$(BUILD)/tests/test_list_chunks: $(BUILD)/tests-san/test_list_chunks.o $(call san,$(CHUNKS_SRC)) \
		$(LOWER_SAN) | $(BUILD)/tests/helper_chunks_late_free
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $(filter %.o,$^) $(TEST_LIBS)

# Uses memory_allocation after the library's destructor (test_list_chunks runs it): linked with
# the static library, whose destructor is then one of the program's own.
$(BUILD)/tests/helper_chunks_late_free: $(BUILD)/tests/helper_chunks_late_free.o \
		$(BUILD_LIB)/libmemory_allocation.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ -lpthread -ldl

$(BUILD)/tests/test_list_pool: $(BUILD)/tests-san/test_list_pool.o $(call san,$(POOL_SRC)) $(LOWER_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(TEST_LIBS)

TESTS += $(BUILD)/tests/test_list_heap $(BUILD)/tests/test_list_osmem \
	$(BUILD)/tests/test_list_chunks $(BUILD)/tests/test_list_pool

# The heap walk of the three front ends (runs python3 to read the maps).
$(BUILD)/tests/test_list_walk: $(BUILD)/tests-san/test_list_walk.o \
		$(call san,src/front/osmem.c src/front/chunks.c src/front/pool.c $(LIST_SRC)) $(LOWER_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(TEST_LIBS)

TESTS += $(BUILD)/tests/test_list_walk
