/* The HEAPKIT_HARDEN switch (see harden.h). */
#include "core/harden.h"

#include "core/options.h"

int hk_harden_state = HK_HARDEN_ALWAYS ? HK_HARDEN_ON : HK_HARDEN_UNREAD;

bool hk_harden_read(void)
{
    if (HK_HARDEN_ALWAYS) return true;
    int state = __atomic_load_n(&hk_harden_state, __ATOMIC_RELAXED);
    if (state != HK_HARDEN_UNREAD) return state == HK_HARDEN_ON;
    /* Before the C library has set up the environment: off, and asked again next time. */
    if (!hk_env_ready()) return false;
    state = hk_env_bool("HEAPKIT_HARDEN", false) ? HK_HARDEN_ON : HK_HARDEN_OFF;
    __atomic_store_n(&hk_harden_state, state, __ATOMIC_RELAXED);
    return state == HK_HARDEN_ON;
}
