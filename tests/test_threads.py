"""Threads: the num_threads bound, the worker pool (bounded, shared, safe
across fork), and the choice of kernel build.  Every fork/pool test runs in
a subprocess with a timeout, so a hang fails instead of hanging the run."""
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from rmse_ext import RootMeanSquaredError, _backend, _parallel

TIMEOUT = 120   # seconds; a healthy run takes a few on 2 busy cores
BIG = 40 * 65536 + 123


def run_python(tmp_path, *parts):
    """Run the code ``parts`` (each dedented) as a script in a fresh interpreter (the rmse_ext under
    test first on its path); return its stdout, failing the test on a
    non-zero exit or a hang."""
    package = os.path.dirname(os.path.dirname(_backend.__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [package, *filter(None, [os.environ.get("PYTHONPATH")])]))
    script = tmp_path / "child.py"
    script.write_text("\n".join(textwrap.dedent(part) for part in parts))
    try:
        done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the child hung for {TIMEOUT} s: {exc.stdout} {exc.stderr}")
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


# -- num_threads: one bound, one place ---------------------------------------

@pytest.mark.parametrize("value", [None, 0, 1, np.int64(7), _parallel.MAX_THREADS])
def test_check_num_threads_accepts(value):
    expected = _parallel.available_cpus() if not value else int(value)
    assert _parallel.check_num_threads(value) == expected


def test_all_cpus_metric_threads_and_pickles():
    import pickle
    m = RootMeanSquaredError(num_threads=None, dtype="float64")
    m.update_state(np.arange(BIG, dtype=float), np.zeros(BIG))
    again = pickle.loads(pickle.dumps(m))
    assert again.num_threads == m.num_threads and again.result() == m.result()


def test_available_cpus_is_the_affinity_mask():
    if hasattr(os, "sched_getaffinity"):
        assert _parallel.available_cpus() == len(os.sched_getaffinity(0))
    assert _parallel.available_cpus() >= 1


def test_threads_never_exceed_the_cpus(monkeypatch):
    monkeypatch.setattr(_parallel, "available_cpus", lambda: 3)
    chunks = 1000
    assert _parallel.threads_for(chunks * 10, 16, 10) == 3
    assert _parallel.threads_for(chunks * 10, 2, 10) == 2
    assert _parallel.threads_for(5 * 10, 16, 10) == 1     # too few chunks to share


# -- the pool ----------------------------------------------------------------

def test_kernels_share_one_pool():
    kernels = _backend.available()
    m = RootMeanSquaredError(num_threads=2)
    m.update_state(np.ones(BIG), np.zeros(BIG))
    assert len({k.pool_workers() for k in kernels}) == 1


def test_concurrent_python_threads_give_the_serial_bits(kernel):
    """Jobs from several Python threads at once: one gets the pool, the
    others sum their chunks alone; every state is bitwise the serial one."""
    rng = np.random.default_rng(3)
    arrays = [(rng.normal(size=BIG), rng.normal(size=BIG)) for _ in range(4)]
    expected = []
    for t, p in arrays:
        m = RootMeanSquaredError()
        m._acc = kernel.Accumulator()
        m.update_state(t, p)
        expected.append(m._acc.get_raw())
    got = [None] * len(arrays)

    def work(i):
        m = RootMeanSquaredError(num_threads=2)
        m._acc = kernel.Accumulator()
        for _ in range(3):
            m.reset_state()
            m.update_state(*arrays[i])
        got[i] = m._acc.get_raw()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(arrays))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(TIMEOUT)
    assert got == expected


# the pool's worker threads of this process, by the name they give themselves
POOL_THREADS = """
    import os

    def pool_threads():
        if not os.path.isdir("/proc/self/task"):
            return -1
        names = []
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/comm") as f:
                names.append(f.read().strip())
        return names.count("rmse_ext-pool")
"""


def test_pool_stays_bounded_across_batch_sizes_and_metrics(tmp_path):
    out = run_python(tmp_path, POOL_THREADS, """
        import numpy as np
        from rmse_ext import RootMeanSquaredError, _backend, _parallel
        before = pool_threads()
        rng = np.random.default_rng(0)
        t, p, w = rng.normal(size=64 * 65536), rng.normal(size=64 * 65536), rng.random(64 * 65536)
        metrics = [RootMeanSquaredError(num_threads=n) for n in (0, 2, 3, 16, 1024, None)]
        for kernel in _backend.available():
            for m in metrics:
                m._acc = kernel.Accumulator()
                for chunks in range(16, 65, 3):
                    m.update_state(t[:chunks * 65536], p[:chunks * 65536], w[:chunks * 65536])
        print(before, pool_threads(), _backend.baseline.pool_workers(), _parallel.available_cpus())
    """)
    before, after, workers, cpus = map(int, out.split())
    assert workers == cpus - 1 and before in (0, -1) and after in (workers, -1)


FORK_PARENT = """
    import sys
    import numpy as np
    from rmse_ext import RootMeanSquaredError, _parallel
    _parallel.available_cpus = lambda: 4          # workers exist even on 1 CPU
    rng = np.random.default_rng(1)
    t, p = rng.normal(size=%d), rng.normal(size=%d)
    serial = RootMeanSquaredError(dtype="float64")
    serial.update_state(t, p)
    parent = RootMeanSquaredError(num_threads=4, dtype="float64")
    parent.update_state(t, p)                     # the pool now has live workers
    assert parent.result() == serial.result()

    def child_job(_=None):
        fresh = RootMeanSquaredError(num_threads=4, dtype="float64")
        fresh.update_state(t, p)
        old = RootMeanSquaredError(num_threads=4, dtype="float64")
        old.set_state(parent.get_state())
        old.update_state(t, p)
        # the pool's workers are this process's own live threads
        from rmse_ext._backend import baseline
        workers = baseline.pool_workers()
        live = pool_threads()
        return float(fresh.result()), float(old.result()), workers >= 1 and live in (workers, -1)

    expected = (float(serial.result()), float(serial.result()), True)
""" % (BIG, BIG)


def test_fork_after_threaded_update_does_not_hang(tmp_path):
    out = run_python(tmp_path, POOL_THREADS, FORK_PARENT, """
    pid = os.fork()
    if pid == 0:
        try:
            code = 0 if child_job() == expected else 3
        finally:
            os._exit(locals().get("code", 4))
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status))
    """)
    assert out.split() == ["0"]


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_multiprocessing_pool_after_threaded_update(method, tmp_path):
    import multiprocessing
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    out = run_python(tmp_path, POOL_THREADS, FORK_PARENT, """
    import multiprocessing
    if __name__ == "__main__":
        with multiprocessing.get_context(%r).Pool(2) as pool:
            results = pool.map(child_job, range(4))
        print(all(r == expected for r in results))
    """ % method)
    assert out.split() == ["True"]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
def test_a_worker_on_the_callers_cpu_leaves_it_the_chunks(tmp_path):
    """Caller and worker forced onto one CPU (issue 21 part 4: a worker woken
    on the caller's CPU yields to it instead of summing by turns): every job
    still finishes, with the serial bits, and the pool stays one worker."""
    out = run_python(tmp_path, """
    import os
    import numpy as np
    from rmse_ext import _backend
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})   # the workers inherit it
    for k in _backend.available():
        t = np.random.default_rng(5).normal(size=%d)
        b = k.Batch(t, np.zeros_like(t))
        serial = np.empty((b.chunks, b.row_width))
        b.chunk_partials(0, b.chunks, serial)
        for _ in range(20):
            out = np.full_like(serial, np.nan)
            k.threaded_partials(b, 2, out)
            assert out.tobytes() == serial.tobytes()
    print(_backend.baseline.pool_workers())
    """ % BIG)
    assert out.split() == ["1"]


# -- the wheel's glibc floor (issue 21, part 1) ------------------------------

MANYLINUX2014_GLIBC = (2, 17)


def glibc_versions_needed(path):
    """The GLIBC_x.y symbol versions the shared object ``path`` needs
    (``objdump -T``), as {version tuple: [symbols]}."""
    import re
    import shutil
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("objdump (binutils) is not installed")
    out = subprocess.run([objdump, "-T", path], capture_output=True, text=True,
                         check=True).stdout
    needed = {}
    for line in out.splitlines():
        hit = re.search(r"\*UND\*.*\(?GLIBC_(\d+)\.(\d+)(?:\.\d+)?\)?\s+(\S+)$", line)
        if hit:
            version = (int(hit.group(1)), int(hit.group(2)))
            needed.setdefault(version, []).append(hit.group(3))
    return needed


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.uname().machine not in
                    {"x86_64", "aarch64"} or "glibc" not in " ".join(
                        __import__("platform").libc_ver()),
                    reason="the manylinux2014 glibc floor is checked on glibc x86-64 / aarch64")
def test_kernels_need_no_glibc_newer_than_manylinux2014():
    """Every compiled kernel loads on glibc 2.17: the pool's pthread calls are
    bound to their old symbol versions (src/_glibc_compat.h), so auditwheel
    can tag the wheel manylinux2014 (it was manylinux_2_34)."""
    import glob
    folder = os.path.dirname(_backend.baseline.__file__)
    paths = sorted(glob.glob(os.path.join(folder, "_kernel*.so")))
    assert paths
    for path in paths:
        newer = {v: syms for v, syms in glibc_versions_needed(path).items()
                 if v > MANYLINUX2014_GLIBC}
        assert not newer, f"{os.path.basename(path)} needs {newer}"
