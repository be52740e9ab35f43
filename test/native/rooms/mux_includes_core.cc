// Compiled as a source of the mux room (linked to ctn_mux alone): framing is byte-in/byte-out and
// knows no request, so this include must fail to build (ctest rooms_refuse_mux_includes_core).
#include "core/request.h"
