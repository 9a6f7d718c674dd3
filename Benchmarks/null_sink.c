/* The null sink: a bare libzmq PULL that receives ingest messages and discards them.
 *
 * The end-to-end baseline of Benchmarks/run_all.py: `hebbd feed` into this instead of `hebbd run` shows what the
 * producer, libzmq and the loopback can carry at all, so hebbd's figure is read as a fraction of it.
 *
 *     cc -O2 -o null_sink Benchmarks/null_sink.c -lzmq
 *     null_sink ENDPOINT MESSAGES                  bind PULL, exit after MESSAGES messages
 *     null_sink ENDPOINT MESSAGES PUB_ENDPOINT     also publish a small message per message received (the
 *                                                  transport floor of the publish-latency benchmark)
 *
 * Prints one JSON line: messages, bytes, and seconds from the first message to the last.
 * The PULL socket is set up as the daemon's ingest (receive HWM 10000, max message size 64 MiB). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: null_sink ENDPOINT MESSAGES [PUB_ENDPOINT]\n");
        return 2;
    }
    long wanted = atol(argv[2]);
    void *context = zmq_ctx_new();
    void *pull = zmq_socket(context, ZMQ_PULL);
    int hwm = 10000;
    int64_t max_size = 64 << 20;
    zmq_setsockopt(pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
    int linger = 0;
    zmq_setsockopt(pull, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size);
    zmq_setsockopt(pull, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(pull, argv[1]) != 0) {
        fprintf(stderr, "null_sink: bind %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
        return 1;
    }
    void *pub = NULL;
    if (argc > 3) {
        pub = zmq_socket(context, ZMQ_PUB);
        zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_bind(pub, argv[3]) != 0) {
            fprintf(stderr, "null_sink: bind %s: %s\n", argv[3], zmq_strerror(zmq_errno()));
            return 1;
        }
    }
    fprintf(stdout, "ready\n");
    fflush(stdout);
    zmq_msg_t part;
    zmq_msg_init(&part);
    long messages = 0;
    long long bytes = 0;
    double first = 0, last = 0;
    while (messages < wanted) {
        int more = 1;
        while (more) {
            if (zmq_msg_recv(&part, pull, 0) < 0) {
                fprintf(stderr, "null_sink: receive: %s\n", zmq_strerror(zmq_errno()));
                return 1;
            }
            bytes += zmq_msg_size(&part);
            more = zmq_msg_more(&part);
        }
        last = now();
        if (messages == 0) first = last;
        messages++;
        if (pub) {
            char text[64];
            int n = snprintf(text, sizeof text, "{\"seq\":%ld}", messages);
            zmq_send(pub, "coef/bench/", 11, ZMQ_SNDMORE);
            zmq_send(pub, text, (size_t)n, 0);
        }
    }
    zmq_msg_close(&part);
    printf("{\"messages\": %ld, \"bytes\": %lld, \"seconds\": %.6f}\n", messages, bytes, last - first);
    fflush(stdout);
    zmq_close(pull);
    if (pub) zmq_close(pub);
    zmq_ctx_term(context);
    return 0;
}
