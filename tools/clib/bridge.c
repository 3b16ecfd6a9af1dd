// C side of libgenai-native: the per-thread error slot and the calls of C function pointers, which
// Go cannot make itself.
#include <stdlib.h>
#include <string.h>
#include "bridge.h"

// The message of the last failed call on this thread (C11 _Thread_local via GCC's __thread).
static __thread char *last_error;

void gn_set_error(const char *msg) {
	free(last_error);
	last_error = msg ? strdup(msg) : NULL;
}

const char *gn_last_error(void) { return last_error ? last_error : ""; }

void gn_call_level(consciousness_level_cb cb, consciousness_context_t *ctx, double level) { cb(ctx, level); }

int gn_call_chunk(genai_stream_cb cb, const char *chunk, void *user) { return cb(chunk, user); }
