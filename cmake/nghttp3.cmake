# Static nghttp3 (lib/) from NGHTTP3_SOURCE_DIR (scripts/fetch-debian-source.sh nghttp3 prints one), as
# the target ctn_nghttp3: C only, PIC, every symbol hidden, like cmake/nghttp2.cmake; patched like ngtcp2.
include("${CMAKE_CURRENT_LIST_DIR}/third-party.cmake")
ctn_third_party_tree(NGHTTP3 nghttp3 "lib/includes/nghttp3/nghttp3.h;lib/nghttp3_conn.c"
  "lib/includes/nghttp3/version.h")
# Our patch series (native/http3/patches/nghttp3/README.md) on a copy; NGHTTP3_SOURCE_DIR then names it.
ctn_patched_tree(NGHTTP3 nghttp3 "${CMAKE_CURRENT_LIST_DIR}/../native/http3/patches/nghttp3")
file(GLOB ctn_nghttp3_sources CONFIGURE_DEPENDS "${NGHTTP3_SOURCE_DIR}/lib/*.c")
add_library(ctn_nghttp3 STATIC ${ctn_nghttp3_sources})
target_include_directories(ctn_nghttp3 SYSTEM BEFORE PUBLIC "${NGHTTP3_SOURCE_DIR}/lib/includes")
target_include_directories(ctn_nghttp3 PRIVATE "${NGHTTP3_SOURCE_DIR}/lib")
# NGHTTP3_STATICLIB is PUBLIC: it empties NGHTTP3_EXTERN (see cmake/ngtcp2.cmake).
target_compile_definitions(ctn_nghttp3 PUBLIC NGHTTP3_STATICLIB)
target_compile_definitions(ctn_nghttp3 PRIVATE BUILDING_NGHTTP3 ${ctn_third_party_have})
ctn_third_party_c_library(ctn_nghttp3)
