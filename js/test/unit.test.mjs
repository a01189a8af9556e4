// The library without a model: the input policy, the manifest's checks, decoding options, and the
// decoding loops over a toy step model (deterministic pseudo-random logits).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  BundleError,
  DecodingOptionError,
  FAMILIES,
  FORMAT_VERSION,
  InputTooLongError,
  MAX_GOLDEN_BYTES,
  NoGoldenError,
  READ_VERSIONS,
  SelfCheck,
  Translator,
  UnknownCharacterError,
  Vocabulary,
  beamDecode,
  greedyDecode,
  logSoftmaxRow,
  parseGolden,
  parseManifest,
  prepareSource,
  PLAIN_FORM,
} from '../src/core.js';
import { parseGoldenBytes } from '../src/golden.js';
import { decodingMode } from '../src/core.js';
import { toyManifestFields } from './toy-manifest.mjs';

const vocab = Vocabulary.fromString(' .abcé😀');

describe('input policy', () => {
  test('unknown characters raise, naming each once, or are skipped', () => {
    assert.throws(() => prepareSource('ab#c#x', vocab, 20), (err) => {
      assert.ok(err instanceof UnknownCharacterError);
      assert.deepEqual(err.characters, ['#', 'x']);
      assert.match(err.message, /"#", "x"/);
      assert.match(err.message, /onUnknown/);
      return true;
    });
    assert.equal(prepareSource('ab#c#x', vocab, 20, 'skip'), 'abc');
  });

  test('too long raises or is cut, counting code points as Python does', () => {
    assert.equal(prepareSource('😀😀😀', vocab, 3), '😀😀😀'); // 6 UTF-16 units, 3 characters
    assert.throws(() => prepareSource('abcab', vocab, 4), InputTooLongError);
    assert.equal(prepareSource('abc😀a', vocab, 4, 'error', 'truncate'), 'abc😀');
    assert.equal(prepareSource('a#bc#a', vocab, 3, 'skip', 'truncate'), 'abc');
  });

  test('a source form lowercases first, then wraps, and the wrapping counts against the maximum', () => {
    const greek = Vocabulary.fromString('\t\n .abσς');
    const form = { lowercase: true, wrap: true };
    assert.equal(prepareSource('ABΣ. Σa', greek, 9, 'error', 'error', form), '\tabς. σa\n');
    assert.throws(() => prepareSource('ABABABA', greek, 8, 'error', 'error', form), /maximum of 6/);
    assert.equal(prepareSource('ABABABA', greek, 8, 'error', 'truncate', form), '\tababab\n');
    assert.equal(prepareSource('', greek, 8, 'error', 'error', form), '\t\n');
    assert.equal(prepareSource('ab', greek, 8, 'error', 'error', PLAIN_FORM), 'ab');
    assert.throws(() => prepareSource('AB', greek, 8), UnknownCharacterError);
  });

  test('empty is empty, non-strings are TypeErrors, bad policies are refused', () => {
    assert.equal(prepareSource('', vocab, 3), '');
    assert.equal(prepareSource('##', vocab, 3, 'skip'), '');
    for (const bad of [null, undefined, 3, ['a'], { a: 1 }]) assert.throws(() => prepareSource(bad, vocab, 3), TypeError);
    assert.throws(() => prepareSource('a', vocab, 3, 'drop'), /onUnknown must be one of error, skip/);
    assert.throws(() => prepareSource('a', vocab, 3, 'error', 'cut'), /onOverflow must be one of error, truncate/);
  });

  test('encode pads on the right with the space', () => {
    assert.deepEqual([...vocab.encode(['ab', 'é'], 3)], [2, 3, 0, 5, 0, 0]);
    assert.equal(vocab.decode([2, 3, 6]), 'ab😀');
  });

  test('zero padding pads with the id past the alphabet, and needs no space', () => {
    const zero = Vocabulary.fromString('.abcé😀', 'zero');
    assert.equal(zero.padId, 6);
    assert.deepEqual([...zero.encode(['ab', 'é'], 3)], [1, 2, 6, 4, 6, 6]);
    assert.throws(() => Vocabulary.fromString('abc').encode(['a'], 2), /needs the space/);
    assert.throws(() => Vocabulary.fromString('abc', 'ones'), /padding must be one of space, zero/);
  });
});

function manifestJson(overrides = {}) {
  return {
    ...toyManifestFields(),
    io: {
      encoder: { inputs: ['source_ids'], outputs: ['state_h', 'state_c'] },
      decoder_step: { inputs: ['token_ids', 'state_h', 'state_c'], outputs: ['logits', 'next_state_h', 'next_state_c'] },
    },
    artifacts: [
      { backend: 'onnx', precision: 'float32', role: 'encoder', file: 'e.onnx', sha256: 'ab', size: 1, batch_invariant: true },
      { backend: 'onnx', precision: 'float32', role: 'decoder_step', file: 'd.onnx', sha256: 'cd', size: 1 },
    ],
    ...overrides,
  };
}

describe('manifest', () => {
  test('a good manifest parses', () => {
    const m = parseManifest(manifestJson());
    assert.equal(m.maxSourceLength, 5);
    assert.equal(m.targetVocab.size, 6);
    assert.equal(m.artifacts[1].batchInvariant, true);
    assert.equal(m.sourceVocab.padding, 'space');
  });

  test('version 2: pad_token null is zero padding, and the vocabularies need no space', () => {
    const m = parseManifest(manifestJson({ format_version: 2, pad_token: null, source_vocab: 'abc', target_vocab: '\t\nabc' }));
    assert.equal(m.sourceVocab.padding, 'zero');
    assert.equal(m.targetVocab.padding, 'zero');
    assert.deepEqual([...m.sourceVocab.encode(['ab'], 4)], [0, 1, 3, 3]);
    assert.equal(parseManifest(manifestJson({ format_version: 2 })).sourceVocab.padding, 'space');
  });

  test('version 3: the attention family, its graph I/O and a state that carries the memory', () => {
    const io = FAMILIES.attention.io;
    const m = parseManifest(manifestJson({ format_version: 3, family: 'attention', io }));
    assert.equal(m.family.name, 'attention');
    assert.deepEqual(m.family.context, ['memory_keys', 'memory_values', 'memory_mask']);
    assert.deepEqual(io.decoder_step.inputs, ['token_ids', 'state_h', 'state_c', 'memory_keys', 'memory_values', 'memory_mask']);
    assert.deepEqual(io.decoder_step.outputs, ['logits', 'next_state_h', 'next_state_c']);
    assert.equal(parseManifest(manifestJson()).family.name, 'seed');
    // A version-3 seed manifest is the seed's; the attention I/O in a version-2 one is refused.
    assert.equal(parseManifest(manifestJson({ format_version: 3, family: 'seed' })).family, FAMILIES.seed);
    assert.throws(() => parseManifest(manifestJson({ format_version: 2, io })), /graph inputs\/outputs/);
  });

  const bad = {
    'not a manifest': [{ format: 'other' }, /not an s2s-edge bundle manifest/],
    'version 3 without a family': [manifestJson({ format_version: 3 }), /malformed: format_version 3 needs a family name/],
    'a family that is not a string': [manifestJson({ format_version: 3, family: ['attention'] }), /needs a family name/],
    'unknown version': [manifestJson({ format_version: 6 }), /format_version 6; this runtime reads versions 1, 2, 3, 4, 5:/],
    'unknown family': [manifestJson({ format_version: 3, family: 'transformer' }), /family "transformer"; this runtime knows seed, attention/],
    'zero padding in version 1': [manifestJson({ pad_token: null }), /special tokens/],
    'a space-padded source without the space': [manifestJson({ source_vocab: 'abc' }), /source vocabulary lacks the padding/],
    'left padding': [manifestJson({ padding: 'left' }), /pads on the "left" side/],
    'other special tokens': [manifestJson({ end_token: '$' }), /special tokens/],
    'a file outside the bundle': [
      manifestJson({ artifacts: [{ backend: 'onnx', precision: 'float32', role: 'encoder', file: '../x', sha256: 'ab', size: 1 }] }),
      /names a file outside the bundle: "\.\.\/x"/,
    ],
    'a drive or scheme': [
      manifestJson({ artifacts: [{ backend: 'onnx', precision: 'float32', role: 'encoder', file: 'http:evil.test', sha256: 'ab', size: 1 }] }),
      /outside the bundle/,
    ],
    'an absolute file': [
      manifestJson({ artifacts: [{ backend: 'onnx', precision: 'float32', role: 'encoder', file: '/etc/passwd', sha256: 'ab', size: 1 }] }),
      /outside the bundle/,
    ],
    'a length that is not a number': [manifestJson({ max_source_length: '5' }), /max_source_length must be an integer/],
    'a repeated character': [manifestJson({ source_vocab: ' aa' }), /malformed: a vocabulary must not repeat/],
    'a target vocabulary without END': [manifestJson({ target_vocab: '\t ab' }), /target vocabulary lacks "\\n"/],
    'unknown graph I/O': [manifestJson({ io: { encoder: { inputs: ['x'], outputs: [] } } }), /graph inputs\/outputs/],
    'an artifact with an unknown field': [
      manifestJson({ artifacts: [{ backend: 'onnx', precision: 'float32', role: 'encoder', file: 'e', sha256: 'ab', size: 1, extra: 1 }] }),
      /unknown fields extra/,
    ],
  };
  for (const [name, [data, message]] of Object.entries(bad)) {
    test(`refuses ${name}`, () => assert.throws(() => parseManifest(data), (err) => err instanceof BundleError && message.test(err.message)));
  }
});

describe('decoding options', () => {
  test('modes', () => {
    assert.equal(decodingMode({}), 'greedy');
    assert.equal(decodingMode({ beamSize: 3, numHypotheses: 2 }), 'beam');
    assert.equal(decodingMode({ topK: 0, temperature: 0.5, seed: 1 }), 'sampling');
  });
  const bad = [
    [{ beamSize: 0 }, DecodingOptionError],
    [{ numHypotheses: 2 }, /raise beamSize/],
    [{ beamSize: 2, topK: 3 }, /do not combine/],
    [{ temperature: 0.5 }, /sampling only/],
    [{ topK: 0, temperature: 0 }, /temperature must be a positive finite number/],
    [{ seed: -1 }, /seed must be/],
    [{ lengthPenalty: -1 }, /lengthPenalty/],
    [{ beamSize: 1.5 }, TypeError],
    [{ beam_size: 2 }, /unknown decoding options: beam_size/],
  ];
  for (const [options, expected] of bad) test(`refuses ${JSON.stringify(options)}`, () => assert.throws(() => decodingMode(options), expected));
});

// A toy step model: the state counts steps, logits depend on (source, previous token, step); a
// per-row context ("memory", like the attention family's) that the step reads and never changes, and
// that its `family` names as context, as the backends' do.
class ToyModel {
  constructor(vocab = 6, latent = 3, end = 1) {
    Object.assign(this, { vocab, latent, end, calls: 0, family: { state: ['h', 'c'], context: ['memory'] } });
  }

  async encode(ids, batch, time) {
    const h = new Float32Array(batch * this.latent);
    for (let b = 0; b < batch; b++) {
      let sum = 0;
      for (let t = 0; t < time; t++) sum = (sum * 31 + ids[b * time + t]) % 1000003;
      h[b * this.latent] = sum;
    }
    const memory = Float32Array.from({ length: batch * 2 }, (_, i) => (h[Math.floor(i / 2) * this.latent] % 7) + (i % 2));
    return {
      h: { data: h, dims: [batch, this.latent] },
      c: { data: new Float32Array(batch * this.latent), dims: [batch, this.latent] },
      memory: { data: memory, dims: [batch, 2, 1] },
    };
  }

  async step(tokens, state) {
    this.calls += 1;
    const h = state.h.data;
    const c = state.c.data;
    const memory = state.memory.data;
    const batch = tokens.length;
    const logits = new Float32Array(batch * this.vocab);
    const h2 = Float32Array.from(h);
    const c2 = Float32Array.from(c);
    for (let b = 0; b < batch; b++) {
      const step = c[b * this.latent];
      c2[b * this.latent] = step + 1;
      h2[b * this.latent + 1] = tokens[b];
      for (let j = 0; j < this.vocab; j++) {
        const context = memory[2 * b] * 0.5 + memory[2 * b + 1];
        let x = Math.sin(h[b * this.latent] * 12.9898 + tokens[b] * 78.233 + step * 37.719 + j * 4.1414 + context) * 43758.5453;
        x -= Math.floor(x);
        logits[b * this.vocab + j] = 3 * x + (j === this.end ? step * 0.35 - 1 : 0);
      }
    }
    const dims = [batch, this.latent];
    return { logits, state: { ...state, h: { data: h2, dims }, c: { data: c2, dims } } };
  }
}

function toyTranslator(options) {
  const manifest = parseManifest(manifestJson({ max_target_length: 9 }));
  return new Translator(manifest, new ToyModel(), options);
}

describe('decoding loops', () => {
  const time = 4;
  const sources = [[2, 3, 0, 0], [3, 3, 2, 0], [2, 0, 0, 0], [4, 2, 3, 2], [3, 0, 0, 0]];
  const ids = Int32Array.from(sources.flat());
  const batch = sources.length;

  test('greedy: per-row stop, batch-independent, scores are sums of log-probabilities', async () => {
    const all = await greedyDecode(new ToyModel(), ids, batch, time, 0, 1, 9, { withScores: true });
    for (let b = 0; b < batch; b++) {
      const [one] = await greedyDecode(new ToyModel(), ids.subarray(b * time, (b + 1) * time), 1, time, 0, 1, 9, { withScores: true });
      assert.deepEqual(one, all[b]);
    }
    assert.ok(all.some((d) => d.finished) && all.every((d) => d.score < 0));
  });

  test('beam of 1 is greedy; beam hypotheses are ranked, unique and no worse than greedy', async () => {
    // Ranked by plain score (length penalty 0), as greedy is; with a length penalty a beam of 1 may
    // keep going past an END that greedy stops at.
    // Beam search never emits START (id 0), which greedy, the Keras loop's argmax, may: a beam of 1 is
    // greedy among the other ids.
    const argmaxButStart = (scores, vocab, rows) => Int32Array.from(rows, (_, i) => {
      let best = 1;
      for (let j = 2; j < vocab; j++) if (scores[i * vocab + j] > scores[i * vocab + best]) best = j;
      return best;
    });
    const noStart = await greedyDecode(new ToyModel(), ids, batch, time, 0, 1, 9, { withScores: true, choose: argmaxButStart });
    const beam1 = await beamDecode(new ToyModel(), ids, batch, time, 0, 1, 9, 1, 1, 0);
    assert.deepEqual(beam1.map(([d]) => d.ids), noStart.map((d) => d.ids));
    for (let i = 0; i < batch; i++) assert.ok(Math.abs(beam1[i][0].score - noStart[i].score) < 1e-9);
    for (const [d] of beam1) assert.ok(!d.ids.includes(0));
    const beam = await beamDecode(new ToyModel(), ids, batch, time, 0, 1, 9, 4, 3);
    beam.forEach((hyps, i) => {
      assert.equal(hyps.length, 3);
      const ranks = hyps.map((d) => d.score / (d.ids.length + (d.finished ? 1 : 0)));
      assert.deepEqual([...ranks].sort((a, b) => b - a), ranks);
      assert.equal(new Set(hyps.map((d) => d.ids.join())).size, 3);
      const g = noStart[i];
      assert.ok(ranks[0] >= g.score / (g.ids.length + (g.finished ? 1 : 0)) - 1e-12);
    });
  });

  test('beam search moves the context only when a sentence leaves, with the same hypotheses', async () => {
    const recording = (family) => {
      const model = new ToyModel();
      model.family = family;
      const step = model.step.bind(model);
      model.seen = [];
      model.step = (tokens, state) => {
        model.seen.push(state.memory);
        return step(tokens, state);
      };
      return model;
    };
    const inPlace = recording(new ToyModel().family);
    const kept = await beamDecode(inPlace, ids, batch, time, 0, 1, 9, 3, 2);
    const moves = inPlace.seen.slice(1).filter((m, i) => m !== inPlace.seen[i]).length;
    // The first expansion, then at most once for each sentence that stops.
    assert.ok(moves >= 1 && moves <= 1 + batch && moves < inPlace.seen.length - 1, `${moves} moves`);
    const everyStep = recording({ state: ['h', 'c', 'memory'], context: [] });
    assert.deepEqual(await beamDecode(everyStep, ids, batch, time, 0, 1, 9, 3, 2), kept);
    assert.ok(everyStep.seen.slice(1).every((m, i) => m !== everyStep.seen[i]));
  });

  test('a beam hypothesis scores the sum of its tokens log-probabilities', async () => {
    const [hyps] = await beamDecode(new ToyModel(), ids.subarray(0, time), 1, time, 0, 1, 9, 3, 3);
    for (const d of hyps) {
      const model = new ToyModel();
      let state = await model.encode(ids.subarray(0, time), 1, time);
      let token = 0;
      let score = 0;
      for (const next of [...d.ids, ...(d.finished ? [1] : [])]) {
        const out = await model.step(Int32Array.of(token), state);
        score += logSoftmaxRow(out.logits, 0, 6)[next];
        ({ state } = out);
        token = next;
      }
      assert.ok(Math.abs(score - d.score) < 1e-9);
    }
  });

  test('Translator: sampling is reproducible with a seed, independent of batching; topK 1 is greedy', async () => {
    const texts = ['ab', 'cab', 'b', 'abca', 'c', ''];
    const t = toyTranslator();
    const a = await t.translate(texts, { topK: 0, seed: 7 });
    assert.deepEqual(await toyTranslator({ maxBatchSize: 1 }).translate(texts, { topK: 0, seed: 7 }), a);
    assert.deepEqual(await t.translate(texts.slice().reverse(), { topK: 0, seed: 7 }), a.slice().reverse());
    const others = await Promise.all([1, 2, 3, 4].map((seed) => t.translate(texts, { topK: 0, seed })));
    assert.ok(others.some((o) => JSON.stringify(o) !== JSON.stringify(a)), 'different seeds give different samples');
    assert.deepEqual(await t.translate(texts, { topK: 1 }), await t.translate(texts));
    assert.equal(a[5], '');
  });

  test('Translator: streaming joined equals greedy and sampling; options are checked at once', async () => {
    const t = toyTranslator();
    for (const options of [{}, { topK: 3, seed: 5, temperature: 0.7 }]) {
      for (const text of ['ab', 'cab', 'abca']) {
        let joined = '';
        for await (const char of t.translateStream(text, options)) joined += char;
        assert.equal(joined, await t.translate(text, options));
      }
    }
    assert.throws(() => t.translateStream('ab', { beamSize: 2 }), DecodingOptionError);
    assert.throws(() => t.translateStream('a#'), UnknownCharacterError);
    assert.throws(() => t.translateStream(5), TypeError);
    await assert.rejects(t.translate(5), TypeError);
    await assert.rejects(t.translate(['ab', null]), TypeError);
  });
});

test('manifest languages: optional, checked when present', () => {
  assert.equal(parseManifest(manifestJson()).languages, null);
  assert.deepEqual({ ...parseManifest(manifestJson({ languages: { source: 'en', target: 'fr' } })).languages }, { source: 'en', target: 'fr' });
  assert.throws(() => parseManifest(manifestJson({ languages: { source: 'en' } })), /languages must be/);
});

test('cutAtEnd reads a greedy graph\'s rows', async () => {
  const { cutAtEnd } = await import('../src/core.js');
  const ids = Int32Array.from([5, 6, 1, 7, 1, 5, 5, 5, 5, 5, 1, 9, 9, 9, 9]);
  const rows = cutAtEnd({ ids, steps: 5 }, 3, 1, 4);
  assert.deepEqual(rows.map((d) => [d.ids, d.finished]), [[[5, 6], true], [[5, 5, 5, 5], false], [[], true]]);
});

test('FetchSource asks for plain names inside the bundle URL, encoded', async () => {
  const { FetchSource } = await import('../src/fetch-source.js');
  const asked = [];
  const fetch = async (url) => {
    asked.push(String(url));
    return { ok: true, status: 200, arrayBuffer: async () => new ArrayBuffer(0) };
  };
  const source = new FetchSource('http://example.test/models/b', { fetch });
  const artifact = { file: 'a#b?c%d e', size: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' };
  assert.deepEqual(await source.artifact(artifact), new Uint8Array(0));
  assert.deepEqual(asked, ['http://example.test/models/b/a%23b%3Fc%25d%20e']);
  await assert.rejects(source.artifact({ ...artifact, sha256: artifact.sha256.toUpperCase() }), /does not match its sha256/);
  await assert.rejects(source.artifact({ ...artifact, file: '../x' }), /outside the bundle/);
});

// --- golden translations (docs/bundle.md#golden-translations) ---------------------------------------

const GOLDEN_REF = { file: 'golden.json', sha256: 'ef', size: 10 };

/** A version 4 manifest with golden translations; onnx/float32 and onnx/int8 complete, tflite/int8 not. */
function goldenManifestJson(golden = GOLDEN_REF, overrides = {}) {
  const base = manifestJson();
  return {
    ...base,
    format_version: 4,
    family: 'seed',
    artifacts: [
      ...base.artifacts,
      { backend: 'onnx', precision: 'int8', role: 'encoder', file: 'e8.onnx', sha256: 'ab', size: 1 },
      { backend: 'onnx', precision: 'int8', role: 'decoder_step', file: 'd8.onnx', sha256: 'cd', size: 1 },
      { backend: 'tflite', precision: 'int8', role: 'encoder', file: 'e8.tflite', sha256: 'ab', size: 1 },
    ],
    golden,
    ...overrides,
  };
}

function goldenEntry(backend = 'onnx', precision = 'float32', overrides = {}) {
  return {
    backend,
    precision,
    sources: ['ab', 'cab'],
    keras: ['ba', 'bac'],
    decodes: [{ kernels: 'default', engine: 'onnxruntime', engine_version: '1.31.1', machine: 'x86_64', outputs: ['ba', 'bac'] }],
    ...overrides,
  };
}

function goldenJson(artifacts = [goldenEntry(), goldenEntry('onnx', 'int8')], overrides = {}) {
  return { format: 's2s-edge-golden', format_version: 1, artifacts, ...overrides };
}

describe('golden translations: the manifest\'s golden field', () => {
  test('version 4 is read and written; golden is null without the field', () => {
    assert.equal(FORMAT_VERSION, 5);
    assert.deepEqual([...READ_VERSIONS], [1, 2, 3, 4, 5]);
    assert.equal(MAX_GOLDEN_BYTES, 16777216);
    assert.deepEqual({ ...parseManifest(goldenManifestJson()).golden }, GOLDEN_REF);
    assert.equal(parseManifest(manifestJson()).golden, null);
    const without = goldenManifestJson();
    delete without.golden;
    assert.equal(parseManifest(without).golden, null);
    assert.equal(parseManifest(goldenManifestJson({ ...GOLDEN_REF, size: MAX_GOLDEN_BYTES })).golden.size, MAX_GOLDEN_BYTES);
    assert.equal(parseManifest(goldenManifestJson({ ...GOLDEN_REF, size: 0 })).golden.size, 0);
  });

  const m = 'manifest.json is malformed:';
  const bad = {
    'golden in version 3': [goldenManifestJson(GOLDEN_REF, { format_version: 3 }), `${m} golden needs format_version 4, got 3`],
    'golden in version 1': [goldenManifestJson(GOLDEN_REF, { format_version: 1 }), `${m} golden needs format_version 4, got 1`],
    'golden null in version 1': [{ ...manifestJson(), golden: null }, `${m} golden needs format_version 4, got 1`],
    'version 4 without a family': [goldenManifestJson(GOLDEN_REF, { family: undefined }), `${m} format_version 4 needs a family name, got null`],
    'golden null': [goldenManifestJson(null), `${m} golden must be an object with file, sha256 and size, got null`],
    'golden a list': [goldenManifestJson([]), `${m} golden must be an object with file, sha256 and size, got []`],
    'golden without a size': [goldenManifestJson({ file: 'g', sha256: 'ab' }), `${m} golden must be an object with file, sha256 and size, got {"file":"g","sha256":"ab"}`],
    'golden with another key': [goldenManifestJson({ ...GOLDEN_REF, role: 'x' }), `${m} golden must be an object with file, sha256 and size, got {`],
    'golden outside the bundle': [goldenManifestJson({ ...GOLDEN_REF, file: '../g.json' }), 'manifest.json names a file outside the bundle: "../g.json"'],
    'golden named ""': [goldenManifestJson({ ...GOLDEN_REF, file: '' }), 'manifest.json names a file outside the bundle: ""'],
    'golden file not a string': [goldenManifestJson({ ...GOLDEN_REF, file: 5 }), 'manifest.json names a file outside the bundle: 5'],
    'golden sha256 not a string': [goldenManifestJson({ ...GOLDEN_REF, sha256: null }), `${m} golden sha256 must be a string, got null`],
    'golden size too large': [goldenManifestJson({ ...GOLDEN_REF, size: MAX_GOLDEN_BYTES + 1 }), `${m} golden size must be an integer from 0 to 16777216, got 16777217`],
    'golden size negative': [goldenManifestJson({ ...GOLDEN_REF, size: -1 }), `${m} golden size must be an integer from 0 to 16777216, got -1`],
    'golden size a string': [goldenManifestJson({ ...GOLDEN_REF, size: '10' }), `${m} golden size must be an integer from 0 to 16777216, got "10"`],
    'golden size 1.5': [goldenManifestJson({ ...GOLDEN_REF, size: 1.5 }), `${m} golden size must be an integer from 0 to 16777216, got 1.5`],
    'golden named manifest.json': [goldenManifestJson({ ...GOLDEN_REF, file: 'manifest.json' }), `${m} golden names "manifest.json", which is the manifest or a model file`],
    'golden named as a model file': [goldenManifestJson({ ...GOLDEN_REF, file: 'd8.onnx' }), `${m} golden names "d8.onnx", which is the manifest or a model file`],
  };
  for (const [name, [data, message]] of Object.entries(bad)) {
    test(`refuses ${name}`, () => assert.throws(() => parseManifest(data), (err) => {
      assert.ok(err instanceof BundleError, String(err));
      assert.ok(err.message.startsWith(message), err.message);
      return true;
    }));
  }
});

describe('golden translations: the golden file', () => {
  const manifest = parseManifest(goldenManifestJson());
  const g = '/b/golden.json';
  const parse = (data) => parseGolden(data, manifest, g);

  test('a good golden file parses; unknown keys are ignored at every level; machine is optional', () => {
    const data = goldenJson([
      goldenEntry('onnx', 'float32', { note: 1 }),
      goldenEntry('onnx', 'int8', {
        decodes: [
          { kernels: 'default', engine: 'onnxruntime', engine_version: '1.31.1', outputs: ['x', 'y'], extra: [1] },
          { kernels: 'builtin', engine: 'e', engine_version: '0', machine: 'arm64', outputs: ['x', 'z'] },
        ],
      }),
    ], { later: { a: 1 } });
    const golden = parse(data);
    assert.deepEqual(golden.artifacts.map((e) => `${e.backend}/${e.precision}`), ['onnx/float32', 'onnx/int8']);
    assert.deepEqual([...golden.artifacts[0].sources], ['ab', 'cab']);
    assert.deepEqual([...golden.artifacts[0].keras], ['ba', 'bac']);
    assert.deepEqual({ ...golden.artifacts[0].decodes[0], outputs: [...golden.artifacts[0].decodes[0].outputs] },
      { kernels: 'default', engine: 'onnxruntime', engineVersion: '1.31.1', machine: 'x86_64', outputs: ['ba', 'bac'] });
    assert.equal(golden.artifacts[1].decodes[0].machine, null);
    assert.equal(golden.artifacts[1].decodes[1].kernels, 'builtin');
    assert.ok(Object.isFrozen(golden.artifacts[0].sources));
  });

  const entry = (overrides) => goldenJson([goldenEntry('onnx', 'float32', overrides)]);
  const decode = (overrides) => entry({ decodes: [{ kernels: 'default', engine: 'onnxruntime', engine_version: '1', outputs: ['ba', 'bac'], ...overrides }] });
  const malformed = `${g} is malformed:`;
  const decodeMessage = `${malformed} onnx/float32's decodes[0] must be an object with kernels, engine, engine_version (and machine): 1 to 64 printable ASCII characters each; and outputs`;
  const bad = {
    'not an object': [[goldenJson()], `${g} is not an s2s-edge golden file`],
    'another format': [goldenJson(undefined, { format: 's2s-edge-bundle' }), `${g} is not an s2s-edge golden file`],
    'no format': [goldenJson(undefined, { format: undefined }), `${g} is not an s2s-edge golden file`],
    'version 2': [goldenJson(undefined, { format_version: 2 }), `${g} has format_version 2; this runtime reads version 1: upgrade s2s-edge`],
    'version "1"': [goldenJson(undefined, { format_version: '1' }), `${g} has format_version "1"; this runtime reads version 1: upgrade s2s-edge`],
    'version true': [goldenJson(undefined, { format_version: true }), `${g} has format_version true; this runtime reads version 1: upgrade s2s-edge`],
    'no version': [goldenJson(undefined, { format_version: undefined }), `${g} has format_version null; this runtime reads version 1: upgrade s2s-edge`],
    'no artifacts': [goldenJson([]), `${malformed} artifacts must be a non-empty list`],
    'a source outside the vocabulary': [goldenJson([goldenEntry('onnx', 'float32', { sources: ['ab', 'a#b'] })]),
      `${malformed} onnx/float32's sources[1] is not a sentence this model reads (a character outside source_vocab, or longer than max_source_length)`],
    'too many sources': [goldenJson([goldenEntry('onnx', 'float32', { sources: Array(1001).fill('ab'), keras: Array(1001).fill('') })]),
      `${malformed} onnx/float32 has 1001 sources; at most 1000`],
    'a kernel name with a newline': [goldenJson([goldenEntry('onnx', 'float32', { decodes: [{ kernels: 'a\nb', engine: 'e', engine_version: '1', outputs: ['ba', 'bac'] }] })]),
      `${malformed} onnx/float32's decodes[0] must be an object with kernels, engine, engine_version (and machine): 1 to 64 printable ASCII characters each; and outputs`],
    'artifacts an object': [goldenJson({ a: 1 }), `${malformed} artifacts must be a non-empty list`],
    'an entry that is not an object': [goldenJson([goldenEntry(), 'onnx/int8']), `${malformed} an entry of artifacts is not an object`],
    'an empty backend': [goldenJson([goldenEntry('')]), `${malformed} an entry's backend and precision must be non-empty strings`],
    'a precision that is not a string': [goldenJson([goldenEntry('onnx', 8)]), `${malformed} an entry's backend and precision must be non-empty strings`],
    'an artifact the bundle lacks': [goldenJson([goldenEntry('onnx', 'int4')]), `${g} holds golden translations for onnx/int4, which the bundle does not hold`],
    'an artifact the bundle holds in part': [goldenJson([goldenEntry('tflite', 'int8')]), `${g} holds golden translations for tflite/int8, which the bundle does not hold`],
    'an artifact twice': [goldenJson([goldenEntry(), goldenEntry('onnx', 'int8'), goldenEntry()]), `${malformed} onnx/float32 appears twice`],
    'no sources': [entry({ sources: [] }), `${malformed} onnx/float32's sources must be a non-empty list of strings`],
    'sources not strings': [entry({ sources: ['ab', 1] }), `${malformed} onnx/float32's sources must be a non-empty list of strings`],
    'sources a string': [entry({ sources: 'ab' }), `${malformed} onnx/float32's sources must be a non-empty list of strings`],
    'keras missing': [entry({ keras: undefined }), `${malformed} onnx/float32's keras must be a list of strings, one per source`],
    'keras one short': [entry({ keras: ['ba'] }), `${malformed} onnx/float32's keras must be a list of strings, one per source`],
    'keras not strings': [entry({ keras: ['ba', null] }), `${malformed} onnx/float32's keras must be a list of strings, one per source`],
    'no decodes': [entry({ decodes: [] }), `${malformed} onnx/float32's decodes must be a non-empty list`],
    'decodes an object': [entry({ decodes: {} }), `${malformed} onnx/float32's decodes must be a non-empty list`],
    'a decode that is not an object': [entry({ decodes: ['default'] }), decodeMessage],
    'empty kernels': [decode({ kernels: '' }), decodeMessage],
    'no engine': [decode({ engine: undefined }), decodeMessage],
    'engine_version a number': [decode({ engine_version: 1.31 }), decodeMessage],
    'machine null': [decode({ machine: null }), decodeMessage],
    'outputs missing': [decode({ outputs: undefined }), `${malformed} onnx/float32's decodes[0] outputs must be a list of strings, one per source`],
    'outputs one long': [decode({ outputs: ['ba', 'bac', 'x'] }), `${malformed} onnx/float32's decodes[0] outputs must be a list of strings, one per source`],
    'a kernel set twice': [
      entry({ decodes: [1, 2].map(() => ({ kernels: 'default', engine: 'e', engine_version: '1', outputs: ['a', 'b'] })) }),
      `${malformed} onnx/float32 has two decodes on the default kernels`,
    ],
  };
  for (const [name, [data, message]] of Object.entries(bad)) {
    test(`refuses ${name}`, () => assert.throws(() => parse(data), (err) => {
      assert.ok(err instanceof BundleError, String(err));
      assert.equal(err.message, message);
      return true;
    }));
  }

  test('the bytes are read as a manifest\'s are, the nesting message naming a golden file', () => {
    const bytes = (text) => new TextEncoder().encode(text);
    assert.deepEqual(parseGoldenBytes(bytes('{"a": [1]}'), g), { a: [1] });
    assert.throws(() => parseGoldenBytes(bytes(`${'['.repeat(33)}${']'.repeat(33)}`), g), { message: `${g} is nested deeper than 32 levels (33): not a golden file` });
    assert.throws(() => parseGoldenBytes(Uint8Array.of(0x7b, 0xff, 0x7d), g), { message: `${g} is not valid UTF-8` });
    assert.throws(() => parseGoldenBytes(bytes('\ufeff{}'), g), (err) => err instanceof BundleError && err.message.startsWith(`${g} is not valid JSON`));
    assert.throws(() => parseGoldenBytes(bytes('{"a": NaN}'), g), (err) => err instanceof BundleError && err.message.startsWith(`${g} is not valid JSON`));
  });
});

describe('golden translations: selfCheck', () => {
  /** A toy Translator of `precision` whose golden translations record what it decodes (`edit` changes them first). */
  async function checked(precision = 'float32', edit = (data) => data) {
    const manifest = parseManifest(goldenManifestJson());
    const t = new Translator(manifest, new ToyModel());
    t.backend = 'onnx';
    t.precision = precision;
    t.engine = 'onnxruntime-test 0.0.1';
    const sources = ['ab', 'cab', 'b', 'abca', 'c'];
    const outputs = await t.translate(sources);
    const entry = (p) => goldenEntry('onnx', p, {
      sources, keras: outputs, decodes: [{ kernels: 'default', engine: 'onnxruntime', engine_version: '1.31.1', machine: 'x86_64', outputs }],
    });
    t.golden = parseGolden(edit(goldenJson([entry('float32'), entry('int8')])), manifest, 'golden.json');
    return { t, sources, outputs };
  }

  test('all identical: k/N, passed, no first difference, one line', async () => {
    const { t, sources } = await checked();
    const check = await t.selfCheck();
    assert.ok(check instanceof SelfCheck);
    assert.deepEqual(
      { backend: check.backend, precision: check.precision, kernels: check.kernels, engine: check.engine, identical: check.identical, total: check.total, k: check.k, N: check.N, passed: check.passed },
      { backend: 'onnx', precision: 'float32', kernels: 'default', engine: 'onnxruntime-test 0.0.1', identical: sources.length, total: sources.length, k: sources.length, N: sources.length, passed: true },
    );
    assert.equal(check.firstDifference, null);
    assert.deepEqual([...check.differences], []);
    assert.deepEqual({ ...check.recorded }, { engine: 'onnxruntime', engineVersion: '1.31.1', machine: 'x86_64', kernels: 'default' });
    assert.equal(check.summary(), `onnx/float32, default kernels, onnxruntime-test 0.0.1: 5/5 identical to the golden decodes (recorded with onnxruntime 1.31.1 on x86_64)`);
  });

  test('a difference: counted, the first one named, four lines with JSON strings; no machine, no "on"', async () => {
    const { t, outputs } = await checked('int8', (data) => {
      const d = data.artifacts[1].decodes[0];
      d.outputs = [...d.outputs];
      d.outputs[1] = 'l\u00e9 "x"';
      d.outputs[3] = 'y';
      delete d.machine;
      return data;
    });
    const check = await t.selfCheck();
    assert.equal(check.identical, 3);
    assert.equal(check.total, 5);
    assert.equal(check.passed, false);
    assert.deepEqual({ ...check.firstDifference }, { index: 1, source: 'cab', recorded: 'l\u00e9 "x"', got: outputs[1] });
    assert.deepEqual([...check.differences], [1, 3]);
    assert.equal(check.recorded.machine, null);
    assert.deepEqual(check.summary().split('\n'), [
      'onnx/int8, default kernels, onnxruntime-test 0.0.1: 3/5 identical to the golden decodes (recorded with onnxruntime 1.31.1)',
      'first difference, sentence 2 of 5: "cab"',
      '  recorded: "l\u00e9 \\"x\\""',
      `  here:     ${JSON.stringify(outputs[1])}`,
    ]);
  });

  test('the sources are decoded as the export recorded them (stepping, batches of up to 64), whatever the translator\'s own settings', async () => {
    const { t, sources, outputs } = await checked('float32');
    t.maxBatchSize = 1;
    t.onUnknown = 'skip';
    t.onOverflow = 'truncate';
    const calls = [];
    const step = t.model.step.bind(t.model);
    t.model.step = (...args) => {
      calls.push(args);
      return step(...args);
    };
    const check = await t.selfCheck();
    assert.ok(check.passed && check.total === sources.length, check.summary());
    assert.deepEqual(await t.translate(sources), outputs);
    assert.ok(calls.length > 0);
  });

  test('no golden translations, none for this artifact, none for this kernel set: NoGoldenError, a BundleError', async () => {
    const none = new Translator(parseManifest(manifestJson()), new ToyModel());
    await assert.rejects(none.selfCheck(), (err) => {
      assert.ok(err instanceof NoGoldenError && err instanceof BundleError);
      assert.equal(err.name, 'NoGoldenError');
      assert.equal(err.message, 'this bundle has no golden translations (it was exported before format version 4, or with --golden 0): export it again to record them');
      return true;
    });
    const { t: onlyInt8 } = await checked('float32', (data) => ({ ...data, artifacts: data.artifacts.slice(1) }));
    await assert.rejects(onlyInt8.selfCheck(), {
      name: 'NoGoldenError',
      message: 'this bundle\'s golden translations are for onnx/int8; not for onnx/float32: export it again to record them',
    });
    const { t: builtin } = await checked('int8', (data) => {
      data.artifacts[1].decodes = [{ ...data.artifacts[1].decodes[0], kernels: 'builtin' }, { ...data.artifacts[1].decodes[0], kernels: 'xnnpack' }];
      return data;
    });
    await assert.rejects(builtin.selfCheck(), {
      name: 'NoGoldenError',
      message: 'the golden translations of onnx/int8 were recorded on the builtin and xnnpack kernels, not on the default kernels',
    });
    await builtin.release();
    await assert.rejects(builtin.selfCheck(), /released/);
  });
});
