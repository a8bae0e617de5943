# The seed headers from C++: when a C++ compiler is installed, `make test` also compiles
# tests/headers_cxx.cc against every public header, links it with the seed libraries and runs
# it. Nothing else in the build needs C++.

CXX_FOUND := $(shell command -v $(CXX) 2>/dev/null)
HEADERS_CXX := $(BUILD)/tests/headers_cxx
HEADERS_CXX_LIBS := $(BUILD_LIB)/libosmem.so $(BUILD_LIB)/libmemory_allocation.so \
	$(BUILD_LIB)/libmemalloc.so $(BUILD_LIB)/libmm.so

$(HEADERS_CXX): tests/headers_cxx.cc $(wildcard include/*.h) $(HEADERS_CXX_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++11 -Wall -Wextra -Werror -Iinclude -o $@ $< $(HEADERS_CXX_LIBS) \
		-Wl,-rpath,$(abspath $(BUILD_LIB)) -lpthread

.PHONY: check-headers-cxx
check-headers-cxx: $(HEADERS_CXX)
	$(HEADERS_CXX)

ifneq ($(CXX_FOUND),)
test: check-headers-cxx
endif
