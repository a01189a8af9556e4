/* s2s-translate: the command line of `python -m runtime` over the C library (runtime/__main__.py,
   runtime/cli.py): TEXT arguments, or stdin line by line in batches; one-line `error:` on stderr
   and exit status 2 for user errors; --self-check prints the golden comparison, exit 0 or 1. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "s2s_edge.h"

#define PROG "s2s-translate"
#define MAX_LINE_BYTES (1L << 20)

static const char* USAGE =
    "usage: " PROG " [-h] --bundle BUNDLE [--precision PRECISION] [--kernels {default,builtin}]\n"
    "                     [--self-check] [--threads THREADS] [--batch-size BATCH_SIZE]\n"
    "                     [--on-unknown {error,skip}] [--on-overflow {error,truncate}] [--echo]\n"
    "                     [--beam-size BEAM_SIZE] [--num-hypotheses NUM_HYPOTHESES]\n"
    "                     [--length-penalty LENGTH_PENALTY] [--top-k TOP_K]\n"
    "                     [--temperature TEMPERATURE] [--seed SEED] [--scores] [--stream]\n"
    "                     [TEXT ...]\n"
    "\n"
    "Translate English to French with an exported s2s-edge bundle's TFLite files (LiteRT's C API).\n"
    "Without TEXT, reads stdin: one input line, one output line (N lines with --num-hypotheses N).\n"
    "\n"
    "positional arguments:\n"
    "  TEXT                  sentences to translate\n"
    "\n"
    "options:\n"
    "  -h, --help            show this help message and exit\n"
    "  --bundle BUNDLE       bundle directory (holds manifest.json)\n"
    "  --precision PRECISION default: float32 (float16, dynamic, int8, int16x8)\n"
    "  --kernels {default,builtin}\n"
    "                        LiteRT's kernel set: default (with its XNNPACK delegate) or builtin\n"
    "  --self-check          decode the bundle's golden translations and compare them with the decodes\n"
    "                        recorded at export for this precision and kernel set: prints k/N identical;\n"
    "                        exit 0 when all are, 1 otherwise\n"
    "  --threads THREADS     LiteRT's CPU threads per model (default: 1)\n"
    "  --batch-size BATCH_SIZE\n"
    "                        sentences per batch (default: 64)\n"
    "  --on-unknown {error,skip}\n"
    "                        characters outside the vocabulary: fail, or drop them (default: error)\n"
    "  --on-overflow {error,truncate}\n"
    "                        inputs longer than the model's maximum: fail, or cut them (default: error)\n"
    "  --echo                print SOURCE<TAB>TRANSLATION per line\n"
    "\n"
    "decoding (default: greedy):\n"
    "  --beam-size BEAM_SIZE\n"
    "                        beam search width (1: greedy)\n"
    "  --num-hypotheses NUM_HYPOTHESES\n"
    "                        print the N best outputs of each input, one per line (needs --beam-size >= N)\n"
    "  --length-penalty LENGTH_PENALTY\n"
    "                        beam ranking: score / length ** this (0: plain log-probability; default 1)\n"
    "  --top-k TOP_K         sample among the K most likely characters (0: all; 1: greedy, the default)\n"
    "  --temperature TEMPERATURE\n"
    "                        sampling temperature (with --top-k)\n"
    "  --seed SEED           makes sampling reproducible (0 to 2**64 - 1; the C library's generator,\n"
    "                        JavaScript's: samples differ from the Python runtime's)\n"
    "  --scores              print SCORE<TAB>TEXT (log-probability)\n"
    "  --stream              print characters as they are decoded (greedy or sampling; one input at a time)\n";

static int usage_error(const char* fmt, const char* a, const char* b) {
  fprintf(stderr, PROG ": error: ");
  fprintf(stderr, fmt, a, b);
  fprintf(stderr, " (see --help)\n");
  return 2;
}

static int user_error(const char* message) {
  /* one line, as run_main prints it (whitespace runs collapsed) */
  fputs(PROG ": error: ", stderr);
  int space = 0;
  for (const char* p = message; *p; p++) {
    if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
      space = 1;
      continue;
    }
    if (space) fputc(' ', stderr);
    space = 0;
    fputc(*p, stderr);
  }
  fputc('\n', stderr);
  return 2;
}

static int fail(s2s_error* e, const char* where, long number) {
  int rc;
  if (e && where && e->index >= 0) {
    char* m = s2s_printf("%s %ld: %s", where, number, e->cli_message);
    rc = user_error(m ? m : e->cli_message);
    free(m);
  } else {
    rc = user_error(e ? e->cli_message : "out of memory");
  }
  s2s_error_free(e);
  return rc;
}

/* ---- argparse's ways (runtime/cli.py, Python's argparse) ---- */

/* argparse takes an argument that looks like a negative number as a value or TEXT (^-\d+$|^-\d*\.\d+$) */
static int negative_number(const char* a) {
  if (a[0] != '-') return 0;
  const char* p = a + 1;
  size_t digits = strspn(p, "0123456789");
  if (digits && !p[digits]) return 1;
  if (p[digits] != '.') return 0;
  size_t frac = strspn(p + digits + 1, "0123456789");
  return frac && !p[digits + 1 + frac];
}

/* `text` without surrounding whitespace and without the underscores that Python's int() and float()
   allow between digits; NULL when an underscore stands elsewhere. Caller frees. */
static char* python_number_text(const char* text) {
  while (isspace((unsigned char)*text)) text++;
  size_t n = strlen(text);
  while (n && isspace((unsigned char)text[n - 1])) n--;
  char* out = malloc(n + 1);
  if (!out) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (text[i] == '_') {
      if (!(i && isdigit((unsigned char)text[i - 1]) && i + 1 < n && isdigit((unsigned char)text[i + 1]))) {
        free(out);
        return NULL;
      }
      continue;
    }
    out[k++] = text[i];
  }
  out[k] = '\0';
  return out;
}

/* Python's int(text) as a sign and a run of decimal digits (leading zeros dropped): 1, or 0 when it
   is no whole number. */
static int python_int(const char* text, int* negative, char** digits) {
  char* t = python_number_text(text);
  if (!t) return 0;
  const char* p = t;
  *negative = *p == '-';
  if (*p == '-' || *p == '+') p++;
  if (!*p || strspn(p, "0123456789") != strlen(p)) {
    free(t);
    return 0;
  }
  while (p[0] == '0' && p[1]) p++;
  *digits = s2s_strdup(p);
  free(t);
  return *digits != NULL;
}

/* argparse's whole numbers (runtime/cli.py _whole_number): at least `minimum`; C's fields also hold at
   most `maximum`, named in the error (Python's ints have no bound). */
static int parse_whole(const char* flag, const char* text, unsigned long long minimum, unsigned long long maximum,
                       unsigned long long* out) {
  int negative;
  char* digits;
  if (!python_int(text, &negative, &digits)) {
    fprintf(stderr, PROG ": error: argument %s: expected a whole number, got '%s' (see --help)\n", flag, text);
    return 0;
  }
  int zero = strcmp(digits, "0") == 0;
  errno = 0;
  unsigned long long v = strtoull(digits, NULL, 10);
  int ok = 1;
  if ((negative && !zero) || (!negative && v < minimum)) {
    fprintf(stderr, PROG ": error: argument %s: must be at least %llu, got %s%s (see --help)\n", flag, minimum,
            negative && !zero ? "-" : "", digits);
    ok = 0;
  } else if (errno == ERANGE || v > maximum) {
    fprintf(stderr, PROG ": error: argument %s: must be at most %llu, got %s (see --help)\n", flag, maximum, digits);
    ok = 0;
  }
  free(digits);
  *out = v;
  return ok;
}

static int parse_int(const char* flag, const char* text, int minimum, int* out) {
  unsigned long long v;
  if (!parse_whole(flag, text, (unsigned long long)minimum, INT_MAX, &v)) return 0;
  *out = (int)v;
  return 1;
}

static int parse_seed(const char* text, s2s_decoding* d) {
  unsigned long long v;
  if (!parse_whole("--seed", text, 0, UINT64_MAX, &v)) return 0;
  d->seeded = 1;
  d->seed = (uint64_t)v;
  return 1;
}

/* Python's float(text): decimal digits, a point, an exponent, or inf, infinity, nan (any case, signed). */
static int python_float(const char* text, double* out) {
  char* t = python_number_text(text);
  if (!t) return 0;
  const char* p = t + (*t == '-' || *t == '+');
  int word = strcasecmp(p, "inf") == 0 || strcasecmp(p, "infinity") == 0 || strcasecmp(p, "nan") == 0;
  int ok = *p && (word || strspn(p, "0123456789.eE+-") == strlen(p));
  char* end = t;
  if (ok) *out = strtod(t, &end);
  ok = ok && end != t && !*end;
  free(t);
  return ok;
}

/* runtime/cli.py: --length-penalty is non_negative_float, --temperature finite_float */
static int parse_number(const char* flag, const char* text, int non_negative, double* out) {
  double v;
  if (!python_float(text, &v) || (!non_negative && !isfinite(v))) {
    fprintf(stderr, PROG ": error: argument %s: expected a number, got '%s' (see --help)\n", flag, text);
    return 0;
  }
  if (non_negative && !(v >= 0 && v < INFINITY)) {
    fprintf(stderr, PROG ": error: argument %s: must be 0 or a positive number, got %s (see --help)\n", flag, text);
    return 0;
  }
  *out = v;
  return 1;
}

/* The flags, in runtime/__main__.py's order (argparse lists ambiguous abbreviations in it). */
typedef struct flag_spec {
  const char* name;
  int takes_value;
} flag_spec;

static const flag_spec FLAGS[] = {
    {"--help", 0},        {"--bundle", 1},         {"--precision", 1},      {"--kernels", 1},
    {"--self-check", 0},  {"--threads", 1},        {"--batch-size", 1},     {"--on-unknown", 1},
    {"--on-overflow", 1}, {"--echo", 0},           {"--beam-size", 1},      {"--num-hypotheses", 1},
    {"--length-penalty", 1}, {"--top-k", 1},       {"--temperature", 1},    {"--seed", 1},
    {"--scores", 0},      {"--stream", 0},         {"--verbose", 0},
};
#define N_FLAGS (sizeof FLAGS / sizeof *FLAGS)
#define POSITIONAL (-1)
#define UNKNOWN (-2)
#define AMBIGUOUS (-3)

/* argparse's _parse_optional: the flag an argument names (exactly, or by a unique prefix; with
   "=VALUE" or not), POSITIONAL for TEXT ("-", a negative number, anything with a space), UNKNOWN or
   AMBIGUOUS. *explicit: the text after "=", or NULL. */
static int classify(const char* arg, const char** explicit) {
  *explicit = NULL;
  if (arg[0] != '-') return POSITIONAL;
  if (strcmp(arg, "-h") == 0) return 0;
  for (size_t k = 0; k < N_FLAGS; k++)
    if (strcmp(arg, FLAGS[k].name) == 0) return (int)k;
  if (!arg[1]) return POSITIONAL;
  const char* eq = strchr(arg, '=');
  size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
  if (eq)
    for (size_t k = 0; k < N_FLAGS; k++)
      if (strlen(FLAGS[k].name) == len && strncmp(arg, FLAGS[k].name, len) == 0) {
        *explicit = eq + 1;
        return (int)k;
      }
  if (arg[1] == '-' && len > 2) {
    int found = UNKNOWN;
    for (size_t k = 0; k < N_FLAGS; k++)
      if (strncmp(arg, FLAGS[k].name, len) == 0) found = found == UNKNOWN ? (int)k : AMBIGUOUS;
    if (found != UNKNOWN) {
      if (found >= 0 && eq) *explicit = eq + 1;
      return found;
    }
  }
  if (negative_number(arg) || strchr(arg, ' ')) return POSITIONAL;
  return UNKNOWN;
}

static void ambiguous(const char* arg) {
  const char* eq = strchr(arg, '=');
  size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
  fprintf(stderr, PROG ": error: ambiguous option: %.*s could match", (int)len, arg);
  const char* sep = " ";
  for (size_t k = 0; k < N_FLAGS; k++)
    if (strncmp(arg, FLAGS[k].name, len) == 0) {
      fprintf(stderr, "%s%s", sep, FLAGS[k].name);
      sep = ", ";
    }
  fprintf(stderr, " (see --help)\n");
}

/* How results are written (runtime/cli.py Output). */
typedef struct output {
  int echo, scores, stream;
  s2s_decoding decoding;
} output;

typedef struct batch {
  char** lines;
  size_t n, cap;
} batch;

/* f"{score:.4f}" (nan, inf and -inf as Python writes them) */
static void print_score(double score) {
  if (isnan(score))
    fputs("nan\t", stdout);
  else if (isinf(score))
    fputs(score < 0 ? "-inf\t" : "inf\t", stdout);
  else
    printf("%.4f\t", score);
}

static int put_piece(const char* piece, size_t length, void* user) {
  (void)user;
  fwrite(piece, 1, length, stdout);
  fflush(stdout);
  return 0;
}

static int write_outputs(s2s_translator* t, char** texts, size_t n, const output* o, s2s_error** err) {
  if (!n) return 0;
  if (o->stream) {
    for (size_t i = 0; i < n; i++) {
      if (o->echo) {
        fputs(texts[i], stdout);
        fputc('\t', stdout);
      }
      if (s2s_translate_stream(t, texts[i], &o->decoding, put_piece, NULL, err) != S2S_OK) return -1;
      fputc('\n', stdout);
    }
    fflush(stdout);
    return 0;
  }
  if (!o->scores && o->decoding.num_hypotheses == 1) {
    char** out = NULL;
    if (s2s_translate(t, (const char* const*)texts, n, &o->decoding, &out, err) != S2S_OK) return -1;
    for (size_t i = 0; i < n; i++) {
      if (o->echo) {
        fputs(texts[i], stdout);
        fputc('\t', stdout);
      }
      fputs(out[i], stdout);
      fputc('\n', stdout);
    }
    s2s_strings_free(out, n);
  } else {
    s2s_result* results = NULL;
    if (s2s_hypotheses(t, (const char* const*)texts, n, &o->decoding, &results, err) != S2S_OK) return -1;
    for (size_t i = 0; i < n; i++)
      for (size_t h = 0; h < results[i].count; h++) {
        if (o->echo) {
          fputs(texts[i], stdout);
          fputc('\t', stdout);
        }
        if (o->scores) print_score(results[i].hypotheses[h].score);
        fputs(results[i].hypotheses[h].text, stdout);
        fputc('\n', stdout);
      }
    s2s_results_free(results, n);
  }
  fflush(stdout);
  return 0;
}

/* runtime/cli.py _flush: the input policy line by line first, so that an error names its line and
   comes after the lines before it are written. */
static int flush(s2s_translator* t, char** texts, size_t n, long first, const char* what, const output* o) {
  s2s_error* e = NULL;
  for (size_t i = 0; i < n; i++) {
    if (s2s_check_text(t, texts[i], &e) != S2S_OK) {
      s2s_error* e2 = NULL;
      if (i && write_outputs(t, texts, i, o, &e2) != 0) {
        s2s_error_free(e);
        return fail(e2, NULL, 0);
      }
      if (e->index >= 0 || e->code == S2S_ERROR_INPUT) {
        e->index = 0;
        return fail(e, what, first + (long)i);
      }
      return fail(e, NULL, 0);
    }
  }
  if (write_outputs(t, texts, n, o, &e) != 0) return fail(e, NULL, 0);
  return 0;
}

static void batch_clear(batch* b) {
  for (size_t i = 0; i < b->n; i++) free(b->lines[i]);
  b->n = 0;
}

/* The next stdin line without its line ending: 1 read, 0 end of input, -1 error (message in *err). */
static int read_line(FILE* in, long number, int truncate, char** line, char** problem) {
  strbuf sb;
  sb_init(&sb);
  int c = EOF, newline = 0;
  while ((long)sb.len < MAX_LINE_BYTES + 1 && (c = getc(in)) != EOF) {
    char ch = (char)c;
    sb_putn(&sb, &ch, 1);
    if (c == '\n') {
      newline = 1;
      break;
    }
  }
  if (sb.len == 0) {
    sb_free(&sb);
    return 0;
  }
  int final = 1;
  if ((long)sb.len > MAX_LINE_BYTES && !newline) {
    if (!truncate) {
      sb_free(&sb);
      *problem = s2s_printf("stdin line %ld is longer than %ld bytes, far more than the model's maximum; shorten it or "
                            "pass --on-overflow truncate",
                            number, MAX_LINE_BYTES);
      return -1;
    }
    while ((c = getc(in)) != EOF && c != '\n') {
    }
    sb.len = (size_t)MAX_LINE_BYTES;
    sb.data[sb.len] = '\0';
    final = 0;
  }
  if (!final) { /* a character cut at the end is dropped */
    size_t end = sb.len, k = 0;
    while (k < 3 && end > 0 && ((unsigned char)sb.data[end - 1] & 0xC0) == 0x80) {
      end--;
      k++;
    }
    if (end > 0 && ((unsigned char)sb.data[end - 1] & 0xC0) == 0xC0) {
      unsigned char lead = (unsigned char)sb.data[end - 1];
      size_t need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1;
      if (k < need) sb.len = end - 1;
    }
    sb.data[sb.len] = '\0';
  }
  if (!utf8_valid(sb.data, sb.len) || memchr(sb.data, '\0', sb.len)) {
    if (!utf8_valid(sb.data, sb.len)) {
      sb_free(&sb);
      *problem = s2s_printf("stdin line %ld is not valid UTF-8", number);
      return -1;
    }
  }
  while (sb.len && (sb.data[sb.len - 1] == '\n' || sb.data[sb.len - 1] == '\r')) sb.data[--sb.len] = '\0';
  *line = sb_take(&sb);
  return *line ? 1 : -1;
}

int main(int argc, char** argv) {
  s2s_options o;
  s2s_options_init(&o);
  const char* bundle = NULL;
  int self_check = 0, only_positional = 0;
  output out = {0, 0, 0, {0}};
  s2s_decoding_init(&out.decoding);
  char** texts = calloc((size_t)argc + 1, sizeof *texts);
  size_t n_texts = 0;
  if (!texts) return user_error("out of memory");
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    char* arg = argv[i];
    const char* value = NULL;
    int f = only_positional ? POSITIONAL : classify(arg, &value);
    if (!only_positional && strcmp(arg, "--") == 0) {
      only_positional = 1;
      continue;
    }
    if (f == POSITIONAL) {
      texts[n_texts++] = arg;
      continue;
    }
    if (f == AMBIGUOUS) {
      ambiguous(arg);
      rc = 2;
      goto out;
    }
    if (f == UNKNOWN) {
      rc = usage_error("unrecognized arguments: %s%s", arg, "");
      goto out;
    }
    const char* flag = FLAGS[f].name;
    if (!FLAGS[f].takes_value) {
      if (value) {
        rc = usage_error("argument %s: ignored explicit argument '%s'", flag, value);
        goto out;
      }
      if (strcmp(flag, "--help") == 0) {
        fputs(USAGE, stdout);
        free(texts);
        return 0;
      }
      if (strcmp(flag, "--echo") == 0) out.echo = 1;
      if (strcmp(flag, "--scores") == 0) out.scores = 1;
      if (strcmp(flag, "--stream") == 0) out.stream = 1;
      if (strcmp(flag, "--self-check") == 0) self_check = 1;
      continue;
    }
    if (!value) {
      const char* ignored;
      if (i + 1 < argc && strcmp(argv[i + 1], "--") && classify(argv[i + 1], &ignored) == POSITIONAL) {
        value = argv[++i];
      } else {
        rc = usage_error("argument %s: expected one argument%s", flag, "");
        goto out;
      }
    }
    if (strcmp(flag, "--bundle") == 0) {
      bundle = value;
    } else if (strcmp(flag, "--precision") == 0) {
      o.precision = value;
    } else if (strcmp(flag, "--kernels") == 0 || strcmp(flag, "--on-unknown") == 0 ||
               strcmp(flag, "--on-overflow") == 0) {
      /* argparse's choices */
      int k = flag[2] == 'k' ? 0 : flag[5] == 'u' ? 1 : 2;
      static const char* const choices[3][2] = {{"default", "builtin"}, {"error", "skip"}, {"error", "truncate"}};
      if (strcmp(value, choices[k][0]) && strcmp(value, choices[k][1])) {
        fprintf(stderr, PROG ": error: argument %s: invalid choice: '%s' (choose from '%s', '%s') (see --help)\n", flag,
                value, choices[k][0], choices[k][1]);
        rc = 2;
        goto out;
      }
      *(k == 0 ? &o.kernels : k == 1 ? &o.on_unknown : &o.on_overflow) = value;
    } else {
      s2s_decoding* d = &out.decoding;
      int ok = strcmp(flag, "--batch-size") == 0       ? parse_int(flag, value, 1, &o.max_batch_size)
               : strcmp(flag, "--threads") == 0        ? parse_int(flag, value, 1, &o.threads)
               : strcmp(flag, "--beam-size") == 0      ? parse_int(flag, value, 1, &d->beam_size)
               : strcmp(flag, "--num-hypotheses") == 0 ? parse_int(flag, value, 1, &d->num_hypotheses)
               : strcmp(flag, "--top-k") == 0          ? parse_int(flag, value, 0, &d->top_k)
               : strcmp(flag, "--length-penalty") == 0 ? parse_number(flag, value, 1, &d->length_penalty)
               : strcmp(flag, "--temperature") == 0    ? parse_number(flag, value, 0, &d->temperature)
                                                       : parse_seed(value, d);
      if (!ok) {
        rc = 2;
        goto out;
      }
    }
  }
  if (!bundle) {
    rc = usage_error("the following arguments are required: --bundle%s%s", "", "");
    goto out;
  }
  if (self_check && n_texts) {
    rc = user_error("--self-check translates the bundle's golden sentences: give no TEXT");
    goto out;
  }
  s2s_error* e = NULL;
  s2s_translator* t = s2s_open(bundle, &o, &e);
  if (!t) {
    rc = fail(e, NULL, 0);
    goto out;
  }
  /* runtime/cli.py Output: the options are checked before any input is read */
  if (out.stream && !self_check) {
    if (out.decoding.beam_size > 1 || out.decoding.num_hypotheses > 1)
      rc = user_error("--stream works with greedy decoding and sampling, not with beam search");
    else if (out.scores)
      rc = user_error("--stream prints characters as they come: drop --scores");
  }
  if (!rc && !self_check && s2s_check_decoding(&out.decoding, &e) != S2S_OK) rc = fail(e, NULL, 0);
  if (rc) {
    s2s_close(t);
    goto out;
  }
  if (self_check) {
    char* summary = NULL;
    int passed = 0;
    if (s2s_self_check(t, &summary, &passed, &e) != S2S_OK) {
      rc = fail(e, NULL, 0);
    } else {
      printf("%s\n", summary);
      fflush(stdout);
      rc = passed ? 0 : 1;
    }
    s2s_string_free(summary);
  } else if (n_texts) {
    for (size_t i = 0; i < n_texts; i++)
      if (!utf8_valid(texts[i], strlen(texts[i]))) {
        char* m = s2s_printf("argument %zu is not valid UTF-8", i + 1);
        rc = user_error(m ? m : "invalid UTF-8");
        free(m);
        break;
      }
    if (!rc) rc = flush(t, texts, n_texts, 1, "argument", &out);
  } else {
    batch b = {NULL, 0, 0};
    size_t size = out.stream ? 1 : (size_t)o.max_batch_size; /* streaming: each line as it comes */
    b.lines = calloc(size, sizeof *b.lines);
    long number = 0, first = 1;
    int truncate = strcmp(o.on_overflow, "truncate") == 0;
    if (!b.lines) rc = user_error("out of memory");
    while (!rc) {
      char* line = NULL;
      char* problem = NULL;
      int r = read_line(stdin, number + 1, truncate, &line, &problem);
      if (r == 0) break;
      if (r < 0) {
        rc = flush(t, b.lines, b.n, first, "stdin line", &out);
        if (!rc) rc = user_error(problem ? problem : "out of memory");
        free(problem);
        break;
      }
      number++;
      b.lines[b.n++] = line;
      if (b.n == size) {
        rc = flush(t, b.lines, b.n, first, "stdin line", &out);
        first += (long)b.n;
        batch_clear(&b);
      }
    }
    if (!rc) rc = flush(t, b.lines, b.n, first, "stdin line", &out);
    batch_clear(&b);
    free(b.lines);
  }
  s2s_close(t);
out:
  free(texts);
  return rc;
}
