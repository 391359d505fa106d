"""The choice of kernel build: CPU detection, RMSE_EXT_KERNEL, fallbacks."""
import os

import pytest

from rmse_ext import _backend

ALL = ("baseline", "avx2", "avx512")


@pytest.mark.parametrize("wanted, usable, expected", [
    ("auto", ALL, ["avx512", "avx2", "baseline"]),
    ("auto", ("baseline", "avx2"), ["avx2", "baseline"]),
    ("auto", ("baseline",), ["baseline"]),
    ("avx512", ("baseline", "avx2"), ["avx2", "baseline"]),   # never one the CPU faults on
    ("avx2", ALL, ["avx2", "baseline"]),
    ("baseline", ALL, ["baseline"]),
])
def test_select_orders_the_builds(wanted, usable, expected):
    assert _backend.select(wanted, usable) == expected


def test_select_rejects_unknown_names():
    with pytest.raises(ImportError, match="RMSE_EXT_KERNEL='avx9'"):
        _backend.select("avx9", ALL)


@pytest.fixture
def fake_cpu(monkeypatch):
    """choose() on a CPU that runs ``usable``, every build present."""
    built = {"baseline": _backend.baseline}
    for build in ("avx2", "avx512"):
        built[build] = type(_backend)(f"rmse_ext.{_backend.MODULES[build]}")

    def use(usable, env=None, missing=()):
        monkeypatch.setattr(_backend, "runnable", lambda: tuple(usable))

        def load(build):
            if build in missing:
                raise ImportError(build)
            return built[build]

        monkeypatch.setattr(_backend, "load", load)
        if env is None:
            monkeypatch.delenv("RMSE_EXT_KERNEL", raising=False)
        else:
            monkeypatch.setenv("RMSE_EXT_KERNEL", env)
        return _backend.build_name(_backend.choose())

    return use


def test_choose_takes_the_fastest_runnable(fake_cpu):
    assert fake_cpu(ALL) == "avx512"
    assert fake_cpu(("baseline", "avx2")) == "avx2"
    assert fake_cpu(("baseline",)) == "baseline"


def test_environment_forces_any_build(fake_cpu):
    assert fake_cpu(ALL, "baseline") == "baseline"
    assert fake_cpu(ALL, "avx2") == "avx2"
    assert fake_cpu(ALL, " AVX512 ") == "avx512"
    assert fake_cpu(("baseline", "avx2"), "avx512") == "avx2"
    assert fake_cpu(ALL, "auto") == "avx512"


def test_a_build_left_out_of_the_wheel_falls_back(fake_cpu):
    assert fake_cpu(ALL, missing=("avx512",)) == "avx2"
    assert fake_cpu(ALL, "avx512", missing=("avx512", "avx2")) == "baseline"


def test_bad_environment_value_fails_the_import(fake_cpu):
    with pytest.raises(ImportError, match="RMSE_EXT_KERNEL"):
        fake_cpu(ALL, "fastest")


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def test_detection_agrees_with_the_kernel_flags_linux_reports():
    flags = cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo flags here")
    found = _backend.runnable()
    assert found[0] == "baseline"
    # Linux lists a feature only when the kernel saves its register state
    assert ("avx2" in found) == ({"avx", "avx2", "fma"} <= flags)
    assert ("avx512" in found) == ({"avx2", "fma", "avx512f", "avx512vl"} <= flags)


def test_every_runnable_build_is_available_and_used_by_default():
    names = [_backend.build_name(m) for m in _backend.available()]
    assert names[0] == "baseline" and set(names) <= set(_backend.runnable())
    if os.environ.get("RMSE_EXT_KERNEL", "auto") == "auto":
        assert _backend.build_name(_backend.kernel) == names[-1]


def test_all_builds_compute_the_same_bits(kernel):
    import numpy as np
    rng = np.random.default_rng(9)
    t, p, w = rng.normal(size=5000), rng.normal(size=5000), rng.random(5000)
    raws = []
    for module in (kernel, _backend.baseline):
        acc = module.Accumulator()
        acc.fold(module.Batch(t, p, w, w_mode=int(module.WMode.FULL)))
        raws.append(acc.get_raw())
    assert raws[0] == raws[1]
