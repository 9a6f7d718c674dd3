#ifndef HEBBD_CBLAS_SHIM_H
#define HEBBD_CBLAS_SHIM_H
// Debian's libopenblas-dev installs cblas.h under the openblas-pthread include dir,
// which the openblas.pc Cflags put on the search path.
#include <cblas.h>
// Declared in OpenBLAS's cblas.h; repeated here so the module builds against other CBLAS headers too.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif
