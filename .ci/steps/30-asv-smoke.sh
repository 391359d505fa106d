# asv smoke run: every benchmark once, against the package installed in .venv
# (asv's --python=same: no asv-managed environment, no build).
set -euo pipefail
python3 -m venv .venv
.venv/bin/pip install -q -e ".[bench]" pandas polars   # the grouped baselines run too
.venv/bin/asv machine --yes --machine ci-smoke > /dev/null
OPENBLAS_NUM_THREADS=1 .venv/bin/asv run --python=same --quick --show-stderr \
    --machine ci-smoke --set-commit-hash "$(git rev-parse HEAD)" 2>&1 | tail -n 40
