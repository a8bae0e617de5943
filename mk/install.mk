# Installing: `make install` and `make uninstall`, and the tests of what a release exports.
#
#   make install [PREFIX=/usr/local] [LIBDIR=$(PREFIX)/lib] [DESTDIR=/staging/root]
#
# installs into $(DESTDIR) + each of these directories (any may be set on the command line):
#   $(LIBDIR)         every shared library as libNAME.so.$(VERSION) with the links
#                     libNAME.so.$(SOVERSION) and libNAME.so, and the static libraries
#   $(INCLUDEDIR)/heapkit   the public headers (the seeds' generic names stay out of the way)
#   $(PKGCONFIGDIR)   NAME.pc for each library: heapkit, heapkit-buddy, heapkit-secure, osmem,
#                     memory_allocation, memalloc, mm (from pkg/product.pc.in)
#   $(CMAKEDIR)       heapkitConfig.cmake and heapkitConfigVersion.cmake (find_package(heapkit))
#   $(MANDIR)         the man pages of man/, and for each name on a section-3 page's NAME line
#                     a link to the page (hk_trim.3 -> heapkit.3), so `man hk_trim` finds it
#   $(BINDIR)         the heapkit command, which finds the libraries relative to itself
# `make uninstall` with the same variables removes exactly those files (and the directories
# named heapkit that install created, once empty). Nothing is stripped or compiled here: install
# copies what `make all` built, except that the command is linked again from its objects with
# the installed library directory (mk/cli.mk).

PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR     ?= $(LIBDIR)/cmake/heapkit

SHARED_LIBS = $(notdir $(filter %.so,$(LIBS)))
STATIC_LIBS = $(notdir $(filter %.a,$(LIBS)))
PC_NAMES    = $(patsubst lib%.so,%,$(SHARED_LIBS))
MAN_PAGES   := $(wildcard man/*.[1-8])
# $(call man_names,PAGE): the names on the NAME line of a man page
man_names = $(shell sed -n '/^\.SH NAME/{n;s/ \\- .*//;s/,/ /g;p;q}' $(1))
# ALIAS.3:PAGE.3 for every name of a section-3 page other than the page's own
MAN_LINKS   := $(foreach m,$(filter %.3,$(MAN_PAGES)),$(foreach n,$(filter-out \
	$(basename $(notdir $(m))),$(call man_names,$(m))),$(n).3:$(notdir $(m))))

# What each pkg-config file says (its name is the library's without lib and .so).
# (No quotes or ampersands: they go through sed.)
PC_DESCRIPTION_heapkit := the fast malloc of heapkit (the whole malloc family) and the hk_* API
PC_DESCRIPTION_heapkit-buddy := the buddy malloc of heapkit (the whole malloc family)
PC_DESCRIPTION_osmem := os_malloc, os_calloc, os_realloc, os_free on brk and mmap (heapkit)
PC_DESCRIPTION_memory_allocation := allocate_memory and free_memory over a chunk list (heapkit)
PC_DESCRIPTION_memalloc := custom_malloc and custom_free from a growing pool (heapkit)
PC_DESCRIPTION_mm := typed page families: MM_REG_STRUCT, XCALLOC, XFREE (heapkit)
# Static linking needs the threads library (libheapkit.a, libmemory_allocation.a).
PC_PRIVATE_heapkit := -lpthread
PC_PRIVATE_memory_allocation := -lpthread

# Every installed file, without $(DESTDIR): install writes exactly these, uninstall removes them.
# (Lists are expanded when used: the other mk/*.mk files add to LIBS and HEADERS after this one.)
INSTALLED = \
	$(foreach l,$(SHARED_LIBS),$(LIBDIR)/$(l).$(VERSION) $(LIBDIR)/$(l).$(SOVERSION) $(LIBDIR)/$(l)) \
	$(addprefix $(LIBDIR)/,$(STATIC_LIBS)) \
	$(addprefix $(INCLUDEDIR)/heapkit/,$(notdir $(HEADERS))) \
	$(foreach p,$(PC_NAMES),$(PKGCONFIGDIR)/$(p).pc) \
	$(CMAKEDIR)/heapkitConfig.cmake $(CMAKEDIR)/heapkitConfigVersion.cmake \
	$(foreach m,$(MAN_PAGES),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))) \
	$(foreach l,$(MAN_LINKS),$(MANDIR)/man3/$(firstword $(subst :, ,$(l)))) \
	$(BINDIR)/heapkit

# $(call relative,FROM,TO): the path of directory TO seen from directory FROM.
relative = $(shell realpath -m --relative-to='$(1)' '$(2)')
# $(call under_prefix,DIR): DIR written as ${prefix}/... when it lies under PREFIX.
under_prefix = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

# Files that depend on the directories (pkg-config, CMake, the command) and the man pages are
# filled in on their way to $(DESTDIR) (nothing is staged in the build tree, so installs into
# different places may run at the same time).
FILL := sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@SOVERSION@|$(SOVERSION)|g'

.PHONY: install uninstall
install: all
	install -d $(addprefix $(DESTDIR),$(sort $(dir $(INSTALLED))))
	$(foreach l,$(SHARED_LIBS),install -m 644 $(BUILD_LIB)/$(l).$(VERSION) $(DESTDIR)$(LIBDIR)/ && \
		ln -sfn $(l).$(VERSION) $(DESTDIR)$(LIBDIR)/$(l).$(SOVERSION) && \
		ln -sfn $(l).$(SOVERSION) $(DESTDIR)$(LIBDIR)/$(l);)
	$(if $(STATIC_LIBS),install -m 644 $(addprefix $(BUILD_LIB)/,$(STATIC_LIBS)) $(DESTDIR)$(LIBDIR)/)
	install -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/heapkit/
	$(foreach p,$(PC_NAMES),$(FILL) -e 's|@NAME@|$(p)|' \
		-e 's|@DESCRIPTION@|$(PC_DESCRIPTION_$(p))|' -e 's|@LIB@|$(p)|' \
		-e 's|@LIBS_PRIVATE@|$(PC_PRIVATE_$(p))|' -e 's|@PREFIX@|$(PREFIX)|' \
		-e 's|@LIBDIR@|$(call under_prefix,$(LIBDIR))|' \
		-e 's|@INCLUDEDIR@|$(call under_prefix,$(INCLUDEDIR))|' -e '/^Libs.private: $$/d' \
		pkg/product.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/$(p).pc;)
	$(FILL) -e 's|@CMAKE_TO_LIBDIR@|$(call relative,$(CMAKEDIR),$(LIBDIR))|' \
		-e 's|@CMAKE_TO_INCLUDEDIR@|$(call relative,$(CMAKEDIR),$(INCLUDEDIR))|' \
		pkg/heapkitConfig.cmake.in > $(DESTDIR)$(CMAKEDIR)/heapkitConfig.cmake
	$(FILL) pkg/heapkitConfigVersion.cmake.in > $(DESTDIR)$(CMAKEDIR)/heapkitConfigVersion.cmake
	$(foreach m,$(MAN_PAGES),$(FILL) $(m) > \
		$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m));)
	$(foreach l,$(MAN_LINKS),ln -sfn $(lastword $(subst :, ,$(l))) \
		$(DESTDIR)$(MANDIR)/man3/$(firstword $(subst :, ,$(l)));)
	$(call cli_link,$(DESTDIR)$(BINDIR)/heapkit,$(call relative,$(BINDIR),$(LIBDIR)))
	chmod 644 $(addprefix $(DESTDIR),$(filter %.pc %.cmake $(addprefix %/,$(notdir $(MAN_PAGES))), \
		$(INSTALLED)))
	chmod 755 $(DESTDIR)$(BINDIR)/heapkit

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	for d in $(DESTDIR)$(INCLUDEDIR)/heapkit $(DESTDIR)$(CMAKEDIR); do \
		[ ! -d "$$d" ] || rmdir --ignore-fail-on-non-empty "$$d"; done

# What a release exports (src/front/exports/*.map), its SONAMEs and links, and its version.
$(BUILD)/tests/test_exports.o: TEST_CFLAGS += -DHK_BUILD_DIR='"$(abspath $(BUILD))"' \
	-DHK_SOURCE_DIR='"$(CURDIR)"'
$(BUILD)/tests/test_exports: $(BUILD)/tests/test_exports.o | $(LIBS) $(BINS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(TEST_LIBS)

TESTS += $(BUILD)/tests/test_exports

# make install, uninstall, and programs built against the installed tree (pkg-config, CMake).
# The suite runs make in this tree with the same BUILD and CC, so nothing is rebuilt.
$(BUILD)/tests/test_install.o: TEST_CFLAGS += -DHK_SOURCE_DIR='"$(CURDIR)"' \
	-DHK_BUILD='"$(BUILD)"' -DHK_CC='"$(CC)"'
$(BUILD)/tests/test_install.o: mk/install.mk
$(BUILD)/tests/test_install: $(BUILD)/tests/test_install.o | $(LIBS) $(BINS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(TEST_LIBS)

TESTS += $(BUILD)/tests/test_install
