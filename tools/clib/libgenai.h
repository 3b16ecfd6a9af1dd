/* libgenai: chat with the assistant's model from C programs, over the OpenAI-compatible chat API
 * (/v1/chat/completions) that Ollama, llama.cpp's server, vLLM and hosted services speak.
 *
 * Link: cc prog.c $(pkg-config --cflags --libs libgenai)
 * Manual: man 3 libgenai
 *
 * Configuration, as genai-assistant reads it: /etc/genai/assistant.conf (GENAI_CONFIG overrides
 * the path; lines "endpoint = http://host:11434/v1", "model = ...", "api_key_file = ..."), then
 * the environment (GENAI_ENDPOINT, GENAI_MODEL, GENAI_API_KEY), then the genai_set_* calls.
 *
 * Error convention, ownership and threading are libconsciousness's (see libconsciousness.h):
 * 0 / -1 or NULL, genai_last_error() per thread; returned strings are the caller's, freed with
 * genai_free_string. A session keeps the conversation's history; calls on one session are
 * serialised (a second thread waits), different sessions run in parallel. The stream callback
 * runs on the thread that called genai_chat_stream, and must not call into the same session.
 */
#ifndef LIBGENAI_H
#define LIBGENAI_H

#include <libconsciousness.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A conversation with the model. Opaque. */
typedef struct genai_session genai_session_t;

/* Receives each piece of the answer as it arrives (NUL-terminated, valid during the call).
 * Return 0 to go on, non-zero to stop: genai_chat_stream then fails with "stopped by callback". */
typedef int (*genai_stream_cb)(const char *chunk, void *user);

/* The model configured in /etc/genai/assistant.conf or GENAI_MODEL. */
#define GENAI_MODEL_DEFAULT ((const char *)0)
/* The roadmap's name for the machine's local model: the configured one. */
#define GENAI_MODEL_LOCAL_CLAUDE GENAI_MODEL_DEFAULT

/* A new session with the configuration read now. ctx may be NULL; with a context, the
 * session's system prompt tells the model the consciousness level it runs at.
 * Free with genai_free_session. */
genai_session_t *genai_create_session(consciousness_context_t *ctx);

/* The model to ask (a name the server knows, e.g. "llama3.2"); GENAI_MODEL_DEFAULT for the
 * configured one. */
int genai_set_ai_model(genai_session_t *s, const char *model);

/* The endpoint's base URL (ending in /v1); NULL for the configured one. */
int genai_set_endpoint(genai_session_t *s, const char *url);

/* Asks prompt and waits for the whole answer, into *reply (free with genai_free_string). The
 * question and answer join the session's history. Fails when no endpoint is configured. */
int genai_chat(genai_session_t *s, const char *prompt, char **reply);

/* Asks prompt and calls cb with each piece of the answer as the server streams it. */
int genai_chat_stream(genai_session_t *s, const char *prompt, genai_stream_cb cb, void *user);

/* Forgets the session's history. */
int genai_reset(genai_session_t *s);

void genai_free_string(char *s);

/* Ends the session. NULL is allowed. */
void genai_free_session(genai_session_t *s);

/* Why the last failing call on this thread failed ("" if none did). Do not free. */
const char *genai_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
