# The command line from a fresh, non-editable `pip install .`: the console
# script on PATH runs each command, then tests/test_cli.py runs against the
# installed package (console script and `python -m rmse_ext` both).
set -euo pipefail
repo=$PWD
work=$(mktemp -d)
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$repo[test]"
export PATH="$work/venv/bin:$PATH"
cd "$work"
rmse-ext --version
python -c "import numpy as np; np.save('t.npy', np.arange(10.0)); np.save('p.npy', np.arange(10.0) + 3)"
test "$(rmse-ext eval t.npy p.npy --no-progress)" = "3.0"
rmse-ext eval t.npy p.npy --json
rmse-ext demo --batches 200 > /dev/null
rmse-ext bench --json --size 10000 --repeat 1 > /dev/null
set +e
rmse-ext eval t.npy missing.npy 2> err.txt
code=$?
set -e
test "$code" = 2 && grep -q "^rmse-ext: error: missing.npy: no such file" err.txt
python -m pytest -q -p no:cacheprovider "$repo/tests/test_cli.py"
rm -rf "$work"
