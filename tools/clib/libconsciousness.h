/* libconsciousness: GenAI OS's init (consciousness-init) for C programs.
 *
 * Link: cc prog.c $(pkg-config --cflags --libs libconsciousness)
 * Manual: man 3 libgenai
 *
 * The library talks to the init over its control socket, /run/consciousness/control.sock
 * (CONSCIOUSNESS_SOCKET overrides it), which root and the group "consciousness" may use.
 *
 * Error convention: functions returning int return 0 on success and -1 on failure; functions
 * returning a pointer return NULL on failure. After a failure, consciousness_last_error() gives
 * the reason. The message is per thread: it belongs to the library, stays valid until the next
 * failing call of libconsciousness or libgenai on the same thread, and must not be freed.
 *
 * Ownership: everything the library returns through a pointer is the caller's, freed with the
 * free function named beside it (consciousness_free_string, consciousness_free_services,
 * consciousness_free). Strings passed in are copied; the caller keeps them.
 *
 * Threading: every function may be called from any thread. A context may be used by several
 * threads at once, except consciousness_free, which must be the last call on it (after
 * consciousness_main_loop has returned). Callbacks run on the thread that called
 * consciousness_main_loop, one at a time; a callback may call any function of the library,
 * including consciousness_stop, but not consciousness_free on its own context.
 *
 * libconsciousness and libgenai are one library (libgenai-native.so.0) with one Go runtime in it:
 * do not load another Go c-shared library into the same process.
 */
#ifndef LIBCONSCIOUSNESS_H
#define LIBCONSCIOUSNESS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A connection to the init. Opaque. */
typedef struct consciousness_context consciousness_context_t;

/* Called with the consciousness level (0.0 to 1.0): once with the current level when
 * consciousness_main_loop has subscribed to the init's events, then on every change. */
typedef void (*consciousness_level_cb)(consciousness_context_t *ctx, double level);

/* One service as the init reports it. Every string is non-NULL ("" when unset). */
typedef struct {
	char *name;     /* unit name, e.g. "sshd.service" */
	char *state;    /* "inactive", "starting", "running", "stopping", "exited", "failed", ... */
	char *result;   /* how it last ended, e.g. "exit-code 1"; "" if it has not */
	char *level;    /* the level it needs, e.g. "0.5" */
	int pid;        /* its main process, 0 when none */
	int restarts;   /* restarts since boot */
} consciousness_service_t;

/* Connects to the init and checks that it answers. Free with consciousness_free. */
consciousness_context_t *consciousness_init(void);

/* Sets the level callback (NULL removes it). Takes effect for the next event. */
int consciousness_register_callback(consciousness_context_t *ctx, consciousness_level_cb cb);

/* An opaque pointer kept for the callback (consciousness_user_data returns it); NULL by default. */
int consciousness_set_user_data(consciousness_context_t *ctx, void *data);
void *consciousness_user_data(consciousness_context_t *ctx);

/* Subscribes to the init's events and calls the callback on level changes, on this thread,
 * until consciousness_stop. Returns 0 when stopped, -1 when the init closes the stream or
 * cannot be reached. Only one main loop per context at a time. */
int consciousness_main_loop(consciousness_context_t *ctx);

/* Makes consciousness_main_loop return 0 (now, or at once when it is next called). From any
 * thread, or from the callback. Not async-signal-safe: from a signal handler, write to a pipe
 * and call it from a thread. */
int consciousness_stop(consciousness_context_t *ctx);

/* The current level, into *level. */
int consciousness_get_level(consciousness_context_t *ctx, double *level);

/* The state of one service ("sshd" or "sshd.service") into *state; free it with
 * consciousness_free_string. */
int consciousness_service_state(consciousness_context_t *ctx, const char *name, char **state);

/* Every service, sorted by name, into *services (an array of *count); free it with
 * consciousness_free_services(*services, *count). */
int consciousness_services(consciousness_context_t *ctx, consciousness_service_t **services, size_t *count);

void consciousness_free_services(consciousness_service_t *services, size_t count);
void consciousness_free_string(char *s);

/* Closes the context. NULL is allowed. */
void consciousness_free(consciousness_context_t *ctx);

/* Why the last failing call on this thread failed ("" if none did). Do not free. */
const char *consciousness_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
