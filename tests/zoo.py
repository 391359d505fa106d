"""The input zoo: dtypes, shapes, memory layouts and hypothesis strategies
reused across the test files (in the manner of bottleneck's array zoo)."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

REAL_DTYPES = [np.float64, np.float32, np.float16, np.int32, np.int8, np.uint8, np.bool_]
FLOAT_DTYPES = [np.float64, np.float32]

# Lane-tail lengths: the kernel works in blocks of 8; everything from 0 to 40
# crosses every remainder several times.
TAIL_SIZES = list(range(0, 41))

LAYOUTS = ["c", "reversed", "strided", "fortran", "swapped", "readonly", "unaligned"]


def relayout(a, how):
    """The same values as ``a`` in another memory layout."""
    a = np.asarray(a)
    if how == "c" or a.ndim == 0:
        return a
    if how == "reversed":
        return a[(slice(None, None, -1),) * a.ndim][(slice(None, None, -1),) * a.ndim]
    if how == "strided":
        big = np.empty(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
        big[..., ::2] = a
        return big[..., ::2]
    if how == "fortran":
        return np.asfortranarray(a)
    if how == "swapped":
        return a.astype(a.dtype.newbyteorder("S"))
    if how == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return b
    if how == "unaligned":
        raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
        b = raw[1:].view(a.dtype).reshape(a.shape) if a.dtype.itemsize > 1 else raw[1:].view(a.dtype).reshape(a.shape)
        b[...] = a
        return b
    raise ValueError(how)


# float64 squares below ~1e-308 underflow; keep magnitudes where the
# squared differences (and weights times them) stay normal numbers.
TINY = 1e-100


def finite_values(dtype, bound):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        width = dtype.itemsize * 8
        limit = min(bound, float(np.finfo(dtype).max))
        magnitude = st.floats(TINY if width == 64 else 0.0, limit, width=width)
        return st.one_of(st.just(0.0), magnitude, magnitude.map(lambda x: -x))
    if dtype.kind == "b":
        return st.booleans()
    info = np.iinfo(dtype)
    return st.integers(int(info.min), int(info.max))


@st.composite
def arrays(draw, dtype, shape, bound=1e60):
    """A finite array with some repeated values and exact zeros mixed in."""
    elements = finite_values(dtype, bound)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def shapes(draw):
    """Mostly small n-d shapes, sometimes a 1-d lane-tail length."""
    if draw(st.booleans()):
        return (draw(st.sampled_from(TAIL_SIZES)),)
    return draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))


@st.composite
def weights_for(draw, shape, signed=False):
    """None, a scalar, per-sample (shape[0],), or a full-shape weight."""
    kind = draw(st.sampled_from(["none", "scalar", "sample", "full"]))
    magnitude = st.one_of(st.just(0.0), st.floats(1e-30, 4.0))
    elements = st.one_of(magnitude, magnitude.map(lambda x: -x)) if signed else magnitude
    if kind == "none":
        return None
    if kind == "scalar" or len(shape) == 0:
        return draw(elements)
    wshape = shape[:1] if kind == "sample" else shape
    return draw(hnp.arrays(np.float64, wshape, elements=elements))
