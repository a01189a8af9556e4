// The engine-independent part of the runtime: a Translator over a bundle source and an onnxruntime
// binding. `node.js` and `browser.js` bind it to onnxruntime-node / the file system and to
// onnxruntime-web / fetch; anything else (a worker, React Native) can do the same with `Translator.create`.

import { OnnxStepModel } from './backends/onnx.js';
import { beamDecode, cutAtEnd, greedyDecode, samplingChooser, streamDecode } from './decoding.js';
import { BackendUnavailableError, BundleError, DecodingOptionError, S2SError } from './errors.js';
import { GOLDEN_BATCH, KERNELS, SelfCheck, engineName, goldenEntry, readGolden } from './golden.js';
import { checkGraph, completeModels, selectArtifacts } from './manifest.js';
import { sentenceRandom } from './random.js';
import { END, ON_OVERFLOW, ON_UNKNOWN, START, checkChoice, prepareSource } from './vocab.js';

export * from './errors.js';
export {
  FAMILIES, FORMAT, FORMAT_VERSION, GRAPH_IO, MANIFEST, MAX_GOLDEN_BYTES, READ_VERSIONS, completeModels, parseManifest, selectArtifacts,
} from './manifest.js';
export { GOLDEN_FORMAT, GOLDEN_VERSION, KERNELS, SelfCheck, parseGolden } from './golden.js';
export { END, PAD, PADDINGS, PLAIN_FORM, START, Vocabulary, prepareSource } from './vocab.js';
export { argmaxChooser, beamDecode, cutAtEnd, greedyDecode, logSoftmaxRow, samplingChooser, streamDecode } from './decoding.js';
export { OnnxStepModel } from './backends/onnx.js';

// The one-graph greedy decoder saves a call per character but cannot drop finished rows, which
// stepping does. Measured on a seed-size model (latent 256, 2 cores; docs/performance.md): ahead or
// level at batches 1-16 in Node, Python and onnxruntime-web (WASM); from 32 rows no gain to count on
// in Node and Python, and 9-14% behind in WASM. Larger batches step the decoder, as in Python.
export const GREEDY_LOOP_MAX_BATCH = 16;

/**
 * The text of target ids. A graph whose logits are wider than the target vocabulary is refused at load
 * where its width is known; this catches one that hides it (rather than printing "undefined").
 */
function targetText(manifest, ids) {
  const size = manifest.targetVocab.size;
  for (const id of ids) {
    if (!(id >= 0 && id < size)) {
      throw new BundleError(`the decoder produced id ${id}, past the ${size} characters of the bundle's target_vocab: the manifest does not belong to these graphs`);
    }
  }
  return manifest.targetVocab.decode(ids);
}

/** The backends this runtime runs, by the manifest's backend name. */
export const BACKENDS = Object.freeze(['onnx']);

const DEFAULTS = Object.freeze({
  beamSize: 1,
  numHypotheses: 1,
  lengthPenalty: 1.0,
  topK: 1,
  temperature: 1.0,
  seed: null,
});
const OPTION_NAMES = new Set([...Object.keys(DEFAULTS), 'onUnknown', 'onOverflow']);

function checkInt(name, value) {
  if (!Number.isInteger(value)) throw new TypeError(`${name} must be an integer, got ${JSON.stringify(value)}`);
}

/** The decoding mode that `options` ask for ("greedy", "beam" or "sampling"), after checking them. */
export function decodingMode(options) {
  const unknown = Object.keys(options).filter((k) => !OPTION_NAMES.has(k));
  if (unknown.length) throw new TypeError(`unknown decoding options: ${unknown.join(', ')} (known: ${[...OPTION_NAMES].join(', ')})`);
  const { beamSize, numHypotheses, lengthPenalty, topK, temperature, seed } = { ...DEFAULTS, ...options };
  for (const [name, value] of [['beamSize', beamSize], ['numHypotheses', numHypotheses], ['topK', topK]]) checkInt(name, value);
  if (beamSize < 1) throw new DecodingOptionError(`beamSize must be at least 1, got ${beamSize}`);
  if (!(numHypotheses >= 1 && numHypotheses <= beamSize)) {
    throw new DecodingOptionError(
      `numHypotheses must be between 1 and beamSize (${beamSize}), got ${numHypotheses}: raise beamSize to get more hypotheses`,
    );
  }
  if (!(typeof lengthPenalty === 'number' && lengthPenalty >= 0 && Number.isFinite(lengthPenalty))) {
    throw new DecodingOptionError(`lengthPenalty must be 0 or positive, got ${lengthPenalty}`);
  }
  if (topK < 0) throw new DecodingOptionError(`topK must be 0 (all characters) or positive, got ${topK}`);
  if (!(typeof temperature === 'number' && temperature > 0 && Number.isFinite(temperature))) {
    throw new DecodingOptionError(`temperature must be a positive finite number, got ${temperature}`);
  }
  if (seed !== null && seed !== undefined && !((Number.isSafeInteger(seed) || typeof seed === 'bigint') && seed >= 0)) {
    const shown = typeof seed === 'number' && Number.isInteger(seed) ? `${seed} (past 2**53: pass a BigInt)` : String(seed);
    throw new DecodingOptionError(`seed must be a non-negative integer (a Number up to 2**53 - 1, or a BigInt) or null, got ${shown}`);
  }
  if (topK !== 1) {
    if (beamSize > 1) throw new DecodingOptionError('sampling (topK != 1) and beam search (beamSize > 1) do not combine: pick one');
    return 'sampling';
  }
  if (temperature !== 1.0) throw new DecodingOptionError('temperature applies to sampling only: set topK too (0 samples from all characters)');
  return beamSize > 1 ? 'beam' : 'greedy';
}

/**
 * @typedef {object} Hypothesis
 * @property {string} text
 * @property {number} score natural-log probability of the output, END included (sum over characters)
 * @property {boolean} finished false when the output was cut at the model's maximum length
 */

/**
 * Translate with an exported bundle. Create one with `Translator.load` (from the package's Node or
 * browser entry) or with `Translator.create` over any bundle source and onnxruntime binding.
 *
 * Input policy (per call, defaults set at load): `onUnknown: "error"` throws an UnknownCharacterError
 * naming the characters outside the vocabulary, `"skip"` drops them; `onOverflow: "error"` throws an
 * InputTooLongError for inputs longer than the encoder's maximum, `"truncate"` cuts them; `""` (also
 * after skipping) translates to `""`; a non-string is a TypeError.
 *
 * Decoding (per call): greedy by default; `beamSize` (with `numHypotheses`, `lengthPenalty`) for beam
 * search; `topK` (0: all characters), `temperature` and `seed` for sampling. The same loops, ranking
 * and stops as the Python runtime, so greedy and beam outputs are the same on the same bundle.
 *
 * `greedyLoop` (load option, default true): when the bundle holds the one-graph greedy decoder of
 * this backend and precision, greedy `translate` runs it on batches of up to GREEDY_LOOP_MAX_BATCH
 * sentences (one onnxruntime call per batch instead of one per character; the same outputs). Scores,
 * beam search, sampling, streaming and larger batches step the decoder.
 *
 * `selfCheck()` decodes the bundle's golden translations (format version 4), read and checked at load
 * (`translator.golden`), and compares them with the decodes the export recorded.
 */
export class Translator {
  /**
   * @param {{describe: () => string, manifest: () => Promise<object>, artifact: (a: object) => Promise<Uint8Array>}} source
   * @param {object} ort an onnxruntime binding (onnxruntime-node, onnxruntime-web)
   * @param {object} [options]
   */
  static async create(source, ort, options = {}) {
    const {
      backend = 'onnx',
      precision = 'float32',
      maxBatchSize = 64,
      onUnknown = 'error',
      onOverflow = 'error',
      sessionOptions = {},
      greedyLoop = true,
    } = options;
    checkInt('maxBatchSize', maxBatchSize);
    if (maxBatchSize < 1) throw new RangeError(`maxBatchSize must be at least 1, got ${maxBatchSize}`);
    checkChoice('onUnknown', onUnknown, ON_UNKNOWN);
    checkChoice('onOverflow', onOverflow, ON_OVERFLOW);
    const manifest = await source.manifest();
    if (!BACKENDS.includes(backend)) {
      const runnable = completeModels(manifest).filter((m) => BACKENDS.includes(m.split('/')[0]));
      throw new BackendUnavailableError(
        `the JavaScript runtime runs ${BACKENDS.join(', ')} artifacts, not ${JSON.stringify(backend)}` +
          ` (this bundle's runnable models: ${runnable.join(', ') || 'none'}; run tflite ones with the Python runtime:` +
          ' LiteRT for the web needs fixed-batch TFLite files, which bundles do not hold)',
      );
    }
    const artifacts = selectArtifacts(manifest, backend, precision);
    // Hashes are checked on the bytes that are then loaded: nothing is read twice.
    const useLoop = Boolean(greedyLoop && artifacts.greedy);
    const [encoder, decoder, greedy] = await Promise.all([
      source.artifact(artifacts.encoder),
      source.artifact(artifacts.decoder_step),
      useLoop ? source.artifact(artifacts.greedy) : null,
    ]);
    // Each graph must fit its role, the family and the manifest's sizes (checked as it loads).
    const check = (role, inputs, outputs) => checkGraph(manifest, role, artifacts[role].file, inputs, outputs);
    const model = await OnnxStepModel.create(ort, encoder, decoder, sessionOptions, greedy, manifest.family, check);
    // Checked as the bundle loads, after its model files and their graphs: a bad golden file refuses the bundle.
    let golden;
    try {
      golden = await readGolden(source, manifest);
    } catch (err) {
      await model.release?.();
      throw err;
    }
    const self = new this(manifest, model, { maxBatchSize, onUnknown, onOverflow });
    self.backend = backend;
    self.precision = precision;
    self.bundle = source.describe();
    self.artifacts = artifacts;
    self.golden = golden;
    self.engine = engineName(ort);
    // A batch-dependent model would make a sentence's translation depend on its batch-mates.
    self.batchInvariant = Object.values(artifacts).every((a) => a.batchInvariant);
    return self;
  }

  /** A Translator over any step model (see decoding.js) and manifest-like description. */
  constructor(manifest, model, { maxBatchSize = 64, onUnknown = 'error', onOverflow = 'error' } = {}) {
    this.manifest = manifest;
    this.model = model;
    this.maxBatchSize = maxBatchSize;
    this.onUnknown = onUnknown;
    this.onOverflow = onOverflow;
    this.batchInvariant = true;
    this.backend = 'custom';
    this.precision = 'float32';
    /** The bundle's golden translations (a Golden of golden.js), or null. */
    this.golden = null;
    /** What runs the graphs here, e.g. "onnxruntime-node 1.30.0". */
    this.engine = 'custom';
  }

  get maxInputLength() {
    return this.manifest.maxSourceLength - (this.manifest.sourceForm.wrap ? 2 : 0);
  }

  /**
   * Translate one string (resolves to a string) or an array of strings (resolves to an array, same order).
   * @param {string | string[]} texts
   */
  async translate(texts, options = {}) {
    if (typeof texts === 'string') return (await this.translateBatch([texts], options))[0];
    if (!Array.isArray(texts)) throw new TypeError(`expected a string or an array of strings, got ${texts === null ? 'null' : typeof texts}`);
    return this.translateBatch(texts, options);
  }

  async translateBatch(texts, options = {}) {
    // Greedy without scores skips a log-softmax per step.
    return (await this.#decode(texts, options, false)).map((hyps) => hyps[0].text);
  }

  /**
   * For each text, its `numHypotheses` best outputs with their scores, best first.
   * @returns {Promise<Hypothesis[][]>}
   */
  async hypotheses(texts, options = {}) {
    return this.#decode(texts, options, true);
  }

  async #decode(texts, options, withScores, { batchSize = this.maxBatchSize, greedyGraph = true } = {}) {
    this.#checkLoaded();
    if (!Array.isArray(texts)) throw new TypeError(`expected an array of strings, got ${texts === null ? 'null' : typeof texts}`);
    const mode = decodingMode(options);
    const { beamSize, numHypotheses, lengthPenalty, topK, temperature, seed } = { ...DEFAULTS, ...options };
    const m = this.manifest;
    const sources = this.#prepare(texts, options);
    const results = sources.map(() => Array.from({ length: numHypotheses }, () => ({ text: '', score: 0, finished: true })));
    // Longest first: batch-mates of similar length finish together, so fewer steps are wasted.
    // (The same order and batches as the Python runtime.)
    const lengths = sources.map((s) => Array.from(s).length);
    const todo = sources.map((_, i) => i).filter((i) => sources[i]);
    todo.sort((a, b) => lengths[b] - lengths[a] || a - b);
    const start = m.targetVocab.id(START);
    const end = m.targetVocab.id(END);
    const size = this.batchInvariant ? batchSize : 1;
    for (let lo = 0; lo < todo.length; lo += size) {
      const chunk = todo.slice(lo, lo + size);
      const chunkSources = chunk.map((i) => sources[i]);
      const ids = m.sourceVocab.encode(chunkSources, m.maxSourceLength);
      let decoded;
      if (mode === 'beam') {
        decoded = await beamDecode(this.model, ids, chunk.length, m.maxSourceLength, start, end, m.maxTargetLength,
          beamSize, numHypotheses, lengthPenalty);
      } else if (mode === 'greedy' && !withScores && greedyGraph && this.model.greedy && chunk.length <= GREEDY_LOOP_MAX_BATCH) {
        // One call per batch instead of one per character; the same ids as stepping.
        decoded = cutAtEnd(await this.model.greedyIds(ids, chunk.length, m.maxSourceLength), chunk.length, end, m.maxTargetLength)
          .map((d) => [d]);
      } else {
        const choose = mode === 'sampling' ? samplingChooser(temperature, topK, chunkSources.map((s) => sentenceRandom(seed, s)), [start]) : undefined;
        decoded = (await greedyDecode(this.model, ids, chunk.length, m.maxSourceLength, start, end, m.maxTargetLength,
          { withScores, ...(choose ? { choose } : {}) })).map((d) => [d]);
      }
      chunk.forEach((i, k) => {
        results[i] = decoded[k].map((d) => ({ text: targetText(m, d.ids), score: d.score, finished: d.finished }));
      });
    }
    return results;
  }

  /**
   * The translation of `text`, one character at a time as it is decoded (greedy, or sampling with
   * `topK`); joined, it equals `translate(text, options)`. Options and input are checked at once.
   * @returns {AsyncGenerator<string>}
   */
  translateStream(text, options = {}) {
    this.#checkLoaded();
    const { beamSize = 1, numHypotheses = 1 } = options;
    if (beamSize !== 1 || numHypotheses !== 1) throw new DecodingOptionError('streaming works with greedy decoding and sampling, not with beam search');
    const mode = decodingMode(options);
    if (typeof text !== 'string') throw new TypeError(`expected a string, got ${text === null ? 'null' : typeof text}`);
    const [source] = this.#prepare([text], options);
    const { topK, temperature, seed } = { ...DEFAULTS, ...options };
    const m = this.manifest;
    const model = this.model;
    return (async function* stream() {
      if (!source) return;
      const ids = m.sourceVocab.encode([source], m.maxSourceLength);
      const choose = mode === 'sampling' ? samplingChooser(temperature, topK, [sentenceRandom(seed, source)], [m.targetVocab.id(START)]) : undefined;
      for await (const id of streamDecode(model, ids, m.maxSourceLength, m.targetVocab.id(START), m.targetVocab.id(END),
        m.maxTargetLength, choose ? { choose } : {})) {
        yield targetText(m, [id]);
      }
    })();
  }

  /**
   * Decode the bundle's golden translations of this backend and precision here, with this engine, and
   * compare them with the decodes the export recorded on the same kernel set ("default": onnxruntime
   * has one); a NoGoldenError when the bundle has none for them.
   * @returns {Promise<SelfCheck>}
   */
  async selfCheck() {
    this.#checkLoaded();
    const { entry, recorded } = goldenEntry(this.golden, this.backend, this.precision, KERNELS);
    // As the export decoded them: greedy, stepping the decoder, batches of up to GOLDEN_BATCH sentences.
    const decoded = await this.#decode([...entry.sources], { onUnknown: 'error', onOverflow: 'error' }, false,
      { batchSize: GOLDEN_BATCH, greedyGraph: false });
    const got = decoded.map((hyps) => hyps[0].text);
    return new SelfCheck({ backend: this.backend, precision: this.precision, kernels: KERNELS, engine: this.engine, sources: entry.sources, recorded, got });
  }

  /** Apply the input policy to each text (throws as `translate` would); returns what the encoder reads. */
  prepare(texts, options = {}) {
    return this.#prepare(texts, options);
  }

  #prepare(texts, { onUnknown = this.onUnknown, onOverflow = this.onOverflow } = {}) {
    const m = this.manifest;
    return texts.map((t) => prepareSource(t, m.sourceVocab, m.maxSourceLength, onUnknown, onOverflow, m.sourceForm));
  }

  #released = false;

  #checkLoaded() {
    if (this.#released) throw new S2SError('this Translator was released: load another one to translate');
  }

  /** Frees the onnxruntime sessions; the Translator translates no more (releasing twice is harmless). */
  async release() {
    if (this.#released) return;
    this.#released = true;
    await this.model.release?.();
  }
}
