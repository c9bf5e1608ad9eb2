/*
 * The in-process IKEv2/IPsec demo of `ikeway demo`, driven from C through libikeway_ffi:
 * both ends negotiate over loopback UDP, a TCP transfer runs through the child SA between
 * two userspace stacks, then the IKE SA is deleted. No root needed.
 *
 *   cc -std=c11 -o demo demo.c -I crates/ffi/include -L target/debug -likeway_ffi
 *   ./demo [MEGABYTES]
 *
 * `cargo xtask test` builds and runs it and checks what it prints.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ikeway.h"

/* Prints why the last call on this thread failed, and frees the message. */
static int fail(const char *what, IkewayResult code) {
    char *message = ikeway_last_error_message();
    fprintf(stderr, "%s: %s: %s\n", what, ikeway_result_name((int32_t)code),
            message ? message : "(no message)");
    ikeway_string_free(message);
    return 1;
}

/* Every demo line but the progress counts, as `ikeway demo --quiet` prints them. */
static void on_line(void *ctx, IkewayDemoEventKind kind, const char *line) {
    unsigned *lines = ctx;
    if (kind == IKEWAY_DEMO_EVENT_KIND_PROGRESS) {
        return;
    }
    puts(line);
    (*lines)++;
}

int main(int argc, char **argv) {
    unsigned long megabytes = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    printf("ikeway demo (C): an IKEv2 client and server in one process, over loopback UDP\n\n");

    unsigned lines = 0;
    IkewayDemoResult result;
    IkewayResult rc = ikeway_demo_run((uint64_t)megabytes << 20, on_line, &lines, &result);
    if (rc != IKEWAY_RESULT_OK) {
        return fail("ikeway_demo_run", rc);
    }
    printf("\nC: %llu bytes through the tunnel, %llu drops, handshake %.2f ms, %u lines\n",
           (unsigned long long)result.transferred, (unsigned long long)result.drops,
           (double)result.handshake_us / 1e3, lines);
    if (result.transferred != (uint64_t)megabytes << 20 || result.drops != 0) {
        fprintf(stderr, "C: unexpected figures\n");
        return 1;
    }

    /* Handles: a manager in a fresh store has no configuration yet, and freeing twice is an
     * error code, not a crash. */
    char dir[] = "/tmp/ikeway-ffi-demo-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    IkewayStore *store = NULL;
    IkewayManager *manager = NULL;
    IkewayStatus status;
    if ((rc = ikeway_store_open(dir, &store)) != IKEWAY_RESULT_OK) {
        return fail("ikeway_store_open", rc);
    }
    if ((rc = ikeway_manager_new(store, "org.ikeway.c-demo", &manager)) != IKEWAY_RESULT_OK) {
        return fail("ikeway_manager_new", rc);
    }
    if ((rc = ikeway_manager_load(manager)) != IKEWAY_RESULT_OK) {
        return fail("ikeway_manager_load", rc);
    }
    if ((rc = ikeway_manager_status(manager, &status)) != IKEWAY_RESULT_OK) {
        return fail("ikeway_manager_status", rc);
    }
    printf("C: a new manager's status is %s\n",
           status == IKEWAY_STATUS_INVALID ? "IKEWAY_STATUS_INVALID" : "something else");
    ikeway_manager_free(manager);
    rc = ikeway_manager_free(manager);
    printf("C: a second free is %s\n", ikeway_result_name((int32_t)rc));
    ikeway_store_free(store);
    rmdir(dir);
    return rc == IKEWAY_RESULT_INVALID_HANDLE && status == IKEWAY_STATUS_INVALID ? 0 : 1;
}
