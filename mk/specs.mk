# The specs' own build commands, for a user who follows a spec's README: each is a thin entry
# into this build (no second way to compile anything). tests/test_spec_commands.c runs them all.
#   make example           spec 000: builds and runs its example program
#   make tests             spec 000: builds and runs its tests (test_list_chunks)
#   make -C src            spec 001: builds libosmem.so in src/ (src/Makefile)
#   make main              spec 002: builds and runs its main demo program
#   make test              spec 002: the spec's "run the test suite" is every suite, 002's included
#   make check             spec 003: t-test1-style threads and single-thread tests on the buddy
#                          library, with its sbrk heap and with HEAPKIT_BUDDY_CHUNKS=1
#   make test_application  spec 004: builds and runs the test application

.PHONY: example tests main check test_application

example: $(BUILD)/examples/chunks_example
	$(BUILD)/examples/chunks_example && echo "chunks_example: ok"

tests: $(BUILD)/tests/test_list_chunks
	@bash tests/run.sh $(BUILD)/tests/test_list_chunks

main: $(BUILD)/examples/pool_main
	$(BUILD)/examples/pool_main

test_application: $(FAMILY_APP)
	$(FAMILY_APP)

# make check: the programs link libheapkit-buddy.so, so it is their malloc. -fno-builtin: the
# compiler must not reason the calls under test away.
SPEC_CHECK_PROGRAMS := $(BUILD)/tests/check_test1 $(BUILD)/tests/check_t_test1

$(SPEC_CHECK_PROGRAMS): $(BUILD)/tests/%: tests/%.c $(BUDDY_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -fno-builtin -o $@ $< -L$(BUILD_LIB) -l:libheapkit-buddy.so \
		-Wl,-rpath,$(abspath $(BUILD_LIB)) -lpthread

check: $(SPEC_CHECK_PROGRAMS)
	$(BUILD)/tests/check_test1
	$(BUILD)/tests/check_t_test1
	HEAPKIT_BUDDY_CHUNKS=1 $(BUILD)/tests/check_test1
	HEAPKIT_BUDDY_CHUNKS=1 $(BUILD)/tests/check_t_test1

# The suite that runs the commands above (each in a make of its own, one at a time).
$(BUILD)/tests/test_spec_commands.o: TEST_CFLAGS += -DHK_SOURCE_DIR='"$(CURDIR)"' \
	-DHK_BUILD_DIR='"$(BUILD)"' -DHK_CC='"$(CC)"'
$(BUILD)/tests/test_spec_commands.o: mk/specs.mk
$(BUILD)/tests/test_spec_commands: $(BUILD)/tests/test_spec_commands.o | $(SPEC_CHECK_PROGRAMS) \
		$(BUILD)/tests/test_list_chunks $(BUILD_LIB)/libosmem.so $(BUILD)/examples/chunks_example \
		$(BUILD)/examples/pool_main $(FAMILY_APP)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(filter %.o,$^) $(TEST_LIBS) -ldl

TESTS += $(BUILD)/tests/test_spec_commands
