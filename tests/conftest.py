import os

import pytest
from hypothesis import HealthCheck, settings

from rmse_ext import RootMeanSquaredError, _backend

# Profiles: "dev" (default, quick), "ci" (what .ci/run selects).
settings.register_profile(
    "dev", max_examples=150, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci", max_examples=400, deadline=None, derandomize=False, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)

KERNELS = _backend.available()


@pytest.fixture(params=KERNELS, ids=[m.__name__.rsplit(".", 1)[-1] for m in KERNELS])
def kernel(request):
    """Each compiled kernel this machine can run."""
    return request.param


def metric_on(kernel, **kwargs):
    """A metric whose accumulator comes from the given kernel module."""
    m = RootMeanSquaredError(**kwargs)
    m._acc = kernel.Accumulator()
    return m


@pytest.fixture(scope="session")
def spark():
    """One local[2] SparkSession for the whole run (test_spark, test_conformance)."""
    import shutil
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs java (.ci/run installs openjdk-17-jre-headless)")
    import rmse_ext.spark
    session = rmse_ext.spark.local_session(2)
    yield session
    session.stop()


@pytest.fixture
def make_metric(kernel):
    return lambda **kwargs: metric_on(kernel, **kwargs)
settings.register_profile(
    "thorough", max_examples=3000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
settings.load_profile(PROFILE)

# The exact-oracle stream test is the one that matters most: under "ci" it
# runs at least 2000 examples (the other hypothesis tests keep the profile's).
ORACLE_EXAMPLES = max(settings.default.max_examples, 2000 if PROFILE == "ci" else 0)
