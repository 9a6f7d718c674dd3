#ifndef HEBBD_CBLAS_SHIM_H
#define HEBBD_CBLAS_SHIM_H
// Debian's libopenblas-dev installs cblas.h under the openblas-pthread include dir,
// which the openblas.pc Cflags put on the search path.
#include <cblas.h>
// Declared in OpenBLAS's cblas.h; repeated here so the module builds against other CBLAS headers too.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
// LAPACK's Cholesky factorisation, which libopenblas exports (Fortran calling convention, no header in Debian's
// libopenblas-dev): the Bayesian posterior's precision matrices (Sources/HebbianRegression/Bayesian). The trailing
// argument is the hidden length of the `uplo` string.
#include <stddef.h>
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_length);
#endif
