# Lower layers (src/os, src/core): their unit tests, built with AddressSanitizer and UBSan.
CORE_TEST_SRC := tests/test_core_fmt.c tests/test_core_options.c tests/test_core_lock.c \
	tests/test_os_sys.c tests/test_core_stats.c tests/test_core_walk.c tests/test_core_harden.c

$(BUILD)/tests/test_core: $(patsubst tests/%.c,$(BUILD)/tests-san/%.o,$(CORE_TEST_SRC)) $(LOWER_SAN) \
		| $(BUILD)/tests/helper_single_fork
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $(filter %.o,$^) $(TEST_LIBS)

$(BUILD)/tests/helper_single_fork: $(BUILD)/tests-san/helper_single_fork.o $(LOWER_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ -lpthread

TESTS += $(BUILD)/tests/test_core
