/* Where the command finds the libraries: filled in by the build (../lib beside build/bin) and
 * by make install (the installed LIBDIR, relative to BINDIR when that can be said), so an
 * installed tree may be moved as a whole. */
#include "cli.h"

#ifndef HEAPKIT_LIBDIR
#error "HEAPKIT_LIBDIR must name the library directory"
#endif

const char heapkit_libdir[] = HEAPKIT_LIBDIR;
