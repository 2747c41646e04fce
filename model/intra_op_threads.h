#ifndef NER_MODEL_INTRA_OP_THREADS_H_
#define NER_MODEL_INTRA_OP_THREADS_H_

// LibTorch's intra-op thread count (its OpenMP team size) belongs to each thread. A thread takes
// it from a process-wide default at its first parallel operation, and at::set_num_threads also
// replaces that default. So in a process where threads want different counts (the server's
// batcher workers and a Train job's thread), a thread that has not run anything yet picks up
// whatever the last at::set_num_threads in any thread chose, and even a thread that called
// at::set_num_threads itself is reset to the default at its first parallel operation if another
// thread changed the default in between. The functions below fix a thread's count for good.
// Torch-free header.

namespace ner::model {

// Fixes the calling thread's intra-op thread count at `threads` (>= 1) for the rest of its life,
// whatever other threads set later. Also makes `threads` the default for threads that have not
// run a parallel operation yet (LibTorch's behaviour; see UseServingIntraOpThreads).
void SetThreadIntraOpThreads(int threads);

// The count ConfigureRuntime chose (its intra_op_threads, or one per core), applied to the
// calling thread once: the first call in a thread does SetThreadIntraOpThreads with it, later
// calls are free. Serving threads call it before running a model, so that a Train job's
// threads setting cannot leak into them.
void UseServingIntraOpThreads();

}  // namespace ner::model

#endif  // NER_MODEL_INTRA_OP_THREADS_H_
