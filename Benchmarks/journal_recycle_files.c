// Whether the journal should pre-create spares (Benchmarks/README.md, "Recycled journal segments"): writes 66 KiB
// records into N 64 MiB segments with an fdatasync every 10 ms, as the journal does, where the segments are
//   0  new files (O_CREAT), as without spares;
//   1  files pre-created by writing zeros (1 MiB writes and an fdatasync each, timed apart as "preparation");
//   2  files pre-allocated with fallocate (timed apart);
//   3  files the same loop wrote just before (timed apart): the steady state of recycling.
// Prints the preparation's and the segments' wall and CPU time. Run in a scratch directory on the journal's disk:
//   cc -O2 -o /tmp/recycle_files Benchmarks/journal_recycle_files.c && cd "$(mktemp -d)" &&
//   for r in 1 2 3; do for m in 0 1 2 3; do /tmp/recycle_files $m 8; done; done
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
#include <string.h>
#include <sys/resource.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static double cpu(){struct rusage u; getrusage(RUSAGE_SELF,&u); return u.ru_utime.tv_sec+u.ru_utime.tv_usec*1e-6+u.ru_stime.tv_sec+u.ru_stime.tv_usec*1e-6;}
static const size_t rec=66*1024, seg=64<<20; static char *buf;
static void fill(int fd){ size_t in=0; double last=now(); while(in+rec<=seg){ if(write(fd,buf,rec)!=(ssize_t)rec){perror("w");exit(1);} in+=rec; double t=now(); if(t-last>0.01){fdatasync(fd);last=t;} } fdatasync(fd); }
int main(int argc,char**argv){
  int mode=atoi(argv[1]), n=atoi(argv[2]); char name[64];
  buf=malloc(seg); memset(buf,7,rec);
  double p0=now(), c0=cpu();
  for(int i=0;i<n;i++){ snprintf(name,64,"pre%03d",i);
    if(mode==1){ int fd=open(name,O_WRONLY|O_CREAT|O_TRUNC,0644); char*z=calloc(1,1<<20); for(size_t o=0;o<seg;o+=1<<20) write(fd,z,1<<20); fdatasync(fd); close(fd); free(z);} 
    if(mode==2){ int fd=open(name,O_WRONLY|O_CREAT|O_TRUNC,0644); if(fallocate(fd,0,0,seg)){perror("fallocate");return 1;} fsync(fd); close(fd);} 
    if(mode==3){ int fd=open(name,O_WRONLY|O_CREAT|O_TRUNC,0644); fill(fd); close(fd);} }
  double pre=now()-p0, precpu=cpu()-c0;
  double t0=now(); c0=cpu();
  for(int i=0;i<n;i++){ snprintf(name,64,"pre%03d",i); int fd = mode==0 ? open(name,O_WRONLY|O_CREAT|O_TRUNC,0644) : open(name,O_WRONLY); fill(fd); close(fd);} 
  double t=now()-t0, c=cpu()-c0; double total=(double)n*seg;
  printf("mode=%d n=%d: preparation %.2f s wall %.2f cpu; segments %.2f GB/s wall, %.2f GB per CPU-s\n",mode,n,pre,precpu,total/t/1e9,total/c/1e9);
  for(int i=0;i<n;i++){ snprintf(name,64,"pre%03d",i); unlink(name);} return 0; }
