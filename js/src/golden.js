// Golden translations: held-out sentences with the decodes each artifact gave at export, which this
// runtime decodes again and compares (`Translator.selfCheck`, `node js/bin/translate.mjs --self-check`).
// Mirrors `runtime/golden.py`: the file's format is in docs/bundle.md#golden-translations; the manifest
// names it (`golden`: file, sha256, size; format version 4, checked in manifest.js). `readGolden` reads
// and checks it as a bundle loads, as a model file is checked (size, then sha256), then its structure
// against the manifest, in the Python runtime's order with its messages.

import { BundleError, NoGoldenError } from './errors.js';
import { parseJsonBytes, show } from './manifest.js';
import { prepareSource } from './vocab.js';

export const GOLDEN_FORMAT = 's2s-edge-golden';
export const GOLDEN_VERSION = 1;
/** The kernel set that onnxruntime runs (it has one); the golden file names the set each decode came from. */
export const KERNELS = 'default';

/** At most this many sentences per artifact, and kernel sets per artifact (runtime/golden.py's limits). */
export const MAX_GOLDEN_SENTENCES = 1000;
export const MAX_GOLDEN_KERNEL_SETS = 8;
/** The self-check decodes as the export recorded: stepping the decoder, in batches of up to this many sentences. */
export const GOLDEN_BATCH = 64;
// kernels, engine, engine_version and machine are printed: short printable ASCII only.
const LABEL = /^[\x20-\x7e]{1,64}$/;
const isLabel = (value) => typeof value === 'string' && LABEL.test(value);

const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);
const isStringList = (value) => Array.isArray(value) && value.every((v) => typeof v === 'string');

/** The JSON value of a golden file's bytes, read as a manifest's are (`parseManifestBytes`). */
export function parseGoldenBytes(bytes, where) {
  return parseJsonBytes(bytes, where, 'a golden file');
}

/**
 * A checked golden file (docs/bundle.md#golden-translations).
 * @typedef {object} Golden
 * @property {ReadonlyArray<GoldenEntry>} artifacts one per artifact (backend and precision), in the file's order
 *
 * @typedef {object} GoldenEntry
 * @property {string} backend
 * @property {string} precision
 * @property {ReadonlyArray<string>} sources held-out source sentences
 * @property {ReadonlyArray<string>} keras the Keras model's greedy decode of each
 * @property {ReadonlyArray<{kernels: string, engine: string, engineVersion: string, machine: string | null, outputs: ReadonlyArray<string>}>} decodes
 *   the artifact's greedy decodes, one per kernel set
 */

/**
 * Check the parsed JSON of the golden file at `where` (a path or URL) against its format and the
 * manifest (each entry names a complete model of the bundle), in the Python runtime's order, and
 * return a Golden; a BundleError names the first misfit. Unknown keys are ignored at every level.
 */
export function parseGolden(data, manifest, where) {
  if (!isObject(data) || data.format !== GOLDEN_FORMAT) throw new BundleError(`${where} is not an s2s-edge golden file`);
  if (data.format_version !== GOLDEN_VERSION) {
    throw new BundleError(
      `${where} has format_version ${show(data.format_version ?? null)}; this runtime reads version ${GOLDEN_VERSION}: upgrade s2s-edge`,
    );
  }
  const malformed = `${where} is malformed:`;
  if (!Array.isArray(data.artifacts) || !data.artifacts.length) throw new BundleError(`${malformed} artifacts must be a non-empty list`);
  // Pairs, not "backend/precision" strings: a name holding "/" must not stand for another pair.
  const roles = new Map();
  for (const a of manifest.artifacts) {
    const key = JSON.stringify([a.backend, a.precision]);
    if (!roles.has(key)) roles.set(key, new Set());
    roles.get(key).add(a.role);
  }
  const complete = new Set([...roles].filter(([, have]) => have.has('encoder') && have.has('decoder_step')).map(([key]) => key));
  const seen = new Set();
  const entries = data.artifacts.map((entry) => {
    if (!isObject(entry)) throw new BundleError(`${malformed} an entry of artifacts is not an object`);
    const { backend, precision } = entry;
    if (!(typeof backend === 'string' && backend && typeof precision === 'string' && precision)) {
      throw new BundleError(`${malformed} an entry's backend and precision must be non-empty strings`);
    }
    const name = `${backend}/${precision}`;
    const pair = JSON.stringify([backend, precision]);
    if (!complete.has(pair)) throw new BundleError(`${where} holds golden translations for ${name}, which the bundle does not hold`);
    if (seen.has(pair)) throw new BundleError(`${malformed} ${name} appears twice`);
    seen.add(pair);
    const { sources, keras, decodes } = entry;
    if (!isStringList(sources) || !sources.length) throw new BundleError(`${malformed} ${name}'s sources must be a non-empty list of strings`);
    if (sources.length > MAX_GOLDEN_SENTENCES) throw new BundleError(`${malformed} ${name} has ${sources.length} sources; at most ${MAX_GOLDEN_SENTENCES}`);
    sources.forEach((source, i) => {
      // as the runtime will read it: lowercased and wrapped where the bundle says so
      let reads = true;
      try {
        prepareSource(source, manifest.sourceVocab, manifest.maxSourceLength, 'error', 'error', manifest.sourceForm);
      } catch {
        reads = false;
      }
      if (!reads) {
        throw new BundleError(
          `${malformed} ${name}'s sources[${i}] is not a sentence this model reads (a character outside source_vocab, or longer than max_source_length)`,
        );
      }
    });
    if (!isStringList(keras) || keras.length !== sources.length) {
      throw new BundleError(`${malformed} ${name}'s keras must be a list of strings, one per source`);
    }
    if (!Array.isArray(decodes) || !decodes.length) throw new BundleError(`${malformed} ${name}'s decodes must be a non-empty list`);
    if (decodes.length > MAX_GOLDEN_KERNEL_SETS) throw new BundleError(`${malformed} ${name} has ${decodes.length} decodes; at most ${MAX_GOLDEN_KERNEL_SETS}`);
    const kernelSets = new Set();
    const parsed = decodes.map((d, i) => {
      const fields = isObject(d) && isLabel(d.kernels) && isLabel(d.engine) && isLabel(d.engine_version) &&
        (!Object.hasOwn(d, 'machine') || isLabel(d.machine));
      if (!fields) {
        throw new BundleError(
          `${malformed} ${name}'s decodes[${i}] must be an object with kernels, engine, engine_version (and machine): 1 to 64 printable ASCII characters each; and outputs`,
        );
      }
      if (!isStringList(d.outputs) || d.outputs.length !== sources.length) {
        throw new BundleError(`${malformed} ${name}'s decodes[${i}] outputs must be a list of strings, one per source`);
      }
      if (kernelSets.has(d.kernels)) throw new BundleError(`${malformed} ${name} has two decodes on the ${d.kernels} kernels`);
      kernelSets.add(d.kernels);
      return Object.freeze({
        kernels: d.kernels,
        engine: d.engine,
        engineVersion: d.engine_version,
        machine: Object.hasOwn(d, 'machine') ? d.machine : null,
        outputs: Object.freeze([...d.outputs]),
      });
    });
    return Object.freeze({
      backend,
      precision,
      sources: Object.freeze([...sources]),
      keras: Object.freeze([...keras]),
      decodes: Object.freeze(parsed),
    });
  });
  return Object.freeze({ artifacts: Object.freeze(entries) });
}

/**
 * The bundle's golden translations, read as a model file is (size, then sha256, through the source's
 * `artifact`) and checked; null when the manifest names none. Errors name the file as the source does
 * (a path, a URL).
 */
export async function readGolden(source, manifest) {
  if (!manifest.golden) return null;
  const bytes = await source.artifact(manifest.golden);
  const where = typeof source.where === 'function' ? source.where(manifest.golden.file) : manifest.golden.file;
  return parseGolden(parseGoldenBytes(bytes, where), manifest, where);
}

/** What runs the graphs: the onnxruntime binding's package and version, e.g. "onnxruntime-node 1.30.0". */
export function engineName(ort) {
  const versions = ort?.env?.versions ?? {};
  for (const [key, name] of [['node', 'onnxruntime-node'], ['web', 'onnxruntime-web'], ['react-native', 'onnxruntime-react-native']]) {
    if (versions[key]) return `${name} ${versions[key]}`;
  }
  return `onnxruntime ${versions.common ?? '?'}`;
}

/**
 * The golden entry of an artifact and its decodes on a kernel set: {entry, recorded}; a NoGoldenError
 * when the bundle has no golden translations, none for the artifact, or none on the kernel set.
 */
export function goldenEntry(golden, backend, precision, kernels) {
  if (!golden) {
    throw new NoGoldenError(
      'this bundle has no golden translations (it was exported before format version 4, or with --golden 0): export it again to record them',
    );
  }
  const name = `${backend}/${precision}`;
  const entry = golden.artifacts.find((e) => e.backend === backend && e.precision === precision);
  if (!entry) {
    const have = golden.artifacts.map((e) => `${e.backend}/${e.precision}`);
    throw new NoGoldenError(`this bundle's golden translations are for ${have.join(', ')}; not for ${name}: export it again to record them`);
  }
  const recorded = entry.decodes.find((d) => d.kernels === kernels);
  if (!recorded) {
    throw new NoGoldenError(
      `the golden translations of ${name} were recorded on the ${entry.decodes.map((d) => d.kernels).join(' and ')} kernels, not on the ${kernels} kernels`,
    );
  }
  return { entry, recorded };
}

/**
 * A self-check's result: how many of the golden sentences decode here as the export recorded them.
 * `k` and `N` are `identical` and `total`; `firstDifference` is null, or the first sentence that differs
 * (`differences`: the indexes of all of them).
 */
export class SelfCheck {
  constructor({ backend, precision, kernels, engine, sources, recorded, got }) {
    this.backend = backend;
    this.precision = precision;
    this.kernels = kernels;
    this.engine = engine;
    this.total = sources.length;
    // The indexes of every differing sentence.
    this.differences = Object.freeze(sources.map((_, i) => i).filter((i) => got[i] !== recorded.outputs[i]));
    this.identical = this.total - this.differences.length;
    const index = this.differences.length ? this.differences[0] : -1;
    this.firstDifference = index < 0 ? null : Object.freeze({ index, source: sources[index], recorded: recorded.outputs[index], got: got[index] });
    this.k = this.identical;
    this.N = this.total;
    this.passed = this.identical === this.total;
    this.recorded = Object.freeze({ engine: recorded.engine, engineVersion: recorded.engineVersion, machine: recorded.machine, kernels: recorded.kernels });
    Object.freeze(this);
  }

  /** The Python runtime's report: one line, then on a mismatch the first differing sentence (strings as JSON). */
  summary() {
    const r = this.recorded;
    const lines = [
      `${this.backend}/${this.precision}, ${this.kernels} kernels, ${this.engine}: ${this.identical}/${this.total} identical to the golden decodes ` +
        `(recorded with ${r.engine} ${r.engineVersion}${r.machine ? ` on ${r.machine}` : ''})`,
    ];
    const d = this.firstDifference;
    if (d) {
      lines.push(
        `first difference, sentence ${d.index + 1} of ${this.total}: ${JSON.stringify(d.source)}`,
        `  recorded: ${JSON.stringify(d.recorded)}`,
        `  here:     ${JSON.stringify(d.got)}`,
      );
    }
    return lines.join('\n');
  }
}

