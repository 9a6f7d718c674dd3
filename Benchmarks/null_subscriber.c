/* The null subscriber: a bare libzmq SUB that reads every message of a topic and discards it.
 *
 * The reader that keeps up, for Benchmarks/run_all.py's publish path: a daemon publishing to it does all the
 * work a real subscriber causes (encoding, the XPUB queue, libzmq's I/O thread), and the subscriber itself costs
 * next to nothing. It also times the daemon at the receiving end: the seconds from the first message to the last.
 *
 *     cc -O2 -o null_subscriber Benchmarks/null_subscriber.c -lzmq
 *     null_subscriber ENDPOINT TOPIC MESSAGES [IDLE_SECONDS]
 *
 * Connects a SUB (receive HWM 0: unbounded, so nothing is dropped on this side) to ENDPOINT, subscribes to
 * TOPIC, waits for the first message — the daemon's last-value resend of the current state, which says the
 * subscription is live — and prints "ready". Then it counts MESSAGES more messages and prints one JSON line:
 * messages, bytes, and seconds from the first of them to the last. When IDLE_SECONDS (default 30) pass without
 * a message it stops early and prints what it got with "complete": false. */
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

/* Receives one multipart message; its size in bytes, or -1 on timeout or error. */
static long long receive(void *socket, zmq_msg_t *part) {
    long long bytes = 0;
    int more = 1;
    while (more) {
        if (zmq_msg_recv(part, socket, 0) < 0) return -1;
        bytes += zmq_msg_size(part);
        more = zmq_msg_more(part);
    }
    return bytes;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: null_subscriber ENDPOINT TOPIC MESSAGES [IDLE_SECONDS]\n");
        return 2;
    }
    long wanted = atol(argv[3]);
    int idle_ms = (int)((argc > 4 ? atof(argv[4]) : 30.0) * 1000);
    void *context = zmq_ctx_new();
    void *sub = zmq_socket(context, ZMQ_SUB);
    int hwm = 0, linger = 0;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &idle_ms, sizeof idle_ms);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, argv[2], strlen(argv[2]));
    if (zmq_connect(sub, argv[1]) != 0) {
        fprintf(stderr, "null_subscriber: connect %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
        return 1;
    }
    zmq_msg_t part;
    zmq_msg_init(&part);
    if (receive(sub, &part) < 0) {
        fprintf(stderr, "null_subscriber: no first message on %s within the idle time\n", argv[1]);
        return 1;
    }
    fprintf(stdout, "ready\n");
    fflush(stdout);
    long messages = 0;
    long long bytes = 0;
    double first = 0, last = 0;
    while (messages < wanted) {
        long long size = receive(sub, &part);
        if (size < 0) break;
        last = now();
        if (messages == 0) first = last;
        bytes += size;
        messages++;
    }
    zmq_msg_close(&part);
    printf("{\"messages\": %ld, \"bytes\": %lld, \"seconds\": %.6f, \"complete\": %s}\n", messages, bytes,
           last - first, messages == wanted ? "true" : "false");
    fflush(stdout);
    zmq_close(sub);
    zmq_ctx_term(context);
    return 0;
}
