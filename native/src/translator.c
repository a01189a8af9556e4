/* The public API: runtime/translator.py's Translator over the TFLite backend, greedy decoding
   (runtime/decoding.py greedy_decode) and the golden self-check (runtime/golden.py). */
#include <math.h>
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

int s2s_max_input_length(const s2s_translator* t) { return t->m.max_source_length - (t->m.wrap ? 2 : 0); }

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
  if (t->m.lowercase) { /* source_form: the policy applies to what the encoder reads */
    uint32_t* low;
    r = lowercase(cps, len, &low, &len);
    free(cps);
    if (r != 0) return set_error(err, S2S_ERROR_MEMORY, "out of memory");
    cps = low;
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
  size_t max = (size_t)t->m.max_source_length - (t->m.wrap ? 2 : 0);
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
  if (t->m.wrap) { /* source_form: START + text + END */
    uint32_t* wrapped = malloc((len + 2) * sizeof *wrapped);
    if (!wrapped) {
      free(cps);
      return set_error(err, S2S_ERROR_MEMORY, "out of memory");
    }
    wrapped[0] = '\t';
    memcpy(wrapped + 1, cps, len * sizeof *cps);
    wrapped[len + 1] = '\n';
    free(cps);
    cps = wrapped;
    len += 2;
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

/* ---- decoding options (runtime/translator.py _check_decoding) ---- */

enum mode { MODE_GREEDY, MODE_BEAM, MODE_SAMPLING };

void s2s_decoding_init(s2s_decoding* d) {
  memset(d, 0, sizeof *d);
  d->beam_size = 1;
  d->num_hypotheses = 1;
  d->length_penalty = 1.0;
  d->top_k = 1;
  d->temperature = 1.0;
}

/* The options a call decodes with (`options`, or the defaults for NULL) in *out, checked, and their mode. */
static s2s_status decoding_mode(const s2s_decoding* options, s2s_decoding* out, enum mode* mode, s2s_error** err) {
  *mode = MODE_GREEDY;
  s2s_decoding_init(out);
  if (!options) return S2S_OK;
  *out = *options;
  const s2s_decoding* d = out;
  if (d->beam_size < 1) return set_option_error(err, "beam_size must be at least 1, got %d", d->beam_size);
  if (d->num_hypotheses < 1 || d->num_hypotheses > d->beam_size)
    return set_option_error(err,
                            "num_hypotheses must be between 1 and beam_size (%d), got %d: raise beam_size to get more "
                            "hypotheses",
                            d->beam_size, d->num_hypotheses);
  char shown[32];
  if (!(d->length_penalty >= 0)) {
    py_float_repr(d->length_penalty, shown);
    return set_option_error(err, "length_penalty must be 0 or positive, got %s", shown);
  }
  if (d->top_k < 0) return set_option_error(err, "top_k must be 0 (all characters) or positive, got %d", d->top_k);
  if (!(d->temperature > 0 && isfinite(d->temperature))) {
    py_float_repr(d->temperature, shown);
    return set_option_error(err, "temperature must be a positive finite number, got %s", shown);
  }
  if (d->top_k != 1) {
    if (d->beam_size > 1)
      return set_option_error(err, "sampling (top_k != 1) and beam search (beam_size > 1) do not combine: pick one");
    *mode = MODE_SAMPLING;
    return S2S_OK;
  }
  if (d->temperature != 1.0)
    return set_option_error(err,
                            "temperature applies to sampling only: set top_k too (0 samples from all characters)");
  *mode = d->beam_size > 1 ? MODE_BEAM : MODE_GREEDY;
  return S2S_OK;
}

s2s_status s2s_check_decoding(const s2s_decoding* d, s2s_error** err) {
  if (err) *err = NULL;
  enum mode mode;
  s2s_decoding checked;
  return decoding_mode(d, &checked, &mode, err);
}

/* ---- translating ---- */

/* A graph whose logits are wider than the target vocabulary is refused at load where its width is
   known; this catches one that hides it. */
static s2s_status bad_id(const manifest* m, int32_t id, s2s_error** err) {
  return set_error(err, S2S_ERROR_BUNDLE,
                   "the decoder produced id %d, past the %zu characters of the bundle's target_vocab: the manifest "
                   "does not belong to these graphs",
                   id, m->target.size);
}

static s2s_status text_of(const manifest* m, const decoded* d, char** text, s2s_error** err) {
  strbuf sb;
  sb_init(&sb);
  for (size_t k = 0; k < d->n; k++) {
    int32_t id = d->ids[k];
    if (id < 0 || (size_t)id >= m->target.size) {
      sb_free(&sb);
      return bad_id(m, id, err);
    }
    sb_put_cp(&sb, m->target.chars[id]);
  }
  if (!(*text = sb_take(&sb))) return set_error(err, S2S_ERROR_MEMORY, "out of memory");
  return S2S_OK;
}

static step_model model_of(s2s_translator* t) {
  step_model sm = {&t->encoder, &t->step, t->m.family == FAMILY_ATTENTION, {t->integer_state[0], t->integer_state[1]},
                   (size_t)t->m.max_source_length};
  return sm;
}

/* The encoder's ids of a prepared text (its code points), padded to max_source_length. */
static void source_ids(const manifest* m, const uint32_t* cps, size_t n, int32_t* ids) {
  int32_t pad = m->zero_padding ? (int32_t)m->source.size : (int32_t)vocab_id(&m->source, ' ');
  for (size_t k = 0; k < (size_t)m->max_source_length; k++) ids[k] = k < n ? (int32_t)vocab_id(&m->source, cps[k]) : pad;
}

/* A prepared text's UTF-8, which seeds its generator (js/src/random.js hashes the same bytes). */
static char* utf8_of(const uint32_t* cps, size_t n) {
  strbuf sb;
  sb_init(&sb);
  for (size_t k = 0; k < n; k++) sb_put_cp(&sb, cps[k]);
  sb_putn(&sb, "", 0); /* "" for no characters, never NULL */
  return sb_take(&sb);
}

static s2s_status seed_randoms(const s2s_decoding* d, uint32_t* const* cps, const size_t* lens, size_t n,
                               sentence_random* out, s2s_error** err) {
  for (size_t i = 0; i < n; i++) {
    char* text = utf8_of(cps[i], lens[i]);
    if (!text) return set_error(err, S2S_ERROR_MEMORY, "out of memory");
    sentence_random_init(&out[i], d->seeded, d->seed, text, strlen(text));
    free(text);
  }
  return S2S_OK;
}

typedef struct order_item {
  size_t index, length;
} order_item;

static int longest_first(const void* a, const void* b) {
  const order_item *x = a, *y = b;
  if (x->length != y->length) return x->length > y->length ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Decode `count` texts in batches of up to `batch` sentences of similar length, longest first:
   results[i] gets text i's outputs, best first (runtime/translator.py Translator._decode). */
static s2s_status decode_texts(s2s_translator* t, const char* const* texts, size_t count, const s2s_decoding* options,
                               size_t batch, int with_scores, s2s_result** out, s2s_error** err) {
  *out = NULL;
  const manifest* m = &t->m;
  s2s_decoding d;
  enum mode mode;
  s2s_status st = decoding_mode(options, &d, &mode, err);
  if (st) return st;
  uint32_t** sources = calloc(count + 1, sizeof *sources);
  size_t* lens = calloc(count + 1, sizeof *lens);
  s2s_result* results = calloc(count + 1, sizeof *results);
  order_item* todo = calloc(count + 1, sizeof *todo);
  int32_t* ids = NULL;
  decoded* greedy_out = NULL;
  decoded** beam_out = NULL;
  size_t* beam_n = NULL;
  sentence_random* randoms = NULL;
  uint32_t** chunk_cps = NULL;
  size_t* chunk_lens = NULL;
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
  greedy_out = calloc(batch, sizeof *greedy_out);
  beam_out = calloc(batch, sizeof *beam_out);
  beam_n = calloc(batch, sizeof *beam_n);
  randoms = calloc(batch, sizeof *randoms);
  chunk_cps = calloc(batch, sizeof *chunk_cps);
  chunk_lens = calloc(batch, sizeof *chunk_lens);
  if (!ids || !greedy_out || !beam_out || !beam_n || !randoms || !chunk_cps || !chunk_lens) {
    st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
    goto done;
  }
  int32_t start = (int32_t)vocab_id(&m->target, '\t'), end = (int32_t)vocab_id(&m->target, '\n');
  step_model sm = model_of(t);
  for (size_t lo = 0; lo < n_todo; lo += batch) {
    size_t rows = n_todo - lo < batch ? n_todo - lo : batch;
    for (size_t r = 0; r < rows; r++) {
      size_t i = todo[lo + r].index;
      source_ids(m, sources[i], lens[i], ids + r * T);
      chunk_cps[r] = sources[i];
      chunk_lens[r] = lens[i];
    }
    if (mode == MODE_BEAM) {
      st = beam_decode(&sm, ids, rows, start, end, max_steps, d.beam_size, d.num_hypotheses, d.length_penalty, beam_out,
                       beam_n, err);
    } else {
      sampler s = {d.temperature, d.top_k, start, randoms};
      if (mode == MODE_SAMPLING && (st = seed_randoms(&d, chunk_cps, chunk_lens, rows, randoms, err))) goto done;
      st = greedy_decode(&sm, ids, rows, start, end, max_steps, mode == MODE_SAMPLING ? &s : NULL, with_scores, NULL,
                         NULL, greedy_out, err);
      for (size_t r = 0; !st && r < rows; r++) {
        beam_out[r] = malloc(sizeof **beam_out);
        if (!beam_out[r]) {
          st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
          for (size_t k = 0; k < r; k++) {
            decoded_free(&beam_out[k][0]);
            free(beam_out[k]);
            beam_out[k] = NULL;
          }
          for (size_t k = r; k < rows; k++) decoded_free(&greedy_out[k]);
          break;
        }
        beam_out[r][0] = greedy_out[r];
        beam_n[r] = 1;
      }
    }
    if (st) goto done;
    for (size_t r = 0; r < rows; r++) {
      s2s_result* res = &results[todo[lo + r].index];
      res->hypotheses = calloc(beam_n[r] ? beam_n[r] : 1, sizeof *res->hypotheses);
      if (!res->hypotheses) st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
      for (size_t h = 0; h < beam_n[r]; h++) {
        if (!st && !(st = text_of(m, &beam_out[r][h], &res->hypotheses[h].text, err))) {
          res->hypotheses[h].score = beam_out[r][h].score;
          res->hypotheses[h].finished = beam_out[r][h].finished;
          res->count = h + 1;
        }
        decoded_free(&beam_out[r][h]);
      }
      free(beam_out[r]);
      beam_out[r] = NULL;
      beam_n[r] = 0;
    }
    if (st) goto done;
  }
  /* the empty text (also after skipping): num_hypotheses times "" */
  for (size_t i = 0; i < count; i++) {
    if (lens[i]) continue;
    size_t n = (size_t)d.num_hypotheses;
    if (!(results[i].hypotheses = calloc(n, sizeof *results[i].hypotheses))) {
      st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
      goto done;
    }
    for (size_t h = 0; h < n; h++) {
      if (!(results[i].hypotheses[h].text = s2s_strdup(""))) {
        st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
        goto done;
      }
      results[i].hypotheses[h].finished = 1;
      results[i].count = h + 1;
    }
  }
  *out = results;
  results = NULL;
done:
  for (size_t i = 0; i < count && sources; i++) free(sources[i]);
  free(sources);
  free(lens);
  free(todo);
  free(ids);
  free(greedy_out);
  free(beam_out);
  free(beam_n);
  free(randoms);
  free(chunk_cps);
  free(chunk_lens);
  s2s_results_free(results, count);
  return st;
}

void s2s_results_free(s2s_result* results, size_t count) {
  if (!results) return;
  for (size_t i = 0; i < count; i++) {
    for (size_t h = 0; h < results[i].count; h++) free(results[i].hypotheses[h].text);
    free(results[i].hypotheses);
  }
  free(results);
}

static s2s_status best_texts(s2s_result* results, size_t count, char*** outputs, s2s_error** err) {
  char** texts = calloc(count + 1, sizeof *texts);
  if (!texts) return set_error(err, S2S_ERROR_MEMORY, "out of memory");
  for (size_t i = 0; i < count; i++) {
    if (results[i].count) {
      texts[i] = results[i].hypotheses[0].text;
      results[i].hypotheses[0].text = NULL;
    } else if (!(texts[i] = s2s_strdup(""))) {
      s2s_strings_free(texts, count);
      return set_error(err, S2S_ERROR_MEMORY, "out of memory");
    }
  }
  *outputs = texts;
  return S2S_OK;
}

s2s_status s2s_translate(s2s_translator* t, const char* const* texts, size_t count, const s2s_decoding* decoding,
                         char*** outputs, s2s_error** err) {
  if (err) *err = NULL;
  *outputs = NULL;
  s2s_result* results;
  /* no scores asked: greedy skips a log-softmax per step */
  s2s_status st = decode_texts(t, texts, count, decoding, t->batch, 0, &results, err);
  if (!st) {
    st = best_texts(results, count, outputs, err);
    s2s_results_free(results, count);
  }
  return st;
}

s2s_status s2s_hypotheses(s2s_translator* t, const char* const* texts, size_t count, const s2s_decoding* decoding,
                          s2s_result** results, s2s_error** err) {
  if (err) *err = NULL;
  return decode_texts(t, texts, count, decoding, t->batch, 1, results, err);
}

typedef struct stream_ctx {
  const manifest* m;
  s2s_stream_callback callback;
  void* user;
  s2s_status st;
  s2s_error** err;
} stream_ctx;

static int stream_token(void* p, int32_t id) {
  stream_ctx* c = p;
  if (id < 0 || (size_t)id >= c->m->target.size) {
    c->st = bad_id(c->m, id, c->err);
    return 1;
  }
  char piece[5];
  size_t n = utf8_put(c->m->target.chars[id], piece);
  piece[n] = '\0';
  return c->callback(piece, n, c->user);
}

s2s_status s2s_translate_stream(s2s_translator* t, const char* text, const s2s_decoding* decoding,
                                s2s_stream_callback callback, void* user_data, s2s_error** err) {
  if (err) *err = NULL;
  s2s_decoding d;
  enum mode mode;
  s2s_status st = decoding_mode(decoding, &d, &mode, err);
  if (st) return st;
  if (mode == MODE_BEAM)
    return set_option_error(err, "streaming works with greedy decoding and sampling, not with beam search (beam_size %d)",
                            d.beam_size);
  if (!callback) return set_error(err, S2S_ERROR_OPTION, "no callback given");
  uint32_t* cps;
  size_t n;
  if ((st = prepare(t, text ? text : "", 0, &cps, &n, err))) return st;
  if (!n) {
    free(cps);
    return S2S_OK;
  }
  const manifest* m = &t->m;
  int32_t* ids = aligned_zalloc((size_t)m->max_source_length * sizeof *ids);
  if (!ids) {
    free(cps);
    return set_error(err, S2S_ERROR_MEMORY, "out of memory");
  }
  source_ids(m, cps, n, ids);
  sentence_random random;
  sampler s = {d.temperature, d.top_k, (long)vocab_id(&m->target, '\t'), &random};
  if (mode == MODE_SAMPLING) st = seed_randoms(&d, &cps, &n, 1, &random, err);
  stream_ctx ctx = {m, callback, user_data, S2S_OK, err};
  decoded out;
  step_model sm = model_of(t);
  if (!st)
    st = greedy_decode(&sm, ids, 1, (int32_t)vocab_id(&m->target, '\t'), (int32_t)vocab_id(&m->target, '\n'),
                       (size_t)m->max_target_length, mode == MODE_SAMPLING ? &s : NULL, 0, stream_token, &ctx, &out,
                       err);
  if (!st) decoded_free(&out);
  free(ids);
  free(cps);
  return st ? st : ctx.st;
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
  s2s_result* results = NULL;
  s2s_status st = decode_texts(t, (const char* const*)entry->sources, entry->n_sources, NULL,
                               t->batch_invariant ? S2S_GOLDEN_BATCH : 1, 0, &results, err);
  t->on_unknown_skip = skip;
  t->on_overflow_truncate = trunc;
  if (!st) {
    st = best_texts(results, entry->n_sources, &got, err);
    s2s_results_free(results, entry->n_sources);
  }
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
