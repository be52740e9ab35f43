// Compiled as a source of the pool room (linked to ctn_pool alone): the pool sits below the
// connections and may not reach up into core, so this include must fail to build (ctest
// rooms_refuse_pool_includes_core).
#include "core/engine_impl.h"
