/* Python's str.lower for the C runtime (bundles whose source_form lowercases, format version 5):
   each code point's full lowercase mapping from the tables in lowercase.h, which
   native/tools/gen_lowercase.py reads off CPython, and U+03A3's final form decided by its context as
   CPython's handle_capital_sigma decides it. */
#include <stdlib.h>

#include "internal.h"
#include "lowercase.h"

static int in_ranges(const uint32_t (*ranges)[2], size_t n, uint32_t cp) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp < ranges[mid][0])
      hi = mid;
    else if (cp > ranges[mid][1])
      lo = mid + 1;
    else
      return 1;
  }
  return 0;
}

static const s2s_lower_entry* mapping(uint32_t cp) {
  size_t lo = 0, hi = sizeof S2S_LOWER / sizeof S2S_LOWER[0];
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp < S2S_LOWER[mid].cp)
      hi = mid;
    else if (cp > S2S_LOWER[mid].cp)
      lo = mid + 1;
    else
      return &S2S_LOWER[mid];
  }
  return NULL;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
static int ignorable(uint32_t cp) { return in_ranges(S2S_IGNORABLE, COUNT(S2S_IGNORABLE), cp); }
static int cased(uint32_t cp) { return in_ranges(S2S_CASED, COUNT(S2S_CASED), cp); }

/* \p{cased} \p{case-ignorable}* U+03A3 !(\p{case-ignorable}* \p{cased}) */
static int final_sigma(const uint32_t* in, size_t len, size_t i) {
  size_t j = i;
  while (j > 0 && ignorable(in[j - 1])) j--;
  if (j == 0 || !cased(in[j - 1])) return 0;
  size_t k = i + 1;
  while (k < len && ignorable(in[k])) k++;
  return k == len || !cased(in[k]);
}

int lowercase(const uint32_t* in, size_t len, uint32_t** out, size_t* n) {
  uint32_t* low = malloc((3 * len + 1) * sizeof *low);
  if (!low) return -2;
  size_t m = 0;
  for (size_t i = 0; i < len; i++) {
    if (in[i] == 0x3A3) {
      low[m++] = final_sigma(in, len, i) ? 0x3C2 : 0x3C3;
      continue;
    }
    const s2s_lower_entry* e = mapping(in[i]);
    if (!e) {
      low[m++] = in[i];
      continue;
    }
    for (int k = 0; k < e->n; k++) low[m++] = e->lower[k];
  }
  *out = low;
  *n = m;
  return 0;
}
