/* The public API: runtime/translator.py's Translator over the TFLite backend, greedy decoding
   (runtime/decoding.py greedy_decode) and the golden self-check (runtime/golden.py). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifndef S2S_LITERT_VERSION
#define S2S_LITERT_VERSION "unknown"
#endif

struct s2s_translator {
  char* dir;
  manifest m;
  golden* gold;
  LiteRtEnvironment env;
  graph encoder, step;
  char* precision;
  char* kernels;
  int on_unknown_skip, on_overflow_truncate;
  size_t batch;       /* sentences per batch: max_batch_size, or 1 for a batch-dependent artifact */
  int batch_invariant; /* every artifact of the model is batch_invariant */
  int integer_state[2]; /* next_state_h, next_state_c handed back to the step as the file's integers */
};

const char* s2s_engine(void) { return "LiteRT C API (ai-edge-litert " S2S_LITERT_VERSION ")"; }

void s2s_options_init(s2s_options* o) {
  memset(o, 0, sizeof *o);
  o->precision = "float32";
  o->kernels = "default";
  o->on_unknown = "error";
  o->on_overflow = "error";
  o->max_batch_size = 64;
  o->threads = 1;
}

void s2s_string_free(char* s) { free(s); }

void s2s_strings_free(char** s, size_t n) {
  if (!s) return;
  for (size_t i = 0; i < n; i++) free(s[i]);
  free(s);
}

int s2s_max_input_length(const s2s_translator* t) { return t->m.max_source_length; }

void s2s_close(s2s_translator* t) {
  if (!t) return;
  graph_free(&t->encoder);
  graph_free(&t->step);
  if (t->env) LiteRtDestroyEnvironment(t->env);
  golden_free(t->gold);
  manifest_free(&t->m);
  free(t->dir);
  free(t->precision);
  free(t->kernels);
  free(t);
}

static int cmp_strp(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

/* Manifest.select: the encoder and decoder step of tflite/precision, and its greedy graph when listed
   (not run here; its batch_invariant counts, as in Python's Translator) */
static s2s_status select_model(const manifest* m, const char* precision, const artifact** enc, const artifact** step,
                               const artifact** greedy, s2s_error** err) {
  *enc = *step = *greedy = NULL;
  for (size_t i = 0; i < m->n_artifacts; i++) {
    const artifact* a = &m->artifacts[i];
    if (strcmp(a->backend, "tflite") || strcmp(a->precision, precision)) continue;
    if (strcmp(a->role, "encoder") == 0) *enc = a;
    if (strcmp(a->role, "decoder_step") == 0) *step = a;
    if (strcmp(a->role, "greedy") == 0) *greedy = a;
  }
  if (*enc && *step) return S2S_OK;
  char** names = calloc(m->n_artifacts + 1, sizeof *names);
  size_t n = 0;
  strbuf sb;
  sb_init(&sb);
  for (size_t i = 0; names && i < m->n_artifacts; i++) {
    char* name = s2s_printf("%s/%s", m->artifacts[i].backend, m->artifacts[i].precision);
    int dup = 0;
    for (size_t k = 0; name && k < n; k++) dup |= strcmp(names[k], name) == 0;
    if (dup || !name)
      free(name);
    else
      names[n++] = name;
  }
  if (names) qsort(names, n, sizeof *names, cmp_strp);
  for (size_t i = 0; i < n; i++) {
    if (i) sb_puts(&sb, ", ");
    sb_puts(&sb, names[i]);
    free(names[i]);
  }
  free(names);
  s2s_status st = set_error(err, S2S_ERROR_BUNDLE, "the bundle has no complete tflite/%s model (it has: %s)", precision,
                            n ? sb.data : "nothing");
  sb_free(&sb);
  return st;
}

static int one_of(const char* v, const char* a, const char* b) { return strcmp(v, a) == 0 || strcmp(v, b) == 0; }

s2s_translator* s2s_open(const char* dir, const s2s_options* options, s2s_error** err) {
  if (err) *err = NULL;
  s2s_options o;
  s2s_options_init(&o);
  if (options) {
    if (options->precision) o.precision = options->precision;
    if (options->kernels) o.kernels = options->kernels;
    if (options->on_unknown) o.on_unknown = options->on_unknown;
    if (options->on_overflow) o.on_overflow = options->on_overflow;
    o.max_batch_size = options->max_batch_size;
    o.threads = options->threads;
  }
  if (!dir) {
    set_error(err, S2S_ERROR_OPTION, "no bundle directory given");
    return NULL;
  }
  if (o.max_batch_size < 1) {
    set_error(err, S2S_ERROR_OPTION, "max_batch_size must be at least 1, got %d", o.max_batch_size);
    return NULL;
  }
  if (o.threads < 1) {
    set_error(err, S2S_ERROR_OPTION, "threads must be at least 1, got %d", o.threads);
    return NULL;
  }
  if (!one_of(o.kernels, "default", "builtin")) {
    set_error(err, S2S_ERROR_OPTION, "kernels must be one of default, builtin, got \"%s\"", o.kernels);
    return NULL;
  }
  if (!one_of(o.on_unknown, "error", "skip")) {
    set_error(err, S2S_ERROR_OPTION, "on_unknown must be one of error, skip, got \"%s\"", o.on_unknown);
    return NULL;
  }
  if (!one_of(o.on_overflow, "error", "truncate")) {
    set_error(err, S2S_ERROR_OPTION, "on_overflow must be one of error, truncate, got \"%s\"", o.on_overflow);
    return NULL;
  }
  s2s_translator* t = calloc(1, sizeof *t);
  if (!t || !(t->dir = s2s_strdup(dir)) || !(t->precision = s2s_strdup(o.precision)) ||
      !(t->kernels = s2s_strdup(o.kernels))) {
    set_error(err, S2S_ERROR_MEMORY, "out of memory");
    s2s_close(t);
    return NULL;
  }
  t->on_unknown_skip = strcmp(o.on_unknown, "skip") == 0;
  t->on_overflow_truncate = strcmp(o.on_overflow, "truncate") == 0;
  const artifact *enc, *step, *greedy;
  unsigned char *enc_bytes = NULL, *step_bytes = NULL;
  size_t enc_n = 0, step_n = 0;
  if (read_manifest(dir, &t->m, err) || select_model(&t->m, t->precision, &enc, &step, &greedy, err) ||
      read_artifact(dir, enc, &enc_bytes, &enc_n, err)) {
    s2s_close(t);
    return NULL;
  }
  if (read_artifact(dir, step, &step_bytes, &step_n, err)) {
    free(enc_bytes);
    s2s_close(t);
    return NULL;
  }
  if (engine_env(&t->env, err)) {
    free(enc_bytes);
    free(step_bytes);
    s2s_close(t);
    return NULL;
  }
  s2s_status st = graph_load(&t->encoder, t->env, enc_bytes, enc_n, enc->file, "encoder", &t->m, t->kernels, o.threads, err);
  if (st) {
    if (!t->encoder.bytes) free(enc_bytes);
    free(step_bytes);
    s2s_close(t);
    return NULL;
  }
  if (graph_load(&t->step, t->env, step_bytes, step_n, step->file, "decoder_step", &t->m, t->kernels, o.threads, err)) {
    s2s_close(t);
    return NULL;
  }
  /* Checked as the bundle loads, after its model files and their graphs: a bad golden file refuses
     the bundle. */
  if (read_golden(dir, &t->m, &t->gold, err)) {
    s2s_close(t);
    return NULL;
  }
  t->batch_invariant = enc->batch_invariant && step->batch_invariant && (!greedy || greedy->batch_invariant);
  t->batch = t->batch_invariant ? (size_t)o.max_batch_size : 1;
  const char* states[2] = {"state_h", "state_c"};
  const char* nexts[2] = {"next_state_h", "next_state_c"};
  for (int k = 0; k < 2; k++) {
    const tensor_info* a = &t->step.in[graph_input_index(&t->step, states[k])];
    const tensor_info* b = &t->step.out[graph_output_index(&t->step, nexts[k])];
    t->integer_state[k] = a->quantized && b->quantized && a->type == b->type && a->scale == b->scale &&
                          a->zero_point == b->zero_point;
  }
  return t;
}

/* ---- the input policy (runtime/vocab.py prepare_source) ---- */

static void preview(strbuf* sb, const uint32_t* cps, size_t n) {
  if (n <= 40) {
    py_repr(sb, cps, n);
    return;
  }
  uint32_t* cut = malloc(40 * sizeof *cut);
  if (!cut) return;
  memcpy(cut, cps, 37 * sizeof *cut);
  cut[37] = cut[38] = cut[39] = '.';
  py_repr(sb, cut, 40);
  free(cut);
}

/* The ids the encoder reads for text `index` (its code points after the policy in *out, *n). */
static s2s_status prepare(const s2s_translator* t, const char* text, long index, uint32_t** out, size_t* n,
                          s2s_error** err) {
  *out = NULL;
  *n = 0;
  uint32_t* cps;
  size_t len;
  int r = utf8_decode(text, strlen(text), &cps, &len);
  if (r == -2) return set_error(err, S2S_ERROR_MEMORY, "out of memory");
  if (r == -1) {
    s2s_status st = set_error(err, S2S_ERROR_INPUT, "text %ld is not valid UTF-8", index + 1);
    if (err && *err) (*err)->index = index;
    return st;
  }
  size_t unknown = 0;
  for (size_t i = 0; i < len; i++) unknown += vocab_id(&t->m.source, cps[i]) < 0;
  if (unknown && !t->on_unknown_skip) {
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "characters not in the model's vocabulary: ");
    size_t shown = 0, distinct = 0;
    for (size_t i = 0; i < len; i++) {
      if (vocab_id(&t->m.source, cps[i]) >= 0) continue;
      int seen = 0;
      for (size_t k = 0; k < i && !seen; k++) seen = cps[k] == cps[i];
      if (seen) continue;
      distinct++;
      if (shown < 10) {
        if (shown) sb_puts(&sb, ", ");
        py_repr(&sb, &cps[i], 1);
        shown++;
      }
    }
    if (distinct > 10) sb_printf(&sb, " and %zu more", distinct - 10);
    sb_puts(&sb, " (in ");
    preview(&sb, cps, len);
    sb_puts(&sb, ")");
    free(cps);
    char* problem = sb_take(&sb);
    s2s_status st = problem ? set_input_error(err, index, problem, "remove them", "on_unknown", "skip")
                            : set_error(err, S2S_ERROR_MEMORY, "out of memory");
    free(problem);
    return st;
  }
  size_t kept = 0;
  for (size_t i = 0; i < len; i++)
    if (vocab_id(&t->m.source, cps[i]) >= 0) cps[kept++] = cps[i];
  len = kept;
  size_t max = (size_t)t->m.max_source_length;
  if (len > max) {
    if (!t->on_overflow_truncate) {
      strbuf sb;
      sb_init(&sb);
      sb_printf(&sb, "input of %zu characters is longer than the model's maximum of %zu (", len, max);
      preview(&sb, cps, len);
      sb_puts(&sb, ")");
      free(cps);
      char* problem = sb_take(&sb);
      s2s_status st = problem ? set_input_error(err, index, problem, "shorten it", "on_overflow", "truncate")
                              : set_error(err, S2S_ERROR_MEMORY, "out of memory");
      free(problem);
      return st;
    }
    len = max;
  }
  *out = cps;
  *n = len;
  return S2S_OK;
}

s2s_status s2s_check_text(const s2s_translator* t, const char* text, s2s_error** err) {
  if (err) *err = NULL;
  uint32_t* cps;
  size_t n;
  s2s_status st = prepare(t, text, 0, &cps, &n, err);
  free(cps);
  return st;
}

/* ---- greedy decoding ---- */

static s2s_status take_rows(host_tensor* h, const unsigned char* live, size_t rows, s2s_error** err) {
  (void)err;
  size_t row_bytes = h->row_elems * element_size(h->type);
  size_t k = 0;
  for (size_t r = 0; r < rows; r++)
    if (live[r]) {
      if (k != r) memmove((char*)h->data + k * row_bytes, (char*)h->data + r * row_bytes, row_bytes);
      k++;
    }
  h->rows = k;
  return S2S_OK;
}

/* Decode `rows` sources (ids [rows, time]); tokens[i] gets row i's ids (END excluded), lengths[i] their count. */
static s2s_status greedy(s2s_translator* t, int32_t* ids, size_t rows, int32_t** tokens, size_t* lengths, s2s_error** err) {
  const manifest* m = &t->m;
  int att = m->family == FAMILY_ATTENTION;
  static const char* const enc_names[5] = {"state_h", "state_c", "memory_keys", "memory_values", "memory_mask"};
  size_t n_state = att ? 5 : 2;
  host_tensor state[6];
  memset(state, 0, sizeof state);
  host_tensor src = {"source_ids", kLiteRtElementTypeInt32, (size_t)m->max_source_length, rows, ids, 0};
  for (size_t k = 0; k < n_state; k++) state[k].name = enc_names[k];
  s2s_status st = graph_run(&t->encoder, &src, 1, state, n_state, rows, err);
  if (st) return st;
  long start_id = vocab_id(&m->target, '\t'), end_id = vocab_id(&m->target, '\n');
  size_t max_steps = (size_t)m->max_target_length;
  size_t vocab_n = m->target.size;
  size_t* row_of = malloc(rows * sizeof *row_of);
  int32_t* tok = aligned_zalloc(rows * sizeof *tok);
  unsigned char* live = malloc(rows);
  if (!row_of || !tok || !live) {
    st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
    goto done;
  }
  size_t n_live = rows;
  for (size_t r = 0; r < rows; r++) {
    row_of[r] = r;
    tok[r] = (int32_t)start_id;
    lengths[r] = max_steps;
  }
  for (size_t step = 0; step < max_steps && n_live; step++) {
    host_tensor inputs[7];
    inputs[0] = (host_tensor){"token_ids", kLiteRtElementTypeInt32, 1, n_live, tok, 0};
    for (size_t k = 0; k < n_state; k++) inputs[k + 1] = state[k];
    host_tensor outs[3] = {{"logits", 0, 0, 0, NULL, 0},
                           {"next_state_h", 0, 0, 0, NULL, t->integer_state[0]},
                           {"next_state_c", 0, 0, 0, NULL, t->integer_state[1]}};
    if ((st = graph_run(&t->step, inputs, n_state + 1, outs, 3, n_live, err))) goto done;
    for (int k = 0; k < 2; k++) {
      host_tensor_free(&state[k]);
      state[k].type = outs[k + 1].type;
      state[k].row_elems = outs[k + 1].row_elems;
      state[k].rows = outs[k + 1].rows;
      state[k].data = outs[k + 1].data;
    }
    /* the logits' width is checked at load where the graph fixes it; a row of another width
       is read as the manifest's */
    const float* logits = outs[0].data;
    size_t width = outs[0].row_elems;
    int any_done = 0;
    for (size_t i = 0; i < n_live; i++) {
      const float* row = logits + i * width;
      size_t best = 0;
      for (size_t v = 0; v < width; v++) {
        if (row[v] != row[v]) { /* numpy's argmax: the first NaN */
          best = v;
          break;
        }
        if (row[v] > row[best]) best = v;
      }
      tok[i] = (int32_t)best;
      tokens[row_of[i]][step] = (int32_t)best;
      live[i] = best != (size_t)end_id;
      if (!live[i]) {
        lengths[row_of[i]] = step;
        any_done = 1;
      }
    }
    host_tensor_free(&outs[0]);
    (void)vocab_n;
    if (any_done) {
      size_t k = 0;
      for (size_t i = 0; i < n_live; i++)
        if (live[i]) {
          row_of[k] = row_of[i];
          tok[k] = tok[i];
          k++;
        }
      for (size_t s = 0; s < n_state; s++) take_rows(&state[s], live, n_live, err);
      n_live = k;
    }
  }
done:
  for (size_t k = 0; k < n_state; k++) host_tensor_free(&state[k]);
  free(row_of);
  free(tok);
  free(live);
  return st;
}

typedef struct order_item {
  size_t index, length;
} order_item;

static int longest_first(const void* a, const void* b) {
  const order_item *x = a, *y = b;
  if (x->length != y->length) return x->length > y->length ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Translate `count` texts in batches of up to `batch` sentences of similar length, longest first. */
static s2s_status translate_in(s2s_translator* t, const char* const* texts, size_t count, size_t batch, char*** outputs,
                               s2s_error** err) {
  *outputs = NULL;
  const manifest* m = &t->m;
  s2s_status st = S2S_OK;
  uint32_t** sources = calloc(count + 1, sizeof *sources);
  size_t* lens = calloc(count + 1, sizeof *lens);
  char** results = calloc(count + 1, sizeof *results);
  order_item* todo = calloc(count + 1, sizeof *todo);
  int32_t* ids = NULL;
  int32_t** tokens = NULL;
  size_t* lengths = NULL;
  if (!sources || !lens || !results || !todo) {
    st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < count; i++)
    if ((st = prepare(t, texts[i] ? texts[i] : "", (long)i, &sources[i], &lens[i], err))) goto done;
  size_t n_todo = 0;
  for (size_t i = 0; i < count; i++)
    if (lens[i]) todo[n_todo++] = (order_item){i, lens[i]};
  qsort(todo, n_todo, sizeof *todo, longest_first);
  if (batch > n_todo) batch = n_todo ? n_todo : 1; /* buffers for the rows a batch can hold */
  size_t T = (size_t)m->max_source_length, max_steps = (size_t)m->max_target_length;
  ids = aligned_zalloc(batch * T * sizeof *ids);
  tokens = calloc(batch, sizeof *tokens);
  lengths = calloc(batch, sizeof *lengths);
  if (!ids || !tokens || !lengths) {
    st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
    goto done;
  }
  for (size_t b = 0; b < batch; b++)
    if (!(tokens[b] = malloc(max_steps * sizeof **tokens))) {
      st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
      goto done;
    }
  int32_t pad = m->zero_padding ? (int32_t)m->source.size : (int32_t)vocab_id(&m->source, ' ');
  for (size_t lo = 0; lo < n_todo; lo += batch) {
    size_t rows = n_todo - lo < batch ? n_todo - lo : batch;
    for (size_t r = 0; r < rows; r++) {
      size_t i = todo[lo + r].index;
      for (size_t k = 0; k < T; k++) ids[r * T + k] = k < lens[i] ? (int32_t)vocab_id(&m->source, sources[i][k]) : pad;
    }
    if ((st = greedy(t, ids, rows, tokens, lengths, err))) goto done;
    for (size_t r = 0; r < rows; r++) {
      strbuf sb;
      sb_init(&sb);
      for (size_t k = 0; k < lengths[r]; k++) {
        int32_t id = tokens[r][k];
        if (id < 0 || (size_t)id >= m->target.size) {
          sb_free(&sb);
          st = set_error(err, S2S_ERROR_BUNDLE,
                         "the decoder produced id %d, past the %zu characters of the bundle's target_vocab: the manifest "
                         "does not belong to these graphs",
                         id, m->target.size);
          goto done;
        }
        sb_put_cp(&sb, m->target.chars[id]);
      }
      if (!(results[todo[lo + r].index] = sb_take(&sb))) {
        st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
        goto done;
      }
    }
  }
  for (size_t i = 0; i < count; i++)
    if (!results[i] && !(results[i] = s2s_strdup(""))) {
      st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
      goto done;
    }
  *outputs = results;
  results = NULL;
done:
  for (size_t i = 0; i < count && sources; i++) free(sources[i]);
  free(sources);
  free(lens);
  free(todo);
  free(ids);
  for (size_t b = 0; tokens && b < batch; b++) free(tokens[b]);
  free(tokens);
  free(lengths);
  s2s_strings_free(results, count);
  return st;
}

s2s_status s2s_translate(s2s_translator* t, const char* const* texts, size_t count, char*** outputs, s2s_error** err) {
  if (err) *err = NULL;
  return translate_in(t, texts, count, t->batch, outputs, err);
}

/* ---- golden translations ---- */

s2s_status s2s_self_check(s2s_translator* t, char** summary, int* passed, s2s_error** err) {
  if (err) *err = NULL;
  *summary = NULL;
  *passed = 0;
  if (!t->gold)
    return set_error(err, S2S_ERROR_NO_GOLDEN,
                     "this bundle has no golden translations (it was exported before format version 4, or with --golden "
                     "0): export it again to record them");
  const golden_artifact* entry = NULL;
  for (size_t i = 0; i < t->gold->n; i++)
    if (strcmp(t->gold->artifacts[i].backend, "tflite") == 0 && strcmp(t->gold->artifacts[i].precision, t->precision) == 0)
      entry = &t->gold->artifacts[i];
  if (!entry) {
    strbuf sb;
    sb_init(&sb);
    for (size_t i = 0; i < t->gold->n; i++)
      sb_printf(&sb, "%s%s/%s", i ? ", " : "", t->gold->artifacts[i].backend, t->gold->artifacts[i].precision);
    s2s_status st = set_error(err, S2S_ERROR_NO_GOLDEN,
                              "this bundle's golden translations are for %s; not for tflite/%s: export it again to record "
                              "them",
                              sb.data ? sb.data : "", t->precision);
    sb_free(&sb);
    return st;
  }
  const golden_decodes* rec = NULL;
  for (size_t i = 0; i < entry->n_decodes; i++)
    if (strcmp(entry->decodes[i].kernels, t->kernels) == 0) rec = &entry->decodes[i];
  if (!rec) {
    strbuf sb;
    sb_init(&sb);
    for (size_t i = 0; i < entry->n_decodes; i++) sb_printf(&sb, "%s%s", i ? " and " : "", entry->decodes[i].kernels);
    s2s_status st = set_error(err, S2S_ERROR_NO_GOLDEN,
                              "the golden translations of tflite/%s were recorded on the %s kernels, not on the %s kernels",
                              t->precision, sb.data ? sb.data : "", t->kernels);
    sb_free(&sb);
    return st;
  }
  /* Decoded as the export recorded them, whatever this translator's settings: greedy, stepping the
     decoder, in batches of up to GOLDEN_BATCH sentences of similar length (one at a time for a
     batch-dependent artifact), input policy error/error. */
  int skip = t->on_unknown_skip, trunc = t->on_overflow_truncate;
  t->on_unknown_skip = t->on_overflow_truncate = 0;
  char** got = NULL;
  s2s_status st = translate_in(t, (const char* const*)entry->sources, entry->n_sources,
                               t->batch_invariant ? S2S_GOLDEN_BATCH : 1, &got, err);
  t->on_unknown_skip = skip;
  t->on_overflow_truncate = trunc;
  if (st) return st;
  size_t identical = 0, first = (size_t)-1;
  for (size_t i = 0; i < entry->n_sources; i++) {
    if (strcmp(got[i], rec->outputs[i]) == 0)
      identical++;
    else if (first == (size_t)-1)
      first = i;
  }
  strbuf sb;
  sb_init(&sb);
  sb_printf(&sb, "tflite/%s, %s kernels, %s: %zu/%zu identical to the golden decodes (recorded with %s %s", t->precision,
            t->kernels, s2s_engine(), identical, entry->n_sources, rec->engine, rec->engine_version);
  if (rec->machine && rec->machine[0]) sb_printf(&sb, " on %s", rec->machine);
  sb_puts(&sb, ")");
  if (first != (size_t)-1) {
    sb_printf(&sb, "\nfirst difference, sentence %zu of %zu: ", first + 1, entry->n_sources);
    json_quote_utf8(&sb, entry->sources[first]);
    sb_puts(&sb, "\n  recorded: ");
    json_quote_utf8(&sb, rec->outputs[first]);
    sb_puts(&sb, "\n  here:     ");
    json_quote_utf8(&sb, got[first]);
  }
  s2s_strings_free(got, entry->n_sources);
  *summary = sb_take(&sb);
  if (!*summary) return set_error(err, S2S_ERROR_MEMORY, "out of memory");
  *passed = identical == entry->n_sources;
  return S2S_OK;
}
