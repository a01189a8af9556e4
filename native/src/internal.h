/* Internals shared by the library's files (not installed). */
#ifndef S2S_EDGE_INTERNAL_H_
#define S2S_EDGE_INTERNAL_H_

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "litert_c_api.h"
#include "s2s_edge.h"

#define S2S_MANIFEST "manifest.json"
#define S2S_MAX_MANIFEST_BYTES (4L * 1024 * 1024)
#define S2S_MAX_GOLDEN_BYTES (16L * 1024 * 1024)
#define S2S_MAX_LENGTH 1024
#define S2S_MAX_LATENT_DIM 65536
#define S2S_MAX_VOCAB_SIZE 1114112
#define S2S_MAX_ARTIFACT_BYTES 2147483647L
#define S2S_MAX_NESTING 32
/* runtime/golden.py: at most this many sentences and kernel sets per artifact; the self-check
   decodes in batches of up to GOLDEN_BATCH sentences */
#define S2S_MAX_GOLDEN_SENTENCES 1000
#define S2S_MAX_GOLDEN_KERNEL_SETS 8
#define S2S_GOLDEN_BATCH 64
#define S2S_MAX_LABEL 64

/* ---- growable strings (util.c) ---- */
typedef struct strbuf {
  char* data;
  size_t len, cap;
  int failed; /* an allocation failed: data holds what fit */
} strbuf;

void sb_init(strbuf* sb);
void sb_free(strbuf* sb);
void sb_putn(strbuf* sb, const char* s, size_t n);
void sb_puts(strbuf* sb, const char* s);
void sb_printf(strbuf* sb, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_put_cp(strbuf* sb, uint32_t cp); /* one code point as UTF-8 */
size_t utf8_put(uint32_t cp, char out[4]); /* its bytes, 1 to 4 */
char* sb_take(strbuf* sb);               /* the string (caller frees); NULL if an allocation failed */

char* s2s_strdup(const char* s);
char* s2s_printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- errors ---- */
s2s_status set_error(s2s_error** err, s2s_status code, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
s2s_status set_error_text(s2s_error** err, s2s_status code, char* message); /* takes message */
s2s_status set_option_error(s2s_error** err, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
s2s_status set_input_error(s2s_error** err, long index, const char* problem, const char* remedy,
                           const char* option, const char* value);

/* ---- UTF-8 ---- */
/* Decode strict UTF-8 (no overlongs, surrogates or values past U+10FFFF) into a new array of code
 * points; -1 when invalid (or out of memory: *cps NULL, *n 0 and return -2). */
int utf8_decode(const char* s, size_t len, uint32_t** cps, size_t* n);
int utf8_valid(const char* s, size_t len);
/* As utf8_decode, also reading the forms json_keep_specials gives U+0000 and lone surrogates. */
int json_text_decode(const char* s, size_t len, uint32_t** cps, size_t* n);
/* lowercase: Python's str.lower of the code points `in` (full mappings, the Greek final sigma) into a
   new array *out of *n code points; 0, or -2 when out of memory. */
int lowercase(const uint32_t* in, size_t len, uint32_t** out, size_t* n);
/* JSON text (UTF-8) with each string's \u0000 escape turned into the bytes C0 80, and each lone
   surrogate escape (one not in a \uD8xx\uDCxx pair) into its 3-byte form, so that cJSON, which
   refuses lone surrogates and cuts strings at U+0000, keeps what Python's json and JavaScript's
   JSON.parse read. *cuts holds n_cuts pairs (offset in *out, bytes fewer than the escape) to map a
   position back. 0, or -1 out of memory. */
int json_keep_specials(const unsigned char* raw, size_t len, unsigned char** out, size_t* out_len, size_t** cuts,
                       size_t* n_cuts);

void py_float_repr(double v, char out[32]); /* Python's repr() of a float */
/* Python's repr() of a str, as the Python runtime's messages show texts and characters. */
void py_repr(strbuf* sb, const uint32_t* cps, size_t n);
/* json.dumps(text, ensure_ascii=False), a lone surrogate as its escape (JavaScript's JSON.stringify) */
void json_quote(strbuf* sb, const uint32_t* cps, size_t n);
void json_quote_utf8(strbuf* sb, const char* s); /* s: UTF-8, or json_keep_specials's forms */
/* The bundle reader's _show: a JSON value as compact JSON, cut to 60 characters. */
char* show_json(const cJSON* value);

/* ---- bundle (bundle.c) ---- */
typedef struct artifact {
  char* backend;
  char* precision;
  char* role;
  char* file;
  char* sha256;
  long size;
  int batch_invariant;
} artifact;

typedef struct vocab {
  uint32_t* chars; /* code points, id = position */
  size_t size;
  uint32_t* sorted_chars; /* for lookup */
  uint32_t* sorted_ids;
} vocab;

enum family_kind { FAMILY_SEED = 0, FAMILY_ATTENTION = 1 };

typedef struct manifest {
  vocab source, target;
  int zero_padding; /* pad_token null: pad with id len(source_vocab) */
  int max_source_length, max_target_length, latent_dim;
  enum family_kind family;
  artifact* artifacts;
  size_t n_artifacts;
  int has_golden;
  artifact golden; /* file, sha256, size */
  int lowercase, wrap; /* source_form (format version 5): what the encoder reads of a text */
} manifest;

void manifest_free(manifest* m);
/* read_manifest: the directory, manifest.json, its checks and the file listing. */
s2s_status read_manifest(const char* dir, manifest* m, s2s_error** err);
/* The bytes of a listed file, size checked first, then sha256. */
s2s_status read_artifact(const char* dir, const artifact* a, unsigned char** data, size_t* size, s2s_error** err);
long vocab_id(const vocab* v, uint32_t cp); /* -1 when absent */
char* bundle_path(const char* dir, const char* file);

/* golden translations */
typedef struct golden_decodes {
  char* kernels;
  char* engine;
  char* engine_version;
  char* machine; /* NULL when absent */
  char** outputs;
} golden_decodes;

typedef struct golden_artifact {
  char* backend;
  char* precision;
  char** sources;
  size_t n_sources;
  golden_decodes* decodes;
  size_t n_decodes;
} golden_artifact;
/* Strings in a golden_artifact are UTF-8 but for U+0000 and lone surrogates, which are in
   json_keep_specials's forms (json_text_decode reads them). */

typedef struct golden {
  golden_artifact* artifacts;
  size_t n;
} golden;

s2s_status read_golden(const char* dir, const manifest* m, golden** out, s2s_error** err);
void golden_free(golden* g);
/* parse_manifest_bytes: UTF-8, nesting, JSON; `specials`: strings keep U+0000 and lone surrogates
   (json_keep_specials) */
s2s_status parse_json_bytes(const unsigned char* raw, size_t len, const char* where, const char* what,
                            int specials, cJSON** out, s2s_error** err);

/* ---- the engine (engine.c) ---- */
#define MAX_IO 8

typedef struct tensor_info {
  char* name;
  LiteRtElementType type;
  int ranked;
  int rank;
  int32_t dims[LITERT_TENSOR_MAX_RANK];
  int quantized; /* integer tensor standing for floats: scale and zero point */
  float scale;
  int64_t zero_point;
} tensor_info;

typedef struct graph {
  LiteRtModel model;
  LiteRtCompiledModel compiled;
  LiteRtOptions options;
  unsigned char* bytes;
  size_t n_bytes;
  size_t signature;
  size_t n_in, n_out;
  tensor_info in[MAX_IO], out[MAX_IO];
  int fixed_batch; /* 0: dynamic */
  int resized_batch;
  int time, latent, vocab; /* the manifest's sizes */
} graph;

/* A named host tensor [rows, ...]: float32, or an integer type of the file's own. */
typedef struct host_tensor {
  const char* name;
  LiteRtElementType type;
  size_t row_elems; /* elements per row */
  size_t rows;
  void* data;        /* LITERT_HOST_MEMORY_BUFFER_ALIGNMENT-aligned (aligned_zalloc) */
  int keep_integer;  /* outputs: keep the file's integers instead of dequantizing */
} host_tensor;

size_t element_size(LiteRtElementType t);
s2s_status engine_env(LiteRtEnvironment* env, s2s_error** err);
s2s_status graph_load(graph* g, LiteRtEnvironment env, unsigned char* bytes, size_t n, const char* file,
                      const char* role, const manifest* m, const char* kernels, int threads, s2s_error** err);
void graph_free(graph* g);
/* Run `g` on inputs (by name, `rows` rows each) into outputs (allocated here, by name, each with the
 * given row size and type). */
s2s_status graph_run(graph* g, const host_tensor* inputs, size_t n_in, host_tensor* outputs, size_t n_out,
                     size_t rows, s2s_error** err);
/* the elements per row of a graph tensor (by name), from the manifest's sizes */
size_t row_elements(const graph* g, const char* name);
void host_tensor_free(host_tensor* t);
int graph_input_index(const graph* g, const char* name);
int graph_output_index(const graph* g, const char* name);

void* aligned_zalloc(size_t bytes);

/* ---- decoding (decoding.c): runtime/decoding.py's loops over the two graphs ---- */

/* The decoder's state, by name (runtime/bundle.py Family): state_h, state_c, and for the attention
   family its context, memory_keys, memory_values, memory_mask (constant per sentence). */
#define MAX_STATE 5
typedef struct model_state {
  host_tensor t[MAX_STATE];
  size_t n;
} model_state;

typedef struct step_model {
  graph* encoder;
  graph* step;
  int attention;
  int integer_state[2]; /* next_state_h, next_state_c handed back to the step as the file's integers */
  size_t time;          /* max_source_length */
} step_model;

/* One decoded output: ids without START and END, the sum of the chosen tokens' log-probabilities
   (END included), and whether it ended (0: cut at the length limit). */
typedef struct decoded {
  int32_t* ids;
  size_t n;
  double score;
  int finished;
} decoded;

void decoded_free(decoded* d);

/* js/src/random.js: sfc32 seeded by a cyrb128-style hash of (seed, the text's UTF-8 bytes). */
typedef struct sentence_random {
  uint32_t a, b, c, d;
} sentence_random;

void sentence_random_init(sentence_random* r, int seeded, uint64_t seed, const char* text, size_t len);
double sentence_random_next(sentence_random* r); /* in [0, 1), 32 random bits */

/* Sampling (runtime/decoding.py sampling_chooser): softmax(scores / temperature) over the top_k
   tokens (0: all), never `never`; row i of the batch draws from randoms[i]. */
typedef struct sampler {
  double temperature;
  int top_k;
  long never;
  sentence_random* randoms;
} sampler;

/* Called with each token of row 0 as it is chosen (streaming, one sentence): nonzero stops. */
typedef int (*token_fn)(void* ctx, int32_t id);

/* greedy_decode: argmax, or `choose` when not NULL; scores when with_scores. out[rows]. */
s2s_status greedy_decode(const step_model* m, int32_t* ids, size_t rows, int32_t start, int32_t end, size_t max_steps,
                         const sampler* choose, int with_scores, token_fn on_token, void* ctx, decoded* out,
                         s2s_error** err);
/* beam_decode: out[r] gets up to num_hypotheses outputs, best first, n_out[r] of them. */
s2s_status beam_decode(const step_model* m, int32_t* ids, size_t rows, int32_t start, int32_t end, size_t max_steps,
                       int beam_size, int num_hypotheses, double length_penalty, decoded** out, size_t* n_out,
                       s2s_error** err);

#endif
