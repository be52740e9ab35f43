# Static nghttp2 (lib/ only) from NGHTTP2_SOURCE_DIR (scripts/fetch-nghttp2.sh prints one), as the
# target ctn_nghttp2: C only, PIC, every symbol hidden. Node exports its own nghttp2 (415 nghttp2_*
# symbols, a different version), so ours must neither bind to Node's nor leak out of the .node.
# No config.h: the few HAVE_* macros lib/ looks at are defined here directly.
if(NOT EXISTS "${NGHTTP2_SOURCE_DIR}/lib/includes/nghttp2/nghttp2.h")
  message(FATAL_ERROR "NGHTTP2_SOURCE_DIR (${NGHTTP2_SOURCE_DIR}) has no lib/includes/nghttp2/nghttp2.h; "
                      "run scripts/fetch-nghttp2.sh or set NGHTTP2_SOURCE_DIR")
endif()
include("${CMAKE_CURRENT_LIST_DIR}/nghttp2-check.cmake")
ctn_check_nghttp2_tree("${NGHTTP2_SOURCE_DIR}")
file(GLOB ctn_nghttp2_sources CONFIGURE_DEPENDS "${NGHTTP2_SOURCE_DIR}/lib/*.c")
if(NOT ctn_nghttp2_sources)
  message(FATAL_ERROR "NGHTTP2_SOURCE_DIR (${NGHTTP2_SOURCE_DIR}) has no lib/*.c")
endif()

# nghttp2ver.h: the fetched tree carries a generated one; a plain upstream tree only has the .in,
# which is configured here from the version in the tree's own CMakeLists.txt.
set(ctn_nghttp2_includes "${NGHTTP2_SOURCE_DIR}/lib/includes")
if(NOT EXISTS "${NGHTTP2_SOURCE_DIR}/lib/includes/nghttp2/nghttp2ver.h")
  set(ctn_nghttp2_ver_in "${NGHTTP2_SOURCE_DIR}/lib/includes/nghttp2/nghttp2ver.h.in")
  if(NOT EXISTS "${ctn_nghttp2_ver_in}" OR NOT EXISTS "${NGHTTP2_SOURCE_DIR}/CMakeLists.txt")
    message(FATAL_ERROR "NGHTTP2_SOURCE_DIR (${NGHTTP2_SOURCE_DIR}): no nghttp2ver.h, and no nghttp2ver.h.in "
                        "with a CMakeLists.txt to take the version from")
  endif()
  file(STRINGS "${NGHTTP2_SOURCE_DIR}/CMakeLists.txt" ctn_nghttp2_project REGEX "^project\\(nghttp2 VERSION ")
  if(NOT ctn_nghttp2_project MATCHES "VERSION ([0-9]+)\\.([0-9]+)\\.([0-9]+)")
    message(FATAL_ERROR "cannot read the nghttp2 version from ${NGHTTP2_SOURCE_DIR}/CMakeLists.txt")
  endif()
  set(PACKAGE_VERSION "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}.${CMAKE_MATCH_3}")
  math(EXPR ctn_nghttp2_num "(${CMAKE_MATCH_1} << 16) | (${CMAKE_MATCH_2} << 8) | ${CMAKE_MATCH_3}"
       OUTPUT_FORMAT HEXADECIMAL)
  string(SUBSTRING "${ctn_nghttp2_num}" 2 -1 ctn_nghttp2_hex)
  string(LENGTH "${ctn_nghttp2_hex}" ctn_nghttp2_len)
  while(ctn_nghttp2_len LESS 6)
    string(PREPEND ctn_nghttp2_hex "0")
    math(EXPR ctn_nghttp2_len "${ctn_nghttp2_len} + 1")
  endwhile()
  set(PACKAGE_VERSION_NUM "0x${ctn_nghttp2_hex}")
  configure_file("${ctn_nghttp2_ver_in}" "${CMAKE_CURRENT_BINARY_DIR}/ctn_nghttp2/includes/nghttp2/nghttp2ver.h" @ONLY)
  list(PREPEND ctn_nghttp2_includes "${CMAKE_CURRENT_BINARY_DIR}/ctn_nghttp2/includes")
endif()

add_library(ctn_nghttp2 STATIC ${ctn_nghttp2_sources})
# BEFORE + SYSTEM: these headers win over a libnghttp2-dev that may be installed, and their
# warnings are not ours.
target_include_directories(ctn_nghttp2 SYSTEM BEFORE PUBLIC ${ctn_nghttp2_includes})
# NGHTTP2_STATICLIB is PUBLIC: it empties NGHTTP2_EXTERN for the library and for its users alike, so
# nothing is marked visibility("default") and the hidden preset holds for every nghttp2_* symbol.
target_compile_definitions(ctn_nghttp2 PUBLIC NGHTTP2_STATICLIB)
# NDEBUG comes with the build type (Release): Debug and sanitizer builds keep nghttp2's own asserts.
target_compile_definitions(ctn_nghttp2 PRIVATE BUILDING_NGHTTP2
  HAVE_ARPA_INET_H HAVE_NETINET_IN_H HAVE_TIME_H HAVE_CLOCK_GETTIME HAVE_STDINT_H HAVE_STDDEF_H
  HAVE_STDLIB_H HAVE_STRING_H HAVE_UNISTD_H)
set_target_properties(ctn_nghttp2 PROPERTIES LINKER_LANGUAGE C POSITION_INDEPENDENT_CODE ON
  C_STANDARD 99 C_EXTENSIONS ON C_VISIBILITY_PRESET hidden)
# Third-party code: its warnings are not ours to fix, and sanitizer flags are not applied to it.
target_compile_options(ctn_nghttp2 PRIVATE -w -O2)
