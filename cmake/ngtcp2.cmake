# Static ngtcp2 (lib/) and its BoringSSL crypto backend (crypto/shared.c, crypto/boringssl/) from
# NGTCP2_SOURCE_DIR (scripts/fetch-debian-source.sh ngtcp2 prints one), as the target ctn_ngtcp2,
# compiled against OUR BoringSSL (bssl_ssl): C only, PIC, every symbol hidden, like cmake/nghttp2.cmake.
# ngtcp2 0.12.1's backend builds against the pinned BoringSSL as it is (it uses the SSL_set_quic_method
# family, which BoringSSL still has); what we patch is for the browsers' first flight
# (native/quic/patches/ngtcp2/README.md), applied to a copy of the tree. No config.h: the few HAVE_* macros the
# sources look at are defined here directly (cmake/third-party.cmake).
include("${CMAKE_CURRENT_LIST_DIR}/third-party.cmake")
ctn_third_party_tree(NGTCP2 ngtcp2 "lib/includes/ngtcp2/ngtcp2.h;crypto/boringssl/boringssl.c"
  "lib/includes/ngtcp2/version.h")
ctn_patched_tree(NGTCP2 ngtcp2 "${CMAKE_CURRENT_LIST_DIR}/../native/quic/patches/ngtcp2")
file(GLOB ctn_ngtcp2_sources CONFIGURE_DEPENDS "${NGTCP2_SOURCE_DIR}/lib/*.c")
add_library(ctn_ngtcp2 STATIC ${ctn_ngtcp2_sources} "${NGTCP2_SOURCE_DIR}/crypto/shared.c"
  "${NGTCP2_SOURCE_DIR}/crypto/boringssl/boringssl.c")
target_include_directories(ctn_ngtcp2 SYSTEM BEFORE PUBLIC "${NGTCP2_SOURCE_DIR}/lib/includes"
  "${NGTCP2_SOURCE_DIR}/crypto/includes")
target_include_directories(ctn_ngtcp2 PRIVATE "${NGTCP2_SOURCE_DIR}/lib" "${NGTCP2_SOURCE_DIR}/crypto")
# NGTCP2_STATICLIB is PUBLIC: it empties NGTCP2_EXTERN for the library and its users alike, so no
# ngtcp2_* symbol is marked visibility("default").
target_compile_definitions(ctn_ngtcp2 PUBLIC NGTCP2_STATICLIB)
target_compile_definitions(ctn_ngtcp2 PRIVATE BUILDING_NGTCP2 ${ctn_third_party_have})
target_link_libraries(ctn_ngtcp2 PUBLIC bssl_ssl bssl_crypto)
ctn_third_party_c_library(ctn_ngtcp2)
