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

# Points <PREFIX>_SOURCE_DIR at a copy of the fetched tree with our patch series applied
# (`patch_dir`/series, in order, `patch --fuzz=0`: a patch that no longer applies exactly fails the
# configure LOUDLY, naming it). The copy lives in the build tree, keyed by the pristine path and the
# content of the series and its patches, so it is made once and redone whenever a patch changes.
# The pristine cache is never written.
function(ctn_patched_tree prefix lib patch_dir)
  set(pristine "${${prefix}_SOURCE_DIR}")
  set(series "${patch_dir}/series")
  if(NOT EXISTS "${series}")
    message(FATAL_ERROR "${lib}: missing patch series file ${series}")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${series}")
  file(STRINGS "${series}" lines)
  set(patches "")
  set(key "${pristine}")
  foreach(line ${lines})
    string(REGEX REPLACE "#.*$" "" line "${line}")
    string(STRIP "${line}" line)
    if(line STREQUAL "")
      continue()
    endif()
    if(NOT EXISTS "${patch_dir}/${line}")
      message(FATAL_ERROR "${lib}: the series lists ${line}, which is not in ${patch_dir}")
    endif()
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${patch_dir}/${line}")
    file(SHA256 "${patch_dir}/${line}" sum)
    string(APPEND key " ${line}=${sum}")
    list(APPEND patches "${line}")
  endforeach()
  string(SHA256 digest "${key}")
  string(SUBSTRING "${digest}" 0 16 digest)
  set(dest "${CMAKE_BINARY_DIR}/third-party/${lib}-patched-${digest}")
  if(NOT EXISTS "${dest}/.cycletls-patched")
    # patch(1), else `git apply` (outside any repository it behaves the same; the ceiling keeps it
    # from finding one that might enclose the build tree), as scripts/prepare-boringssl.sh does.
    find_program(CTN_PATCH_PROGRAM patch)
    find_program(CTN_GIT_PROGRAM git)
    if(NOT CTN_PATCH_PROGRAM AND NOT CTN_GIT_PROGRAM)
      message(FATAL_ERROR "${lib}: applying its patch series needs patch(1) or git")
    endif()
    set(tmp "${dest}.tmp")
    # Copies for an older series (and a failed attempt's leftovers) are of no further use.
    file(GLOB stale LIST_DIRECTORIES true "${CMAKE_BINARY_DIR}/third-party/${lib}-patched-*")
    if(stale)
      file(REMOVE_RECURSE ${stale})
    endif()
    file(COPY "${pristine}/" DESTINATION "${tmp}")
    foreach(p ${patches})
      if(CTN_PATCH_PROGRAM)
        execute_process(COMMAND "${CTN_PATCH_PROGRAM}" -d "${tmp}" -p1 --forward --batch --fuzz=0
                                --no-backup-if-mismatch -i "${patch_dir}/${p}"
                        RESULT_VARIABLE rv OUTPUT_VARIABLE out ERROR_VARIABLE out)
      else()
        execute_process(COMMAND "${CMAKE_COMMAND}" -E env "GIT_CEILING_DIRECTORIES=${CMAKE_BINARY_DIR}/third-party"
                                "${CTN_GIT_PROGRAM}" apply -p1 "${patch_dir}/${p}"
                        WORKING_DIRECTORY "${tmp}" RESULT_VARIABLE rv OUTPUT_VARIABLE out ERROR_VARIABLE out)
      endif()
      if(NOT rv EQUAL 0)
        message(FATAL_ERROR "\n################################################################################\n"
                "${lib}: patch ${p} does not apply cleanly to ${pristine}:\n${out}"
                "################################################################################")
      endif()
    endforeach()
    string(REPLACE ";" "\n" applied "${patches}")
    file(WRITE "${tmp}/.cycletls-patched" "pristine: ${pristine}\npatches:\n${applied}\n")
    file(RENAME "${tmp}" "${dest}")
    message(STATUS "${lib}: patched tree ${dest}")
  endif()
  set(${prefix}_SOURCE_DIR "${dest}" PARENT_SCOPE)
endfunction()
