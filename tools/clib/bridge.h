// Internal to libgenai-native: what the Go side (cgo preamble) and bridge.c share. The types are
// those of libconsciousness.h and libgenai.h; those headers are not included here because cgo
// declares the exported functions again without const, which C would call conflicting types.
#ifndef GENAI_NATIVE_BRIDGE_H
#define GENAI_NATIVE_BRIDGE_H
#include <stddef.h>

// The opaque handles C sees hold a runtime/cgo.Handle to the Go object.
struct consciousness_context { size_t handle; };
struct genai_session { size_t handle; };
typedef struct consciousness_context consciousness_context_t;
typedef struct genai_session genai_session_t;

typedef void (*consciousness_level_cb)(consciousness_context_t *ctx, double level);
typedef int (*genai_stream_cb)(const char *chunk, void *user);

typedef struct {
	char *name;
	char *state;
	char *result;
	char *level;
	int pid;
	int restarts;
} consciousness_service_t;

void gn_set_error(const char *msg);
const char *gn_last_error(void);
void gn_call_level(consciousness_level_cb cb, consciousness_context_t *ctx, double level);
int gn_call_chunk(genai_stream_cb cb, const char *chunk, void *user);
#endif
