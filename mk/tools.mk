# The heapkit command-line tool: tools/heapkit with its release and library directory filled in
# (here the build tree's lib/, next to bin/; mk/install.mk fills in the installed LIBDIR).
# $(1) script, $(2) library directory relative to the script's directory (or absolute)
fill_heapkit_script = sed -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBDIR@|$(2)|' $(1)

$(BUILD_BIN)/heapkit: tools/heapkit include/heapkit.h
	@mkdir -p $(dir $@)
	$(call fill_heapkit_script,$<,../lib) > $@.tmp
	chmod +x $@.tmp
	mv $@.tmp $@

BINS += $(BUILD_BIN)/heapkit
