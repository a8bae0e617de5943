# The fast engine and libheapkit: the standard malloc family (src/front) over src/fast, plus
# the hk_* API. The shared library is linked from LTO objects so that malloc and free inline
# the engine's fast paths across files (plain objects under clang: see the Makefile's lto); the
# static library uses plain objects, so any linker can use it.

FAST_SRC     := $(wildcard src/fast/*.c)
HEAPKIT_SRC  := src/front/override.c src/front/override_cxx.c src/front/hk_api.c \
	src/front/heap_dump.c $(FAST_SRC)

# operator new must let a std::bad_alloc unwind through it.
$(call lto,src/front/override_cxx.c) $(call obj,src/front/override_cxx.c): LIB_CFLAGS += -fexceptions

# Exported: the malloc family, the C++ operators and hk_* (everything else is hidden).
$(BUILD_LIB)/libheapkit.so.$(VERSION): $(call lto,$(HEAPKIT_SRC)) $(LOWER_LTO) \
		$(call exports,libheapkit)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $(filter %.o,$^) $(LTO_LDFLAGS) $(call shlib_ldflags,libheapkit) \
		-lpthread

$(BUILD_LIB)/libheapkit.a: $(call obj,$(HEAPKIT_SRC)) $(LOWER_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# Engine unit tests: the engine linked directly (it is not the process's malloc here, so it is
# built with ASan and UBSan).
$(BUILD)/tests/test_fast_engine: $(BUILD)/tests-san/test_fast_engine.o $(call san,$(FAST_SRC)) $(LOWER_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(TEST_LIBS)

$(BUILD)/tests/test_fast_huge: $(BUILD)/tests-san/test_fast_huge.o $(call san,$(FAST_SRC)) $(LOWER_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(TEST_LIBS)

# The heap walk and map: the engine linked directly.
$(BUILD)/tests/test_fast_walk: $(BUILD)/tests-san/test_fast_walk.o $(call san,$(FAST_SRC)) $(LOWER_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(TEST_LIBS)

# A program's own heaps: the engine and the hk_* API linked directly.
$(BUILD)/tests/test_fast_heaps: $(BUILD)/tests-san/test_fast_heaps.o $(call san,$(FAST_SRC)) \
		$(call san,src/front/hk_api.c) $(LOWER_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(TEST_LIBS)

# The hardened mode and the default mode's checks: the engine linked directly.
$(BUILD)/tests/test_fast_harden: $(BUILD)/tests-san/test_fast_harden.o $(call san,$(FAST_SRC)) \
		$(LOWER_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(TEST_LIBS)

LIBS     += $(BUILD_LIB)/libheapkit.so $(BUILD_LIB)/libheapkit.a
HEADERS  += include/heapkit.h
TESTS    += $(BUILD)/tests/test_fast_engine $(BUILD)/tests/test_fast_huge \
	$(BUILD)/tests/test_fast_heaps $(BUILD)/tests/test_fast_walk $(BUILD)/tests/test_fast_harden
