# The rmse_ext accumulator kernel.  Included by _kernel.pyx, whose one
# generated C file is compiled three times (setup.py): baseline ISA, with
# -mavx2 -mfma (rmse_ext._kernel_avx2) and with -mavx512f -mavx512vl -mfma
# (rmse_ext._kernel_avx512).
#
# The kernel trusts its inputs: the Python side (rmse_ext/_rules.py resolves
# the layout, rmse_ext/_plan.py builds the Batch) has already converted every
# operand to a native-endian, aligned, C-contiguous float32 or float64 buffer
# and chosen how each is read.  Nothing here raises.
#
# Numerics.  d = fl(p - t) is exact whenever p and t are within a factor 2
# (Sterbenz) -- and for float32 inputs whenever they are within 2**28 -- and
# otherwise off by at most half an ulp of d, which moves the final square
# root by at most one ulp.  Under the ExactDiff policy (integer inputs beyond
# 2**53, split into two exact terms; ExactOmit is the same under nan_policy
# omit) d's rounding error r enters the square
# as (2d + r) * r, so the difference itself is exact.  x = fl(d*d) (or
# fl(w * fl(d*d)), d*d's error e joining as w*e) enters a lane's sum by Knuth's
# branch-free TwoSum, s + x == sn + (s - (sn - z)) + (x - z), both parts exact;
# x - z and the product's exact error are one quantity, d*d - z, formed by one
# FMA (Dekker's product where there is no FMA) and rounded once, an error of
# O(u**2) of the term, the order of the compensation's own additions.  The
# compensation collects the rest.  LANES independent (sum, compensation)
# pairs keep the loop throughput-bound; they are folded into a double-double
# at the end of every CHUNK of elements.  Chunks have a fixed size, so a call
# gives bitwise the same answer for any number of threads.
#
# The interval's moments (a batch built with moments=True, _moments.pxi) are
# summed in the same pass, from the values the main lanes formed and
# without changing them, so the total stays bitwise the plain one: with
# sq = fl(d*d), x = fl(w*sq) (x = sq unweighted), the terms w*x**2 = x*sq
# (unweighted sq*sq), w**2 = w*w, w**2*x = w*x and w**2*x**2 = x*x are each
# one product of rounded factors, rounded once and added by TwoSum into a
# lane of a compensated block sum (its error kept), which TwoSum moves,
# error-free, into a compensated lane every MOMENT_BLOCK = 16 terms; the
# lanes and chunks fold as the total's do (O(n u**2)).  Counting the
# roundings (d: 1, sq: 1, x: 1, the product: 1, squares doubling them), a
# term is its exact value times (1 + theta) with |theta| <= gamma_k for
# k = 8 (w*x**2; 7 unweighted), 1 (w**2), 5 (w**2*x) and 9 (w**2*x**2).
# So each moment sum S over the kept units is within (k + 1) * u *
# sum|terms| of its exact value, hi + lo read exactly, for any n below
# 2**40 -- no product underflowing (a term or factor below 2**-1022 adds up
# to 2**-1074 times the factors after it) -- and, the sum of the same
# rounded terms exact to O(n u**2), it does not depend on where batches or
# blocks start: the same bits in any split (issue 18).  Sum w*x is the
# main total, sum w the main weight sum (or the exact count).  The rooms
# that sum units one at a time (Moments.fold, the per-key sums) form the
# same products (moment_factors, _fold.pxi) and add each, rounded once,
# by TwoSum into a compensated pair: k as above, O(n u**2) for the sum.

cimport numpy as cnp
import numpy as np

cnp.import_array()

# The rooms, in dependency order:
include "_dd.pxi"            # error-free double-double arithmetic
include "_fold.pxi"          # one batch (BatchSpec / Batch) summed in fixed chunks
include "_accumulator.pxi"   # the running state; the one fold path into it
include "_moments.pxi"       # the "normal" interval's moment sums
include "_bootstrap.pxi"     # the streaming Poisson bootstrap
include "_pool.pxi"          # the worker threads, one pool per process
include "_cpu.pxi"           # which kernel builds this CPU and OS can run
include "_threads.pxi"       # a batch's chunks shared out over the pool
include "_grouped.pxi"       # one accumulator per key (grouped evaluation)
include "_grouped_intervals.pxi"  # per-group interval sums (moments, bootstrap replicates)
include "_outputs.pxi"       # per-output sums of one batch (multioutput)
include "_rolling.pxi"       # sliding windows without subtraction (issue 19)
