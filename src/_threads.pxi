# Threads: a batch's chunks shared out between the caller and the worker
# pool (_pool.pxi).  Each chunk's sums go to its own row of ``out``, which
# Accumulator.fold_partials folds in chunk order: the same bits for any
# number of threads and any assignment of chunks to threads.

cdef struct ChunkJob:
    const BatchSpec* spec
    double* out            # (chunks, row_width), C order: chunk_row per row
    Py_ssize_t width


cdef void chunk_job(void* ctx, Py_ssize_t k) noexcept nogil:
    cdef ChunkJob* job = <ChunkJob*>ctx
    chunk_row(job.spec, k, job.out + job.width * k)


def threaded_partials(Batch batch, int threads, double[:, ::1] out):
    """Every chunk's partial sums into its row of ``out`` (batch.chunk_partials
    over all chunks), the chunks shared by the caller and ``threads - 1``
    workers of the pool, without the GIL."""
    cdef ChunkJob job
    if out.shape[0] == 0:
        return
    job.spec = &batch.spec
    job.out = &out[0, 0]
    job.width = row_width(&batch.spec)
    with nogil:
        pool_run(pool_get(), threads - 1, chunk_job, &job, out.shape[0])
