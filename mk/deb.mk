# The Debian package: `make deb` builds $(BUILD)/heapkit_$(VERSION)_<arch>.deb, one package
# with everything `make install` installs, for PREFIX=/usr and the multiarch library directory:
# shared libraries stripped, man pages compressed, the copyright and changelog that Debian
# expects, DEBIAN/control with the dependencies dpkg-shlibdeps computes, shlibs, an ldconfig
# trigger and md5sums. Needs dpkg-dev (tools/deps.sh test installs it). Override the maintainer
# with DEB_MAINTAINER='Name <address>', the output directory with DEB_OUT (default $(BUILD)).
#
# Steps: install into the package root; strip the shared (unneeded symbols) and static (debug
# sections) libraries; compress the man pages and point their links at the compressed pages; add
# the copyright, the changelog and the lintian overrides (pkg/debian); let dpkg-shlibdeps compute
# Depends from what the libraries and the command need; write shlibs and symbols (every
# export, since this version) for packages that link these libraries, an ldconfig trigger, the
# control file and md5sums; build with root as the owner of every file.

DEB_ARCH       = $(shell dpkg --print-architecture)
DEB_MULTIARCH  = $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
DEB_MAINTAINER ?= heapkit maintainers <maintainers@heapkit.invalid>
DEB_OUT        ?= $(BUILD)
DEB_FILE        = $(DEB_OUT)/heapkit_$(VERSION)_$(DEB_ARCH).deb
# dpkg-shlibdeps reads debian/control and expects a package's files in debian/<package>.
DEB_TOP        := $(DEB_OUT)/deb
DEB_ROOT       := $(DEB_TOP)/debian/heapkit
DEB_DOC        := $(DEB_ROOT)/usr/share/doc/heapkit
# The changelog's date: the last commit's when built from git (the same package for the same
# sources), otherwise now.
DEB_DATE        = $(shell date -R -d @$$(git log -1 --format=%ct 2>/dev/null || date +%s))

.PHONY: deb
deb: all
	@command -v dpkg-shlibdeps >/dev/null || { echo "make deb needs dpkg-dev" \
		"(apt-get install dpkg-dev)" >&2; exit 1; }
	rm -rf $(DEB_TOP) $(DEB_FILE)
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(DEB_ROOT)) PREFIX=/usr \
		BINDIR=/usr/bin LIBDIR=/usr/lib/$(DEB_MULTIARCH) INCLUDEDIR=/usr/include \
		MANDIR=/usr/share/man PKGCONFIGDIR=/usr/lib/$(DEB_MULTIARCH)/pkgconfig \
		CMAKEDIR=/usr/lib/$(DEB_MULTIARCH)/cmake/heapkit
	strip --strip-unneeded --remove-section=.comment --remove-section=.note \
		$(DEB_ROOT)/usr/lib/$(DEB_MULTIARCH)/*.so.$(VERSION) $(DEB_ROOT)/usr/bin/heapkit
	strip --strip-debug --remove-section=.comment --remove-section=.note \
		--enable-deterministic-archives $(DEB_ROOT)/usr/lib/$(DEB_MULTIARCH)/*.a
	find $(DEB_ROOT)/usr/share/man -type f -exec gzip -9n {} +
	find $(DEB_ROOT)/usr/share/man -type l | while read -r link; do \
		ln -sfn "$$(readlink "$$link").gz" "$$link.gz" && rm "$$link"; done
	install -d $(DEB_DOC) $(DEB_ROOT)/usr/share/lintian/overrides $(DEB_ROOT)/DEBIAN
	install -m 644 pkg/debian/copyright $(DEB_DOC)/copyright
	sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@MAINTAINER@|$(DEB_MAINTAINER)|' \
		-e 's|@DATE@|$(DEB_DATE)|' pkg/debian/changelog.in | gzip -9n > $(DEB_DOC)/changelog.gz
	install -m 644 pkg/debian/lintian-overrides $(DEB_ROOT)/usr/share/lintian/overrides/heapkit
	printf 'Source: heapkit\n\nPackage: heapkit\nArchitecture: any\n' > $(DEB_TOP)/debian/control
	cd $(DEB_TOP) && dpkg-shlibdeps -O \
		$(foreach l,$(SHARED_LIBS),-edebian/heapkit/usr/lib/$(DEB_MULTIARCH)/$(l).$(VERSION)) \
		-edebian/heapkit/usr/bin/heapkit \
		| sed -n 's/^shlibs:Depends=//p' > debian/depends
	test -s $(DEB_TOP)/debian/depends
	$(foreach l,$(patsubst %.so,%,$(SHARED_LIBS)),echo '$(l) $(SOVERSION) heapkit (>= $(VERSION))' \
		>> $(DEB_ROOT)/DEBIAN/shlibs;)
	$(foreach l,$(SHARED_LIBS),{ echo '$(l).$(SOVERSION) heapkit #MINVER#' && \
		echo '* Build-Depends-Package: heapkit' && \
		nm -D --defined-only $(DEB_ROOT)/usr/lib/$(DEB_MULTIARCH)/$(l).$(VERSION) \
		| awk '{ print " " $$NF "@Base $(VERSION)" }' | LC_ALL=C sort; } >> $(DEB_ROOT)/DEBIAN/symbols;)
	echo 'activate-noawait ldconfig' > $(DEB_ROOT)/DEBIAN/triggers
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@ARCH@|$(DEB_ARCH)|' \
		-e 's|@MAINTAINER@|$(DEB_MAINTAINER)|' -e "s|@DEPENDS@|$$(cat $(DEB_TOP)/debian/depends)|" \
		-e "s|@INSTALLED_SIZE@|$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)|" \
		pkg/debian/control.in > $(DEB_ROOT)/DEBIAN/control
	cd $(DEB_ROOT) && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | LC_ALL=C sort \
		| xargs md5sum > DEBIAN/md5sums
	find $(DEB_ROOT) -type d -exec chmod 755 {} +
	chmod 644 $(DEB_ROOT)/DEBIAN/*
	dpkg-deb --build --root-owner-group $(DEB_ROOT) $(DEB_FILE)
