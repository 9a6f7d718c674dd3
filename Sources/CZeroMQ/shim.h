#ifndef HEBBD_CZEROMQ_SHIM_H
#define HEBBD_CZEROMQ_SHIM_H
#include <zmq.h>
#endif
