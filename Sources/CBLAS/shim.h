#ifndef HEBBD_CBLAS_SHIM_H
#define HEBBD_CBLAS_SHIM_H
// Debian's libopenblas-dev installs cblas.h under the openblas-pthread include dir,
// which the openblas.pc Cflags put on the search path.
#include <cblas.h>
// Declared in OpenBLAS's cblas.h; repeated here so the module builds against other CBLAS headers too.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
// LAPACK's Cholesky factorisation and the inverses built on it, which libopenblas exports (Fortran calling
// convention, no header in Debian's libopenblas-dev): the Bayesian posterior's precision matrices
// (Sources/HebbianRegression/Bayesian). The trailing arguments are the hidden lengths of the character arguments.
#include <stddef.h>
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_length);
// P⁻¹ from P's Cholesky factor (n³/3 multiply-adds), into the same triangle.
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_length);
// The inverse of a triangular matrix in place (n³/6 multiply-adds).
void dtrtri_(const char *uplo, const char *diag, const int *n, double *a, const int *lda, int *info,
             size_t uplo_length, size_t diag_length);
#endif
