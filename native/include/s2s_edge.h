/* s2s-edge in C: read a bundle (docs/bundle.md) and translate with its TFLite files through
 * LiteRT's C API, with the Python runtime's outputs (runtime.Translator, backend "tflite").
 *
 * Memory: every pointer that a function of this library returns through an out-parameter
 * belongs to the caller, who frees it with the function named beside it (s2s_error_free,
 * s2s_strings_free, s2s_string_free); pointers passed in stay the caller's and are not kept
 * after the call returns (the translator copies what it needs).
 *
 * Threads: a translator is not thread-safe. Never use one translator from two threads at
 * once; open one translator per thread (translators share nothing). Functions that take no
 * translator are thread-safe.
 *
 * Text is UTF-8 in and out; input that is not valid UTF-8 is an S2S_ERROR_INPUT.
 */
#ifndef S2S_EDGE_H_
#define S2S_EDGE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define S2S_API __attribute__((visibility("default")))
#else
#define S2S_API
#endif

typedef enum s2s_status {
  S2S_OK = 0,
  S2S_ERROR_BUNDLE = 1,  /* the bundle is missing, malformed, or does not match its manifest */
  S2S_ERROR_INPUT = 2,   /* a text the input policy refuses, or invalid UTF-8 */
  S2S_ERROR_OPTION = 3,  /* an option out of range, of an unknown value, or options that do not combine */
  S2S_ERROR_ENGINE = 4,  /* LiteRT failed to load or run a model */
  S2S_ERROR_MEMORY = 5,  /* out of memory */
  S2S_ERROR_NO_GOLDEN = 6, /* the bundle has no golden translations for this artifact and kernel set */
} s2s_status;

/* An error: `code`, and `message`, one line in the Python runtime's words. For S2S_ERROR_INPUT
 * from the input policy, `index` is the index of the refused text in the call (else -1) and
 * `cli_message` the same problem in a command line's words ("... or pass --on-unknown skip");
 * for S2S_ERROR_OPTION from decoding options, `cli_message` names them as flags ("--beam-size");
 * otherwise `cli_message` equals `message`. Free with s2s_error_free. */
typedef struct s2s_error {
  s2s_status code;
  char* message;
  char* cli_message;
  long index;
} s2s_error;

S2S_API void s2s_error_free(s2s_error* error);

/* Options of s2s_open. Start from s2s_options_init (the defaults) and change fields; a NULL
 * string means its default. */
typedef struct s2s_options {
  const char* precision;   /* "float32" (default), "float16", "dynamic", "int8", "int16x8" */
  const char* kernels;     /* "default" (LiteRT's, with its XNNPACK delegate) or "builtin" */
  const char* on_unknown;  /* "error" (default) or "skip": characters outside the vocabulary */
  const char* on_overflow; /* "error" (default) or "truncate": texts longer than the model's maximum */
  int max_batch_size;      /* sentences per model call, >= 1 (default 64) */
  int threads;             /* LiteRT's CPU threads per model, >= 1 (default 1) */
} s2s_options;

S2S_API void s2s_options_init(s2s_options* options);

typedef struct s2s_translator s2s_translator;

/* Open the bundle in directory `bundle_dir`: the manifest, the file listing, the two model files
 * of backend "tflite" and `options->precision` (size, then sha256 on the bytes loaded), each graph
 * against its role, then the golden file (when named). NULL on error, with *error set
 * (when `error` is not NULL). `options` may be NULL (the defaults). */
S2S_API s2s_translator* s2s_open(const char* bundle_dir, const s2s_options* options, s2s_error** error);

/* Free the translator and everything it holds; NULL is allowed. */
S2S_API void s2s_close(s2s_translator* translator);

/* How to decode (runtime.Translator's keyword arguments). Start from s2s_decoding_init (greedy) and
 * change fields; a NULL `s2s_decoding*` means greedy.
 * - greedy: beam_size 1 and top_k 1 (the defaults), the argmax at each step;
 * - beam search: beam_size > 1; `num_hypotheses` (<= beam_size) best outputs via s2s_hypotheses,
 *   ranked by score / length ** length_penalty (0: by the plain score), length counting END;
 * - sampling: top_k != 1, among the top_k likeliest characters (0: all) of softmax(scores /
 *   temperature). With `seeded`, a sentence's sample depends only on (seed, its text after the input
 *   policy), not on its batch-mates, the batch size or streaming: the generator is JavaScript's
 *   (js/src/random.js: sfc32 seeded by a cyrb128-style hash of the seed and the text's UTF-8), so C and
 *   JavaScript draw the same numbers; numpy's draws (Python) differ. Unseeded, it draws its seed from
 *   /dev/urandom (else the clock).
 * Sampling and beam search do not combine; temperature applies to sampling only. */
typedef struct s2s_decoding {
  int beam_size;         /* >= 1 (default 1) */
  int num_hypotheses;    /* 1 to beam_size (default 1) */
  double length_penalty; /* >= 0 (default 1) */
  int top_k;             /* >= 0 (default 1: greedy) */
  double temperature;    /* > 0 and finite (default 1) */
  int seeded;            /* 1: draw from `seed` (default 0) */
  uint64_t seed;
} s2s_decoding;

S2S_API void s2s_decoding_init(s2s_decoding* decoding);

/* Translate `count` texts: on S2S_OK, *outputs is an array of `count` NUL-terminated UTF-8 strings
 * (the best output of each), in input order, freed with s2s_strings_free(*outputs, count). On error
 * *outputs is NULL and nothing was translated. The empty text gives "". Texts are decoded in batches
 * of up to max_batch_size sentences of similar length (one at a time when an artifact of the model
 * is marked batch_invariant false). */
S2S_API s2s_status s2s_translate(s2s_translator* translator, const char* const* texts, size_t count,
                                 const s2s_decoding* decoding, char*** outputs, s2s_error** error);

/* An output with its score: the natural-log probability of its characters and END, summed;
 * `finished` is 0 when the output was cut at the model's maximum length. */
typedef struct s2s_hypothesis {
  char* text;
  double score;
  int finished;
} s2s_hypothesis;

/* The outputs of one text, best first: `count` of them (num_hypotheses, fewer only where the beam
 * held fewer; the empty text gives num_hypotheses times "" with score 0). */
typedef struct s2s_result {
  s2s_hypothesis* hypotheses;
  size_t count;
} s2s_result;

/* As s2s_translate, with scores and up to num_hypotheses outputs per text: on S2S_OK, *results is an
 * array of `count` results in input order, freed with s2s_results_free(*results, count). */
S2S_API s2s_status s2s_hypotheses(s2s_translator* translator, const char* const* texts, size_t count,
                                  const s2s_decoding* decoding, s2s_result** results, s2s_error** error);

S2S_API void s2s_results_free(s2s_result* results, size_t count);

/* Called with each character of the output as it is decoded: `piece` holds its UTF-8 bytes (`length`
 * of them, NUL-terminated), valid during the call only. Return 0 to go on, nonzero to stop decoding
 * (s2s_translate_stream then returns S2S_OK). */
typedef int (*s2s_stream_callback)(const char* piece, size_t length, void* user_data);

/* Translate one text, handing each output character to `callback` as it is decoded (greedy or
 * sampling; beam search is an S2S_ERROR_OPTION): joined, the pieces equal s2s_translate's output
 * with the same options. */
S2S_API s2s_status s2s_translate_stream(s2s_translator* translator, const char* text, const s2s_decoding* decoding,
                                        s2s_stream_callback callback, void* user_data, s2s_error** error);

/* Check one text against the input policy (UTF-8, vocabulary, length) without translating it. */
S2S_API s2s_status s2s_check_text(const s2s_translator* translator, const char* text, s2s_error** error);

/* Check decoding options as s2s_translate does, without translating (NULL: greedy, always valid). */
S2S_API s2s_status s2s_check_decoding(const s2s_decoding* decoding, s2s_error** error);

S2S_API void s2s_strings_free(char** strings, size_t count);
S2S_API void s2s_string_free(char* string);

/* Decode the bundle's golden sentences as the export recorded them (greedy, stepping the decoder,
 * in batches of up to 64, input policy error/error, whatever the translator's options) and compare
 * them with the decodes recorded at export for this precision and kernel set. On S2S_OK, *summary holds the lines that `python -m runtime
 * --self-check` prints (free with s2s_string_free) and *passed is 1 when every sentence is
 * identical, else 0. S2S_ERROR_NO_GOLDEN when the bundle has none for them. */
S2S_API s2s_status s2s_self_check(s2s_translator* translator, char** summary, int* passed, s2s_error** error);

/* The most characters (code points) a text may have, the bundle's max_source_length. */
S2S_API int s2s_max_input_length(const s2s_translator* translator);

/* The engine, e.g. "LiteRT C API (ai-edge-litert 2.3.0)": the wheel the library was built against. */
S2S_API const char* s2s_engine(void);

#ifdef __cplusplus
}
#endif

#endif /* S2S_EDGE_H_ */
