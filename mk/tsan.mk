# ThreadSanitizer over the engines' threaded tests (docs/hardening.md).
# The engines' threaded tests built with -fsanitize=thread and linked to engine objects built
# the same way: the fast engine's own threaded tests (tests/test_fast_engine.c, those whose
# names speak of threads) and a threaded stress of the engine contract on each engine
# (tests/test_engine_threads.c, default and hardened mode). Criterion cannot start under TSan,
# so these build against tests/tsan_shim, a stand-in that runs each test in a child and prints
# Criterion's summary line. A data race fails the test that met it, except the known ones of
# tests/tsan_known_races.supp (reported to their owner).
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
TSAN_TEST_CFLAGS = -Itests/tsan_shim $(TEST_CFLAGS) $(TSAN_FLAGS) \
	-DSHIM_TSAN_SUPPRESSIONS='"$(CURDIR)/tests/tsan_known_races.supp"'
TSAN_FAST_FILTER := fast_engine/+(cross_thread*|exited_thread*|freeing_a_dead_thread*|threads_allocating*)

$(BUILD)/tsan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(LIB_CFLAGS) -O1 $(TSAN_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tsan/tests/test_fast_engine.o: tests/test_fast_engine.c mk/tsan.mk
	@mkdir -p $(dir $@)
	$(CC) $(TSAN_TEST_CFLAGS) -DSHIM_DEFAULT_FILTER='"$(TSAN_FAST_FILTER)"' -MMD -MP -c $< -o $@

$(BUILD)/tests/tsan_fast_engine: $(BUILD)/tsan/tests/test_fast_engine.o \
		$(patsubst %.c,$(BUILD)/tsan/%.o,$(FAST_SRC) $(wildcard src/prof/*.c) $(LOWER_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(TSAN_FLAGS) -o $@ $^ -lpthread

# $(1) engine, $(2) its sources
define tsan_engine_threads
$(BUILD)/tsan/tests/test_engine_threads_$(1).o: tests/test_engine_threads.c mk/tsan.mk
	@mkdir -p $$(dir $$@)
	$$(CC) $$(TSAN_TEST_CFLAGS) -DENGINE_$(1) -MMD -MP -c $$< -o $$@

$(BUILD)/tests/tsan_engine_threads_$(1): $(BUILD)/tsan/tests/test_engine_threads_$(1).o \
		$(patsubst %.c,$(BUILD)/tsan/%.o,$(2) $(LOWER_SRC))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(TSAN_FLAGS) -o $$@ $$^ -lpthread

TESTS += $(BUILD)/tests/tsan_engine_threads_$(1)
endef
$(eval $(call tsan_engine_threads,fast,$(FAST_SRC) $(wildcard src/prof/*.c)))
$(eval $(call tsan_engine_threads,buddy,$(BUDDY_SRC) $(wildcard src/prof/*.c)))

TESTS += $(BUILD)/tests/tsan_fast_engine
