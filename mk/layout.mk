# The layering of src/ checked from the sources (tests/test_layout.c): which directory may
# include from which.
$(BUILD)/tests/test_layout.o: TEST_CFLAGS += -DHK_SOURCE_DIR='"$(CURDIR)"'
$(BUILD)/tests/test_layout: $(BUILD)/tests/test_layout.o
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(TEST_LIBS)

TESTS += $(BUILD)/tests/test_layout
