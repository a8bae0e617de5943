# Typed page families (spec 004): the engine (src/family), its front end with the seed's
# names (src/front/mm.c), libmm.so, the seed's test application and the Criterion suites.

FAMILY_SRC := $(wildcard src/family/*.c) src/front/mm.c
FAMILY_OBJ := $(call obj,$(FAMILY_SRC))
FAMILY_SAN := $(call san,$(FAMILY_SRC))
FAMILY_LIB := $(BUILD_LIB)/libmm.so
FAMILY_APP := $(BUILD)/examples/test_application
FAMILY_TEST_SRC := $(wildcard tests/test_family_*.c)
FAMILY_TESTS := $(patsubst tests/%.c,$(BUILD)/tests-san/%,$(FAMILY_TEST_SRC))

LIBS     += $(FAMILY_LIB)
EXAMPLES += $(FAMILY_APP)
TESTS    += $(FAMILY_TESTS)
HEADERS  += include/MM.h include/UserAPI_MemoryManager.h

$(FAMILY_LIB).$(VERSION): $(FAMILY_OBJ) $(LOWER_OBJ) $(call exports,libmm)
	@mkdir -p $(dir $@)
	$(CC) -shared $(call shlib_ldflags,libmm) -o $@ $(filter %.o,$^) -lpthread

# Linked against libmm.so, so it uses only what the library exports.
$(FAMILY_APP): examples/test_application.c include/UserAPI_MemoryManager.h include/MM.h $(FAMILY_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=c11 $(WARN) $(OPT) $< -o $@ -L$(BUILD_LIB) -lmm -Wl,-rpath,'$$ORIGIN/../lib'

# The suites link the sanitizer build of the engine; test_family_report also runs the example.
$(FAMILY_TESTS): $(BUILD)/tests-san/%: $(BUILD)/tests-san/%.o $(FAMILY_SAN) $(LOWER_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(TEST_LIBS)

$(BUILD)/tests-san/test_family_report.o: TEST_CFLAGS += -DFAMILY_APP_PATH='"$(FAMILY_APP)"'
$(BUILD)/tests-san/test_family_report.o: mk/family.mk
$(BUILD)/tests-san/test_family_report: | $(FAMILY_APP)
