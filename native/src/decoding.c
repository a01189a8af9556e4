/* The decoding loops over the encoder and the decoder step (runtime/decoding.py): greedy decoding
   with the argmax or a sampler, its scores, a token callback for streaming, and beam search with
   its exact stopping bound; and the sampling generator (js/src/random.js), so that a seed gives the
   same draws in C as in JavaScript. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static const char* const STATE_NAMES[MAX_STATE] = {"state_h", "state_c", "memory_keys", "memory_values",
                                                   "memory_mask"};

void decoded_free(decoded* d) {
  free(d->ids);
  d->ids = NULL;
  d->n = 0;
}

static void state_free(model_state* s) {
  for (size_t k = 0; k < s->n; k++) host_tensor_free(&s->t[k]);
  s->n = 0;
}

static s2s_status encode(const step_model* m, int32_t* ids, size_t rows, model_state* s, s2s_error** err) {
  memset(s, 0, sizeof *s);
  size_t n = m->attention ? 5 : 2;
  for (size_t k = 0; k < n; k++) s->t[k].name = STATE_NAMES[k];
  host_tensor src = {"source_ids", kLiteRtElementTypeInt32, m->time, rows, ids, 0};
  s2s_status st = graph_run(m->encoder, &src, 1, s->t, n, rows, err);
  if (!st) s->n = n;
  return st;
}

/* One step: *logits (float32 [rows, *width], caller frees) and the state replaced by the next. */
static s2s_status step(const step_model* m, int32_t* tokens, size_t rows, model_state* s, host_tensor* logits,
                       s2s_error** err) {
  host_tensor inputs[MAX_STATE + 1];
  inputs[0] = (host_tensor){"token_ids", kLiteRtElementTypeInt32, 1, rows, tokens, 0};
  for (size_t k = 0; k < s->n; k++) inputs[k + 1] = s->t[k];
  host_tensor outs[3] = {{"logits", 0, 0, 0, NULL, 0},
                         {"next_state_h", 0, 0, 0, NULL, m->integer_state[0]},
                         {"next_state_c", 0, 0, 0, NULL, m->integer_state[1]}};
  s2s_status st = graph_run(m->step, inputs, s->n + 1, outs, 3, rows, err);
  if (st) return st;
  for (int k = 0; k < 2; k++) {
    host_tensor_free(&s->t[k]);
    s->t[k].type = outs[k + 1].type;
    s->t[k].row_elems = outs[k + 1].row_elems;
    s->t[k].rows = outs[k + 1].rows;
    s->t[k].data = outs[k + 1].data;
  }
  *logits = outs[0];
  return S2S_OK;
}

/* Keep the rows marked live, in order. */
static void state_keep(model_state* s, const unsigned char* live, size_t rows) {
  for (size_t k = 0; k < s->n; k++) {
    host_tensor* h = &s->t[k];
    size_t row_bytes = h->row_elems * element_size(h->type), kept = 0;
    for (size_t r = 0; r < rows; r++)
      if (live[r]) {
        if (kept != r) memmove((char*)h->data + kept * row_bytes, (char*)h->data + r * row_bytes, row_bytes);
        kept++;
      }
    h->rows = kept;
  }
}

/* The rows `select` (in that order, repeats allowed) of the first `tensors` tensors of the state. */
static s2s_status state_select(model_state* s, size_t tensors, const size_t* select, size_t n, s2s_error** err) {
  for (size_t k = 0; k < tensors && k < s->n; k++) {
    host_tensor* h = &s->t[k];
    size_t row_bytes = h->row_elems * element_size(h->type);
    char* data = aligned_zalloc((n ? n : 1) * row_bytes);
    if (!data) return set_error(err, S2S_ERROR_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) memcpy(data + i * row_bytes, (char*)h->data + select[i] * row_bytes, row_bytes);
    free(h->data);
    h->data = data;
    h->rows = n;
  }
  return S2S_OK;
}

/* numpy's sum of a contiguous float64 row (pairwise, in blocks of up to 128 with 8 accumulators):
   the same additions in the same order, so scores and beam ranks are numpy's to the last bit. */
static double pairwise_sum(const double* a, size_t n) {
  if (n < 8) {
    double r = 0.;
    for (size_t i = 0; i < n; i++) r += a[i];
    return r;
  }
  if (n <= 128) {
    double r[8];
    for (int k = 0; k < 8; k++) r[k] = a[k];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int k = 0; k < 8; k++) r[k] += a[i + (size_t)k];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

/* runtime/decoding.py log_softmax, in double (out holds n doubles; the exponentials pass through it) */
static void log_softmax(const float* row, size_t n, double* out) {
  double max = -INFINITY;
  for (size_t v = 0; v < n; v++)
    if ((double)row[v] > max) max = row[v];
  for (size_t v = 0; v < n; v++) out[v] = exp((double)row[v] - max);
  double lse = log(pairwise_sum(out, n));
  for (size_t v = 0; v < n; v++) out[v] = ((double)row[v] - max) - lse;
}

static int32_t argmax(const float* row, size_t n) {
  size_t best = 0;
  for (size_t v = 0; v < n; v++) {
    if (row[v] != row[v]) return (int32_t)v; /* numpy's argmax: the first NaN */
    if (row[v] > row[best]) best = v;
  }
  return (int32_t)best;
}

/* ---- the sampling generator (js/src/random.js) ---- */

static uint32_t imul(uint32_t a, uint32_t b) { return (uint32_t)((uint64_t)a * b); }

static uint32_t sfc32_next(sentence_random* r) {
  uint32_t t = r->a + r->b;
  r->a = r->b ^ (r->b >> 9);
  r->b = r->c + (r->c << 3);
  r->c = (r->c << 21) | (r->c >> 11);
  r->d = r->d + 1;
  t = t + r->d;
  r->c = r->c + t;
  return t;
}

/* Entropy for an unseeded generator: the system's (/dev/urandom), else the clock and an address. */
static void entropy(uint32_t words[4]) {
  FILE* f = fopen("/dev/urandom", "rb");
  size_t got = f ? fread(words, sizeof(uint32_t), 4, f) : 0;
  if (f) fclose(f);
  if (got == 4) return;
  struct timespec ts;
  timespec_get(&ts, TIME_UTC);
  uintptr_t here = (uintptr_t)&ts;
  words[0] = (uint32_t)ts.tv_sec;
  words[1] = (uint32_t)ts.tv_nsec;
  words[2] = (uint32_t)here;
  words[3] = (uint32_t)((uint64_t)here >> 32) ^ (uint32_t)clock();
}

void sentence_random_init(sentence_random* r, int seeded, uint64_t seed, const char* text, size_t len) {
  uint32_t w[4];
  if (!seeded) {
    entropy(w);
  } else {
    /* cyrb128-style hash of the text's UTF-8 bytes, mixed with the seed's two 32-bit words */
    uint32_t h1 = 1779033703u ^ (uint32_t)seed, h2 = 3144134277u ^ (uint32_t)(seed >> 32), h3 = 1013904242u,
             h4 = 2773480762u;
    for (size_t i = 0; i < len; i++) {
      uint32_t byte = (unsigned char)text[i];
      h1 = h2 ^ imul(h1 ^ byte, 597399067u);
      h2 = h3 ^ imul(h2 ^ byte, 2869860233u);
      h3 = h4 ^ imul(h3 ^ byte, 951274213u);
      h4 = h1 ^ imul(h4 ^ byte, 2716044179u);
    }
    h1 = imul(h3 ^ (h1 >> 18), 597399067u);
    h2 = imul(h4 ^ (h2 >> 22), 2869860233u);
    h3 = imul(h1 ^ (h3 >> 17), 951274213u);
    h4 = imul(h2 ^ (h4 >> 19), 2716044179u);
    w[0] = h1 ^ h2 ^ h3 ^ h4;
    w[1] = h2 ^ h1;
    w[2] = h3 ^ h1;
    w[3] = h4 ^ h1;
  }
  *r = (sentence_random){w[0], w[1], w[2], w[3]};
  for (int i = 0; i < 15; i++) sfc32_next(r); /* mix the seed in */
}

double sentence_random_next(sentence_random* r) { return sfc32_next(r) / 4294967296.0; }

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

/* One row's draw (runtime/decoding.py sampling_chooser); work holds 3 * n doubles. */
static int32_t sample(const sampler* s, const float* scores, size_t n, sentence_random* r, double* work) {
  double *logits = work, *cdf = work + n, *sorted = work + 2 * n;
  double max = -INFINITY;
  for (size_t j = 0; j < n; j++) logits[j] = (double)scores[j] / s->temperature;
  if (s->never >= 0 && (size_t)s->never < n) logits[s->never] = -INFINITY; /* START is no output character */
  for (size_t j = 0; j < n; j++)
    if (logits[j] > max) max = logits[j];
  double kth = -INFINITY;
  if (s->top_k > 0 && (size_t)s->top_k < n) {
    memcpy(sorted, logits, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_double);
    kth = sorted[n - (size_t)s->top_k];
  }
  double total = 0;
  size_t last = 0; /* the last token with any probability: where a draw that rounds up to the total lands */
  for (size_t j = 0; j < n; j++) {
    double p = logits[j] >= kth ? exp(logits[j] - max) : 0;
    if (p > 0) last = j;
    total += p;
    cdf[j] = total;
  }
  double u = sentence_random_next(r) * total;
  size_t pick = 0;
  while (pick < n && cdf[pick] <= u) pick++;
  return (int32_t)(pick < last ? pick : last);
}

/* ---- greedy decoding and sampling (runtime/decoding.py greedy_decode, stream_decode) ---- */

s2s_status greedy_decode(const step_model* m, int32_t* ids, size_t rows, int32_t start, int32_t end, size_t max_steps,
                         const sampler* choose, int with_scores, token_fn on_token, void* ctx, decoded* out,
                         s2s_error** err) {
  memset(out, 0, rows * sizeof *out);
  if (!rows) return S2S_OK;
  model_state state;
  s2s_status st = encode(m, ids, rows, &state, err);
  if (st) return st;
  size_t* row_of = malloc(rows * sizeof *row_of);
  int32_t* tok = aligned_zalloc(rows * sizeof *tok);
  unsigned char* live = malloc(rows);
  double* work = NULL;
  for (size_t r = 0; r < rows && row_of; r++)
    if (!(out[r].ids = malloc((max_steps ? max_steps : 1) * sizeof *out[r].ids))) {
      free(row_of);
      row_of = NULL;
    }
  if (!row_of || !tok || !live) {
    st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
    goto done;
  }
  size_t n_live = rows;
  for (size_t r = 0; r < rows; r++) {
    row_of[r] = r;
    tok[r] = start;
    out[r].n = max_steps;
  }
  for (size_t t = 0; t < max_steps && n_live; t++) {
    host_tensor logits;
    if ((st = step(m, tok, n_live, &state, &logits, err))) goto done;
    /* the logits' width is checked at load where the graph fixes it; a row of another width is
       read as the manifest's */
    if (!work && (choose || with_scores)) {
      if (!(work = malloc(3 * (logits.row_elems ? logits.row_elems : 1) * sizeof *work))) {
        host_tensor_free(&logits);
        st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
        goto done;
      }
    }
    int any_done = 0, stop = 0;
    for (size_t i = 0; i < n_live; i++) {
      const float* row = (const float*)logits.data + i * logits.row_elems;
      int32_t id = choose ? sample(choose, row, logits.row_elems, &choose->randoms[row_of[i]], work)
                          : argmax(row, logits.row_elems);
      decoded* d = &out[row_of[i]];
      if (with_scores) {
        log_softmax(row, logits.row_elems, work);
        d->score += work[id];
      }
      tok[i] = id;
      d->ids[t] = id;
      live[i] = id != end;
      if (!live[i]) {
        d->n = t;
        d->finished = 1;
        any_done = 1;
      } else if (on_token && on_token(ctx, id)) {
        d->n = t + 1;
        stop = 1;
      }
    }
    host_tensor_free(&logits);
    if (stop) break;
    if (any_done) {
      size_t k = 0;
      for (size_t i = 0; i < n_live; i++)
        if (live[i]) {
          row_of[k] = row_of[i];
          tok[k] = tok[i];
          k++;
        }
      state_keep(&state, live, n_live);
      n_live = k;
    }
  }
done:
  state_free(&state);
  free(row_of);
  free(tok);
  free(live);
  free(work);
  if (st)
    for (size_t r = 0; r < rows; r++) decoded_free(&out[r]);
  return st;
}

/* ---- beam search (runtime/decoding.py beam_decode) ---- */

typedef struct candidate {
  double total;
  size_t index; /* in the sentence's rows x vocab */
} candidate;

typedef struct hyp_list {
  decoded* items;
  size_t n, cap;
} hyp_list;

static double rank_of(const decoded* d, double length_penalty) {
  double length = (double)(d->n + (size_t)d->finished);
  return length_penalty != 0 ? d->score / pow(length, length_penalty) : d->score;
}

/* Python's list.sort(key=rank, reverse=True): best first, equal ranks in their order (stable). */
static void sort_hyps(hyp_list* h, double length_penalty) {
  for (size_t i = 1; i < h->n; i++) {
    decoded x = h->items[i];
    double rx = rank_of(&x, length_penalty);
    size_t j = i;
    while (j > 0 && rank_of(&h->items[j - 1], length_penalty) < rx) {
      h->items[j] = h->items[j - 1];
      j--;
    }
    h->items[j] = x;
  }
}

static int hyp_add(hyp_list* h, const int32_t* prefix, size_t n, int32_t token, double score, int finished) {
  if (h->n == h->cap) {
    size_t cap = h->cap ? 2 * h->cap : 8;
    decoded* items = realloc(h->items, cap * sizeof *items);
    if (!items) return -1;
    h->items = items;
    h->cap = cap;
  }
  size_t len = n + (token >= 0);
  int32_t* ids = malloc((len ? len : 1) * sizeof *ids);
  if (!ids) return -1;
  if (n) memcpy(ids, prefix, n * sizeof *ids);
  if (token >= 0) ids[n] = token;
  h->items[h->n++] = (decoded){ids, len, score, finished};
  return 0;
}

/* a * b, or SIZE_MAX when it does not fit */
static size_t mul_or_max(size_t a, size_t b) { return b && a > SIZE_MAX / b ? SIZE_MAX : a * b; }

/* *p grown to hold n elements of `size` bytes (kept as they are); 0, or -1 out of memory */
static int grow(void** p, size_t* cap, size_t n, size_t size) {
  if (n <= *cap) return 0;
  size_t want = n > 2 * *cap ? n : 2 * *cap;
  if (mul_or_max(want, size) == SIZE_MAX) want = n;
  if (mul_or_max(want, size) == SIZE_MAX) return -1;
  void* q = realloc(*p, want * size);
  if (!q) return -1;
  *p = q;
  *cap = want;
  return 0;
}

/* The live prefixes of a step: owner sentence, total score, ids so far (stride max_steps). */
typedef struct beam_rows {
  size_t cap;
  size_t* owner;
  double* totals;
  int32_t* prefixes;
} beam_rows;

static int beam_rows_grow(beam_rows* b, size_t n, size_t max_steps) {
  if (n <= b->cap) return 0;
  size_t c1 = b->cap, c2 = b->cap, c3 = b->cap * max_steps;
  if (grow((void**)&b->owner, &c1, n, sizeof *b->owner) || grow((void**)&b->totals, &c2, n, sizeof *b->totals) ||
      mul_or_max(n, max_steps) == SIZE_MAX || grow((void**)&b->prefixes, &c3, n * max_steps, sizeof *b->prefixes))
    return -1;
  b->cap = n;
  return 0;
}

static void beam_rows_free(beam_rows* b) {
  free(b->owner);
  free(b->totals);
  free(b->prefixes);
}

static int by_total(const void* a, const void* b) {
  const candidate *x = a, *y = b;
  if (x->total != y->total) return x->total > y->total ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

s2s_status beam_decode(const step_model* m, int32_t* ids, size_t rows, int32_t start, int32_t end, size_t max_steps,
                       int beam_size, int num_hypotheses, double length_penalty, decoded** out, size_t* n_out,
                       s2s_error** err) {
  for (size_t r = 0; r < rows; r++) {
    out[r] = NULL;
    n_out[r] = 0;
  }
  if (!rows || !max_steps) return S2S_OK;
  model_state state;
  s2s_status st = encode(m, ids, rows, &state, err);
  if (st) return st;
  /* Buffers grow with the prefixes actually live: a sentence keeps at most beam_size of them, and
     at most its rows times the vocabulary. */
  size_t beam = (size_t)beam_size, k_max = mul_or_max(2, beam), all_rows = mul_or_max(rows, beam);
  hyp_list* finished = calloc(rows, sizeof *finished);
  beam_rows cur = {0}, next = {0};
  size_t *select = NULL, select_cap = 0, tokens_cap = rows, cand_cap = 0, best_cap = 0, alive_cap = 0;
  int32_t* tokens = aligned_zalloc(rows * sizeof *tokens);
  double* cand = NULL;
  candidate *best = NULL, *alive = NULL;
  if (!finished || !tokens || beam_rows_grow(&cur, rows, max_steps)) {
    st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
    goto done;
  }
  size_t live = rows;
  for (size_t r = 0; r < rows; r++) {
    cur.owner[r] = r;
    cur.totals[r] = 0;
    tokens[r] = start;
  }
  for (size_t t = 0; t < max_steps && live; t++) {
    host_tensor logits;
    if ((st = step(m, tokens, live, &state, &logits, err))) goto done;
    size_t vocab = logits.row_elems, width = vocab ? vocab : 1;
    size_t bound = mul_or_max(live, width); /* the most prefixes the next step can keep */
    if (bound > all_rows) bound = all_rows;
    if (grow((void**)&cand, &cand_cap, mul_or_max(live, width), sizeof *cand) ||
        beam_rows_grow(&next, bound, max_steps) || grow((void**)&select, &select_cap, bound, sizeof *select)) {
      host_tensor_free(&logits);
      st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
      goto done;
    }
    for (size_t i = 0; i < live; i++) {
      double* c = cand + i * vocab;
      log_softmax((const float*)logits.data + i * vocab, vocab, c);
      for (size_t v = 0; v < vocab; v++) c[v] += cur.totals[i];
      if (start >= 0 && (size_t)start < vocab) c[start] = -INFINITY; /* START is no output character */
    }
    host_tensor_free(&logits);
    size_t kept = 0;
    for (size_t lo = 0; lo < live;) {
      size_t sentence = cur.owner[lo], hi = lo;
      while (hi < live && cur.owner[hi] == sentence) hi++;
      /* the best min(size, 2 * beam) candidates of the sentence's rows, best first, ties to the lower index
         (at most beam_size of them end, so they hold beam_size that do not) */
      size_t size = (hi - lo) * vocab, k = size < k_max ? size : k_max, n_best = 0;
      size_t n_alive_max = size < beam ? size : beam;
      if (grow((void**)&best, &best_cap, (k > 64 ? size : k) + 1, sizeof *best) ||
          grow((void**)&alive, &alive_cap, n_alive_max + 1, sizeof *alive)) {
        st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
        goto done;
      }
      if (k > 64) { /* a wide beam: sort them all */
        for (size_t index = 0; index < size; index++) best[index] = (candidate){cand[lo * vocab + index], index};
        qsort(best, size, sizeof *best, by_total);
        n_best = k;
      } else {
        for (size_t index = 0; index < size; index++) {
          double total = cand[lo * vocab + index];
          if (n_best == k && !(total > best[k - 1].total)) continue;
          size_t j = n_best < k ? n_best++ : k - 1;
          while (j > 0 && best[j - 1].total < total) {
            best[j] = best[j - 1];
            j--;
          }
          best[j] = (candidate){total, index};
        }
      }
      size_t n_alive = 0;
      hyp_list* done_list = &finished[sentence];
      for (size_t position = 0; position < n_best; position++) {
        size_t row = lo + best[position].index / vocab;
        int32_t token = (int32_t)(best[position].index % vocab);
        if (token == end) {
          if (position < beam && hyp_add(done_list, cur.prefixes + row * max_steps, t, -1, best[position].total, 1)) {
            st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
            goto done;
          }
        } else if (n_alive < beam) {
          alive[n_alive++] = (candidate){best[position].total, row * vocab + (size_t)token};
        }
      }
      lo = hi;
      if (t == max_steps - 1) { /* cut by the length limit: they count as they stand, as in greedy */
        for (size_t a = 0; a < n_alive; a++) {
          size_t row = alive[a].index / vocab;
          if (hyp_add(done_list, cur.prefixes + row * max_steps, t, (int32_t)(alive[a].index % vocab), alive[a].total,
                      0)) {
            st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
            goto done;
          }
        }
        continue;
      }
      if (done_list->n >= (size_t)num_hypotheses && n_alive) {
        sort_hyps(done_list, length_penalty);
        /* The best a live prefix can still rank: its score only falls, and its length reaches at most
           max_steps (dividing a negative score by more raises it). */
        double best_live = -INFINITY;
        for (size_t a = 0; a < n_alive; a++)
          if (alive[a].total > best_live) best_live = alive[a].total;
        double limit = length_penalty != 0 ? best_live / pow((double)max_steps, length_penalty) : best_live;
        if (rank_of(&done_list->items[num_hypotheses - 1], length_penalty) >= limit) continue;
      }
      for (size_t a = 0; a < n_alive; a++) {
        size_t row = alive[a].index / vocab;
        select[kept] = row;
        next.owner[kept] = sentence;
        next.totals[kept] = alive[a].total;
        memcpy(next.prefixes + kept * max_steps, cur.prefixes + row * max_steps, t * sizeof *cur.prefixes);
        next.prefixes[kept * max_steps + t] = (int32_t)(alive[a].index % vocab);
        kept++;
      }
    }
    if (!kept) break;
    /* The context (attention's memory) is per sentence: it moves only when a sentence's number of
       rows changes (the first step, a sentence that stops). */
    int same = kept == live;
    for (size_t i = 0; same && i < kept; i++) same = cur.owner[select[i]] == cur.owner[i];
    if ((st = state_select(&state, same ? 2 : state.n, select, kept, err))) goto done;
    if (kept > tokens_cap) {
      free(tokens);
      if (!(tokens = aligned_zalloc(kept * sizeof *tokens))) {
        st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
        goto done;
      }
      tokens_cap = kept;
    }
    for (size_t i = 0; i < kept; i++) tokens[i] = next.prefixes[i * max_steps + t];
    beam_rows swap = cur;
    cur = next;
    next = swap;
    live = kept;
  }
  for (size_t r = 0; r < rows; r++) {
    hyp_list* h = &finished[r];
    sort_hyps(h, length_penalty);
    size_t n = h->n < (size_t)num_hypotheses ? h->n : (size_t)num_hypotheses;
    for (size_t i = n; i < h->n; i++) decoded_free(&h->items[i]);
    out[r] = h->items;
    n_out[r] = n;
    h->items = NULL;
    h->n = 0;
  }
done:
  state_free(&state);
  for (size_t r = 0; finished && r < rows; r++) {
    for (size_t i = 0; i < finished[r].n; i++) decoded_free(&finished[r].items[i]);
    free(finished[r].items);
  }
  if (st)
    for (size_t r = 0; r < rows; r++) {
      for (size_t i = 0; i < n_out[r]; i++) decoded_free(&out[r][i]);
      free(out[r]);
      out[r] = NULL;
      n_out[r] = 0;
    }
  free(finished);
  beam_rows_free(&cur);
  beam_rows_free(&next);
  free(select);
  free(tokens);
  free(cand);
  free(best);
  free(alive);
  return st;
}
