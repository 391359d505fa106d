# Test-only dependency that needs a pinned install: CPU torch (tests/test_interop.py).
# The README's test command then installs the '[test]' extra into this same .venv.
set -euo pipefail
python3 -m venv .venv
.venv/bin/pip install -q torch==2.13.0
.venv/bin/python -c "import torch; print('torch', torch.__version__)"
