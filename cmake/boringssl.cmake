# Static BoringSSL (ssl + crypto) from a pruned Chromium tree, using the tree's own gen/sources.cmake
# file lists (pre-generated assembly and error data: no Go or Perl at build time).
# Every symbol stays hidden: Node exports OpenSSL 3 under the same names, so nothing of ours may be
# interposed by it, and nothing of ours may leak out of the .node.
if(NOT EXISTS "${BORINGSSL_SOURCE_DIR}/gen/sources.cmake")
  message(FATAL_ERROR "BORINGSSL_SOURCE_DIR (${BORINGSSL_SOURCE_DIR}) has no gen/sources.cmake; "
                      "run scripts/fetch-boringssl.sh or set BORINGSSL_SOURCE_DIR")
endif()
include("${BORINGSSL_SOURCE_DIR}/gen/sources.cmake")
foreach(list_name BCM_SOURCES BCM_SOURCES_ASM CRYPTO_SOURCES CRYPTO_SOURCES_ASM SSL_SOURCES)
  list(TRANSFORM ${list_name} PREPEND "${BORINGSSL_SOURCE_DIR}/")
endforeach()
enable_language(ASM)
set(bssl_defs BORINGSSL_IMPLEMENTATION NDEBUG)
if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64|aarch64|arm64")
  set(BCM_SOURCES_ASM "")
  set(CRYPTO_SOURCES_ASM "")
  list(APPEND bssl_defs OPENSSL_NO_ASM)
endif()

add_library(bssl_bcm OBJECT ${BCM_SOURCES} ${BCM_SOURCES_ASM})
add_library(bssl_crypto STATIC ${CRYPTO_SOURCES} ${CRYPTO_SOURCES_ASM} $<TARGET_OBJECTS:bssl_bcm>)
add_library(bssl_ssl STATIC ${SSL_SOURCES})
target_link_libraries(bssl_ssl PUBLIC bssl_crypto)
# BEFORE: our BoringSSL headers must win over any OpenSSL headers on the system include path.
target_include_directories(bssl_crypto BEFORE PUBLIC "${BORINGSSL_SOURCE_DIR}/include")
target_include_directories(bssl_bcm BEFORE PRIVATE "${BORINGSSL_SOURCE_DIR}/include")
foreach(t bssl_bcm bssl_crypto bssl_ssl)
  set_target_properties(${t} PROPERTIES POSITION_INDEPENDENT_CODE ON C_STANDARD 11 CXX_STANDARD 17
    C_VISIBILITY_PRESET hidden CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_compile_definitions(${t} PRIVATE ${bssl_defs})
  # Third-party code: its warnings are not ours to fix, and sanitizer flags are not applied to it.
  target_compile_options(${t} PRIVATE -w -O2 $<$<COMPILE_LANGUAGE:CXX>:-fno-exceptions -fno-rtti>
    $<$<COMPILE_LANGUAGE:ASM>:-Wa,--noexecstack>)
endforeach()
find_package(Threads REQUIRED)
target_link_libraries(bssl_crypto PUBLIC Threads::Threads)
