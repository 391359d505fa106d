"""Turning what users pass into buffers the kernel can read.

The kernel reads float32 and float64 natively; everything else that is a real
number is converted without rounding below its own precision:
bool/int -> float64, float16 -> float32 (exact).  long double is the one
exception: it is rounded to float64 (the kernel's working precision).
"""
import numpy as np

FLOAT32 = np.dtype(np.float32)
FLOAT64 = np.dtype(np.float64)

_REJECTED_KINDS = {
    "c": "complex numbers",
    "O": "Python objects",
    "U": "strings",
    "S": "bytes",
    "M": "datetimes",
    "m": "timedeltas",
    "V": "raw/structured records",
}


_KERNEL_DTYPES = {}


def kernel_dtype(dtype, name):
    """The dtype the kernel will read an array of ``dtype`` as."""
    known = _KERNEL_DTYPES.get(dtype)
    if known is not None:
        return known
    target = _kernel_dtype(dtype, name)
    _KERNEL_DTYPES[dtype] = target
    return target


def _kernel_dtype(dtype, name):
    kind = dtype.kind
    if kind == "f":
        if dtype.itemsize == 2:
            return FLOAT32
        if dtype.itemsize in (4, 8):
            return dtype.newbyteorder("=")
        return FLOAT64
    if kind in "biu":
        return FLOAT64
    what = _REJECTED_KINDS.get(kind, f"dtype {dtype}")
    raise TypeError(
        f"{name} must hold real numbers (bool, int or float); got {what} "
        f"(dtype {dtype})"
    )


def as_array(x, name):
    """``x`` as a plain ndarray of any numeric dtype, without copying if it
    already is one or exposes one (``__array__``, the buffer protocol: NumPy
    memmaps, torch CPU tensors, pandas columns, array.array, memoryview).
    Raises TypeError/ValueError naming ``name``."""
    if type(x) is np.ndarray:
        return x
    if isinstance(x, np.ndarray) and isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array; rmse_ext does not apply masks. Pass "
            f"{name}.compressed() (and the matching values of the other "
            f"arguments), or use sample_weight=0 for the masked entries"
        )
    if getattr(x, "requires_grad", False) and callable(getattr(x, "detach", None)):
        # a torch tensor in an autograd graph: a metric is not part of the
        # graph (as in Keras), so read its values; detach() copies nothing
        x = x.detach()
    try:
        x = np.asarray(x)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"{name} could not be read as an array: {exc}") from None
    except TypeError as exc:
        raise TypeError(f"{name} could not be read as an array: {exc}") from None
    return x


def as_operand(x, name):
    """``x`` as an aligned, native-endian, C-contiguous float32/float64 array
    (a copy only when it is not one already)."""
    x = as_array(x, name)
    target = kernel_dtype(x.dtype, name)
    if x.dtype != target or not (x.flags.c_contiguous and x.flags.aligned):
        x = np.array(x, dtype=target, order="C", copy=True)
    return x


def resolve_result_dtype(dtype):
    """The NumPy float dtype that ``result()`` returns (semantics 1: None -> float32)."""
    if dtype is None:
        return FLOAT32
    as_numpy = getattr(dtype, "as_numpy_dtype", None)  # a tf.DType
    if as_numpy is not None:
        dtype = as_numpy
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.kind != "f" or resolved.itemsize not in (2, 4, 8):
        raise TypeError(
            f"dtype must be float16, float32 or float64 (or None for float32); "
            f"got {dtype!r}"
        )
    return resolved.newbyteorder("=")
