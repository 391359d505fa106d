# The worker pool: persistent C threads that share out a job's chunks.
#
# Why C threads that spin: on a small KVM guest an idle vCPU halts, and a
# worker that sleeps on a condition variable between calls wakes late (or is
# run on the caller's vCPU), so a pool of sleeping Python threads gives two
# threads the speed of one.  These workers spin for a short while after each
# job (POOL_SPIN_NS) and only then sleep, and the chunks of a job are taken
# one at a time from a shared counter by the caller and every worker that has
# arrived: a late worker takes fewer chunks, never delays the job by more
# than one chunk.  Each chunk's sum lands in its own slot and the slots are
# folded in chunk order, so who summed which chunk never changes a bit.
#
# One pool per process (the kernels built for other instruction sets use the
# baseline kernel's, see share_pool_of), at most POOL_MAX workers, started
# lazily.  Jobs do not queue: a caller that finds the pool busy (another
# Python thread's job) sums its chunks itself.  After fork() the child calls
# pool_forget_after_fork(): the parent's workers do not exist there.
#
# Without pthreads and GCC-style atomics (MSVC) the pool has no workers and
# every job runs on the caller's thread.

cdef extern from *:
    """
    #if (defined(__GNUC__) || defined(__clang__)) && !defined(_WIN32)
    #include "_glibc_compat.h"      /* old symbol versions: manylinux2014 */
    #include <pthread.h>
    #include <sched.h>
    #include <signal.h>
    #include <string.h>
    #include <time.h>
    #define RMSE_POOL_THREADS 1
    #else
    #define RMSE_POOL_THREADS 0
    #endif
    #define RMSE_POOL_MAX 1023

    typedef void (*rmse_chunk_fn)(void *ctx, Py_ssize_t k);

    typedef struct rmse_pool rmse_pool;
    typedef struct { rmse_pool *pool; int index; } rmse_worker;

    struct rmse_pool {
    #if RMSE_POOL_THREADS
        pthread_mutex_t lock;      /* job fields, sleepers */
        pthread_cond_t wake;       /* sleeping workers wait here */
        pthread_mutex_t submit;    /* one job at a time */
    #endif
        int started;               /* workers running */
        int sleepers;
        int helpers;               /* workers with index < helpers join the open job */
        unsigned long gen;         /* odd while a job is open */
        int caller_cpu;            /* the CPU the job's caller last ran on (-1: unknown) */
        rmse_chunk_fn fn;
        void *ctx;
        Py_ssize_t chunks;
        unsigned long long ticket; /* the open job's gen (low 32 bits) << 32 | next chunk */
        Py_ssize_t done;           /* chunks finished */
        long spin_ns;
        rmse_worker workers[RMSE_POOL_MAX];
    };

    static void rmse_pool_init(rmse_pool *P) {
        memset(P, 0, sizeof *P);
        P->spin_ns = 2000000;
        P->caller_cpu = -1;
    #if RMSE_POOL_THREADS
        pthread_mutex_init(&P->lock, NULL);
        pthread_cond_init(&P->wake, NULL);
        pthread_mutex_init(&P->submit, NULL);
    #endif
    }

    /* The CPU this thread runs on now, -1 where that cannot be asked
       (sched_getcpu is a vDSO/rseq read on Linux: nanoseconds). */
    static inline int rmse_cpu_now(void) {
    #if RMSE_POOL_THREADS && defined(__linux__)
        return sched_getcpu();
    #else
        return -1;
    #endif
    }

    /* Whether this worker shares the caller's CPU: then it would only take
       turns with the caller (the scheduler woke it there), so it lets the
       caller run instead of summing or spinning beside it. */
    static inline int rmse_on_callers_cpu(rmse_pool *P) {
        int cpu = rmse_cpu_now();
        return cpu >= 0 && cpu == __atomic_load_n(&P->caller_cpu, __ATOMIC_RELAXED);
    }

    #define RMSE_TICKET(job, k) (((unsigned long long)(unsigned)(job) << 32) | (unsigned long long)(k))
    #define RMSE_MAX_SHARED_CHUNKS 0xffffffffLL     /* chunk numbers fit the ticket's 32 bits */

    /* The next chunk of job `job` not yet taken, or -1 when none is left or
       another job is open.  A chunk is claimed by moving the ticket on with a
       compare-and-swap that also checks the job, so a worker still holding
       the last job's fn/ctx can never take (and sum into) a chunk of the next
       one: the caller need not wait for workers that joined and took
       nothing, only for the chunks taken (done == chunks). */
    static Py_ssize_t rmse_pool_claim(rmse_pool *P, unsigned long job, Py_ssize_t chunks) {
        unsigned long long t = __atomic_load_n(&P->ticket, __ATOMIC_ACQUIRE);
        for (;;) {
            unsigned long long k = t & 0xffffffffULL;
            if ((t >> 32) != (unsigned long long)(unsigned)job || k >= (unsigned long long)chunks)
                return -1;
            if (__atomic_compare_exchange_n(&P->ticket, &t, t + 1, 1,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return (Py_ssize_t)k;
        }
    }

    /* The job's chunks, taken one at a time until none are left; the caller
       notes its CPU before each one (it may be moved between chunks). */
    static void rmse_pool_take(rmse_pool *P, unsigned long job, rmse_chunk_fn fn, void *ctx,
                               Py_ssize_t chunks, int caller) {
        for (;;) {
            if (caller) __atomic_store_n(&P->caller_cpu, rmse_cpu_now(), __ATOMIC_RELAXED);
            Py_ssize_t k = rmse_pool_claim(P, job, chunks);
            if (k < 0) return;
            fn(ctx, k);
            __atomic_fetch_add(&P->done, 1, __ATOMIC_RELEASE);
        }
    }

    /* Whether job `job` still has a chunk nobody took. */
    static int rmse_pool_left(rmse_pool *P, unsigned long job, Py_ssize_t chunks) {
        unsigned long long t = __atomic_load_n(&P->ticket, __ATOMIC_ACQUIRE);
        return (t >> 32) == (unsigned long long)(unsigned)job
               && (t & 0xffffffffULL) < (unsigned long long)chunks;
    }

    static inline void rmse_pause(void) {
    #if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
    #elif defined(__aarch64__)
        __asm__ __volatile__("yield");
    #endif
    }

    #if RMSE_POOL_THREADS
    static long rmse_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
    }

    static int rmse_new_job(rmse_pool *P, unsigned long seen) {
        unsigned long g = __atomic_load_n(&P->gen, __ATOMIC_ACQUIRE);
        return (g & 1UL) && g != seen;
    }

    /* Spin for spin_ns, then sleep, until a job newer than `seen` opens.
       A worker on the caller's CPU sleeps at once: spinning there would
       steal the caller's time. */
    static void rmse_wait_job(rmse_pool *P, unsigned long seen) {
        long deadline = rmse_now_ns() + __atomic_load_n(&P->spin_ns, __ATOMIC_RELAXED);
        unsigned spins = 0;
        while (!rmse_new_job(P, seen)) {
            rmse_pause();
            if ((++spins & 255u) != 0) continue;
            sched_yield();          /* a busy machine's other threads go first */
            if (rmse_now_ns() > deadline || rmse_on_callers_cpu(P)) {
                pthread_mutex_lock(&P->lock);
                P->sleepers++;
                while (!rmse_new_job(P, seen))
                    pthread_cond_wait(&P->wake, &P->lock);
                P->sleepers--;
                pthread_mutex_unlock(&P->lock);
                return;
            }
        }
    }

    static void *rmse_worker_main(void *arg) {
        rmse_worker *me = (rmse_worker *)arg;
        rmse_pool *P = me->pool;
        unsigned long seen = 0;
        for (;;) {
            rmse_chunk_fn fn = NULL;
            void *ctx = NULL;
            Py_ssize_t chunks = 0;
            rmse_wait_job(P, seen);
            pthread_mutex_lock(&P->lock);
            seen = P->gen;
            int join = (seen & 1UL) && me->index < P->helpers;
            if (join) {
                fn = P->fn; ctx = P->ctx; chunks = P->chunks;
            }
            pthread_mutex_unlock(&P->lock);
            if (!join) continue;
            /* woken on the caller's CPU: yield to the caller until the
               scheduler moves this worker to a CPU of its own (or the caller
               has taken every chunk); summing here would only slow it */
            while (rmse_on_callers_cpu(P) && rmse_pool_left(P, seen, chunks))
                sched_yield();
            rmse_pool_take(P, seen, fn, ctx, chunks, 0);
        }
        return NULL;
    }

    /* Start workers until `want` run (or thread creation fails). */
    static void rmse_pool_grow(rmse_pool *P, int want) {
        pthread_attr_t attr;
        sigset_t all, old;
        if (want > RMSE_POOL_MAX) want = RMSE_POOL_MAX;
        if (P->started >= want) return;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);   /* signals stay with Python's threads */
        while (P->started < want) {
            pthread_t tid;
            rmse_worker *w = &P->workers[P->started];
            w->pool = P;
            w->index = P->started;
            if (pthread_create(&tid, &attr, rmse_worker_main, w) != 0) break;
    #if defined(__linux__)
            pthread_setname_np(tid, "rmse_ext-pool");   /* as ps and /proc show it */
    #endif
            P->started++;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
    }
    #endif

    /* Run fn(ctx, k) for k in [0, chunks) on the caller and up to `helpers`
       workers.  Returns when every chunk is done. */
    static void rmse_pool_run(rmse_pool *P, int helpers, rmse_chunk_fn fn, void *ctx,
                              Py_ssize_t chunks) {
    #if RMSE_POOL_THREADS
        if (helpers > 0 && chunks <= RMSE_MAX_SHARED_CHUNKS
                && pthread_mutex_trylock(&P->submit) == 0) {
            rmse_pool_grow(P, helpers);
            __atomic_store_n(&P->caller_cpu, rmse_cpu_now(), __ATOMIC_RELAXED);
            pthread_mutex_lock(&P->lock);
            P->fn = fn; P->ctx = ctx; P->chunks = chunks;
            P->helpers = helpers;
            unsigned long job = P->gen + 1;
            __atomic_store_n(&P->done, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&P->ticket, RMSE_TICKET(job, 0), __ATOMIC_RELEASE);
            __atomic_store_n(&P->gen, job, __ATOMIC_RELEASE);             /* open */
            if (P->sleepers) pthread_cond_broadcast(&P->wake);
            pthread_mutex_unlock(&P->lock);
            rmse_pool_take(P, job, fn, ctx, chunks, 1);
            /* the last chunks a worker took: spin, then yield the core (a
               worker preempted on a busy machine may be holding one); a
               worker that joined but took nothing is not waited for */
            for (unsigned spins = 1; __atomic_load_n(&P->done, __ATOMIC_ACQUIRE) < chunks; spins++)
                if (spins & 1023u) rmse_pause(); else sched_yield();
            pthread_mutex_lock(&P->lock);
            __atomic_store_n(&P->gen, job + 1, __ATOMIC_RELEASE);         /* closed */
            pthread_mutex_unlock(&P->lock);
            pthread_mutex_unlock(&P->submit);
            return;
        }
    #endif
        for (Py_ssize_t k = 0; k < chunks; k++) fn(ctx, k);
    }

    static int rmse_pool_started(rmse_pool *P) {
        return __atomic_load_n(&P->started, __ATOMIC_RELAXED);
    }

    static rmse_pool rmse_own_pool;
    static rmse_pool *rmse_the_pool = NULL;

    static rmse_pool *rmse_pool_get(void) {
        if (rmse_the_pool == NULL) {
            rmse_pool_init(&rmse_own_pool);
            rmse_the_pool = &rmse_own_pool;
        }
        return rmse_the_pool;
    }
    """
    ctypedef void (*rmse_chunk_fn)(void* ctx, Py_ssize_t k) noexcept nogil
    ctypedef struct rmse_pool:
        long spin_ns
    int POOL_MAX "RMSE_POOL_MAX"
    int POOL_THREADS "RMSE_POOL_THREADS"
    rmse_pool* rmse_the_pool
    rmse_pool* pool_get "rmse_pool_get"() nogil
    void pool_init "rmse_pool_init"(rmse_pool* P) nogil
    void pool_run "rmse_pool_run"(rmse_pool* P, int helpers, rmse_chunk_fn fn,
                                  void* ctx, Py_ssize_t chunks) nogil
    int pool_started "rmse_pool_started"(rmse_pool* P) nogil

from cpython.pycapsule cimport PyCapsule_New, PyCapsule_GetPointer

MAX_THREADS = POOL_MAX + 1   # the caller plus every worker the pool may start


def pool_capsule():
    """This module's pool, for share_pool_of in the other kernel builds."""
    return PyCapsule_New(pool_get(), b"rmse_ext.pool", NULL)


def share_pool_of(capsule):
    """Use the pool behind ``capsule`` (another kernel's pool_capsule())
    instead of a pool of this module's own: one pool per process."""
    global rmse_the_pool
    rmse_the_pool = <rmse_pool*>PyCapsule_GetPointer(capsule, b"rmse_ext.pool")


def pool_workers():
    """Worker threads the pool has started (0 until a threaded job runs)."""
    return pool_started(pool_get())


def pool_spin_ns(long ns=-1):
    """Get (and with ``ns`` >= 0 set) how long an idle worker spins before
    it sleeps, in nanoseconds."""
    cdef rmse_pool* P = pool_get()
    if ns >= 0:
        P.spin_ns = ns
    return P.spin_ns


def pool_forget_after_fork():
    """In a forked child: forget the parent's workers (they were not copied)
    and start afresh on the next threaded job.  Called by os.register_at_fork
    (rmse_ext._parallel)."""
    cdef rmse_pool* P = pool_get()
    cdef long spin = P.spin_ns
    pool_init(P)
    P.spin_ns = spin
