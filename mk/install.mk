# Releases: what the shared libraries export (src/front/exports/*.map), their SONAMEs and links,
# checked by tests/test_exports.c.
$(BUILD)/tests/test_exports.o: TEST_CFLAGS += -DHK_BUILD_DIR='"$(abspath $(BUILD))"' \
	-DHK_SOURCE_DIR='"$(CURDIR)"'
$(BUILD)/tests/test_exports: $(BUILD)/tests/test_exports.o | $(LIBS) $(BINS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(TEST_LIBS)

TESTS += $(BUILD)/tests/test_exports
