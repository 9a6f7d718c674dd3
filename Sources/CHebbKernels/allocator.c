// The process's C allocator settings (glibc's mallopt, which Swift's Glibc module does not export), for
// HebbDaemon's IngestBufferMemory: docs/ARCHITECTURE.md §8 says why the daemon sets them.
#include "CHebbKernels.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int hebb_allocator_keep_freed(size_t largest_heap_block, size_t kept_free) {
#if defined(__GLIBC__)
    // Both fixed: setting either turns off glibc's own adjustment of both.
    return mallopt(M_MMAP_THRESHOLD, (int)largest_heap_block) == 1 && mallopt(M_TRIM_THRESHOLD, (int)kept_free) == 1;
#else
    (void)largest_heap_block;
    (void)kept_free;
    return 0;
#endif
}
