/* Reading a bundle as runtime/bundle.py and runtime/golden.py do: the same checks, in the same
   order, with the same messages (docs/bundle.md#checks). */
#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "internal.h"

/* ---- paths: as Python's pathlib shows them (no empty or "." parts, no trailing slash) ---- */

static char* normalize_path(const char* p) {
  strbuf sb;
  sb_init(&sb);
  if (p[0] == '/') sb_puts(&sb, "/");
  const char* s = p;
  int first = 1;
  while (*s) {
    while (*s == '/') s++;
    const char* e = s;
    while (*e && *e != '/') e++;
    size_t n = (size_t)(e - s);
    if (n && !(n == 1 && s[0] == '.')) {
      if (!first) sb_puts(&sb, "/");
      sb_putn(&sb, s, n);
      first = 0;
    }
    s = e;
  }
  if (sb.len == 0) sb_puts(&sb, ".");
  return sb_take(&sb);
}

char* bundle_path(const char* dir, const char* file) {
  char* root = normalize_path(dir);
  if (!root) return NULL;
  char* out = strcmp(root, "/") == 0 ? s2s_printf("/%s", file) : s2s_printf("%s/%s", root, file);
  free(root);
  return out;
}

/* ---- JSON helpers ---- */

static int json_integer(const cJSON* v, long long* out) {
  if (!v || !cJSON_IsNumber(v)) return 0;
  double d = v->valuedouble;
  if (!isfinite(d) || d != floor(d) || d > 9.2e18 || d < -9.2e18) return 0;
  *out = (long long)d;
  return 1;
}

#define SHOW(v) show_tmp(&shows, (v))

typedef struct shown {
  char* items[16];
  int n;
} shown;

static const char* show_tmp(shown* s, const cJSON* v) {
  char* t = show_json(v);
  if (!t) return "?";
  if (s->n < 16) s->items[s->n++] = t;
  return t;
}

static void shown_free(shown* s) {
  for (int i = 0; i < s->n; i++) free(s->items[i]);
  s->n = 0;
}

static int check_file_name(const cJSON* v) {
  if (!cJSON_IsString(v)) return 0;
  const char* n = v->valuestring;
  if (!n[0] || strcmp(n, ".") == 0 || strcmp(n, "..") == 0) return 0;
  if (strchr(n, '/') || strchr(n, '\\') || strchr(n, ':')) return 0;
  return 1;
}

/* json_nesting (runtime/bundle.py): escapes dropped, then strings, then the deepest [ and {. */
static int json_nesting(const unsigned char* t, size_t len) {
  int depth = 0, best = INT_MIN, in_string = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = t[i];
    if (c == '\\') {
      i++;
      continue;
    }
    if (in_string) {
      if (c == '"') in_string = 0;
      continue;
    }
    if (c == '"') {
      in_string = 1;
    } else if (c == '[' || c == '{') {
      depth++;
      if (depth > best) best = depth;
    } else if (c == ']' || c == '}') {
      depth--;
      if (depth > best) best = depth;
    }
  }
  return best == INT_MIN ? 0 : best;
}

/* ---- strict JSON (RFC 8259, as Python's json and JavaScript's JSON.parse read it) ----
   cJSON is lenient where they are not: raw control characters in strings, \u escapes that are not
   four hex digits, numbers such as 01, +1, .5 or 1. are all accepted by it. The text is checked
   first; nesting is already bounded (json_nesting), so the descent's depth is too. */

typedef struct json_scan {
  const unsigned char* s;
  size_t len, at;
} json_scan;

static void scan_ws(json_scan* j) {
  while (j->at < j->len && (j->s[j->at] == ' ' || j->s[j->at] == '\t' || j->s[j->at] == '\n' || j->s[j->at] == '\r'))
    j->at++;
}

static int scan_digits(json_scan* j) {
  size_t from = j->at;
  while (j->at < j->len && j->s[j->at] >= '0' && j->s[j->at] <= '9') j->at++;
  return j->at > from;
}

static int scan_string(json_scan* j) {
  size_t opening = j->at++;
  while (j->at < j->len) {
    unsigned char c = j->s[j->at];
    if (c == '"') {
      j->at++;
      return 1;
    }
    if (c < 0x20) return 0;
    if (c == '\\') { /* an error is placed where Python's json places it: the u, or the backslash */
      if (j->at + 1 >= j->len) break;
      c = j->s[j->at + 1];
      if (c == 'u') {
        for (size_t k = 2; k <= 6; k++) /* four hex digits, and more text after them */
          if (j->at + k >= j->len || (k < 6 && !isxdigit(j->s[j->at + k]))) {
            j->at++;
            return 0;
          }
        j->at += 6;
        continue;
      }
      if (!c || !strchr("\"\\/bfnrt", c)) return 0;
      j->at++;
    }
    j->at++;
  }
  j->at = opening; /* unterminated: Python's json names where the string starts */
  return 0;
}

static int scan_value(json_scan* j) {
  scan_ws(j);
  if (j->at >= j->len) return 0;
  unsigned char c = j->s[j->at];
  if (c == '"') return scan_string(j);
  if (c == '{' || c == '[') {
    unsigned char close = c == '{' ? '}' : ']';
    j->at++;
    scan_ws(j);
    if (j->at < j->len && j->s[j->at] == close) {
      j->at++;
      return 1;
    }
    for (;;) {
      if (c == '{') {
        scan_ws(j);
        if (j->at >= j->len || j->s[j->at] != '"' || !scan_string(j)) return 0;
        scan_ws(j);
        if (j->at >= j->len || j->s[j->at] != ':') return 0;
        j->at++;
      }
      if (!scan_value(j)) return 0;
      scan_ws(j);
      if (j->at < j->len && j->s[j->at] == ',') {
        j->at++;
        continue;
      }
      if (j->at < j->len && j->s[j->at] == close) {
        j->at++;
        return 1;
      }
      return 0;
    }
  }
  static const char* const words[] = {"true", "false", "null"};
  for (int k = 0; k < 3; k++) {
    size_t n = strlen(words[k]);
    if (j->len - j->at >= n && memcmp(j->s + j->at, words[k], n) == 0) {
      j->at += n;
      return 1;
    }
  }
  size_t number = j->at;
  if (c == '-') j->at++;
  if (j->at < j->len && j->s[j->at] == '0') {
    j->at++;
  } else if (!scan_digits(j)) {
    j->at = number; /* no value here */
    return 0;
  }
  /* a fraction or exponent without digits is no part of the number (what follows it must then be a
     delimiter, as Python's json reads it) */
  size_t mark = j->at;
  if (j->at < j->len && j->s[j->at] == '.') {
    j->at++;
    if (!scan_digits(j)) {
      j->at = mark;
      return 1;
    }
  }
  mark = j->at;
  if (j->at < j->len && (j->s[j->at] == 'e' || j->s[j->at] == 'E')) {
    j->at++;
    if (j->at < j->len && (j->s[j->at] == '+' || j->s[j->at] == '-')) j->at++;
    if (!scan_digits(j)) j->at = mark;
  }
  return 1;
}

/* The offset of the first byte that keeps `s` from being one JSON value (whitespace around it
   allowed), or -1 when it is one. */
static long json_strict_error(const unsigned char* s, size_t len) {
  json_scan j = {s, len, 0};
  if (scan_value(&j)) {
    scan_ws(&j);
    if (j.at == len) return -1;
  }
  return (long)(j.at < len ? j.at : len);
}

/* Python's json and JavaScript's JSON.parse give a repeated key of an object the last value, at the
   first one's place; cJSON's lookups would find the first. Sorted by key, so a hostile object of many
   keys costs n log n. 0, or -1 out of memory. */
typedef struct key_item {
  const char* key;
  size_t index;
  cJSON* node;
} key_item;

static int by_key(const void* a, const void* b) {
  const key_item *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : (x->index < y->index ? -1 : x->index > y->index);
}

static int keep_last_keys(cJSON* v) {
  size_t n = 0;
  for (cJSON* c = v->child; c; c = c->next, n++)
    if (keep_last_keys(c)) return -1;
  if (!cJSON_IsObject(v) || n < 2) return 0;
  key_item* items = malloc(n * sizeof *items);
  if (!items) return -1;
  n = 0;
  for (cJSON* c = v->child; c; c = c->next, n++) items[n] = (key_item){c->string ? c->string : "", n, c};
  qsort(items, n, sizeof *items, by_key);
  for (size_t i = 0, j; i < n; i = j) {
    for (j = i + 1; j < n && strcmp(items[j].key, items[i].key) == 0; j++) {
    }
    if (j - i < 2) continue;
    for (size_t k = i + 1; k + 1 < j; k++) cJSON_Delete(cJSON_DetachItemViaPointer(v, items[k].node));
    cJSON* last = cJSON_DetachItemViaPointer(v, items[j - 1].node);
    cJSON_ReplaceItemViaPointer(v, items[i].node, last);
  }
  free(items);
  return 0;
}

s2s_status parse_json_bytes(const unsigned char* raw, size_t len, const char* where, const char* what,
                            int specials, cJSON** out, s2s_error** err) {
  *out = NULL;
  if (!utf8_valid((const char*)raw, len)) return set_error(err, S2S_ERROR_BUNDLE, "%s is not valid UTF-8", where);
  int depth = json_nesting(raw, len);
  if (depth > S2S_MAX_NESTING)
    return set_error(err, S2S_ERROR_BUNDLE, "%s is nested deeper than %d levels (%d): not %s", where, S2S_MAX_NESTING,
                     depth, what);
  /* what cJSON parses: the file, or (specials) the file with \u0000 and lone surrogates kept */
  const unsigned char* text = raw;
  size_t text_len = len;
  unsigned char* kept = NULL;
  size_t* cuts = NULL;
  size_t n_cuts = 0;
  if (specials) {
    if (json_keep_specials(raw, len, &kept, &text_len, &cuts, &n_cuts) != 0)
      return set_error(err, S2S_ERROR_MEMORY, "out of memory");
    text = kept;
  }
  const char* end = NULL;
  long strict = json_strict_error(raw, len);
  cJSON* v = strict < 0 ? cJSON_ParseWithLengthOpts((const char*)text, text_len, &end, 0) : NULL;
  int ok = v != NULL;
  if (ok) { /* only whitespace may follow */
    for (const char* p = end; p < (const char*)text + text_len; p++)
      if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\0') ok = 0;
    if (memchr(raw, '\0', len)) ok = 0;
  }
  if (!ok && strict >= 0) { /* the place in the file itself */
    free(kept);
    kept = NULL;
    free(cuts);
    cuts = NULL;
    n_cuts = 0;
    text = raw;
    text_len = len;
    end = (const char*)raw + strict;
  }
  if (!ok) {
    const char* at = v || strict >= 0 ? end : cJSON_GetErrorPtr();
    if (at && at >= (const char*)text && at <= (const char*)text + text_len) { /* the same place in the file */
      size_t pos = (size_t)(at - (const char*)text), shift = 0;
      for (size_t k = 0; k < n_cuts && cuts[2 * k] < pos; k++) shift += cuts[2 * k + 1];
      at = (const char*)raw + pos + shift;
    } else {
      at = NULL;
    }
    free(kept);
    free(cuts);
    size_t line = 1, col = 1;
    if (at && at >= (const char*)raw && at <= (const char*)raw + len) {
      for (const char* p = (const char*)raw; p < at; p++) {
        if (*p == '\n') {
          line++;
          col = 1;
        } else if ((*p & 0xC0) != 0x80) {
          col++;
        }
      }
    }
    cJSON_Delete(v);
    return set_error(err, S2S_ERROR_BUNDLE, "%s is not valid JSON (at line %zu column %zu)", where, line, col);
  }
  free(kept);
  free(cuts);
  if (keep_last_keys(v)) {
    cJSON_Delete(v);
    return set_error(err, S2S_ERROR_MEMORY, "out of memory");
  }
  *out = v;
  return S2S_OK;
}

/* ---- files ---- */

static s2s_status size_mismatch(s2s_error** err, const char* path, long long have, long long want) {
  return set_error(err, S2S_ERROR_BUNDLE,
                   "bundle file %s does not match its sha256 in " S2S_MANIFEST
                   ": it is %lld bytes, not the %lld listed there; the bundle is corrupt or was modified; export it "
                   "again",
                   path, have, want);
}

/* _read_regular: a regular file (not a link) of exactly `size` bytes (size >= 0) or at most `limit`. */
static s2s_status read_regular(const char* path, long long limit, long long size, unsigned char** data,
                               size_t* n, s2s_error** err) {
  *data = NULL;
  *n = 0;
  struct stat st;
  if (lstat(path, &st) != 0) return set_error(err, S2S_ERROR_BUNDLE, "bundle file missing or not a regular file: %s", path);
  if (S_ISLNK(st.st_mode))
    return set_error(err, S2S_ERROR_BUNDLE, "%s is a symbolic link, not a regular file: a bundle's files must be its own",
                     path);
  if (!S_ISREG(st.st_mode)) return set_error(err, S2S_ERROR_BUNDLE, "bundle file missing or not a regular file: %s", path);
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP)
      return set_error(err, S2S_ERROR_BUNDLE,
                       "%s is a symbolic link, not a regular file: a bundle's files must be its own", path);
    return set_error(err, S2S_ERROR_BUNDLE, "bundle file missing or not a regular file: %s", path);
  }
  s2s_status status = S2S_OK;
  unsigned char* buf = NULL;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    status = set_error(err, S2S_ERROR_BUNDLE, "bundle file missing or not a regular file: %s", path);
    goto done;
  }
  if (limit >= 0 && (long long)st.st_size > limit) {
    status = set_error(err, S2S_ERROR_BUNDLE, "%s is larger than %lld bytes: refusing to read it", path, limit);
    goto done;
  }
  if (size >= 0 && (long long)st.st_size != size) {
    status = size_mismatch(err, path, (long long)st.st_size, size);
    goto done;
  }
  size_t want = (size_t)(size >= 0 ? size : (long long)st.st_size);
  buf = malloc(want + 1);
  if (!buf) {
    status = set_error(err, S2S_ERROR_MEMORY, "out of memory reading %s", path);
    goto done;
  }
  size_t got = 0;
  while (got < want + 1) { /* one more byte: a file that grew since is seen */
    ssize_t r = read(fd, buf + got, want + 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  if (got != want) {
    status = size >= 0 ? size_mismatch(err, path, (long long)got, size)
                       : set_error(err, S2S_ERROR_BUNDLE, "%s changed while it was read", path);
    goto done;
  }
  *data = buf;
  *n = want;
  buf = NULL;
done:
  free(buf);
  close(fd);
  return status;
}

static void sha256_hex(const unsigned char* data, size_t n, char hex[65]) {
  unsigned char digest[32];
#if MBEDTLS_VERSION_MAJOR >= 3
  mbedtls_sha256(data, n, digest, 0);
#else
  mbedtls_sha256_ret(data, n, digest, 0);
#endif
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

s2s_status read_artifact(const char* dir, const artifact* a, unsigned char** data, size_t* size, s2s_error** err) {
  char* path = bundle_path(dir, a->file);
  if (!path) return set_error(err, S2S_ERROR_MEMORY, "out of memory");
  s2s_status st = read_regular(path, -1, a->size, data, size, err);
  if (st == S2S_OK) {
    char hex[65];
    sha256_hex(*data, *size, hex);
    if (strcmp(hex, a->sha256) != 0) {
      free(*data);
      *data = NULL;
      st = set_error(err, S2S_ERROR_BUNDLE,
                     "bundle file %s does not match its sha256 in " S2S_MANIFEST
                     ": the bundle is corrupt or was modified; export it again",
                     path);
    }
  }
  free(path);
  return st;
}

/* ---- vocabularies ---- */

static int cmp_u32_pair(const void* a, const void* b) {
  uint32_t x = ((const uint32_t*)a)[0], y = ((const uint32_t*)b)[0];
  return x < y ? -1 : x > y;
}

/* 0 ok, -1 repeated character, -2 out of memory */
static int vocab_make(vocab* v, const char* text) {
  memset(v, 0, sizeof *v);
  if (utf8_decode(text, strlen(text), &v->chars, &v->size) != 0) return -2;
  uint32_t* pairs = malloc((v->size + 1) * 2 * sizeof *pairs);
  v->sorted_chars = malloc((v->size + 1) * sizeof *v->sorted_chars);
  v->sorted_ids = malloc((v->size + 1) * sizeof *v->sorted_ids);
  if (!pairs || !v->sorted_chars || !v->sorted_ids) {
    free(pairs);
    return -2;
  }
  for (size_t i = 0; i < v->size; i++) {
    pairs[2 * i] = v->chars[i];
    pairs[2 * i + 1] = (uint32_t)i;
  }
  qsort(pairs, v->size, 2 * sizeof *pairs, cmp_u32_pair);
  int repeated = 0;
  for (size_t i = 0; i < v->size; i++) {
    v->sorted_chars[i] = pairs[2 * i];
    v->sorted_ids[i] = pairs[2 * i + 1];
    if (i && pairs[2 * i] == pairs[2 * i - 2]) repeated = 1;
  }
  free(pairs);
  return repeated ? -1 : 0;
}

static void vocab_free(vocab* v) {
  free(v->chars);
  free(v->sorted_chars);
  free(v->sorted_ids);
  memset(v, 0, sizeof *v);
}

long vocab_id(const vocab* v, uint32_t cp) {
  size_t lo = 0, hi = v->size;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (v->sorted_chars[mid] < cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < v->size && v->sorted_chars[lo] == cp ? (long)v->sorted_ids[lo] : -1;
}

/* ---- the manifest ---- */

static void artifact_free(artifact* a) {
  free(a->backend);
  free(a->precision);
  free(a->role);
  free(a->file);
  free(a->sha256);
  memset(a, 0, sizeof *a);
}

void manifest_free(manifest* m) {
  vocab_free(&m->source);
  vocab_free(&m->target);
  for (size_t i = 0; i < m->n_artifacts; i++) artifact_free(&m->artifacts[i]);
  free(m->artifacts);
  artifact_free(&m->golden);
  memset(m, 0, sizeof *m);
}

static const char* const ARTIFACT_FIELDS[] = {"backend", "precision", "role", "file", "sha256", "size", "batch_invariant"};

static int io_matches(const cJSON* declared, const char* const* inputs, int n_in, const char* const* outputs,
                      int n_out) {
  if (!cJSON_IsObject(declared) || cJSON_GetArraySize(declared) != 2) return 0;
  const cJSON* lists[2] = {cJSON_GetObjectItemCaseSensitive(declared, "inputs"),
                           cJSON_GetObjectItemCaseSensitive(declared, "outputs")};
  const char* const* want[2] = {inputs, outputs};
  int n[2] = {n_in, n_out};
  for (int k = 0; k < 2; k++) {
    if (!cJSON_IsArray(lists[k]) || cJSON_GetArraySize(lists[k]) != n[k]) return 0;
    int i = 0;
    for (const cJSON* c = lists[k]->child; c; c = c->next, i++)
      if (!cJSON_IsString(c) || strcmp(c->valuestring, want[k][i]) != 0) return 0;
  }
  return 1;
}

static const char* const SEED_ENC_OUT[] = {"state_h", "state_c"};
static const char* const ATT_ENC_OUT[] = {"state_h", "state_c", "memory_keys", "memory_values", "memory_mask"};
static const char* const SEED_STEP_IN[] = {"token_ids", "state_h", "state_c"};
static const char* const ATT_STEP_IN[] = {"token_ids", "state_h", "state_c", "memory_keys", "memory_values", "memory_mask"};
static const char* const STEP_OUT[] = {"logits", "next_state_h", "next_state_c"};
static const char* const SOURCE_IN[] = {"source_ids"};
static const char* const GREEDY_OUT[] = {"output_ids"};

static char* dup_string(const cJSON* v) { return s2s_strdup(v->valuestring); }

static s2s_status parse_artifact(const cJSON* a, const char* where, artifact* out, s2s_error** err) {
  shown shows = {{0}, 0};
  s2s_status st = S2S_OK;
  memset(out, 0, sizeof *out);
  if (!cJSON_IsObject(a)) return set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: an artifact is not an object", where);
  strbuf unknown, missing;
  sb_init(&unknown);
  sb_init(&missing);
  for (const cJSON* c = a->child; c; c = c->next) {
    int known = 0;
    for (int i = 0; i < 7; i++) known |= strcmp(c->string, ARTIFACT_FIELDS[i]) == 0;
    if (!known) {
      if (unknown.len) sb_puts(&unknown, ", ");
      sb_puts(&unknown, c->string);
    }
  }
  for (int i = 0; i < 6; i++)
    if (!cJSON_HasObjectItem(a, ARTIFACT_FIELDS[i])) {
      if (missing.len) sb_puts(&missing, ", ");
      sb_puts(&missing, ARTIFACT_FIELDS[i]);
    }
  if (unknown.len || missing.len) {
    st = unknown.len ? set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: artifact has unknown fields %s", where, unknown.data)
                     : set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: artifact lacks %s", where, missing.data);
    sb_free(&unknown);
    sb_free(&missing);
    return st;
  }
  for (int i = 0; i < 3; i++) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(a, ARTIFACT_FIELDS[i]);
    if (!cJSON_IsString(v) || !v->valuestring[0]) {
      st = set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: artifact %s must be a non-empty string, got %s", where,
                     ARTIFACT_FIELDS[i], SHOW(v));
      goto done;
    }
  }
  const cJSON* file = cJSON_GetObjectItemCaseSensitive(a, "file");
  if (!check_file_name(file)) {
    st = set_error(err, S2S_ERROR_BUNDLE, "%s names a file outside the bundle: %s", where, SHOW(file));
    goto done;
  }
  const cJSON* sha = cJSON_GetObjectItemCaseSensitive(a, "sha256");
  if (!cJSON_IsString(sha)) {
    st = set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: artifact sha256 must be a string, got %s", where, SHOW(sha));
    goto done;
  }
  const cJSON* size = cJSON_GetObjectItemCaseSensitive(a, "size");
  long long n;
  if (!json_integer(size, &n) || n < 0 || n > S2S_MAX_ARTIFACT_BYTES) {
    st = set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: artifact size must be an integer from 0 to %ld, got %s",
                   where, S2S_MAX_ARTIFACT_BYTES, SHOW(size));
    goto done;
  }
  const cJSON* inv = cJSON_GetObjectItemCaseSensitive(a, "batch_invariant");
  if (inv && !cJSON_IsBool(inv)) {
    st = set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: artifact batch_invariant must be true or false, got %s",
                   where, SHOW(inv));
    goto done;
  }
  out->backend = dup_string(cJSON_GetObjectItemCaseSensitive(a, "backend"));
  out->precision = dup_string(cJSON_GetObjectItemCaseSensitive(a, "precision"));
  out->role = dup_string(cJSON_GetObjectItemCaseSensitive(a, "role"));
  out->file = dup_string(file);
  out->sha256 = dup_string(sha);
  out->size = (long)n;
  out->batch_invariant = inv ? cJSON_IsTrue(inv) : 1;
  if (!out->backend || !out->precision || !out->role || !out->file || !out->sha256) {
    artifact_free(out);
    st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
  }
done:
  shown_free(&shows);
  return st;
}

static s2s_status bounded(const cJSON* data, const char* key, long long low, long long high, const char* malformed,
                          int* out, s2s_error** err) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(data, key);
  long long n;
  if (!json_integer(v, &n) || n < low || n > high) {
    char* s = show_json(v);
    s2s_status st = set_error(err, S2S_ERROR_BUNDLE, "%s %s must be an integer from %lld to %lld, got %s", malformed,
                              key, low, high, s ? s : "?");
    free(s);
    return st;
  }
  *out = (int)n;
  return S2S_OK;
}

static s2s_status manifest_from_json(const cJSON* data, const char* where, manifest* m, s2s_error** err) {
  shown shows = {{0}, 0};
  s2s_status st = S2S_OK;
  char* malformed = s2s_printf("%s is malformed:", where);
  if (!malformed) return set_error(err, S2S_ERROR_MEMORY, "out of memory");
  const cJSON* fmt = cJSON_GetObjectItemCaseSensitive(data, "format");
  if (!cJSON_IsObject(data) || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, "s2s-edge-bundle") != 0) {
    st = set_error(err, S2S_ERROR_BUNDLE, "%s is not an s2s-edge bundle manifest", where);
    goto done;
  }
  const cJSON* ver = cJSON_GetObjectItemCaseSensitive(data, "format_version");
  long long version;
  if (!json_integer(ver, &version) || version < 1 || version > 5) {
    st = set_error(err, S2S_ERROR_BUNDLE,
                   "%s has format_version %s; this runtime reads versions 1, 2, 3, 4, 5: re-export the bundle or upgrade "
                   "s2s-edge",
                   where, SHOW(ver));
    goto done;
  }
  const cJSON* start = cJSON_GetObjectItemCaseSensitive(data, "start_token");
  const cJSON* end = cJSON_GetObjectItemCaseSensitive(data, "end_token");
  const cJSON* pad = cJSON_GetObjectItemCaseSensitive(data, "pad_token");
  int pad_ok = pad && ((cJSON_IsString(pad) && strcmp(pad->valuestring, " ") == 0) || (version >= 2 && cJSON_IsNull(pad)));
  if (!cJSON_IsString(start) || !cJSON_IsString(end) || strcmp(start->valuestring, "\t") != 0 ||
      strcmp(end->valuestring, "\n") != 0 || !pad_ok) {
    st = set_error(err, S2S_ERROR_BUNDLE, "%s uses special tokens this runtime does not know", where);
    goto done;
  }
  m->zero_padding = cJSON_IsNull(pad);
  const cJSON* padding = cJSON_GetObjectItemCaseSensitive(data, "padding");
  if (padding && !(cJSON_IsString(padding) && strcmp(padding->valuestring, "right") == 0)) {
    st = set_error(err, S2S_ERROR_BUNDLE, "%s pads on the %s side; this runtime pads on the right", where, SHOW(padding));
    goto done;
  }
  m->family = FAMILY_SEED;
  if (version >= 3) {
    const cJSON* fam = cJSON_GetObjectItemCaseSensitive(data, "family");
    if (!cJSON_IsString(fam)) {
      st = set_error(err, S2S_ERROR_BUNDLE, "%s format_version %lld needs a family name, got %s", malformed, version,
                     SHOW(fam));
      goto done;
    }
    if (strcmp(fam->valuestring, "seed") == 0) {
      m->family = FAMILY_SEED;
    } else if (strcmp(fam->valuestring, "attention") == 0) {
      m->family = FAMILY_ATTENTION;
    } else {
      st = set_error(err, S2S_ERROR_BUNDLE, "%s holds a model of family %s; this runtime knows seed, attention: upgrade s2s-edge",
                     where, SHOW(fam));
      goto done;
    }
  }
  const cJSON* io = cJSON_GetObjectItemCaseSensitive(data, "io");
  if (io && !cJSON_IsNull(io)) {
    int att = m->family == FAMILY_ATTENTION;
    const char* roles[3] = {"encoder", "decoder_step", "greedy"};
    for (int r = 0; r < 3; r++) {
      if (cJSON_IsObject(io) && r == 2 && !cJSON_HasObjectItem(io, roles[r])) continue;
      const cJSON* declared = cJSON_IsObject(io) ? cJSON_GetObjectItemCaseSensitive(io, roles[r]) : NULL;
      int ok = r == 0   ? io_matches(declared, SOURCE_IN, 1, att ? ATT_ENC_OUT : SEED_ENC_OUT, att ? 5 : 2)
               : r == 1 ? io_matches(declared, att ? ATT_STEP_IN : SEED_STEP_IN, att ? 6 : 3, STEP_OUT, 3)
                        : io_matches(declared, SOURCE_IN, 1, GREEDY_OUT, 1);
      if (!ok) {
        st = set_error(err, S2S_ERROR_BUNDLE,
                       "%s declares graph inputs/outputs for %s that this runtime does not know: upgrade s2s-edge", where,
                       roles[r]);
        goto done;
      }
    }
  }
  const char* vocab_keys[2] = {"source_vocab", "target_vocab"};
  for (int k = 0; k < 2; k++) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(data, vocab_keys[k]);
    if (!cJSON_IsString(v) || !v->valuestring[0]) {
      st = set_error(err, S2S_ERROR_BUNDLE, "%s %s must be a non-empty string, got %s", malformed, vocab_keys[k], SHOW(v));
      goto done;
    }
  }
  if ((st = bounded(data, "max_source_length", 1, S2S_MAX_LENGTH, malformed, &m->max_source_length, err)) ||
      (st = bounded(data, "max_target_length", 1, S2S_MAX_LENGTH, malformed, &m->max_target_length, err)) ||
      (st = bounded(data, "latent_dim", 1, S2S_MAX_LATENT_DIM, malformed, &m->latent_dim, err)))
    goto done;
  int sizes[2] = {-1, -1};
  const char* size_keys[2] = {"source_vocab_size", "target_vocab_size"};
  for (int k = 0; k < 2; k++)
    if (cJSON_HasObjectItem(data, size_keys[k]) &&
        (st = bounded(data, size_keys[k], 1, S2S_MAX_VOCAB_SIZE, malformed, &sizes[k], err)))
      goto done;
  const cJSON* model_id = cJSON_GetObjectItemCaseSensitive(data, "model_id");
  if (model_id && !cJSON_IsString(model_id)) {
    st = set_error(err, S2S_ERROR_BUNDLE, "%s model_id must be a string, got %s", malformed, SHOW(model_id));
    goto done;
  }
  const cJSON* langs = cJSON_GetObjectItemCaseSensitive(data, "languages");
  if (langs && !cJSON_IsNull(langs)) {
    const cJSON* src = cJSON_GetObjectItemCaseSensitive(langs, "source");
    const cJSON* tgt = cJSON_GetObjectItemCaseSensitive(langs, "target");
    if (!cJSON_IsObject(langs) || cJSON_GetArraySize(langs) != 2 || !cJSON_IsString(src) || !src->valuestring[0] ||
        !cJSON_IsString(tgt) || !tgt->valuestring[0]) {
      st = set_error(err, S2S_ERROR_BUNDLE, "%s: languages must be {\"source\": CODE, \"target\": CODE}, got %s", where,
                     SHOW(langs));
      goto done;
    }
  }
  const cJSON* form = cJSON_GetObjectItemCaseSensitive(data, "source_form");
  if (form) {
    if (version < 5) {
      st = set_error(err, S2S_ERROR_BUNDLE, "%s source_form needs format_version 5, got %lld", malformed, version);
      goto done;
    }
    const cJSON* lower = cJSON_GetObjectItemCaseSensitive(form, "lowercase");
    const cJSON* wrap = cJSON_GetObjectItemCaseSensitive(form, "wrap");
    if (!cJSON_IsObject(form) || cJSON_GetArraySize(form) != 2 || !cJSON_IsBool(lower) || !cJSON_IsBool(wrap)) {
      st = set_error(err, S2S_ERROR_BUNDLE, "%s source_form must be {\"lowercase\": BOOLEAN, \"wrap\": BOOLEAN}, got %s",
                     malformed, SHOW(form));
      goto done;
    }
    m->lowercase = cJSON_IsTrue(lower);
    m->wrap = cJSON_IsTrue(wrap);
  }
  const char* object_keys[3] = {"producer", "provenance", "validation"};
  for (int k = 0; k < 3; k++) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(data, object_keys[k]);
    if (v && !cJSON_IsObject(v)) {
      st = set_error(err, S2S_ERROR_BUNDLE, "%s %s must be an object, got %s", malformed, object_keys[k], SHOW(v));
      goto done;
    }
  }
  const cJSON* arts = cJSON_GetObjectItemCaseSensitive(data, "artifacts");
  if (!cJSON_IsArray(arts)) {
    st = set_error(err, S2S_ERROR_BUNDLE, "%s artifacts must be a list", malformed);
    goto done;
  }
  int count = cJSON_GetArraySize(arts);
  m->artifacts = calloc((size_t)count + 1, sizeof *m->artifacts);
  if (!m->artifacts) {
    st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
    goto done;
  }
  for (const cJSON* a = arts->child; a; a = a->next) {
    if ((st = parse_artifact(a, where, &m->artifacts[m->n_artifacts], err))) goto done;
    m->n_artifacts++;
  }
  const cJSON* golden = cJSON_GetObjectItemCaseSensitive(data, "golden");
  if (golden) {
    if (version < 4) {
      st = set_error(err, S2S_ERROR_BUNDLE, "%s golden needs format_version 4, got %lld", malformed, version);
      goto done;
    }
    const cJSON* gfile = cJSON_GetObjectItemCaseSensitive(golden, "file");
    const cJSON* gsha = cJSON_GetObjectItemCaseSensitive(golden, "sha256");
    if (!cJSON_IsObject(golden) || cJSON_GetArraySize(golden) != 3 || !gfile || !gsha ||
        !cJSON_HasObjectItem(golden, "size")) {
      st = set_error(err, S2S_ERROR_BUNDLE, "%s golden must be an object with file, sha256 and size, got %s", malformed,
                     SHOW(golden));
      goto done;
    }
    if (!check_file_name(gfile)) {
      st = set_error(err, S2S_ERROR_BUNDLE, "%s names a file outside the bundle: %s", where, SHOW(gfile));
      goto done;
    }
    if (!cJSON_IsString(gsha)) {
      st = set_error(err, S2S_ERROR_BUNDLE, "%s golden sha256 must be a string, got %s", malformed, SHOW(gsha));
      goto done;
    }
    char* gmal = s2s_printf("%s golden", malformed);
    int gsize = 0;
    st = gmal ? bounded(golden, "size", 0, S2S_MAX_GOLDEN_BYTES, gmal, &gsize, err)
              : set_error(err, S2S_ERROR_MEMORY, "out of memory");
    free(gmal);
    if (st) goto done;
    int clash = strcmp(gfile->valuestring, S2S_MANIFEST) == 0;
    for (size_t i = 0; i < m->n_artifacts; i++) clash |= strcmp(gfile->valuestring, m->artifacts[i].file) == 0;
    if (clash) {
      st = set_error(err, S2S_ERROR_BUNDLE, "%s golden names %s, which is the manifest or a model file", malformed,
                     SHOW(gfile));
      goto done;
    }
    m->has_golden = 1;
    m->golden.file = dup_string(gfile);
    m->golden.sha256 = dup_string(gsha);
    m->golden.size = gsize;
    if (!m->golden.file || !m->golden.sha256) {
      st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
      goto done;
    }
  }
  vocab* vocabs[2] = {&m->source, &m->target};
  for (int k = 0; k < 2; k++) {
    int r = vocab_make(vocabs[k], cJSON_GetObjectItemCaseSensitive(data, vocab_keys[k])->valuestring);
    if (r == -1) {
      st = set_error(err, S2S_ERROR_BUNDLE, "%s a vocabulary must not repeat characters", malformed);
      goto done;
    }
    if (r == -2) {
      st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
      goto done;
    }
  }
  const uint32_t need[3] = {'\t', '\n', ' '};
  const char* need_shown[3] = {"\"\\t\"", "\"\\n\"", "\" \""};
  for (int k = 0; k < (m->zero_padding ? 2 : 3); k++)
    if (vocab_id(&m->target, need[k]) < 0) {
      st = set_error(err, S2S_ERROR_BUNDLE, "%s: target vocabulary lacks %s", where, need_shown[k]);
      goto done;
    }
  if (!m->zero_padding && vocab_id(&m->source, ' ') < 0) {
    st = set_error(err, S2S_ERROR_BUNDLE, "%s: source vocabulary lacks the padding character", where);
    goto done;
  }
  if (m->wrap && (vocab_id(&m->source, '\t') < 0 || vocab_id(&m->source, '\n') < 0)) {
    st = set_error(err, S2S_ERROR_BUNDLE,
                   "%s: source_form wraps the source in the start and end tokens, which source_vocab lacks", where);
    goto done;
  }
  if (m->wrap && m->max_source_length < 2) {
    st = set_error(err, S2S_ERROR_BUNDLE, "%s: source_form wraps the source in two tokens, but max_source_length is %d",
                   where, m->max_source_length);
    goto done;
  }
  for (int k = 0; k < 2; k++)
    if (sizes[k] >= 0 && (size_t)sizes[k] != vocabs[k]->size) {
      st = set_error(err, S2S_ERROR_BUNDLE,
                     "%s: %s has %zu characters, but its graphs were built for %d (%s_size): the vocabulary does not "
                     "belong to these graphs; export the bundle again",
                     where, vocab_keys[k], vocabs[k]->size, sizes[k], vocab_keys[k]);
      goto done;
    }
done:
  shown_free(&shows);
  free(malformed);
  return st;
}

static int cmp_str(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

static s2s_status check_listing(const char* dir, const char* root, const manifest* m, s2s_error** err) {
  DIR* d = opendir(dir);
  if (!d) return set_error(err, S2S_ERROR_BUNDLE, "bundle directory not found: %s", root);
  char** extra = NULL;
  size_t n = 0, cap = 0;
  s2s_status st = S2S_OK;
  struct dirent* e;
  while ((e = readdir(d))) {
    const char* name = e->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, S2S_MANIFEST) == 0) continue;
    int listed = m->has_golden && strcmp(name, m->golden.file) == 0;
    for (size_t i = 0; i < m->n_artifacts && !listed; i++) listed = strcmp(name, m->artifacts[i].file) == 0;
    if (listed) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 8;
      char** grown = realloc(extra, cap * sizeof *grown);
      if (!grown) {
        st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
        goto done;
      }
      extra = grown;
    }
    if (!(extra[n] = s2s_strdup(name))) {
      st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
      goto done;
    }
    n++;
  }
  if (n) {
    qsort(extra, n, sizeof *extra, cmp_str);
    strbuf sb;
    sb_init(&sb);
    for (size_t i = 0; i < n && i < 5; i++) {
      if (i) sb_puts(&sb, ", ");
      sb_puts(&sb, extra[i]);
    }
    if (n > 5) sb_printf(&sb, " and %zu more", n - 5);
    char* shown_list = sb_take(&sb);
    st = set_error(err, S2S_ERROR_BUNDLE,
                   "bundle %s holds files its " S2S_MANIFEST " does not list: %s; remove them or export the bundle again",
                   root, shown_list ? shown_list : "?");
    free(shown_list);
  }
done:
  for (size_t i = 0; i < n; i++) free(extra[i]);
  free(extra);
  closedir(d);
  return st;
}

s2s_status read_manifest(const char* dir, manifest* m, s2s_error** err) {
  memset(m, 0, sizeof *m);
  char* root = normalize_path(dir);
  char* path = bundle_path(dir, S2S_MANIFEST);
  unsigned char* raw = NULL;
  size_t n = 0;
  cJSON* data = NULL;
  s2s_status st = S2S_OK;
  if (!root || !path) {
    st = set_error(err, S2S_ERROR_MEMORY, "out of memory");
    goto done;
  }
  struct stat info;
  if (stat(dir, &info) != 0 || !S_ISDIR(info.st_mode)) {
    st = set_error(err, S2S_ERROR_BUNDLE, "bundle directory not found: %s", root);
    goto done;
  }
  if (lstat(path, &info) != 0 || S_ISDIR(info.st_mode)) {
    st = set_error(err, S2S_ERROR_BUNDLE, "no " S2S_MANIFEST " in %s: not a bundle (export one with python -m export.to_onnx)",
                   root);
    goto done;
  }
  if ((st = read_regular(path, S2S_MAX_MANIFEST_BYTES, -1, &raw, &n, err))) goto done;
  if ((st = parse_json_bytes(raw, n, path, "a manifest", 0, &data, err))) goto done;
  if ((st = manifest_from_json(data, path, m, err))) goto done;
  st = check_listing(dir, root, m, err);
done:
  if (st) manifest_free(m);
  cJSON_Delete(data);
  free(raw);
  free(path);
  free(root);
  return st;
}

/* ---- golden translations (runtime/golden.py) ---- */

static void strings_free(char** s, size_t n) {
  if (!s) return;
  for (size_t i = 0; i < n; i++) free(s[i]);
  free(s);
}

void golden_free(golden* g) {
  if (!g) return;
  for (size_t i = 0; i < g->n; i++) {
    golden_artifact* a = &g->artifacts[i];
    free(a->backend);
    free(a->precision);
    for (size_t k = 0; k < a->n_decodes; k++) {
      golden_decodes* d = &a->decodes[k];
      free(d->kernels);
      free(d->engine);
      free(d->engine_version);
      free(d->machine);
      strings_free(d->outputs, a->n_sources);
    }
    free(a->decodes);
    strings_free(a->sources, a->n_sources);
  }
  free(g->artifacts);
  free(g);
}

/* a list of strings (of `length` items unless length < 0); its copy in *out when out is not NULL */
static int string_list(const cJSON* v, long length, char*** out) {
  if (!cJSON_IsArray(v)) return 0;
  int n = cJSON_GetArraySize(v);
  if (length >= 0 && n != length) return 0;
  for (const cJSON* c = v->child; c; c = c->next)
    if (!cJSON_IsString(c)) return 0;
  if (out) {
    *out = calloc((size_t)n + 1, sizeof **out);
    if (!*out) return -1;
    int i = 0;
    for (const cJSON* c = v->child; c; c = c->next, i++)
      if (!((*out)[i] = s2s_strdup(c->valuestring))) return -1;
  }
  return 1;
}

/* kernels, engine, engine_version and machine are printed: 1 to 64 printable ASCII characters */
static int is_label(const cJSON* v) {
  if (!cJSON_IsString(v)) return 0;
  size_t n = strlen(v->valuestring);
  if (n < 1 || n > S2S_MAX_LABEL) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v->valuestring[i] < 0x20 || (unsigned char)v->valuestring[i] > 0x7e) return 0;
  return 1;
}

/* A sentence the model reads as it is: at most max_source_length code points, each in source_vocab.
   1 yes, 0 no, -1 out of memory. */
static int model_reads(const manifest* m, const char* text) {
  uint32_t* cps;
  size_t n;
  int r = json_text_decode(text, strlen(text), &cps, &n);
  if (r == -2) return -1;
  if (r != 0) return 0;
  if (m->lowercase) { /* as the runtime will read it (source_form) */
    uint32_t* low;
    if (lowercase(cps, n, &low, &n) != 0) {
      free(cps);
      return -1;
    }
    free(cps);
    cps = low;
  }
  int ok = n + (m->wrap ? 2 : 0) <= (size_t)m->max_source_length;
  for (size_t i = 0; ok && i < n; i++) ok = vocab_id(&m->source, cps[i]) >= 0;
  free(cps);
  return ok;
}

/* Manifest.complete_models: the (backend, precision) pairs with an encoder and a decoder step,
   sorted, so that an entry is found (and marked seen) in log time. */
typedef struct model_pair {
  const char* backend;
  const char* precision;
} model_pair;

static int cmp_pair(const void* a, const void* b) {
  const model_pair *x = a, *y = b;
  int c = strcmp(x->backend, y->backend);
  return c ? c : strcmp(x->precision, y->precision);
}

static int cmp_artifact_pair(const void* a, const void* b) {
  const artifact *x = *(const artifact* const*)a, *y = *(const artifact* const*)b;
  model_pair p = {x->backend, x->precision}, q = {y->backend, y->precision};
  return cmp_pair(&p, &q);
}

/* the complete pairs, sorted, in *out (caller frees); -1 out of memory */
static int complete_models(const manifest* m, model_pair** out, size_t* n) {
  *n = 0;
  *out = calloc(m->n_artifacts + 1, sizeof **out);
  const artifact** by = calloc(m->n_artifacts + 1, sizeof *by);
  if (!*out || !by) {
    free(*out);
    free(by);
    *out = NULL;
    return -1;
  }
  for (size_t i = 0; i < m->n_artifacts; i++) by[i] = &m->artifacts[i];
  qsort(by, m->n_artifacts, sizeof *by, cmp_artifact_pair);
  for (size_t lo = 0; lo < m->n_artifacts;) {
    size_t hi = lo;
    int enc = 0, step = 0;
    while (hi < m->n_artifacts && cmp_artifact_pair(&by[lo], &by[hi]) == 0) {
      enc |= strcmp(by[hi]->role, "encoder") == 0;
      step |= strcmp(by[hi]->role, "decoder_step") == 0;
      hi++;
    }
    if (enc && step) (*out)[(*n)++] = (model_pair){by[lo]->backend, by[lo]->precision};
    lo = hi;
  }
  free(by);
  return 0;
}

static s2s_status parse_entries(const cJSON* entries, const manifest* m, const char* where, const model_pair* models,
                                size_t n_models, unsigned char* seen, golden* g, s2s_error** err) {
  for (const cJSON* e = entries->child; e; e = e->next) {
    if (!cJSON_IsObject(e)) return set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: an entry of artifacts is not an object", where);
    const cJSON* backend = cJSON_GetObjectItemCaseSensitive(e, "backend");
    const cJSON* precision = cJSON_GetObjectItemCaseSensitive(e, "precision");
    if (!cJSON_IsString(backend) || !backend->valuestring[0] || !cJSON_IsString(precision) || !precision->valuestring[0])
      return set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: an entry's backend and precision must be non-empty strings",
                       where);
    const char* b = backend->valuestring;
    const char* p = precision->valuestring;
    model_pair key = {b, p};
    const model_pair* found = n_models ? bsearch(&key, models, n_models, sizeof *models, cmp_pair) : NULL;
    if (!found)
      return set_error(err, S2S_ERROR_BUNDLE, "%s holds golden translations for %s/%s, which the bundle does not hold", where,
                       b, p);
    if (seen[found - models]) return set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: %s/%s appears twice", where, b, p);
    seen[found - models] = 1;
    golden_artifact* a = &g->artifacts[g->n++];
    if (!(a->backend = s2s_strdup(b)) || !(a->precision = s2s_strdup(p)))
      return set_error(err, S2S_ERROR_MEMORY, "out of memory");
    const cJSON* sources = cJSON_GetObjectItemCaseSensitive(e, "sources");
    if (string_list(sources, -1, NULL) != 1 || cJSON_GetArraySize(sources) == 0)
      return set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: %s/%s's sources must be a non-empty list of strings", where,
                       b, p);
    int n_sources = cJSON_GetArraySize(sources);
    if (n_sources > S2S_MAX_GOLDEN_SENTENCES)
      return set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: %s/%s has %d sources; at most %d", where, b, p, n_sources,
                       S2S_MAX_GOLDEN_SENTENCES);
    int i = 0;
    for (const cJSON* c = sources->child; c; c = c->next, i++) {
      int r = model_reads(m, c->valuestring);
      if (r < 0) return set_error(err, S2S_ERROR_MEMORY, "out of memory");
      if (!r)
        return set_error(err, S2S_ERROR_BUNDLE,
                         "%s is malformed: %s/%s's sources[%d] is not a sentence this model reads (a character outside "
                         "source_vocab, or longer than max_source_length)",
                         where, b, p, i);
    }
    a->n_sources = (size_t)n_sources;
    if (string_list(sources, -1, &a->sources) != 1) return set_error(err, S2S_ERROR_MEMORY, "out of memory");
    if (string_list(cJSON_GetObjectItemCaseSensitive(e, "keras"), (long)a->n_sources, NULL) != 1)
      return set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: %s/%s's keras must be a list of strings, one per source",
                       where, b, p);
    const cJSON* decodes = cJSON_GetObjectItemCaseSensitive(e, "decodes");
    if (!cJSON_IsArray(decodes) || cJSON_GetArraySize(decodes) == 0)
      return set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: %s/%s's decodes must be a non-empty list", where, b, p);
    int n_decodes = cJSON_GetArraySize(decodes);
    if (n_decodes > S2S_MAX_GOLDEN_KERNEL_SETS)
      return set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: %s/%s has %d decodes; at most %d", where, b, p, n_decodes,
                       S2S_MAX_GOLDEN_KERNEL_SETS);
    a->decodes = calloc((size_t)n_decodes, sizeof *a->decodes);
    if (!a->decodes) return set_error(err, S2S_ERROR_MEMORY, "out of memory");
    i = 0;
    for (const cJSON* d = decodes->child; d; d = d->next, i++) {
      const cJSON* kernels = cJSON_GetObjectItemCaseSensitive(d, "kernels");
      const cJSON* engine = cJSON_GetObjectItemCaseSensitive(d, "engine");
      const cJSON* engine_version = cJSON_GetObjectItemCaseSensitive(d, "engine_version");
      const cJSON* machine = cJSON_GetObjectItemCaseSensitive(d, "machine");
      if (!cJSON_IsObject(d) || !is_label(kernels) || !is_label(engine) || !is_label(engine_version) ||
          (machine && !is_label(machine)))
        return set_error(err, S2S_ERROR_BUNDLE,
                         "%s is malformed: %s/%s's decodes[%d] must be an object with kernels, engine, engine_version "
                         "(and machine): 1 to 64 printable ASCII characters each; and outputs",
                         where, b, p, i);
      if (string_list(cJSON_GetObjectItemCaseSensitive(d, "outputs"), (long)a->n_sources, NULL) != 1)
        return set_error(err, S2S_ERROR_BUNDLE,
                         "%s is malformed: %s/%s's decodes[%d] outputs must be a list of strings, one per source", where,
                         b, p, i);
      /* at most S2S_MAX_GOLDEN_KERNEL_SETS earlier ones (the cap above): constant time */
      for (size_t k = 0; k < a->n_decodes; k++)
        if (strcmp(a->decodes[k].kernels, kernels->valuestring) == 0)
          return set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: %s/%s has two decodes on the %s kernels", where, b, p,
                           kernels->valuestring);
      golden_decodes* gd = &a->decodes[a->n_decodes++];
      if (!(gd->kernels = s2s_strdup(kernels->valuestring)) || !(gd->engine = s2s_strdup(engine->valuestring)) ||
          !(gd->engine_version = s2s_strdup(engine_version->valuestring)) ||
          (machine && !(gd->machine = s2s_strdup(machine->valuestring))) ||
          string_list(cJSON_GetObjectItemCaseSensitive(d, "outputs"), (long)a->n_sources, &gd->outputs) != 1)
        return set_error(err, S2S_ERROR_MEMORY, "out of memory");
    }
  }
  return S2S_OK;
}

static s2s_status parse_golden(const cJSON* data, const manifest* m, const char* where, golden* g, s2s_error** err) {
  const cJSON* fmt = cJSON_GetObjectItemCaseSensitive(data, "format");
  if (!cJSON_IsObject(data) || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, "s2s-edge-golden") != 0)
    return set_error(err, S2S_ERROR_BUNDLE, "%s is not an s2s-edge golden file", where);
  const cJSON* ver = cJSON_GetObjectItemCaseSensitive(data, "format_version");
  long long version;
  if (!json_integer(ver, &version) || version != 1) {
    char* s = show_json(ver);
    s2s_status st = set_error(err, S2S_ERROR_BUNDLE, "%s has format_version %s; this runtime reads version 1: upgrade s2s-edge",
                              where, s ? s : "?");
    free(s);
    return st;
  }
  const cJSON* entries = cJSON_GetObjectItemCaseSensitive(data, "artifacts");
  if (!cJSON_IsArray(entries) || cJSON_GetArraySize(entries) == 0)
    return set_error(err, S2S_ERROR_BUNDLE, "%s is malformed: artifacts must be a non-empty list", where);
  g->artifacts = calloc((size_t)cJSON_GetArraySize(entries), sizeof *g->artifacts);
  model_pair* models = NULL;
  size_t n_models = 0;
  if (!g->artifacts || complete_models(m, &models, &n_models) != 0)
    return set_error(err, S2S_ERROR_MEMORY, "out of memory");
  unsigned char* seen = calloc(n_models + 1, 1);
  s2s_status st = seen ? parse_entries(entries, m, where, models, n_models, seen, g, err)
                       : set_error(err, S2S_ERROR_MEMORY, "out of memory");
  free(seen);
  free(models);
  return st;
}

s2s_status read_golden(const char* dir, const manifest* m, golden** out, s2s_error** err) {
  *out = NULL;
  if (!m->has_golden) return S2S_OK;
  size_t dl = strlen(dir);
  char* where = (dl && dir[dl - 1] == '/') ? s2s_printf("%s%s", dir, m->golden.file) : s2s_printf("%s/%s", dir, m->golden.file);
  if (!where) return set_error(err, S2S_ERROR_MEMORY, "out of memory");
  unsigned char* raw = NULL;
  size_t n = 0;
  cJSON* data = NULL;
  golden* g = calloc(1, sizeof *g);
  s2s_status st = g ? S2S_OK : set_error(err, S2S_ERROR_MEMORY, "out of memory");
  if (!st) st = read_artifact(dir, &m->golden, &raw, &n, err);
  if (!st) st = parse_json_bytes(raw, n, where, "a golden file", 1, &data, err);
  if (!st) st = parse_golden(data, m, where, g, err);
  if (st)
    golden_free(g);
  else
    *out = g;
  cJSON_Delete(data);
  free(raw);
  free(where);
  return st;
}
