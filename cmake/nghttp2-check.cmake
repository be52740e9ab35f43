# Refuses an nghttp2 tree without the CONTINUATION-flood fix (CVE-2024-28182): without it a server
# sending an endless run of CONTINUATION frames keeps the client busy (and its memory growing) for
# as long as it likes. Upstream has the fix from 1.61.0; Debian bookworm backports it to 1.52.0
# (1.52.0-1+deb12u2 and later). Both add nghttp2_option_set_max_continuations() to the public header
# and count the frames in nghttp2_session.c (num_continuations): we look for both, and the session
# sets the limit explicitly (native/http2/session.cc).
#
# Included by cmake/nghttp2.cmake; also runs alone (the ctest nghttp2_tree_check_*):
#   cmake -DNGHTTP2_SOURCE_DIR=<tree> -P cmake/nghttp2-check.cmake
function(ctn_check_nghttp2_tree dir)
  set(header "${dir}/lib/includes/nghttp2/nghttp2.h")
  set(session "${dir}/lib/nghttp2_session.c")
  set(api "")
  set(counter "")
  if(EXISTS "${header}")
    file(STRINGS "${header}" api REGEX "nghttp2_option_set_max_continuations")
  endif()
  if(EXISTS "${session}")
    file(STRINGS "${session}" counter REGEX "num_continuations")
  endif()
  if(NOT api OR NOT counter)
    message(FATAL_ERROR "The nghttp2 tree at ${dir} lacks the CONTINUATION-flood fix (CVE-2024-28182): "
                        "no nghttp2_option_set_max_continuations() in lib/includes/nghttp2/nghttp2.h or no "
                        "CONTINUATION count in lib/nghttp2_session.c. Use nghttp2 1.61.0 or later, or Debian's "
                        "1.52.0-1+deb12u2 or later (scripts/fetch-nghttp2.sh fetches it).")
  endif()
endfunction()

if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  ctn_check_nghttp2_tree("${NGHTTP2_SOURCE_DIR}")
  message(STATUS "nghttp2 tree at ${NGHTTP2_SOURCE_DIR} has the CONTINUATION-flood fix")
endif()
