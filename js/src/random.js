// Seeded random numbers for sampling: reproducible within JavaScript (Node and browsers alike).
// A sentence's generator is seeded by (seed, its text), so its sample does not depend on its
// batch-mates, its position, the batch size or streaming. The draws are not numpy's: the Python
// runtime's samples differ from these, as they would between any two libraries.

const encoder = new TextEncoder();

// The 32-bit words of a non-negative integer seed (a Number or a BigInt), least significant first.
function seedWords(seed) {
  let rest = BigInt(seed);
  const words = [];
  do {
    words.push(Number(rest & 0xffffffffn));
    rest >>= 32n;
  } while (rest > 0n);
  return words;
}

// cyrb128-style 128-bit hash of the UTF-8 bytes of `text`, mixed with `seed`: four 32-bit words.
function hashWords(seed, text) {
  const [low, high = 0, ...more] = seedWords(seed);
  let h1 = 1779033703 ^ low;
  let h2 = 3144134277 ^ high;
  let h3 = 1013904242;
  let h4 = 2773480762;
  // Seeds past 2**64 mix their further words in (a seed below keeps the hash it always had).
  more.forEach((word, i) => {
    h3 = Math.imul(h3 ^ word, 2654435761) ^ i;
    h4 = Math.imul(h4 ^ (h3 >>> 13), 2246822519);
  });
  for (const byte of encoder.encode(text)) {
    h1 = h2 ^ Math.imul(h1 ^ byte, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ byte, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ byte, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ byte, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  return [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
}

// sfc32: a small, fast generator with a 128-bit state; returns floats in [0, 1) with 32 random bits.
function sfc32([a, b, c, d]) {
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next(); // mix the seed in
  return next;
}

/** A generator of numbers in [0, 1) for one sentence: seeded by (seed, text), or random without a seed. */
export function sentenceRandom(seed, text) {
  if (seed === null || seed === undefined) {
    const words = new Uint32Array(4);
    globalThis.crypto.getRandomValues(words);
    return sfc32([...words]);
  }
  return sfc32(hashWords(seed, text));
}
