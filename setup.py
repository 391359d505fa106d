"""Build the compiled kernels of rmse_ext: one source, one generated C file,
three builds.

rmse_ext._kernel         baseline instruction set (always built)
rmse_ext._kernel_avx2    the same C compiled for x86 with AVX2 + FMA; optional,
                         chosen at import time only when the CPU has both.
rmse_ext._kernel_avx512  the same C compiled for x86-64 with AVX-512 F + VL
                         and FMA; optional, chosen at import time only when
                         the CPU has them and the OS saves the ZMM/opmask state.

Flags: -O3 for gcc/clang, never -ffast-math (it would delete the compensation)
and never -march=native.  -ffp-contract=off keeps the compiler from fusing
a*b+c where the error-free transformations need the rounding they spell out.

Build time (issue 21): Cython runs once, on src/_kernel.pyx (the kernel does
not depend on the instruction set at the Cython level: only the C compiler's
flags differ), and the three builds compile that one C file, each in its own
``gcc`` process at once (BuildExt.build_extensions); an ISA build's C is a
two-line file that renames the module's init function and includes the
baseline C (isa_c).  A line of progress is printed as each step ends; the
generated C stays in src/ (git-ignored, never in the sdist) and is
regenerated only when a source is newer or Cython changed; an editable
install reuses the kernels the last one built in place when nothing they are
made of changed (stamps in build/), so the README's test command after its
first one compiles nothing.
"""
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# -g0: no debug info (Python's own CFLAGS add -g): a fifth of gcc's time on
# this much generated C, and a smaller wheel; a sanitizer or debugging build
# puts -g back through RMSE_EXT_EXTRA_CFLAGS, which comes later and wins.
UNIX_FLAGS = ["-O3", "-g0", "-ffp-contract=off", "-fno-math-errno", "-pthread"]
UNIX_LINK = ["-pthread"]                       # the worker pool (src/_pool.pxi)
X87_FLAGS = ["-msse2", "-mfpmath=sse"]          # no double rounding on 32-bit x86
ISA_FLAGS = {
    "rmse_ext._kernel_avx2": ["-mavx2", "-mfma"],
    "rmse_ext._kernel_avx512": ["-mavx512f", "-mavx512vl", "-mfma"],
}
MSVC_FLAGS = ["/O2", "/fp:precise"]
OPTIONAL = set(ISA_FLAGS)
X86_64_ONLY = {"rmse_ext._kernel_avx512"}
SRC = "src"
STAMPS = os.path.join("build", "kernel-stamps")   # what each in-place kernel was built from


def is_x86(bits64=False):
    machine = platform.machine().lower()
    archflags = os.environ.get("ARCHFLAGS", "")
    if sys.platform == "darwin" and "arm64" in archflags:
        return False
    if bits64:
        return machine in {"x86_64", "amd64"} and sys.maxsize > 2**32
    return machine in {"x86_64", "amd64", "i386", "i686", "x86"}


def can_build(name, unix):
    """Whether this build may include the extension ``name``."""
    if name not in OPTIONAL:
        return True
    return unix and is_x86(bits64=name in X86_64_ONLY)


def kernel_inputs():
    """Every file a kernel is made of: the .pyx files, the body and its rooms
    (.pxi), the C header (.h)."""
    return sorted(os.path.join(SRC, f) for f in os.listdir(SRC)
                  if f.endswith((".pyx", ".pxi", ".h")))


def log(message):
    """One whole line of progress (one write: the build threads share stdout)."""
    sys.stdout.write(f"rmse_ext build: {message}\n")
    sys.stdout.flush()


def cython_version():
    import Cython
    return Cython.__version__


def generated_c(pyx):
    return pyx[:-len(".pyx")] + ".c"


def c_is_current(pyx):
    """Whether src/X.c exists, is newer than every kernel input and was made
    by this Cython (its first line names the version)."""
    c = generated_c(pyx)
    if not os.path.exists(c):
        return False
    with open(c, encoding="utf-8", errors="replace") as f:
        if f"Cython {cython_version()} " not in f.readline():
            return False
    return os.path.getmtime(c) >= max(os.path.getmtime(p) for p in kernel_inputs())


def cythonize_one(pyx):
    """src/X.pyx -> src/X.c, module rmse_ext.X, in its own process (an
    interrupted run leaves no X.c)."""
    c = generated_c(pyx)
    partial = c[:-len(".c")] + ".partial.c"
    name = "rmse_ext." + os.path.basename(pyx)[:-len(".pyx")]
    subprocess.run([sys.executable, "-m", "cython", "-3", "--module-name", name,
                    "-o", partial, pyx], check=True)
    os.replace(partial, c)


def isa_c(ext, c):
    """The C file of an ISA build: the generated C of the baseline module
    ``c`` with its init function renamed for ``ext`` (Python finds
    PyInit_<last name part>); written only when it changes, so its mtime
    says when it did."""
    short = ext.name.rsplit(".", 1)[-1]
    base = os.path.basename(c)[:-len(".c")]
    if short == base:
        return c
    path = os.path.join(os.path.dirname(c), short + ".c")
    text = (f"/* {ext.name}: {os.path.basename(c)} compiled with this build's flags "
            f"(generated by setup.py) */\n"
            f"#define PyInit_{base} PyInit_{short}\n"
            f'#include "{os.path.basename(c)}"\n')
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return path
    except OSError:
        pass
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


class BuildExt(build_ext):
    """Per-compiler flags; the optional kernels are skipped where they cannot
    build; the kernels are generated and compiled at once, and an editable
    build reuses an up-to-date in-place kernel."""

    def build_extensions(self):
        unix = self.compiler.compiler_type != "msvc"
        for ext in self.extensions:
            if unix:
                ext.extra_compile_args = list(UNIX_FLAGS)
                if platform.machine().lower() in {"i386", "i686", "x86"}:
                    ext.extra_compile_args += X87_FLAGS
                ext.extra_compile_args += ISA_FLAGS.get(ext.name, [])
                extra = os.environ.get("RMSE_EXT_EXTRA_CFLAGS", "")
                ext.extra_compile_args += extra.split()
                ext.extra_link_args = UNIX_LINK + os.environ.get("RMSE_EXT_EXTRA_LDFLAGS", "").split()
            else:
                ext.extra_compile_args = list(MSVC_FLAGS)
        self.extensions = [ext for ext in self.extensions if can_build(ext.name, unix)]
        self.check_extensions_list(self.extensions)
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        # one more job than CPUs: three kernels on two cores finish together
        jobs = max(1, min(len(self.extensions), (cpus or 1) + 1))
        log(f"{len(self.extensions)} kernels, {jobs} at a time "
            f"(Cython {cython_version()}, {cpus} CPUs)")
        self._started = time.monotonic()
        self._status = {ext.name: "waiting" for ext in self.extensions}
        done = threading.Event()
        ticker = threading.Thread(target=self._tick, args=(done,), daemon=True)
        ticker.start()
        try:
            self._generate_c()
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                for future in [pool.submit(self.build_extension, ext) for ext in self.extensions]:
                    future.result()
        finally:
            done.set()
        log(f"all kernels ready in {self._elapsed()}")

    def _generate_c(self):
        """Cython, once for every .pyx the kernels are built from."""
        for pyx in sorted({s for ext in self.extensions for s in ext.sources
                           if s.endswith(".pyx")}):
            if not c_is_current(pyx):
                for ext in self.extensions:
                    self._status[ext.name] = "cythonizing"
                cythonize_one(pyx)
                log(f"{os.path.basename(pyx)}: C generated ({self._elapsed()})")

    def _elapsed(self):
        return f"{time.monotonic() - self._started:.0f} s"

    def _tick(self, done):
        """A line every 15 s while kernels build (pip's spinner moves on it)."""
        while not done.wait(15):
            log(f"{self._elapsed()}: " + ", ".join(
                f"{name.rsplit('.', 1)[-1]} {state}" for name, state in self._status.items()))

    def build_extension(self, ext):
        short = ext.name.rsplit(".", 1)[-1]
        try:
            c = generated_c(next(s for s in ext.sources if s.endswith(".pyx")))
            ext.depends = list(ext.depends) + [c]
            ext.sources = [isa_c(ext, c) if s.endswith(".pyx") else s for s in ext.sources]
            if self._reuse_in_place(ext):
                self._status[ext.name] = "reused"
                log(f"{short}: up to date, not compiled")
                return
            self._status[ext.name] = "compiling"
            super().build_extension(ext)
            self._compiled.append(ext)
            self._status[ext.name] = "done"
            log(f"{short}: compiled ({self._elapsed()})")
        except Exception as exc:  # an optional kernel may fail on odd toolchains
            self._status[ext.name] = "failed"
            if ext.name not in OPTIONAL:
                raise
            sys.stderr.write(f"warning: skipped optional {ext.name}: {exc}\n")

    # -- an editable build's reuse of the kernels already in place --------------

    def run(self):
        self._compiled = []
        super().run()                      # builds, then (editable) copies in place
        if self.editable_mode:             # stamp what now lies in place
            os.makedirs(STAMPS, exist_ok=True)
            for ext in self._compiled:
                with open(self._stamp_path(ext), "w") as f:
                    json.dump(self._stamp(ext), f)

    def _stamp(self, ext):
        """What the in-place kernel was built from (flags, versions) and which
        file that is (size, mtime): any other build over it voids the stamp."""
        recipe = [sys.version, numpy.__version__, cython_version(), ext.name,
                  getattr(self.compiler, "compiler_so", self.compiler.compiler_type),
                  ext.extra_compile_args, ext.extra_link_args, ext.define_macros]
        built = self._in_place(ext)
        return {"recipe": hashlib.sha256(json.dumps(recipe, default=str).encode()).hexdigest(),
                "file": built, "size": os.path.getsize(built),
                "mtime_ns": os.stat(built).st_mtime_ns}

    def _in_place(self, ext):
        return os.path.join(*ext.name.split(".")[:-1],
                            os.path.basename(self.get_ext_filename(ext.name)))

    def _stamp_path(self, ext):
        return os.path.join(STAMPS, ext.name + ".json")

    def _reuse_in_place(self, ext):
        """An editable build whose in-place kernel is the one it stamped last
        time, from the same recipe and newer than its C, copies it instead of
        compiling it."""
        if not self.editable_mode:
            return False
        built = self._in_place(ext)
        try:
            with open(self._stamp_path(ext)) as f:
                same = json.load(f) == self._stamp(ext)
            current = os.path.getmtime(built) >= max(
                os.path.getmtime(p) for p in ext.sources + list(ext.depends))
        except (OSError, ValueError):
            return False
        if not (same and current):
            return False
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(built, target)
        return True


def kernel(name, source):
    return Extension(
        name,
        [source],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_25_API_VERSION")],
        depends=kernel_inputs(),
    )


setup(
    ext_modules=[
        kernel("rmse_ext._kernel", "src/_kernel.pyx"),
        kernel("rmse_ext._kernel_avx2", "src/_kernel.pyx"),
        kernel("rmse_ext._kernel_avx512", "src/_kernel.pyx"),
    ],
    cmdclass={"build_ext": BuildExt},
)
