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
  S2S_ERROR_OPTION = 3,  /* an option out of range or of an unknown value */
  S2S_ERROR_ENGINE = 4,  /* LiteRT failed to load or run a model */
  S2S_ERROR_MEMORY = 5,  /* out of memory */
  S2S_ERROR_NO_GOLDEN = 6, /* the bundle has no golden translations for this artifact and kernel set */
} s2s_status;

/* An error: `code`, and `message`, one line in the Python runtime's words. For S2S_ERROR_INPUT
 * from the input policy, `index` is the index of the refused text in the call (else -1) and
 * `cli_message` the same problem in a command line's words ("... or pass --on-unknown skip");
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

/* Translate `count` texts with greedy decoding: on S2S_OK, *outputs is an array of `count`
 * NUL-terminated UTF-8 strings, in input order, freed with s2s_strings_free(*outputs, count).
 * On error *outputs is NULL and nothing was translated. The empty text gives "". */
S2S_API s2s_status s2s_translate(s2s_translator* translator, const char* const* texts, size_t count,
                                 char*** outputs, s2s_error** error);

/* Check one text against the input policy (UTF-8, vocabulary, length) without translating it. */
S2S_API s2s_status s2s_check_text(const s2s_translator* translator, const char* text, s2s_error** error);

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
