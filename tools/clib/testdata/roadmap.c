// GenAI OS Native Application API: the roadmap's example ("Native Application Framework"),
// completed with its callback. It prints the level it starts at, then the first change, and ends.
#include <stdio.h>
#include <libconsciousness.h>
#include <libgenai.h>

static int changes;

static void on_consciousness_change(consciousness_context_t *ctx, double level) {
    // The first call is the current level, once the loop has subscribed; then each change.
    printf(changes++ == 0 ? "consciousness level %.3g, waiting for a change\n" : "consciousness level changed to %.3g\n", level);
    fflush(stdout);
    if (changes > 1)
        consciousness_stop(ctx);
}

int main() {
    consciousness_context_t* ctx = consciousness_init();
    if (!ctx) {
        fprintf(stderr, "consciousness_init: %s\n", consciousness_last_error());
        return 1;
    }
    genai_session_t* session = genai_create_session(ctx);

    // Native consciousness-aware application
    consciousness_register_callback(ctx, on_consciousness_change);
    genai_set_ai_model(session, GENAI_MODEL_LOCAL_CLAUDE);

    int rc = consciousness_main_loop(ctx);
    if (rc != 0)
        fprintf(stderr, "consciousness_main_loop: %s\n", consciousness_last_error());
    genai_free_session(session);
    consciousness_free(ctx);
    return rc;
}
