/* Strings, errors, UTF-8, and the Python runtime's ways of quoting text in messages. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void sb_init(strbuf* sb) { memset(sb, 0, sizeof *sb); }

void sb_free(strbuf* sb) {
  free(sb->data);
  sb_init(sb);
}

static int sb_reserve(strbuf* sb, size_t more) {
  if (sb->failed) return 0;
  if (sb->len + more + 1 <= sb->cap) return 1;
  size_t cap = sb->cap ? sb->cap : 64;
  while (cap < sb->len + more + 1) {
    if (cap > ((size_t)-1) / 2) {
      sb->failed = 1;
      return 0;
    }
    cap *= 2;
  }
  char* data = realloc(sb->data, cap);
  if (!data) {
    sb->failed = 1;
    return 0;
  }
  sb->data = data;
  sb->cap = cap;
  return 1;
}

void sb_putn(strbuf* sb, const char* s, size_t n) {
  if (!sb_reserve(sb, n)) return;
  memcpy(sb->data + sb->len, s, n);
  sb->len += n;
  sb->data[sb->len] = '\0';
}

void sb_puts(strbuf* sb, const char* s) { sb_putn(sb, s, strlen(s)); }

void sb_printf(strbuf* sb, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n >= 0 && sb_reserve(sb, (size_t)n)) {
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
  }
  va_end(ap);
}

size_t utf8_put(uint32_t cp, char b[4]) {
  if (cp < 0x80) {
    b[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    b[0] = (char)(0xC0 | (cp >> 6));
    b[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    b[0] = (char)(0xE0 | (cp >> 12));
    b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  b[0] = (char)(0xF0 | (cp >> 18));
  b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  b[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

void sb_put_cp(strbuf* sb, uint32_t cp) {
  char b[4];
  sb_putn(sb, b, utf8_put(cp, b));
}

char* sb_take(strbuf* sb) {
  if (sb->failed) {
    sb_free(sb);
    return NULL;
  }
  if (!sb->data) sb_putn(sb, "", 0);
  char* out = sb->data;
  sb_init(sb);
  return out;
}

char* s2s_strdup(const char* s) {
  size_t n = strlen(s) + 1;
  char* out = malloc(n);
  if (out) memcpy(out, s, n);
  return out;
}

/* The text `fmt` formats with `ap`, in a buffer the caller frees; NULL when out of memory. */
static char* vformat(const char* fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  char* out = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (out) vsnprintf(out, (size_t)n + 1, fmt, ap);
  return out;
}

char* s2s_printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char* out = vformat(fmt, ap);
  va_end(ap);
  return out;
}

/* ---- errors ---- */

static s2s_error out_of_memory = {S2S_ERROR_MEMORY, (char*)"out of memory", (char*)"out of memory", -1};

void s2s_error_free(s2s_error* error) {
  if (!error || error == &out_of_memory) return;
  if (error->cli_message != error->message) free(error->cli_message);
  free(error->message);
  free(error);
}

static s2s_status store_error(s2s_error** err, s2s_status code, char* message, char* cli, long index) {
  if (!err) {
    if (cli != message) free(cli);
    free(message);
    return code;
  }
  s2s_error* e = malloc(sizeof *e);
  if (!e || !message || !cli) {
    free(e);
    if (cli != message) free(cli);
    free(message);
    *err = &out_of_memory;
    return code;
  }
  e->code = code;
  e->message = message;
  e->cli_message = cli;
  e->index = index;
  *err = e;
  return code;
}

s2s_status set_error_text(s2s_error** err, s2s_status code, char* message) {
  return store_error(err, code, message, message, -1);
}

s2s_status set_error(s2s_error** err, s2s_status code, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char* message = vformat(fmt, ap);
  va_end(ap);
  return set_error_text(err, code, message);
}

/* runtime/errors.py DecodingOptionError: the API's names (beam_size), and a command line's flags
   (--beam-size) in cli_message. */
s2s_status set_option_error(s2s_error** err, const char* fmt, ...) {
  static const char* const names[] = {"beam_size", "num_hypotheses", "length_penalty", "top_k", "temperature", "seed"};
  va_list ap;
  va_start(ap, fmt);
  char* message = vformat(fmt, ap);
  va_end(ap);
  if (!message) return store_error(err, S2S_ERROR_OPTION, NULL, NULL, -1);
  strbuf sb;
  sb_init(&sb);
  for (const char* p = message; *p;) {
    int word_start = p == message || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
    size_t matched = 0;
    for (size_t k = 0; word_start && !matched && k < sizeof names / sizeof *names; k++) {
      size_t len = strlen(names[k]);
      if (strncmp(p, names[k], len) == 0 && !(isalnum((unsigned char)p[len]) || p[len] == '_')) matched = len;
    }
    if (!matched) {
      sb_putn(&sb, p++, 1);
      continue;
    }
    sb_puts(&sb, "--");
    for (size_t i = 0; i < matched; i++) sb_putn(&sb, p[i] == '_' ? "-" : p + i, 1);
    p += matched;
  }
  return store_error(err, S2S_ERROR_OPTION, message, sb_take(&sb), -1);
}

s2s_status set_input_error(s2s_error** err, long index, const char* problem, const char* remedy,
                           const char* option, const char* value) {
  /* runtime/errors.py InputPolicyError: the API names the option as the options struct does
     (on_unknown="skip"), a command line as its flag (--on-unknown skip). */
  char* message = s2s_printf("%s; %s or pass %s='%s'", problem, remedy, option, value);
  char flag[64];
  size_t i = 0;
  for (; option[i] && i < sizeof flag - 1; i++) flag[i] = option[i] == '_' ? '-' : option[i];
  flag[i] = '\0';
  char* cli = s2s_printf("%s; %s or pass --%s %s", problem, remedy, flag, value);
  return store_error(err, S2S_ERROR_INPUT, message, cli, index);
}

/* ---- UTF-8 ---- */

/* The next code point of strict UTF-8, or -1. `lenient` also reads what json_keep_specials writes
   for a JSON string's \u0000 (C0 80) and lone surrogates (their 3-byte forms, ED A0 80 to ED BF BF). */
static long utf8_next(const unsigned char* s, size_t len, size_t* i, int lenient) {
  unsigned char c = s[*i];
  uint32_t cp;
  size_t need;
  if (c < 0x80) {
    (*i)++;
    return c;
  } else if (lenient && c == 0xC0 && *i + 1 < len && s[*i + 1] == 0x80) {
    *i += 2;
    return 0;
  } else if (c >= 0xC2 && c <= 0xDF) {
    cp = c & 0x1F;
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    cp = c & 0x0F;
    need = 2;
  } else if (c >= 0xF0 && c <= 0xF4) {
    cp = c & 0x07;
    need = 3;
  } else {
    return -1;
  }
  if (*i + need >= len) return -1;
  for (size_t k = 1; k <= need; k++) {
    unsigned char d = s[*i + k];
    if ((d & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (d & 0x3F);
  }
  if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
      (!lenient && cp >= 0xD800 && cp <= 0xDFFF))
    return -1;
  *i += need + 1;
  return (long)cp;
}

static int decode(const char* s, size_t len, uint32_t** cps, size_t* n, int lenient) {
  *cps = malloc((len + 1) * sizeof **cps);
  *n = 0;
  if (!*cps) return -2;
  size_t i = 0;
  while (i < len) {
    long cp = utf8_next((const unsigned char*)s, len, &i, lenient);
    if (cp < 0) {
      free(*cps);
      *cps = NULL;
      *n = 0;
      return -1;
    }
    (*cps)[(*n)++] = (uint32_t)cp;
  }
  return 0;
}

int utf8_decode(const char* s, size_t len, uint32_t** cps, size_t* n) { return decode(s, len, cps, n, 0); }

int json_text_decode(const char* s, size_t len, uint32_t** cps, size_t* n) { return decode(s, len, cps, n, 1); }

int utf8_valid(const char* s, size_t len) {
  size_t i = 0;
  while (i < len)
    if (utf8_next((const unsigned char*)s, len, &i, 0) < 0) return 0;
  return 1;
}

/* ---- JSON strings that cJSON would refuse or cut: \u0000 and lone surrogates ---- */

static int hex4(const unsigned char* p, size_t left, uint32_t* out) {
  if (left < 4) return 0;
  uint32_t v = 0;
  for (int k = 0; k < 4; k++) {
    unsigned char c = p[k];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return 0;
    v = v * 16 + (uint32_t)d;
  }
  *out = v;
  return 1;
}

int json_keep_specials(const unsigned char* raw, size_t len, unsigned char** out, size_t* out_len, size_t** cuts,
                       size_t* n_cuts) {
  *out = malloc(len + 1);
  *cuts = NULL;
  *out_len = *n_cuts = 0;
  if (!*out) return -1;
  size_t cap = 0, o = 0;
  int in_string = 0;
  for (size_t i = 0; i < len;) {
    unsigned char c = raw[i];
    uint32_t u, low;
    if (in_string && c == '\\' && i + 1 < len && raw[i + 1] == 'u' && hex4(raw + i + 2, len - i - 2, &u)) {
      int pair = u >= 0xD800 && u <= 0xDBFF && i + 11 < len && raw[i + 6] == '\\' && raw[i + 7] == 'u' &&
                 hex4(raw + i + 8, len - i - 8, &low) && low >= 0xDC00 && low <= 0xDFFF;
      size_t keep = pair ? 12 : 6;
      if (u == 0 || (!pair && u >= 0xD800 && u <= 0xDFFF)) {
        if (*n_cuts == cap) {
          cap = cap ? 2 * cap : 8;
          size_t* grown = realloc(*cuts, 2 * cap * sizeof *grown);
          if (!grown) {
            free(*out);
            free(*cuts);
            *out = NULL;
            *cuts = NULL;
            return -1;
          }
          *cuts = grown;
        }
        size_t wrote = u == 0 ? 2 : 3;
        (*cuts)[2 * *n_cuts] = o;
        (*cuts)[2 * *n_cuts + 1] = 6 - wrote;
        (*n_cuts)++;
        if (u == 0) {
          (*out)[o++] = 0xC0;
          (*out)[o++] = 0x80;
        } else {
          (*out)[o++] = (unsigned char)(0xE0 | (u >> 12));
          (*out)[o++] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
          (*out)[o++] = (unsigned char)(0x80 | (u & 0x3F));
        }
        i += 6;
        continue;
      }
      memcpy(*out + o, raw + i, keep);
      o += keep;
      i += keep;
      continue;
    }
    if (in_string && c == '\\' && i + 1 < len) {
      (*out)[o++] = raw[i++];
      (*out)[o++] = raw[i++];
      continue;
    }
    if (c == '"') in_string = !in_string;
    (*out)[o++] = raw[i++];
  }
  (*out)[o] = '\0';
  *out_len = o;
  return 0;
}

/* Python's str.isprintable, approximated without Unicode tables: control and format characters,
   separators other than the space, private use and noncharacters are not printable. (Characters
   unassigned in Python's Unicode version are shown here as they are.) */
static int py_printable(uint32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) return 0;
  if (c == 0x34F) return 1;
  if ((c >= 0x600 && c <= 0x605) || c == 0x61C || c == 0x6DD || c == 0x70F || c == 0x8E2 || c == 0x1680 ||
      c == 0x180E)
    return 0;
  if ((c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) || (c >= 0x205F && c <= 0x2064) ||
      (c >= 0x2066 && c <= 0x206F) || c == 0x3000 || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB))
    return 0;
  if ((c >= 0xE000 && c <= 0xF8FF) || c >= 0xF0000 || (c & 0xFFFE) == 0xFFFE || (c >= 0xFDD0 && c <= 0xFDEF))
    return 0;
  if ((c >= 0x110BD && c <= 0x110BD) || c == 0x110CD || (c >= 0x13430 && c <= 0x1343F) ||
      (c >= 0x1BCA0 && c <= 0x1BCA3) || (c >= 0x1D173 && c <= 0x1D17A) || (c >= 0xE0000 && c <= 0xE0FFF))
    return 0;
  return 1;
}

/* Python's repr() of a float: the shortest digits that read back, fixed notation for exponents
   -4 to 15, else d.ddde+XX. */
void py_float_repr(double v, char out[32]) {
  if (v != v) {
    strcpy(out, "nan");
    return;
  }
  if (isinf(v)) {
    strcpy(out, v < 0 ? "-inf" : "inf");
    return;
  }
  char buf[40];
  for (int p = 1; p <= 17; p++) {
    snprintf(buf, sizeof buf, "%.*e", p - 1, v);
    if (strtod(buf, NULL) == v) break;
  }
  const char* q = buf;
  char* o = out;
  if (*q == '-') *o++ = *q++;
  char digits[24];
  size_t n = 0;
  for (; *q && *q != 'e'; q++)
    if (*q != '.') digits[n++] = *q;
  int exp = atoi(q + 1);
  while (n > 1 && digits[n - 1] == '0') n--;
  digits[n] = '\0';
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      for (int i = 0; i <= exp; i++) *o++ = (size_t)i < n ? digits[i] : '0';
      *o++ = '.';
      if ((size_t)exp + 1 < n)
        for (size_t i = (size_t)exp + 1; i < n; i++) *o++ = digits[i];
      else
        *o++ = '0';
    } else {
      *o++ = '0';
      *o++ = '.';
      for (int i = 0; i < -exp - 1; i++) *o++ = '0';
      for (size_t i = 0; i < n; i++) *o++ = digits[i];
    }
    *o = '\0';
    return;
  }
  *o++ = digits[0];
  if (n > 1) {
    *o++ = '.';
    for (size_t i = 1; i < n; i++) *o++ = digits[i];
  }
  sprintf(o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
}

void py_repr(strbuf* sb, const uint32_t* cps, size_t n) {
  int single = 0, dbl = 0;
  for (size_t i = 0; i < n; i++) {
    if (cps[i] == '\'') single = 1;
    if (cps[i] == '"') dbl = 1;
  }
  char quote = (single && !dbl) ? '"' : '\'';
  sb_putn(sb, &quote, 1);
  for (size_t i = 0; i < n; i++) {
    uint32_t c = cps[i];
    if (c == (uint32_t)quote || c == '\\') {
      sb_putn(sb, "\\", 1);
      sb_put_cp(sb, c);
    } else if (c == '\t') {
      sb_puts(sb, "\\t");
    } else if (c == '\n') {
      sb_puts(sb, "\\n");
    } else if (c == '\r') {
      sb_puts(sb, "\\r");
    } else if (!py_printable(c)) {
      if (c < 0x100)
        sb_printf(sb, "\\x%02x", c);
      else if (c < 0x10000)
        sb_printf(sb, "\\u%04x", c);
      else
        sb_printf(sb, "\\U%08x", c);
    } else {
      sb_put_cp(sb, c);
    }
  }
  sb_putn(sb, &quote, 1);
}

void json_quote(strbuf* sb, const uint32_t* cps, size_t n) {
  sb_putn(sb, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    uint32_t c = cps[i];
    switch (c) {
      case '"': sb_puts(sb, "\\\""); break;
      case '\\': sb_puts(sb, "\\\\"); break;
      case '\n': sb_puts(sb, "\\n"); break;
      case '\r': sb_puts(sb, "\\r"); break;
      case '\t': sb_puts(sb, "\\t"); break;
      case '\b': sb_puts(sb, "\\b"); break;
      case '\f': sb_puts(sb, "\\f"); break;
      default:
        if (c < 0x20 || (c >= 0xD800 && c <= 0xDFFF)) /* a lone surrogate as JSON.stringify writes it */
          sb_printf(sb, "\\u%04x", c);
        else
          sb_put_cp(sb, c);
    }
  }
  sb_putn(sb, "\"", 1);
}

void json_quote_utf8(strbuf* sb, const char* s) {
  uint32_t* cps;
  size_t n;
  if (json_text_decode(s, strlen(s), &cps, &n) != 0) {
    sb_puts(sb, "\"?\"");
    return;
  }
  json_quote(sb, cps, n);
  free(cps);
}

/* runtime/bundle.py _show: json.dumps(value, ensure_ascii=False, separators=(",", ":")), an
   integral float as an int, cut to 60 characters ("..." at the end). */
static void show_into(strbuf* sb, const cJSON* v) {
  if (cJSON_IsNull(v)) {
    sb_puts(sb, "null");
  } else if (cJSON_IsTrue(v)) {
    sb_puts(sb, "true");
  } else if (cJSON_IsFalse(v)) {
    sb_puts(sb, "false");
  } else if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (d == (double)(long long)d && d < 1e21 && d > -1e21)
      sb_printf(sb, "%lld", (long long)d);
    else {
      char buf[64];
      snprintf(buf, sizeof buf, "%.17g", d);
      /* the shortest form that reads back, as Python's repr */
      for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
      }
      sb_puts(sb, buf);
    }
  } else if (cJSON_IsString(v)) {
    json_quote_utf8(sb, v->valuestring);
  } else if (cJSON_IsArray(v)) {
    sb_puts(sb, "[");
    for (const cJSON* c = v->child; c; c = c->next) {
      show_into(sb, c);
      if (c->next) sb_puts(sb, ",");
    }
    sb_puts(sb, "]");
  } else if (cJSON_IsObject(v)) {
    sb_puts(sb, "{");
    for (const cJSON* c = v->child; c; c = c->next) {
      json_quote_utf8(sb, c->string ? c->string : "");
      sb_puts(sb, ":");
      show_into(sb, c);
      if (c->next) sb_puts(sb, ",");
    }
    sb_puts(sb, "}");
  } else {
    sb_puts(sb, "null");
  }
}

char* show_json(const cJSON* value) {
  strbuf sb;
  sb_init(&sb);
  if (!value)
    sb_puts(&sb, "null");
  else
    show_into(&sb, value);
  char* text = sb_take(&sb);
  if (!text) return NULL;
  uint32_t* cps;
  size_t n;
  if (utf8_decode(text, strlen(text), &cps, &n) == 0) {
    if (n > 60) {
      strbuf cut;
      sb_init(&cut);
      for (size_t i = 0; i < 57; i++) sb_put_cp(&cut, cps[i]);
      sb_puts(&cut, "...");
      free(text);
      text = sb_take(&cut);
    }
    free(cps);
  }
  return text;
}

void* aligned_zalloc(size_t bytes) {
  size_t size = (bytes + LITERT_HOST_MEMORY_BUFFER_ALIGNMENT - 1) / LITERT_HOST_MEMORY_BUFFER_ALIGNMENT *
                LITERT_HOST_MEMORY_BUFFER_ALIGNMENT;
  if (size == 0) size = LITERT_HOST_MEMORY_BUFFER_ALIGNMENT;
  void* p = aligned_alloc(LITERT_HOST_MEMORY_BUFFER_ALIGNMENT, size);
  if (p) memset(p, 0, size);
  return p;
}
