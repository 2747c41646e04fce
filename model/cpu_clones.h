#ifndef NER_MODEL_CPU_CLONES_H_
#define NER_MODEL_CPU_CLONES_H_

// NER_CPU_CLONES before a function: GCC on x86-64 compiles it for AVX-512 and AVX2 (vectorised)
// and the x86-64 baseline, and the loader picks one for the CPU (GNU ifunc). Elsewhere the
// function is compiled once, for the target. The CPU loops of the BiLSTM, the emission
// projection and skip-gram use it.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NER_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NER_CPU_CLONES
#endif

#endif  // NER_MODEL_CPU_CLONES_H_
