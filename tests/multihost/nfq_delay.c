/* A packet delayer for kernels without netem: holds every packet an iptables NFQUEUE rule
 * sends to queue Q for D microseconds, then accepts it (FIFO, so order is kept).
 *   nfq_delay QUEUE DELAY_US [SECONDS]
 * Runs until killed or SECONDS pass. Fail-open: if its queue overflows, the kernel accepts
 * packets instead of dropping them. Used by the multi-host tests inside a namespace. */
#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RING 65536

static uint32_t ids[RING];
static int64_t due[RING];
static size_t head, tail;
static int64_t delay_us;

static int64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int on_packet(struct nfq_q_handle* qh, struct nfgenmsg* msg, struct nfq_data* nfa,
                     void* data) {
  (void)msg;
  (void)data;
  struct nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
  if (ph == NULL) return 0;
  uint32_t id = ntohl(ph->packet_id);
  if (tail - head >= RING) return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL); /* full */
  ids[tail % RING] = id;
  due[tail % RING] = now_us() + delay_us;
  tail++;
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s QUEUE DELAY_US [SECONDS]\n", argv[0]);
    return 2;
  }
  int queue = atoi(argv[1]);
  delay_us = atoll(argv[2]);
  int64_t stop_at = argc > 3 ? now_us() + atoll(argv[3]) * 1000000 : INT64_MAX;
  struct nfq_handle* h = nfq_open();
  if (h == NULL) {
    perror("nfq_open");
    return 1;
  }
  struct nfq_q_handle* qh = nfq_create_queue(h, (uint16_t)queue, on_packet, NULL);
  if (qh == NULL) {
    perror("nfq_create_queue");
    return 1;
  }
  nfq_set_mode(qh, NFQNL_COPY_META, 0);
  nfq_set_queue_maxlen(qh, RING);
  nfq_set_queue_flags(qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
  int fd = nfq_fd(h);
  char buf[65536] __attribute__((aligned));
  fprintf(stderr, "nfq_delay: queue %d, %lld us\n", queue, (long long)delay_us);
  while (now_us() < stop_at) {
    int64_t t = now_us();
    while (head != tail && due[head % RING] <= t) {
      nfq_set_verdict(qh, ids[head % RING], NF_ACCEPT, 0, NULL);
      head++;
    }
    int wait_ms = 100;
    if (head != tail) {
      int64_t left = due[head % RING] - t;
      wait_ms = left <= 0 ? 0 : (int)((left + 999) / 1000);
    }
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, wait_ms) > 0) {
      for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n <= 0) break;
        nfq_handle_packet(h, buf, (int)n);
      }
    }
  }
  while (head != tail) nfq_set_verdict(qh, ids[head++ % RING], NF_ACCEPT, 0, NULL);
  nfq_destroy_queue(qh);
  nfq_close(h);
  return 0;
}
