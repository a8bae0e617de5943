/* Which library a malloc product is, for the statistics' heading and the dump set: the name
 * after "lib" in its file name. One product per engine, whose name it takes (libheapkit: the
 * fast engine, "heapkit"; libheapkit-buddy: "heapkit-buddy"), except libheapkit-secure: the
 * fast engine built with HK_HARDEN_ALWAYS=1 (mk/secure.mk), whose statistics keep the engine's
 * name and whose objects are compiled apart, so the define tells them which library they are. */
#ifndef HK_FRONT_LIBRARY_NAME_H
#define HK_FRONT_LIBRARY_NAME_H

#include "core/engine.h"
#include "core/harden.h"

static inline const char *front_library_name(void)
{
    return HK_HARDEN_ALWAYS ? "heapkit-secure" : hk_engine_name;
}

#endif
