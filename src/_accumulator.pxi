# The running state: a compensated total, a compensated weight sum, and exact
# element and omitted counts that cannot wrap (two 64-bit words each).

from cpython.float cimport PyFloat_CheckExact, PyFloat_AS_DOUBLE

cdef extern from "numpy/arrayobject.h":
    object PyArray_Scalar(void* data, cnp.dtype descr, object base)


cdef inline object float_scalar(double v, cnp.dtype descr):
    """v as a NumPy scalar of the float dtype ``descr`` (float32 and float64
    built in C: no Python-level conversion)."""
    cdef float f
    if descr.type_num == cnp.NPY_DOUBLE and descr.byteorder != c'>':
        return PyArray_Scalar(&v, descr, None)
    if descr.type_num == cnp.NPY_FLOAT and descr.byteorder != c'>':
        f = <float>v
        return PyArray_Scalar(&f, descr, None)
    return (<object>descr).type(v)


cdef struct Count:
    uint64_t lo
    uint64_t hi            # the value is hi * 2**64 + lo


cdef inline void add_count(Count* c, uint64_t n) noexcept nogil:
    c.lo += n
    c.hi += c.lo < n       # carry


cdef inline void merge_count(Count* c, Count other) noexcept nogil:
    add_count(c, other.lo)
    c.hi += other.hi


cdef object count_to_int(Count c):
    return (<object>c.hi << 64) | <object>c.lo


cdef Count count_from_int(object n) except *:
    cdef Count c
    c.lo = <uint64_t>(n & 0xFFFFFFFFFFFFFFFF)
    c.hi = <uint64_t>(n >> 64)
    return c


cdef inline DD count_dd(DD weight, Count n) noexcept nogil:
    """The weight sum plus the element count, as a double-double."""
    cdef DD c = weight
    add_count_dd(&c, n.hi, 18446744073709551616.0)
    add_count_dd(&c, n.lo, 1.0)
    return c


cdef enum:
    MEMO_DIMS = 8          # operands of at most this many dimensions are memoised


# One layout the resolver chose (rmse_ext._rules, rmse_ext._plan), remembered
# by the shapes and dtypes of the operands as given: a later update of the same
# shapes reads its operands the same way, without Python.  A cache, not a rule:
# it only compares shapes.
cdef struct LayoutMemo:
    bint valid
    bint has_w
    bint swap              # y_pred is read in the y_true slot and the reverse
    int ndim[3]
    Py_ssize_t dims[3][MEMO_DIMS]
    int typenum[3]
    int t_mode
    int w_mode
    Py_ssize_t run


cdef inline bint memo_fits(const LayoutMemo* M, int k, object a) noexcept:
    """Whether operand k is a plain ndarray of the remembered shape and dtype."""
    cdef cnp.ndarray arr
    cdef int d
    if not cnp.PyArray_CheckExact(a):
        return False
    arr = <cnp.ndarray>a
    if not is_plain_float(arr) or cnp.PyArray_NDIM(arr) != M.ndim[k]:
        return False
    if cnp.PyArray_TYPE(arr) != M.typenum[k]:
        return False
    for d in range(M.ndim[k]):
        if cnp.PyArray_DIM(arr, d) != M.dims[k][d]:
            return False
    return True


cdef class Accumulator:
    """Running state of the metric.  All methods trust their arguments; the
    checks live in rmse_ext.

    >>> import numpy as np
    >>> acc = Accumulator()
    >>> acc.fold_fast(np.array([2., 4, 6]), np.array([1., 3, 2]))
    True
    >>> acc.value()
    2.449489742783178
    """
    cdef DD total
    cdef DD weight
    cdef Count elements
    cdef Count omitted
    cdef LayoutMemo memo   # not state: a cache of the last resolved layout

    def __cinit__(self):
        self.reset()

    cpdef void reset(self) noexcept:
        memset(&self.total, 0, sizeof(DD))
        memset(&self.weight, 0, sizeof(DD))
        memset(&self.elements, 0, sizeof(Count))
        memset(&self.omitted, 0, sizeof(Count))

    cdef void absorb(self, Partial* part, const BatchSpec* B) noexcept:
        """Fold a batch's chunk sums (in chunk order) into the state: the
        repeat factor, the row-mean divisor and the count rule applied once,
        here, for every way the chunks were summed."""
        cdef uint64_t kept = <uint64_t>(B.size - part.omitted) * <uint64_t>B.repeat
        if B.repeat != 1:
            scale_dd(&part.total, <double>B.repeat)
            scale_dd(&part.weight, <double>B.repeat)
        if B.divisor != 1.0:
            divide_dd(&part.total, B.divisor)
        if B.fixed_count:
            part.weight = B.count_sum
        add_dd(&self.total, part.total.hi, part.total.lo)
        if B.w_mode == NONE:
            add_count(&self.elements, kept)
        else:
            add_dd(&self.weight, part.weight.hi, part.weight.lo)
        add_count(&self.omitted, <uint64_t>part.omitted * <uint64_t>B.repeat)

    cdef void fold_spec(self, const BatchSpec* B) noexcept:
        """Sum the batch (without the GIL when it is big enough to pay), then
        fold the sum into the state while holding the GIL: concurrent Python
        threads never interleave inside the state update."""
        cdef Partial part
        cdef Py_ssize_t chunks = chunk_count(B)
        if B.size >= GIL_FREE_ABOVE:
            with nogil:
                chunks_partial(B, 0, chunks, &part)
        else:
            chunks_partial(B, 0, chunks, &part)
        self.absorb(&part, B)

    def fold(self, Batch batch):
        """Fold one prepared batch, serially."""
        self.fold_spec(&batch.spec)

    def fold_partials(self, Batch batch, const double[:, ::1] parts, Py_ssize_t size=-1):
        """Fold a batch's per-chunk sums (rows of Batch.chunk_partials'
        output): bitwise what fold(batch) gives, however the chunks were
        spread over threads.  ``size`` (default: the batch's) is the element
        count of the whole table, when windows of one layout filled it
        (rmse_ext._chunked)."""
        cdef Partial part
        cdef BatchSpec spec = batch.spec
        if size >= 0:
            spec.size = size
        rows_partial(parts, False, &part)
        self.absorb(&part, &spec)

    def fold_fast(self, object t, object p, object w=None, int policy=PROPAGATE):
        """Fast path for the commonest calls, which need no rule: y_true and
        y_pred plain ndarrays of one shape (aligned, native, C-contiguous
        float32/float64), and the weights None, a Python float, or a plain
        ndarray of the same shape with more than one element; ``policy``
        PROPAGATE or OMIT (float operands need no other).  Returns False,
        having done nothing, for anything else: the caller then resolves
        the layout (rmse_ext._rules)."""
        cdef BatchSpec B
        cdef int w_mode = NONE
        cdef double w_scalar = 0.0
        cdef cnp.ndarray wa = None
        if not (cnp.PyArray_CheckExact(t) and cnp.PyArray_CheckExact(p)):
            return False
        cdef cnp.ndarray ta = <cnp.ndarray>t
        cdef cnp.ndarray pa = <cnp.ndarray>p
        if not (is_plain_float(ta) and is_plain_float(pa)):
            return False
        if not cnp.PyArray_SAMESHAPE(ta, pa):
            return self.fold_remembered(t, p, w, policy)
        if w is None:
            pass
        elif PyFloat_CheckExact(w):
            w_mode = SCALAR
            w_scalar = PyFloat_AS_DOUBLE(w)
        elif (cnp.PyArray_CheckExact(w) and is_plain_float(<cnp.ndarray>w)
              and cnp.PyArray_SAMESHAPE(<cnp.ndarray>w, pa) and cnp.PyArray_SIZE(pa) > 1):
            wa = <cnp.ndarray>w
            w_mode = FULL
        else:
            return self.fold_remembered(t, p, w, policy)
        describe(&B, ta, pa, wa, FULL_T, w_mode, w_scalar, 0)
        B.policy = policy
        self.fold_spec(&B)
        return True

    cdef bint fold_remembered(self, object t, object p, object w, int policy) noexcept:
        """Fold by the remembered layout when the operands fit it."""
        cdef BatchSpec B
        cdef const LayoutMemo* M = &self.memo
        cdef cnp.ndarray wa = None
        cdef double w_scalar = 0.0
        if not (M.valid and memo_fits(M, 0, t) and memo_fits(M, 1, p)):
            return False
        if M.has_w != (w is not None) or (M.has_w and not memo_fits(M, 2, w)):
            return False
        if M.swap:
            t, p = p, t
        if M.w_mode == SCALAR:
            w_scalar = ((<const double*>cnp.PyArray_DATA(<cnp.ndarray>w))[0]
                        if cnp.PyArray_TYPE(<cnp.ndarray>w) == cnp.NPY_DOUBLE
                        else (<const float*>cnp.PyArray_DATA(<cnp.ndarray>w))[0])
        elif M.has_w:
            wa = <cnp.ndarray>w
        describe(&B, <cnp.ndarray>t, <cnp.ndarray>p, wa, M.t_mode, M.w_mode, w_scalar, M.run)
        B.policy = policy
        self.fold_spec(&B)
        return True

    def remember_layout(self, object t, object p, object w, bint swap, int t_mode,
                        int w_mode, Py_ssize_t run):
        """Remember how the planner read these plain operands in place (their
        data as given, y_true and y_pred swapped or not, the modes and run):
        fold_fast then folds later operands of the same shapes and dtypes
        the same way.  Operands it cannot memoise are ignored."""
        cdef int k
        cdef cnp.ndarray arr
        cdef object operand
        self.memo.valid = False
        for k, operand in enumerate((t, p, w)):
            if operand is None:
                continue
            arr = <cnp.ndarray>operand
            if cnp.PyArray_NDIM(arr) > MEMO_DIMS:
                return
            self.memo.ndim[k] = cnp.PyArray_NDIM(arr)
            self.memo.typenum[k] = cnp.PyArray_TYPE(arr)
            for d in range(cnp.PyArray_NDIM(arr)):
                self.memo.dims[k][d] = cnp.PyArray_DIM(arr, d)
        self.memo.has_w = w is not None
        self.memo.swap = swap
        self.memo.t_mode = t_mode
        self.memo.w_mode = w_mode
        self.memo.run = run
        self.memo.valid = True

    def value(self):
        """sqrt(total / count) in float64; 0.0 while count is 0 (Keras's
        divide_no_nan, semantics 1)."""
        return sqrt_of_ratio(self.total, count_dd(self.weight, self.elements))

    def value_as(self, cnp.dtype descr):
        """value() as a NumPy scalar of the float dtype ``descr`` (float32
        and float64 built in C: no Python-level conversion)."""
        return float_scalar(sqrt_of_ratio(self.total, count_dd(self.weight, self.elements)),
                            descr)

    def count(self):
        """The weight sum plus the unweighted element count, in float64."""
        return dd_value(count_dd(self.weight, self.elements))

    def get_raw(self):
        """(total_hi, total_lo, weight_hi, weight_lo, elements, omitted): the
        whole state; the counts are exact Python ints."""
        return (self.total.hi, self.total.lo, self.weight.hi, self.weight.lo,
                count_to_int(self.elements), count_to_int(self.omitted))

    def set_raw(self, double total_hi, double total_lo, double weight_hi,
                double weight_lo, object elements, object omitted=0):
        """Restore a get_raw() tuple (counts: ints in [0, 2**128))."""
        self.total.hi = total_hi
        self.total.lo = total_lo
        self.weight.hi = weight_hi
        self.weight.lo = weight_lo
        self.elements = count_from_int(elements)
        self.omitted = count_from_int(omitted)

    def merge(self, Accumulator other):
        """Fold another accumulator's state into this one, compensations included."""
        add_dd(&self.total, other.total.hi, other.total.lo)
        add_dd(&self.weight, other.weight.hi, other.weight.lo)
        merge_count(&self.elements, other.elements)
        merge_count(&self.omitted, other.omitted)


def cpu_has_avx2_fma():
    """Whether this CPU can run the _kernel_avx2 build."""
    return bool(rmse_cpu_has_avx2_fma())


def hardware_fma():
    """Whether this build's fma() is a single instruction (else a libm call)."""
    return bool(RMSE_HARDWARE_FMA)


CHUNK_SIZE = CHUNK
MOMENT_BLOCK_TERMS = MOMENT_BLOCK   # the interval moments' block sums (_fold.pxi)
