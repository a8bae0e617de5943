# Valgrind suite: the list heap's and the page families' example programs, and a randomized
# workload through the list heap's three seed APIs (tests/helper_list_workload.c, linked with
# their objects), each run under memcheck. Built without sanitizers: valgrind runs them.
# The same helper is linked a second time with objects that make valgrind client requests
# ($(BUILD)/vg, as `make VALGRIND=1` builds them; needs valgrind's headers), so that memcheck
# sees misuse inside the list heap: use after free, writes into free blocks, reads of
# uninitialised bytes, lost blocks.

VG_EXAMPLES := $(addprefix $(BUILD)/examples/,osmem_example chunks_example pool_main \
	list_stats_demo test_application)
VG_HELPER := $(BUILD)/tests/helper_list_workload

$(VG_HELPER): $(BUILD)/tests/helper_list_workload.o $(call obj,$(OSMEM_SRC)) \
		$(call obj,src/front/chunks.c src/front/pool.c) $(LOWER_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ -lpthread

VG_CPPFLAGS := $(filter-out -DHEAPKIT_VALGRIND=%,$(CPPFLAGS)) -DHEAPKIT_VALGRIND=1
VG_LIST_SRC := $(OSMEM_SRC) src/front/chunks.c src/front/pool.c $(LOWER_SRC)

$(BUILD)/vg/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(VG_CPPFLAGS) $(LIB_CFLAGS) -MMD -MP -c $< -o $@

$(VG_HELPER)_vg: $(BUILD)/tests/helper_list_workload.o $(patsubst %.c,$(BUILD)/vg/%.o,$(VG_LIST_SRC))
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ -lpthread

# libheapkit and libheapkit-buddy with client requests, preloaded into a program under
# memcheck.
VG_HEAPKIT_OBJ := $(patsubst %.c,$(BUILD)/vg/%.o,$(HEAPKIT_SRC) $(LOWER_SRC))
$(BUILD)/vg/src/front/override_cxx.o: LIB_CFLAGS += -fexceptions
$(BUILD)/vg/libheapkit.so: $(VG_HEAPKIT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $^ -Wl,-z,now -lpthread

VG_BUDDY_OBJ := $(patsubst %.c,$(BUILD)/vg/%.o,$(BUDDY_FRONT_SRC) $(BUDDY_SRC) $(LOWER_SRC) \
	$(PROF_SRC))
$(BUILD)/vg/libheapkit-buddy.so: $(VG_BUDDY_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $^ -Wl,-z,now -lpthread

$(BUILD)/tests/helper_vg_malloc: tests/helper_vg_malloc.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -fno-builtin -O0 -o $@ $< -lpthread

$(BUILD)/tests/test_valgrind: $(BUILD)/tests/test_valgrind.o | $(VG_HELPER) $(VG_HELPER)_vg \
		$(VG_EXAMPLES) $(BUILD)/vg/libheapkit.so $(BUILD)/vg/libheapkit-buddy.so \
		$(BUILD)/tests/helper_vg_malloc
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(TEST_LIBS)

TESTS += $(BUILD)/tests/test_valgrind

# valgrind 3.19 (Debian 12) cannot read the DWARF 5 that clang 14 emits by default, and gives
# up on such a binary; clang builds therefore emit DWARF 4 (only the debug format changes).
ifneq ($(findstring clang,$(shell $(CC) --version 2>/dev/null | head -n 1)),)
LIB_CFLAGS += -gdwarf-4
TEST_CFLAGS += -gdwarf-4
LIST_EXAMPLE_CFLAGS += -gdwarf-4
OPT += -gdwarf-4
endif
