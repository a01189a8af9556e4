/* s2s-api-check: drives the library's API for tests/test_native.py, where the CLI cannot show it:
   full-precision scores, the stream callback (and stopping it), one translator per thread, and the
   error codes of the API itself. Reads texts from stdin, one per line; not installed.

   s2s-api-check BUNDLE PRECISION hypotheses BEAM NUM LENGTH_PENALTY TOP_K TEMPERATURE SEED|-
       each hypothesis as SCORE<TAB>FINISHED<TAB>TEXT (%.17g), a line "--" after each text's
   s2s-api-check BUNDLE PRECISION stream TOP_K SEED|- STOP_AFTER
       each text's pieces separated by U+001F (STOP_AFTER > 0: the callback stops after that many)
   s2s-api-check BUNDLE PRECISION threads N
       N threads, a translator each, translate every text 3 times; "N/N threads identical" when each
       gives what one translator gives alone
   s2s-api-check BUNDLE PRECISION errors
       the codes (and messages) of calls that must fail */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s2s_edge.h"

static char** read_lines(size_t* n) {
  size_t cap = 16;
  char** lines = malloc(cap * sizeof *lines);
  char buf[1 << 16];
  *n = 0;
  while (lines && fgets(buf, sizeof buf, stdin)) {
    buf[strcspn(buf, "\n")] = '\0';
    if (*n == cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
    if (lines) lines[(*n)++] = strdup(buf);
  }
  return lines;
}

static int fail(s2s_error* e) {
  fprintf(stderr, "error %d: %s\n", e ? (int)e->code : -1, e ? e->message : "?");
  s2s_error_free(e);
  return 1;
}

static void decoding_args(s2s_decoding* d, char** a) {
  s2s_decoding_init(d);
  d->beam_size = atoi(a[0]);
  d->num_hypotheses = atoi(a[1]);
  d->length_penalty = strtod(a[2], NULL);
  d->top_k = atoi(a[3]);
  d->temperature = strtod(a[4], NULL);
  if (strcmp(a[5], "-")) {
    d->seeded = 1;
    d->seed = strtoull(a[5], NULL, 10);
  }
}

typedef struct pieces {
  size_t seen, stop_after;
} pieces;

static int on_piece(const char* piece, size_t length, void* user) {
  pieces* p = user;
  if (p->seen++) fputc(0x1f, stdout);
  if (strlen(piece) != length) fputs("<length mismatch>", stdout);
  fwrite(piece, 1, length, stdout);
  return p->stop_after && p->seen >= p->stop_after;
}

typedef struct job {
  const char* bundle;
  const char* precision;
  char** texts;
  size_t n;
  char** want;
  int identical;
} job;

static void* translate_thread(void* arg) {
  job* j = arg;
  s2s_options o;
  s2s_options_init(&o);
  o.precision = j->precision;
  o.max_batch_size = 5;
  s2s_error* e = NULL;
  s2s_translator* t = s2s_open(j->bundle, &o, &e);
  j->identical = t != NULL;
  for (int round = 0; t && round < 3; round++) {
    char** got = NULL;
    if (s2s_translate(t, (const char* const*)j->texts, j->n, NULL, &got, &e) != S2S_OK) {
      j->identical = 0;
      break;
    }
    for (size_t i = 0; i < j->n; i++) j->identical &= strcmp(got[i], j->want[i]) == 0;
    s2s_strings_free(got, j->n);
  }
  s2s_error_free(e);
  s2s_close(t);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fputs("usage: s2s-api-check BUNDLE PRECISION COMMAND [ARGS]\n", stderr);
    return 2;
  }
  const char *bundle = argv[1], *precision = argv[2], *command = argv[3];
  size_t n;
  char** texts = read_lines(&n);
  s2s_options o;
  s2s_options_init(&o);
  o.precision = precision;
  s2s_error* e = NULL;
  s2s_translator* t = s2s_open(bundle, &o, &e);
  if (!t) return fail(e);
  int rc = 0;
  if (strcmp(command, "hypotheses") == 0 && argc == 10) {
    s2s_decoding d;
    decoding_args(&d, argv + 4);
    s2s_result* results = NULL;
    if (s2s_hypotheses(t, (const char* const*)texts, n, &d, &results, &e) != S2S_OK) {
      rc = fail(e);
    } else {
      for (size_t i = 0; i < n; i++) {
        for (size_t h = 0; h < results[i].count; h++)
          printf("%.17g\t%d\t%s\n", results[i].hypotheses[h].score, results[i].hypotheses[h].finished,
                 results[i].hypotheses[h].text);
        puts("--");
      }
      s2s_results_free(results, n);
    }
  } else if (strcmp(command, "stream") == 0 && argc == 7) {
    s2s_decoding d;
    s2s_decoding_init(&d);
    d.top_k = atoi(argv[4]);
    if (strcmp(argv[5], "-")) {
      d.seeded = 1;
      d.seed = strtoull(argv[5], NULL, 10);
    }
    for (size_t i = 0; i < n && !rc; i++) {
      pieces p = {0, (size_t)atoi(argv[6])};
      if (s2s_translate_stream(t, texts[i], &d, on_piece, &p, &e) != S2S_OK) rc = fail(e);
      putchar('\n');
    }
  } else if (strcmp(command, "threads") == 0 && argc == 5) {
    int threads = atoi(argv[4]);
    char** want = NULL;
    if (s2s_translate(t, (const char* const*)texts, n, NULL, &want, &e) != S2S_OK) {
      rc = fail(e);
    } else {
      job* jobs = calloc((size_t)threads, sizeof *jobs);
      pthread_t* ids = calloc((size_t)threads, sizeof *ids);
      for (int k = 0; k < threads; k++) {
        jobs[k] = (job){bundle, precision, texts, n, want, 0};
        pthread_create(&ids[k], NULL, translate_thread, &jobs[k]);
      }
      int identical = 0;
      for (int k = 0; k < threads; k++) {
        pthread_join(ids[k], NULL);
        identical += jobs[k].identical;
      }
      printf("%d/%d threads identical\n", identical, threads);
      free(jobs);
      free(ids);
      s2s_strings_free(want, n);
    }
  } else if (strcmp(command, "errors") == 0) {
    /* each: the code, then the message and the command line's message */
    const char* bad_utf8[] = {"ok", "caf\xc3"};
    char** out = NULL;
    s2s_status st = s2s_translate(t, bad_utf8, 2, NULL, &out, &e);
    printf("invalid UTF-8: %d %ld %s\n", (int)st, e ? e->index : -2, e ? e->message : "");
    s2s_error_free(e);
    s2s_decoding d;
    s2s_decoding_init(&d);
    d.beam_size = 2;
    d.top_k = 3;
    st = s2s_translate(t, bad_utf8, 1, &d, &out, &e);
    printf("options: %d %s | %s\n", (int)st, e ? e->message : "", e ? e->cli_message : "");
    s2s_error_free(e);
    st = s2s_translate_stream(t, "ok", &d, on_piece, NULL, &e);
    printf("stream options: %d %s\n", (int)st, e ? e->message : "");
    s2s_error_free(e);
    d.top_k = 1;
    st = s2s_translate_stream(t, "ok", &d, on_piece, NULL, &e);
    printf("stream beam: %d %s\n", (int)st, e ? e->message : "");
    s2s_error_free(e);
    s2s_options bad;
    s2s_options_init(&bad);
    bad.kernels = "fast";
    s2s_translator* none = s2s_open(bundle, &bad, &e);
    printf("open: %d %s\n", none ? 0 : (int)e->code, e ? e->message : "");
    s2s_error_free(e);
    s2s_close(none);
  } else {
    fputs("s2s-api-check: unknown command or arguments\n", stderr);
    rc = 2;
  }
  s2s_close(t);
  for (size_t i = 0; i < n; i++) free(texts[i]);
  free(texts);
  return rc;
}
