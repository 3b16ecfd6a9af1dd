// check: every call of libconsciousness and libgenai, each result checked, everything freed.
// Usage: check SERVICE   (a service the init knows; the endpoint comes from the environment)
// Prints one line per check and "all N checks passed"; exits 1 at the first failure.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libconsciousness.h>
#include <libgenai.h>

static int checks;

#define CHECK(cond, what) do { \
    if (!(cond)) { \
        fprintf(stderr, "FAIL %s (line %d): consciousness_last_error: %s\n", what, __LINE__, consciousness_last_error()); \
        exit(1); \
    } \
    checks++; \
    printf("ok %s\n", what); \
} while (0)

static pthread_t loop_thread;
static int hello_seen, callback_on_loop_thread;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static void on_level(consciousness_context_t *ctx, double level) {
    (void)ctx; (void)level;
    pthread_mutex_lock(&mu);
    hello_seen++;
    callback_on_loop_thread = pthread_equal(pthread_self(), loop_thread);
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&mu);
}

static void *run_loop(void *arg) {
    static int rc;
    rc = consciousness_main_loop((consciousness_context_t *)arg);
    return &rc;
}

struct collected { char buf[4096]; int chunks; };

static int on_chunk(const char *chunk, void *user) {
    struct collected *c = user;
    strncat(c->buf, chunk, sizeof c->buf - strlen(c->buf) - 1);
    c->chunks++;
    return 0;
}

static int stop_at_first(const char *chunk, void *user) {
    (void)chunk;
    ++*(int *)user;
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: check SERVICE\n");
        return 2;
    }
    consciousness_context_t *ctx = consciousness_init();
    CHECK(ctx != NULL, "consciousness_init");

    double level = -1;
    CHECK(consciousness_get_level(ctx, &level) == 0 && level >= 0 && level <= 1, "consciousness_get_level");
    printf("   level %.3g\n", level);

    char *state = NULL;
    CHECK(consciousness_service_state(ctx, argv[1], &state) == 0 && state && *state, "consciousness_service_state");
    printf("   %s: %s\n", argv[1], state);
    consciousness_free_string(state);

    state = NULL;
    CHECK(consciousness_service_state(ctx, "no-such-unit", &state) == -1 && state == NULL &&
          strlen(consciousness_last_error()) > 0, "consciousness_service_state of an unknown unit fails");
    printf("   %s\n", consciousness_last_error());

    consciousness_service_t *list = NULL;
    size_t n = 0;
    CHECK(consciousness_services(ctx, &list, &n) == 0 && n > 0 && list, "consciousness_services");
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(list[i].name, argv[1], strlen(argv[1])) == 0)
            found = 1;
    }
    CHECK(found, "consciousness_services lists the service");
    consciousness_free_services(list, n);

    int marker;
    CHECK(consciousness_set_user_data(ctx, &marker) == 0 && consciousness_user_data(ctx) == &marker, "consciousness_user_data");
    CHECK(consciousness_register_callback(ctx, on_level) == 0, "consciousness_register_callback");

    // The loop on its own thread, stopped from this one once the callback saw the hello.
    CHECK(pthread_create(&loop_thread, NULL, run_loop, ctx) == 0, "pthread_create");
    pthread_mutex_lock(&mu);
    while (!hello_seen)
        pthread_cond_wait(&cond, &mu);
    pthread_mutex_unlock(&mu);
    CHECK(callback_on_loop_thread, "the callback runs on the main loop's thread");
    CHECK(consciousness_stop(ctx) == 0, "consciousness_stop");
    void *ret;
    CHECK(pthread_join(loop_thread, &ret) == 0 && *(int *)ret == 0, "consciousness_main_loop returns 0 when stopped");

    // A stop before the loop makes the next loop return at once.
    CHECK(consciousness_stop(ctx) == 0 && consciousness_main_loop(ctx) == 0, "consciousness_stop before the loop");

    genai_session_t *s = genai_create_session(ctx);
    CHECK(s != NULL, "genai_create_session");
    CHECK(genai_set_ai_model(s, "test-model") == 0, "genai_set_ai_model");

    char *reply = NULL;
    CHECK(genai_chat(s, "What is 6 times 7?", &reply) == 0 && reply && strstr(reply, "42"), "genai_chat");
    printf("   reply: %s\n", reply);
    genai_free_string(reply);

    struct collected c = {{0}, 0};
    CHECK(genai_chat_stream(s, "Count to three.", on_chunk, &c) == 0 && c.chunks >= 2, "genai_chat_stream");
    printf("   streamed in %d chunks: %s\n", c.chunks, c.buf);

    int calls = 0;
    CHECK(genai_chat_stream(s, "Again.", stop_at_first, &calls) == -1 && calls == 1 &&
          strstr(genai_last_error(), "stopped by callback"), "genai_chat_stream stopped by its callback");

    CHECK(genai_reset(s) == 0, "genai_reset");
    CHECK(genai_set_ai_model(s, GENAI_MODEL_DEFAULT) == 0, "genai_set_ai_model(GENAI_MODEL_DEFAULT)");

    CHECK(genai_set_endpoint(s, "http://127.0.0.1:1/v1") == 0, "genai_set_endpoint");
    reply = NULL;
    CHECK(genai_chat(s, "hello?", &reply) == -1 && reply == NULL && strlen(genai_last_error()) > 0,
          "genai_chat to a closed port fails");
    printf("   %s\n", genai_last_error());

    CHECK(genai_chat(NULL, "x", &reply) == -1, "genai_chat(NULL) fails");
    genai_free_session(s);
    genai_free_session(NULL);
    consciousness_free(ctx);
    consciousness_free(NULL);
    printf("all %d checks passed\n", checks);
    return 0;
}
