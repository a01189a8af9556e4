/* The C runtime's lowercasing (src/lowercase.c) on each line of stdin, written to stdout: the tests
   compare it with Python's str.lower (tests/test_lowercase.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static size_t decode(const unsigned char* s, size_t len, uint32_t* out) {
  size_t n = 0;
  for (size_t i = 0; i < len;) {
    unsigned char b = s[i];
    int extra = b < 0x80 ? 0 : b < 0xE0 ? 1 : b < 0xF0 ? 2 : 3;
    uint32_t cp = extra == 0 ? b : extra == 1 ? b & 0x1F : extra == 2 ? b & 0x0F : b & 0x07;
    for (int k = 1; k <= extra && i + k < len; k++) cp = (cp << 6) | (s[i + k] & 0x3F);
    out[n++] = cp;
    i += 1 + extra;
  }
  return n;
}

static void put(uint32_t cp) {
  if (cp < 0x80) {
    putchar((int)cp);
  } else if (cp < 0x800) {
    putchar(0xC0 | (cp >> 6));
    putchar(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    putchar(0xE0 | (cp >> 12));
    putchar(0x80 | ((cp >> 6) & 0x3F));
    putchar(0x80 | (cp & 0x3F));
  } else {
    putchar(0xF0 | (cp >> 18));
    putchar(0x80 | ((cp >> 12) & 0x3F));
    putchar(0x80 | ((cp >> 6) & 0x3F));
    putchar(0x80 | (cp & 0x3F));
  }
}

int main(void) {
  char* line = NULL;
  size_t cap = 0;
  ssize_t got;
  while ((got = getline(&line, &cap, stdin)) >= 0) {
    size_t len = (size_t)got;
    if (len && line[len - 1] == '\n') len--;
    uint32_t* cps = malloc((len + 1) * sizeof *cps);
    if (!cps) return 1;
    size_t n = decode((const unsigned char*)line, len, cps);
    uint32_t* low;
    size_t m;
    if (lowercase(cps, n, &low, &m) != 0) return 1;
    for (size_t i = 0; i < m; i++) put(low[i]);
    putchar('\n');
    free(cps);
    free(low);
  }
  free(line);
  return 0;
}
