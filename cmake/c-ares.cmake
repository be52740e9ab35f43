# Static c-ares (src/lib) from CARES_SOURCE_DIR (scripts/fetch-debian-source.sh c-ares prints one), as the
# target ctn_cares: C only, PIC, every symbol hidden, like cmake/nghttp2.cmake. The engine's resolver
# (native/dns) drives it on the io thread. Node carries a c-ares of its own (a different version): ours
# neither binds to it nor leaks out of the .node.
# No configure step: the two headers c-ares's own build generates (ares_build.h, ares_config.h) are
# written here for the platforms we build on (Linux, glibc, x86-64 and arm64).
include("${CMAKE_CURRENT_LIST_DIR}/third-party.cmake")
ctn_third_party_tree(CARES c-ares "include/ares.h;src/lib/ares_init.c;include/ares_build.h.cmake"
  "include/ares_version.h")
file(GLOB ctn_cares_sources CONFIGURE_DEPENDS "${CARES_SOURCE_DIR}/src/lib/*.c")
# Windows-only and Android-only sources compile to nothing elsewhere; leave them out all the same.
list(FILTER ctn_cares_sources EXCLUDE REGEX "/(windows_port|ares_android)\\.c$")

set(ctn_cares_generated "${CMAKE_CURRENT_BINARY_DIR}/ctn_cares/include")
set(CARES_TYPEOF_ARES_SOCKLEN_T socklen_t)
set(CARES_TYPEOF_ARES_SSIZE_T ssize_t)
set(CARES_HAVE_SYS_TYPES_H 1)
set(CARES_HAVE_SYS_SOCKET_H 1)
set(CARES_HAVE_ARPA_NAMESER_H 1)
set(CARES_HAVE_ARPA_NAMESER_COMPAT_H 1)
configure_file("${CARES_SOURCE_DIR}/include/ares_build.h.cmake" "${ctn_cares_generated}/ares_build.h")
# What c-ares's configure finds on Linux with glibc (the same answers for every build we make).
file(WRITE "${ctn_cares_generated}/ares_config.h.new" [=[
/* Written by cmake/c-ares.cmake: c-ares's configure answers for Linux with glibc. */
#define HAVE_ARPA_INET_H 1
#define HAVE_ARPA_NAMESER_H 1
#define HAVE_ARPA_NAMESER_COMPAT_H 1
#define HAVE_ASSERT_H 1
#define HAVE_ERRNO_H 1
#define HAVE_FCNTL_H 1
#define HAVE_LIMITS_H 1
#define HAVE_NETDB_H 1
#define HAVE_NETINET_IN_H 1
#define HAVE_NETINET_TCP_H 1
#define HAVE_NET_IF_H 1
#define HAVE_SIGNAL_H 1
#define HAVE_STDBOOL_H 1
#define HAVE_STDLIB_H 1
#define HAVE_STRINGS_H 1
#define HAVE_STRING_H 1
#define HAVE_SYS_IOCTL_H 1
#define HAVE_SYS_PARAM_H 1
#define HAVE_SYS_SELECT_H 1
#define HAVE_SYS_SOCKET_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_SYS_TIME_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_SYS_UIO_H 1
#define HAVE_TIME_H 1
#define TIME_WITH_SYS_TIME 1
#define HAVE_UNISTD_H 1
#define HAVE_AF_INET6 1
#define HAVE_PF_INET6 1
#define HAVE_BOOL_T 1
#define HAVE_CLOCK_GETTIME_MONOTONIC 1
#define HAVE_FCNTL_O_NONBLOCK 1
#define HAVE_FREEADDRINFO 1
#define HAVE_GETADDRINFO 1
#define HAVE_GETENV 1
#define HAVE_GETHOSTNAME 1
#define GETHOSTNAME_TYPE_ARG2 size_t
#define HAVE_GETNAMEINFO 1
#define HAVE_GETSERVBYPORT_R 1
#define GETSERVBYPORT_R_ARGS 6
#define HAVE_GETTIMEOFDAY 1
#define HAVE_IF_INDEXTONAME 1
#define HAVE_INET_NTOP 1
#define HAVE_INET_PTON 1
#define HAVE_IOCTL_FIONBIO 1
#define HAVE_MSG_NOSIGNAL 1
#define HAVE_RECV 1
#define RECV_TYPE_ARG1 int
#define RECV_TYPE_ARG2 void *
#define RECV_TYPE_ARG3 size_t
#define RECV_TYPE_ARG4 int
#define RECV_TYPE_RETV ssize_t
#define HAVE_RECVFROM 1
#define RECVFROM_TYPE_ARG1 int
#define RECVFROM_TYPE_ARG2 void
#define RECVFROM_TYPE_ARG2_IS_VOID 1
#define RECVFROM_TYPE_ARG3 size_t
#define RECVFROM_TYPE_ARG4 int
#define RECVFROM_TYPE_ARG5 struct sockaddr
#define RECVFROM_TYPE_ARG6 socklen_t
#define RECVFROM_TYPE_RETV ssize_t
#define HAVE_SEND 1
#define SEND_QUAL_ARG2 const
#define SEND_TYPE_ARG1 int
#define SEND_TYPE_ARG2 void *
#define SEND_TYPE_ARG3 size_t
#define SEND_TYPE_ARG4 int
#define SEND_TYPE_RETV ssize_t
#define HAVE_SIG_ATOMIC_T 1
#define HAVE_SOCKADDR_IN6_SIN6_SCOPE_ID 1
#define HAVE_STRCASECMP 1
#define HAVE_STRDUP 1
#define HAVE_STRNCASECMP 1
#define HAVE_STRUCT_ADDRINFO 1
#define HAVE_STRUCT_IN6_ADDR 1
#define HAVE_STRUCT_SOCKADDR_IN6 1
#define HAVE_STRUCT_SOCKADDR_STORAGE 1
#define HAVE_STRUCT_TIMEVAL 1
#define HAVE_WRITEV 1
#define CARES_RANDOM_FILE "/dev/urandom"
#define CARES_SYMBOL_HIDING 1
#define CARES_SYMBOL_SCOPE_EXTERN
#define _GNU_SOURCE 1
]=])
configure_file("${ctn_cares_generated}/ares_config.h.new" "${ctn_cares_generated}/ares_config.h" COPYONLY)

add_library(ctn_cares STATIC ${ctn_cares_sources})
# BEFORE + SYSTEM: the generated ares_build.h wins over the tree's generic one and over an installed
# libc-ares-dev; c-ares's warnings are not ours.
target_include_directories(ctn_cares SYSTEM BEFORE PUBLIC "${ctn_cares_generated}" "${CARES_SOURCE_DIR}/include")
target_include_directories(ctn_cares PRIVATE "${CARES_SOURCE_DIR}/src/lib")
# CARES_STATICLIB is PUBLIC: CARES_EXTERN is empty for the library and its users, so no ares_* symbol is
# marked visibility("default") and the hidden preset holds.
target_compile_definitions(ctn_cares PUBLIC CARES_STATICLIB)
target_compile_definitions(ctn_cares PRIVATE HAVE_CONFIG_H CARES_BUILDING_LIBRARY)
ctn_third_party_c_library(ctn_cares)
