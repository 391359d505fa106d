# The extension built with AddressSanitizer + UndefinedBehaviorSanitizer
# (gcc, any report aborts), the test suite run against it.  CPython is not
# built with ASan, so libasan is preloaded; leak detection is off because
# CPython keeps interned objects and arenas alive at exit by design (the
# RSS-based leak tests in tests/test_hardening.py cover leaks instead; they
# and every other resident-size test are marked `rss` and deselected here:
# ASan's quarantine makes RSS meaningless).  mypy
# (tests/test_typing.py) does not touch the extension and is skipped too.
set -euo pipefail
work=$(mktemp -d /tmp/rmse-asan.XXXXXX)
trap 'rm -rf "$work"' EXIT
quiet() {
    "$@" >"$work/log" 2>&1 || { cat "$work/log"; return 1; }
}
libasan=$(gcc -print-file-name=libasan.so)
[ -f "$libasan" ] || { echo "gcc has no libasan ($libasan); apt-get install libasan8?"; exit 1; }

cp -r setup.py pyproject.toml src rmse_ext tests "$work/"
find "$work" \( -name '*.so' -o -name '*.c' -o -name __pycache__ \) -prune -exec rm -rf {} +
python3 -m venv "$work/venv"
quiet "$work/venv/bin/pip" install "numpy>=2" "Cython>=3" setuptools pytest hypothesis

cd "$work"
sanitize="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -g"
RMSE_EXT_EXTRA_CFLAGS="$sanitize" RMSE_EXT_EXTRA_LDFLAGS="-fsanitize=address,undefined" \
    quiet venv/bin/python setup.py build_ext --inplace
for kernel in _kernel _kernel_avx2 _kernel_avx512; do   # every build, instrumented
    ls rmse_ext/$kernel.*.so >/dev/null 2>&1 || { echo "rmse_ext.$kernel was not built"; exit 1; }
done
for so in rmse_ext/_kernel*.so; do
    case "$(ldd "$so")" in  # (not ldd | grep -q: grep's early exit + pipefail)
        *libasan*) ;;
        *) echo "$so is not linked against libasan"; exit 1 ;;
    esac
done
echo "built: $(ls rmse_ext/*.so | xargs -n1 basename | tr '\n' ' ')"

export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# Canary: the raw kernel told to read y_true past its end must be caught,
# else the sanitizer is not live and a clean run below would prove nothing.
if LD_PRELOAD="$libasan" PYTHONPATH="$work" venv/bin/python -c '
import numpy as np
from rmse_ext import _kernel as k
t, p = np.zeros(1000), np.zeros(2000)
k.Accumulator().fold(k.Batch(t, p))
' >"$work/canary.log" 2>&1 || ! grep -q "heap-buffer-overflow" "$work/canary.log"; then
    echo "canary: an out-of-bounds read was NOT reported; the sanitizer is not active"
    cat "$work/canary.log" | tail -n 20; exit 1
fi
echo "canary: out-of-bounds read reported as expected"

status=0
LD_PRELOAD="$libasan" HYPOTHESIS_PROFILE=dev PYTHONPATH="$work" \
    venv/bin/python -m pytest -q -p no:cacheprovider tests -m "not rss" \
    --ignore=tests/test_typing.py >"$work/pytest.log" 2>&1 || status=$?
tail -n 3 "$work/pytest.log"
if grep -E "AddressSanitizer|runtime error:|UndefinedBehaviorSanitizer" "$work/pytest.log"; then
    echo "sanitizer report above"; exit 1
fi
[ "$status" -eq 0 ] || { cat "$work/pytest.log" | tail -n 60; exit "$status"; }
