// Compiled as a source of the http1 room (linked to ctn_http1 alone): http1 may include common only
// (native/README.md), so this include must fail to build (ctest rooms_refuse_http1_includes_core).
#include "core/engine.h"
