# Fuzzing (tests/fuzz_heap.c, docs/hardening.md).
# One libFuzzer binary per engine, $(BUILD)/fuzz/fuzz_<engine>: the engine's sources and the
# driver built by clang with coverage, AddressSanitizer and UBSan. Built when clang is
# installed (tools/deps.sh test installs it with its runtime); test_fuzz runs each for a bounded
# number of inputs from a fixed seed. `make fuzz FUZZ_SECONDS=3600` runs each for that long
# (corpora kept in $(BUILD)/fuzz/corpus-<engine>); docs/hardening.md has more.
FUZZ_CC      ?= clang
FUZZ_FOUND   := $(shell command -v $(FUZZ_CC) 2>/dev/null)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_ENGINES := fast buddy list family
FUZZ_SRC_fast   := $(FAST_SRC) $(wildcard src/prof/*.c)
FUZZ_SRC_buddy  := $(BUDDY_SRC) $(wildcard src/prof/*.c)
FUZZ_SRC_list   := src/front/osmem.c src/front/chunks.c src/front/pool.c $(wildcard src/list/*.c)
FUZZ_SRC_family := $(FAMILY_SRC)
FUZZ_BINS    := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_ENGINES))
FUZZ_SECONDS ?= 60

# clang's flags only (-gdwarf-4 and the rest of LIB_CFLAGS suit both compilers).
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(LIB_CFLAGS) -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP \
		-c $< -o $@

# $(1) engine (explicit rules: a pattern with a fixed prerequisite would also match the
# dependency files make tries to remake)
define fuzz_binary
$(BUILD)/fuzz/fuzz_$(1).o: tests/fuzz_heap.c
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) $$(TEST_CFLAGS) $$(FUZZ_SAN) -fsanitize=fuzzer-no-link \
		-DFUZZ_ENGINE_$(shell echo $(1) | tr a-z A-Z) -MMD -MP -c $$< -o $$@

$(BUILD)/fuzz/fuzz_$(1): $(BUILD)/fuzz/fuzz_$(1).o \
		$(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(FUZZ_SRC_$(1)) $(LOWER_SRC))
	$$(FUZZ_CC) $$(FUZZ_SAN) -fsanitize=fuzzer -o $$@ $$^ -lpthread
endef
$(foreach e,$(FUZZ_ENGINES),$(eval $(call fuzz_binary,$(e))))

$(BUILD)/tests/test_fuzz.o: TEST_CFLAGS += -DHK_BUILD_DIR='"$(abspath $(BUILD))"'
$(BUILD)/tests/test_fuzz.o: mk/fuzz.mk
$(BUILD)/tests/test_fuzz: $(BUILD)/tests/test_fuzz.o | $(FUZZ_BINS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(TEST_LIBS)

.PHONY: fuzz-build fuzz
fuzz-build: $(FUZZ_BINS)
fuzz: $(FUZZ_BINS)
	for e in $(FUZZ_ENGINES); do mkdir -p $(BUILD)/fuzz/corpus-$$e && \
		$(BUILD)/fuzz/fuzz_$$e -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		-print_final_stats=1 $(BUILD)/fuzz/corpus-$$e || exit 1; done

ifneq ($(FUZZ_FOUND),)
TESTS += $(BUILD)/tests/test_fuzz
endif
