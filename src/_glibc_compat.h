/* The worker pool's pthread calls bound to the symbol versions glibc 2.17
 * already had, so that a wheel built on any newer glibc still loads on
 * manylinux2014 (glibc 2.17: CentOS 7, Amazon Linux 2 / EMR, RHEL 8,
 * Ubuntu 20.04, Debian 11).
 *
 * glibc 2.32 and 2.34 moved these functions from libpthread into libc and
 * gave them new default versions (pthread_create@@GLIBC_2.34,
 * pthread_sigmask@@GLIBC_2.32, ...); a plain build links the new ones and
 * auditwheel can then only tag the wheel manylinux_2_34.  Every glibc since
 * still exports the old versions, at the same address as the new ones
 * (objdump -T libc.so.6), so binding them changes nothing at run time on a
 * new glibc; on an old one they resolve in libpthread.so.0, which CPython
 * itself links there.  Only the symbols whose default version is newer than
 * 2.17 are listed; the others (pthread_mutex_lock, pthread_cond_wait@2.3.2,
 * clock_gettime@2.17, ...) already are old enough.  tests/test_threads.py
 * and .ci/steps/40-wheel.sh check the built modules.
 *
 * Included first by src/_pool.pxi; a no-op off glibc and on architectures
 * without a manylinux2014 wheel here (their base versions differ). */
#ifndef RMSE_GLIBC_COMPAT_H
#define RMSE_GLIBC_COMPAT_H
#if defined(__linux__)
#  include <features.h>    /* defines __GLIBC__ (not on macOS: no such header there) */
#endif
#if defined(__GLIBC__) && defined(__linux__) && !defined(RMSE_NO_SYMVER)
#  if defined(__x86_64__) && !defined(__ILP32__)
#    define RMSE_GLIBC_BASE "GLIBC_2.2.5"
#    define RMSE_GLIBC_SETNAME "GLIBC_2.12"
#  elif defined(__aarch64__)
#    define RMSE_GLIBC_BASE "GLIBC_2.17"
#    define RMSE_GLIBC_SETNAME "GLIBC_2.17"
#  endif
#  ifdef RMSE_GLIBC_BASE
#    define RMSE_SYMVER(name, version) __asm__(".symver " #name "," #name "@" version)
RMSE_SYMVER(pthread_create, RMSE_GLIBC_BASE);
RMSE_SYMVER(pthread_attr_setstacksize, RMSE_GLIBC_BASE);
RMSE_SYMVER(pthread_mutex_trylock, RMSE_GLIBC_BASE);
RMSE_SYMVER(pthread_sigmask, RMSE_GLIBC_BASE);
RMSE_SYMVER(pthread_setname_np, RMSE_GLIBC_SETNAME);
#  endif
#endif
#endif
