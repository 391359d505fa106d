# Spark for tests/test_spark.py (so it runs, not skips): pyspark into .venv,
# and a Java runtime where the machine has none (Debian/Ubuntu package).
set -euo pipefail
if ! command -v java >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null \
        || apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null
fi
java -version 2>&1 | head -1
[ -d .venv ] || python3 -m venv .venv
.venv/bin/pip install -q 'pyspark[sql]>=3.5'
.venv/bin/python -c "import pyspark; print('pyspark', pyspark.__version__)"
