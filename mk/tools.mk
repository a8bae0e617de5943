# The heapkit command-line tool.
$(BINDIR)/heapkit: tools/heapkit
	@mkdir -p $(dir $@)
	cp $< $@
	chmod +x $@

BINS += $(BINDIR)/heapkit
