# The heapkit command (src/cli): an ordinary C program, linked with nothing but the C library.
# It finds the libraries through heapkit_libdir (src/cli/libdir.c), compiled here with the
# build tree's ../lib and by `make install` with the installed LIBDIR (mk/install.mk), which
# relinks the command with it. Hardened like a packaged program (lintian checks the package).
CLI_SRC     := $(filter-out src/cli/libdir.c,$(wildcard src/cli/*.c))
CLI_OBJ     := $(patsubst %.c,$(BUILD)/cli/%.o,$(CLI_SRC))
CLI_CFLAGS  := -std=c11 $(WARN) $(OPT) -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
	-Iinclude -Isrc/cli
CLI_LDFLAGS := -Wl,-z,relro -Wl,-z,now
# $(call cli_link,OUTPUT,LIBDIR): links the command with its library directory.
cli_link = $(CC) $(CLI_CFLAGS) -DHEAPKIT_LIBDIR='"$(2)"' $(CLI_LDFLAGS) -o $(1) src/cli/libdir.c \
	$(CLI_OBJ)

$(BUILD)/cli/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CLI_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD_BIN)/heapkit: $(CLI_OBJ) src/cli/libdir.c include/heapkit.h
	@mkdir -p $(dir $@)
	$(call cli_link,$@,../lib)

BINS += $(BUILD_BIN)/heapkit

# The command's suite: it runs build/bin/heapkit (and headless Chromium on a report).
$(BUILD)/tests/test_cli.o: TEST_CFLAGS += -DHK_BUILD_DIR='"$(abspath $(BUILD))"' \
	-DHK_SOURCE_DIR='"$(CURDIR)"'
$(BUILD)/tests/test_cli.o: mk/cli.mk
$(BUILD)/tests/test_cli: $(BUILD)/tests/test_cli.o | $(LIBS) $(BINS) $(BUILD)/tests/helper_fork_exec
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(TEST_LIBS)

$(BUILD)/tests/helper_fork_exec: tests/helper_fork_exec.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -O1 -o $@ $<

TESTS += $(BUILD)/tests/test_cli
