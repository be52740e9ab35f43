# What cmake/ngtcp2.cmake and cmake/nghttp3.cmake share: the check of a fetched tree and the way a
# third-party C library is compiled into the addon.
include_guard(GLOBAL)

# The HAVE_* macros ngtcp2's and nghttp3's sources look at (they have no config.h here). No <endian.h>
# (macOS has none): their byte swaps fall back to ntohl, which every platform has.
set(ctn_third_party_have HAVE_ARPA_INET_H HAVE_NETINET_IN_H HAVE_UNISTD_H)

# Fails the configure, naming the fetch script, unless <PREFIX>_SOURCE_DIR holds every file of `files`
# and the generated version header.
function(ctn_third_party_tree prefix lib files version_h)
  set(dir "${${prefix}_SOURCE_DIR}")
  foreach(f ${files} ${version_h})
    if(NOT EXISTS "${dir}/${f}")
      message(FATAL_ERROR "${prefix}_SOURCE_DIR (${dir}) has no ${f}; run scripts/fetch-debian-source.sh ${lib} "
                          "or set ${prefix}_SOURCE_DIR to a tree it printed")
    endif()
  endforeach()
endfunction()

# C only, PIC, every symbol hidden: Node may export a copy of its own (it does for nghttp2), so ours must
# neither bind to another nor leak out of the .node. Warnings are not ours to fix; sanitizer flags
# are not applied; NDEBUG comes with the build type (Debug and sanitizer builds keep the asserts).
function(ctn_third_party_c_library target)
  set_target_properties(${target} PROPERTIES LINKER_LANGUAGE C POSITION_INDEPENDENT_CODE ON
    C_STANDARD 99 C_EXTENSIONS ON C_VISIBILITY_PRESET hidden)
  target_compile_options(${target} PRIVATE -w -O2)
endfunction()
