# libheapkit-secure.so: libheapkit built with -DHK_HARDEN_ALWAYS=1 (core/harden.h), so its
# hardened mode is on from the first allocation and cannot be turned off — what
# HEAPKIT_HARDEN=1 turns on at run time in libheapkit.so, and whatever the fast engine compiles
# in when the define is set. The same sources, exports and C++ operators as libheapkit.so
# (mk/fast.mk), objects of its own in $(BUILD)/secure. bench/run.py measures it as
# heapkit-secure when it is built.

SECURE_LIB := $(BUILD_LIB)/libheapkit-secure.so
secure_obj = $(patsubst %.c,$(BUILD)/secure/%.o,$(1))
# LTO as for libheapkit.so where the compiler has it (gcc), plain objects otherwise (clang).
SECURE_LTO_FLAGS := $(if $(filter $(BUILD)/lto/%,$(call lto,x.c)),$(LTO_FLAGS))

$(BUILD)/secure/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DHK_HARDEN_ALWAYS=1 $(LIB_CFLAGS) $(SECURE_LTO_FLAGS) -MMD -MP -c $< -o $@

$(call secure_obj,src/front/override_cxx.c): LIB_CFLAGS += -fexceptions

$(SECURE_LIB).$(VERSION): $(call secure_obj,$(HEAPKIT_SRC) $(LOWER_SRC)) \
		$(call exports,libheapkit-secure)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $(filter %.o,$^) $(LTO_LDFLAGS) $(call shlib_ldflags,libheapkit-secure) \
		-lpthread

LIBS += $(SECURE_LIB)
PC_DESCRIPTION_heapkit-secure := the fast malloc of heapkit built hardened (canaries, quarantine, checks)
PC_PRIVATE_heapkit-secure := -lpthread

# The cross-engine API, misuse, thread and fork suite (mk/override.mk) on it. Real programs run
# under it in test_misuse_cases (mk/harden.mk): its statistics carry the fast engine's name.
$(eval $(call override_suite,heapkit-secure,$(SECURE_LIB)))
TESTS := $(filter-out $(BUILD)/tests/test_programs_heapkit-secure,$(TESTS))

# The heap profiler, as in libheapkit.so (mk/prof.mk).
$(SECURE_LIB).$(VERSION): $(call secure_obj,$(PROF_SRC))
