// The bundle's manifest: format, vocabularies, lengths, graph I/O and artifacts with their sha256.
// Mirrors `runtime/bundle.py`, which defines the format; this module reads and checks it.

import { BundleError } from './errors.js';
import { END, PAD, PLAIN_FORM, START, Vocabulary } from './vocab.js';

export const FORMAT = 's2s-edge-bundle';
// Version 2 adds zero padding ("pad_token": null), version 3 the model family ("family"), version 4
// the golden translations ("golden"); a bundle is written in the lowest version that holds it (a
// space-padded seed bundle without golden translations is still version 1).
export const FORMAT_VERSION = 5;
export const READ_VERSIONS = Object.freeze([1, 2, 3, 4, 5]);
export const MANIFEST = 'manifest.json';
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** The largest golden translations' file (docs/bundle.md#golden-translations; read by golden.js). */
export const MAX_GOLDEN_BYTES = 16 * 1024 * 1024;

// The manifest's JSON Schema is manifest.schema.json beside this module (a byte-identical copy of the
// Python runtime's, runtime/manifest.schema.json): the one statement of what a manifest may hold.
// `parseManifest` checks it by hand, in the Python runtime's order; the tests hold these numbers and
// the checks to the schema (tests/hostile/cases.json).
/** The most characters max_source_length or max_target_length may name: a decode's time and memory follow them. */
export const MAX_LENGTH = 1024;
export const MAX_LATENT_DIM = 65536;
export const MAX_VOCAB_SIZE = 1114112;
/** The largest model file (ONNX's protobuf and TFLite's flatbuffers stay under 2 GiB). */
export const MAX_ARTIFACT_BYTES = 2147483647;
/** Brackets nested deeper than this are refused before the JSON is parsed. */
export const MAX_NESTING = 32;

// Graph I/O names (the contract every backend implements), each role's inputs and outputs.
export const SOURCE_IDS = 'source_ids';
export const TOKEN_IDS = 'token_ids';
export const STATE_H = 'state_h';
export const STATE_C = 'state_c';
export const LOGITS = 'logits';
export const NEXT_STATE_H = 'next_state_h';
export const NEXT_STATE_C = 'next_state_c';
export const OUTPUT_IDS = 'output_ids';
export const MEMORY_KEYS = 'memory_keys';
export const MEMORY_VALUES = 'memory_values';
export const MEMORY_MASK = 'memory_mask';

/** The step's output name for state tensor `name`. */
export const nextName = (name) => `next_${name}`;

function family(name, state, context = []) {
  return Object.freeze({
    name,
    // Carried from step to step: encoder output, step input, step output next_<name>.
    state: Object.freeze(state),
    // Constant per row: encoder output, step input.
    context: Object.freeze(context),
    io: Object.freeze({
      encoder: { inputs: [SOURCE_IDS], outputs: [...state, ...context] },
      decoder_step: { inputs: [TOKEN_IDS, ...state, ...context], outputs: [LOGITS, ...state.map(nextName)] },
      // The whole greedy decode in one graph: each row's argmax ids up to and including its END id, then ids to ignore.
      greedy: { inputs: [SOURCE_IDS], outputs: [OUTPUT_IDS] },
    }),
  });
}

/**
 * Model families (`runtime/bundle.py`): what the decoder carries from step to step ("state") and what
 * it reads unchanged for each row ("context"); a runtime re-indexes them all when rows finish or beams
 * reorder, and otherwise knows nothing of the family.
 */
export const FAMILIES = Object.freeze({
  seed: family('seed', [STATE_H, STATE_C]),
  attention: family('attention', [STATE_H, STATE_C], [MEMORY_KEYS, MEMORY_VALUES, MEMORY_MASK]),
});
/** The seed's graphs (bundles of format versions 1 and 2). */
export const GRAPH_IO = FAMILIES.seed.io;
/** Every model has these roles. */
export const ROLES = Object.freeze(['encoder', 'decoder_step']);
/** Roles a runtime may use when the bundle has them. */
export const OPTIONAL_ROLES = Object.freeze(['greedy']);

const ARTIFACT_FIELDS = ['backend', 'precision', 'role', 'file', 'sha256', 'size', 'batch_invariant'];
const GOLDEN_FIELDS = ['file', 'sha256', 'size'];
const REQUIRED_ARTIFACT_FIELDS = ARTIFACT_FIELDS.slice(0, 6);

/** `value` as JSON, cut to `width` characters (as the Python runtime shows it): errors stay one short line. */
export function show(value, width = 60) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) text = String(value);
  return text.length <= width ? text : `${text.slice(0, width - 3)}...`;
}

/** Throws unless `name` is a plain file name inside the bundle: no directories, no way out of it. */
export function checkFileName(name, where = MANIFEST) {
  if (
    typeof name !== 'string' ||
    !name ||
    name === '.' ||
    name === '..' ||
    name.includes('/') ||
    name.includes('\\') ||
    name.includes('\0') ||
    name.includes(':')
  ) {
    throw new BundleError(`${where} names a file outside the bundle: ${show(name)}`);
  }
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bounded(data, key, low, high, malformed) {
  const value = data[key];
  if (!(Number.isInteger(value) && value >= low && value <= high)) {
    throw new BundleError(`${malformed} ${key} must be an integer from ${low} to ${high}, got ${show(value)}`);
  }
  return value;
}

function parseArtifact(a, where) {
  const malformed = `${where} is malformed:`;
  if (!isObject(a)) throw new BundleError(`${malformed} an artifact is not an object`);
  const unknown = Object.keys(a).filter((k) => !ARTIFACT_FIELDS.includes(k));
  const missing = REQUIRED_ARTIFACT_FIELDS.filter((k) => !Object.hasOwn(a, k));
  if (unknown.length || missing.length) {
    throw new BundleError(
      `${malformed} artifact ${unknown.length ? `has unknown fields ${unknown.join(', ')}` : `lacks ${missing.join(', ')}`}`,
    );
  }
  for (const key of ['backend', 'precision', 'role']) {
    if (typeof a[key] !== 'string' || !a[key]) throw new BundleError(`${malformed} artifact ${key} must be a non-empty string, got ${show(a[key])}`);
  }
  checkFileName(a.file, where);
  if (typeof a.sha256 !== 'string') throw new BundleError(`${malformed} artifact sha256 must be a string, got ${show(a.sha256)}`);
  bounded(a, 'size', 0, MAX_ARTIFACT_BYTES, `${malformed} artifact`);
  const invariant = Object.hasOwn(a, 'batch_invariant') ? a.batch_invariant : true;
  if (typeof invariant !== 'boolean') throw new BundleError(`${malformed} artifact batch_invariant must be true or false, got ${show(invariant)}`);
  return Object.freeze({
    backend: a.backend,
    precision: a.precision,
    role: a.role,
    file: a.file,
    sha256: a.sha256,
    size: a.size,
    // false when a row's output depends on its batch-mates (onnxruntime's dynamic quantization picks
    // one activation scale per tensor): the runtime then decodes row by row.
    batchInvariant: invariant,
  });
}

function parseLanguages(value, where) {
  if (value === undefined || value === null) return null;
  const ok = isObject(value) && Object.keys(value).sort().join() === 'source,target' &&
    [value.source, value.target].every((v) => typeof v === 'string' && v);
  if (!ok) throw new BundleError(`${where}: languages must be {"source": CODE, "target": CODE}, got ${show(value)}`);
  return Object.freeze({ source: value.source, target: value.target });
}

/**
 * The deepest nesting of [ and { in JSON `text` outside its strings (escapes dropped first; an
 * unterminated string runs to the end), counted as the Python runtime counts it (runtime/bundle.py
 * json_nesting), without recursion.
 */
export function jsonNesting(text) {
  const bare = text.replace(/\\[\s\S]/g, '').replace(/"[^"]*"?/g, '').replace(/[^[\]{}]+/g, '');
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < bare.length; i++) {
    const c = bare.charCodeAt(i);
    depth += c === 0x5b || c === 0x7b ? 1 : -1;
    if (depth > deepest) deepest = depth;
  }
  return deepest;
}

/**
 * The JSON value of a manifest's bytes, read as both runtimes read it: UTF-8 (a byte-order mark is
 * refused), nested at most MAX_NESTING deep, plain JSON. Errors never quote the bytes: a file that is
 * not a manifest must not leak into messages.
 */
export function parseManifestBytes(bytes, where) {
  return parseJsonBytes(bytes, where, 'a manifest');
}

/**
 * The JSON value of a bundle file's bytes, read as the manifest is (`parseManifestBytes`); `what` names
 * what the file should be in the nesting error ("a golden file").
 */
export function parseJsonBytes(bytes, where, what) {
  let text;
  try {
    // ignoreBOM keeps a byte-order mark, which JSON (and Python's reader) refuses.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new BundleError(`${where} is not valid UTF-8`);
  }
  const depth = jsonNesting(text);
  if (depth > MAX_NESTING) throw new BundleError(`${where} is nested deeper than ${MAX_NESTING} levels (${depth}): not ${what}`);
  try {
    return JSON.parse(text);
  } catch (err) {
    // V8's message quotes the text: only its position is kept.
    const at = /at position (\d+)/.exec(String(err?.message))?.[1];
    throw new BundleError(`${where} is not valid JSON${at === undefined ? '' : ` (at character ${at})`}`);
  }
}

/**
 * A checked manifest.
 * @typedef {object} Manifest
 * @property {Vocabulary} sourceVocab
 * @property {Vocabulary} targetVocab
 * @property {number} maxSourceLength the encoder reads exactly this many ids (padded as sourceVocab.padding says)
 * @property {number} maxTargetLength decoder steps at most; longer outputs are cut
 * @property {number} latentDim
 * @property {ReadonlyArray<Artifact>} artifacts
 * @property {string} modelId sha256 of the Keras model the artifacts came from
 * @property {{source: string, target: string} | null} languages BCP 47 codes, when the bundle declares them
 * @property {object} producer
 * @property {object} validation the export's parity report
 * @property {object} family the model family (FAMILIES): its name, state, context and graph I/O
 * @property {{file: string, sha256: string, size: number} | null} golden the golden translations' file (version 4), or null
 */

/**
 * Check the parsed JSON of a manifest against its schema (manifest.schema.json) and the rules beyond
 * it, in the Python runtime's order, and return a Manifest; a BundleError names the first misfit.
 */
export function parseManifest(data, where = MANIFEST) {
  if (!isObject(data) || data.format !== FORMAT) throw new BundleError(`${where} is not an s2s-edge bundle manifest`);
  if (!READ_VERSIONS.includes(data.format_version)) {
    throw new BundleError(
      `${where} has format_version ${show(data.format_version)}; this runtime reads versions ` +
        `${READ_VERSIONS.join(', ')}: re-export the bundle or upgrade s2s-edge`,
    );
  }
  // pad_token null (version 2): the all-zero one-hot row pads, written as the id past the alphabet.
  const padTokens = data.format_version >= 2 ? [PAD, null] : [PAD];
  if (data.start_token !== START || data.end_token !== END || !Object.hasOwn(data, 'pad_token') || !padTokens.includes(data.pad_token)) {
    throw new BundleError(`${where} uses special tokens this runtime does not know`);
  }
  const padding = data.pad_token === PAD ? 'space' : 'zero';
  if (Object.hasOwn(data, 'padding') && data.padding !== 'right') {
    throw new BundleError(`${where} pads on the ${show(data.padding)} side; this runtime pads on the right`);
  }
  let modelFamily = FAMILIES.seed;
  if (data.format_version >= 3) {
    if (typeof data.family !== 'string') {
      throw new BundleError(`${where} is malformed: format_version ${data.format_version} needs a family name, got ${show(data.family ?? null)}`);
    }
    if (!Object.hasOwn(FAMILIES, data.family)) {
      throw new BundleError(
        `${where} holds a model of family ${show(data.family)}; this runtime knows ${Object.keys(FAMILIES).join(', ')}: upgrade s2s-edge`,
      );
    }
    modelFamily = FAMILIES[data.family];
  }
  if (data.io !== undefined && data.io !== null) {
    for (const role of Object.keys(modelFamily.io)) {
      const io = isObject(data.io) && Object.hasOwn(data.io, role) ? data.io[role] : undefined;
      if (io === undefined && OPTIONAL_ROLES.includes(role)) continue;
      const want = modelFamily.io[role];
      const same = (have, names) => Array.isArray(have) && have.length === names.length && have.every((n, i) => n === names[i]);
      if (!isObject(io) || Object.keys(io).sort().join() !== 'inputs,outputs' || !same(io.inputs, want.inputs) || !same(io.outputs, want.outputs)) {
        throw new BundleError(`${where} declares graph inputs/outputs for ${role} that this runtime does not know: upgrade s2s-edge`);
      }
    }
  }
  const malformed = `${where} is malformed:`;
  for (const key of ['source_vocab', 'target_vocab']) {
    if (typeof data[key] !== 'string' || !data[key]) throw new BundleError(`${malformed} ${key} must be a non-empty string, got ${show(data[key])}`);
  }
  const maxSourceLength = bounded(data, 'max_source_length', 1, MAX_LENGTH, malformed);
  const maxTargetLength = bounded(data, 'max_target_length', 1, MAX_LENGTH, malformed);
  const latentDim = bounded(data, 'latent_dim', 1, MAX_LATENT_DIM, malformed);
  const sizes = {};
  for (const key of ['source_vocab_size', 'target_vocab_size']) {
    sizes[key] = Object.hasOwn(data, key) ? bounded(data, key, 1, MAX_VOCAB_SIZE, malformed) : null;
  }
  if (Object.hasOwn(data, 'model_id') && typeof data.model_id !== 'string') throw new BundleError(`${malformed} model_id must be a string, got ${show(data.model_id)}`);
  const languages = parseLanguages(data.languages, where);
  const sourceForm = Object.hasOwn(data, 'source_form') ? parseSourceForm(data, where) : PLAIN_FORM;
  for (const key of ['producer', 'provenance', 'validation']) {
    if (Object.hasOwn(data, key) && !isObject(data[key])) throw new BundleError(`${malformed} ${key} must be an object, got ${show(data[key])}`);
  }
  if (!Array.isArray(data.artifacts)) throw new BundleError(`${malformed} artifacts must be a list`);
  const artifacts = Object.freeze(data.artifacts.map((a) => parseArtifact(a, where)));
  const golden = parseGoldenRef(data, artifacts, where);
  let sourceVocab, targetVocab;
  try {
    sourceVocab = Vocabulary.fromString(data.source_vocab, padding);
    targetVocab = Vocabulary.fromString(data.target_vocab, padding);
  } catch (err) {
    throw new BundleError(`${malformed} ${err.message}`);
  }
  for (const char of padding === 'space' ? [START, END, PAD] : [START, END]) {
    if (!targetVocab.has(char)) throw new BundleError(`${where}: target vocabulary lacks ${show(char)}`);
  }
  if (padding === 'space' && !sourceVocab.has(PAD)) throw new BundleError(`${where}: source vocabulary lacks the padding character`);
  if (sourceForm.wrap && !(sourceVocab.has(START) && sourceVocab.has(END))) {
    throw new BundleError(`${where}: source_form wraps the source in the start and end tokens, which source_vocab lacks`);
  }
  if (sourceForm.wrap && maxSourceLength < 2) {
    throw new BundleError(`${where}: source_form wraps the source in two tokens, but max_source_length is ${maxSourceLength}`);
  }
  for (const [key, vocab] of [['source_vocab', sourceVocab], ['target_vocab', targetVocab]]) {
    const built = sizes[`${key}_size`];
    if (built !== null && built !== vocab.size) {
      throw new BundleError(
        `${where}: ${key} has ${vocab.size} characters, but its graphs were built for ${built} (${key}_size): ` +
          'the vocabulary does not belong to these graphs; export the bundle again',
      );
    }
  }
  return Object.freeze({
    sourceVocab,
    targetVocab,
    maxSourceLength,
    maxTargetLength,
    latentDim,
    artifacts,
    modelId: data.model_id ?? '',
    languages,
    sourceForm,
    producer: isObject(data.producer) ? data.producer : {},
    validation: isObject(data.validation) ? data.validation : {},
    family: modelFamily,
    sourceVocabSize: sizes.source_vocab_size,
    targetVocabSize: sizes.target_vocab_size,
    golden,
  });
}

/** The manifest's `source_form` (version 5): {lowercase, wrap}, both booleans. */
function parseSourceForm(data, where) {
  const malformed = `${where} is malformed:`;
  const value = data.source_form;
  if (data.format_version < 5) throw new BundleError(`${malformed} source_form needs format_version 5, got ${data.format_version}`);
  const keys = isObject(value) ? Object.keys(value).sort() : [];
  if (keys.length !== 2 || keys[0] !== 'lowercase' || keys[1] !== 'wrap' || typeof value.lowercase !== 'boolean' || typeof value.wrap !== 'boolean') {
    throw new BundleError(`${malformed} source_form must be {"lowercase": BOOLEAN, "wrap": BOOLEAN}, got ${show(value)}`);
  }
  return Object.freeze({ lowercase: value.lowercase, wrap: value.wrap });
}

/**
 * The manifest's `golden` field (version 4): the golden translations' file, {file, sha256, size}, read
 * and checked as a model file is; null when the bundle has none.
 */
function parseGoldenRef(data, artifacts, where) {
  if (!Object.hasOwn(data, 'golden')) return null;
  const malformed = `${where} is malformed:`;
  const value = data.golden;
  if (data.format_version < 4) throw new BundleError(`${malformed} golden needs format_version 4, got ${data.format_version}`);
  if (!isObject(value) || Object.keys(value).length !== GOLDEN_FIELDS.length || !GOLDEN_FIELDS.every((k) => Object.hasOwn(value, k))) {
    throw new BundleError(`${malformed} golden must be an object with file, sha256 and size, got ${show(value)}`);
  }
  checkFileName(value.file, where);
  if (typeof value.sha256 !== 'string') throw new BundleError(`${malformed} golden sha256 must be a string, got ${show(value.sha256)}`);
  bounded(value, 'size', 0, MAX_GOLDEN_BYTES, `${malformed} golden`);
  if (value.file === MANIFEST || artifacts.some((a) => a.file === value.file)) {
    throw new BundleError(`${malformed} golden names ${show(value.file)}, which is the manifest or a model file`);
  }
  return Object.freeze({ file: value.file, sha256: value.sha256, size: value.size });
}

// Each graph tensor's kind ("ids": int32; "float": float32) and axes; `checkGraph` sizes the axes from
// the manifest (runtime/bundle.py TENSORS).
const TENSORS = {
  [SOURCE_IDS]: ['ids', ['batch', 'time']],
  [TOKEN_IDS]: ['ids', ['batch']],
  [STATE_H]: ['float', ['batch', 'latent']],
  [STATE_C]: ['float', ['batch', 'latent']],
  [MEMORY_KEYS]: ['float', ['batch', 'time', 'latent']],
  [MEMORY_VALUES]: ['float', ['batch', 'time', 'latent']],
  [MEMORY_MASK]: ['float', ['batch', 'time']],
  [LOGITS]: ['float', ['batch', 'vocab']],
  [OUTPUT_IDS]: ['ids', ['batch', 'steps']],
  [NEXT_STATE_H]: ['float', ['batch', 'latent']],
  [NEXT_STATE_C]: ['float', ['batch', 'latent']],
};

/**
 * Throws a BundleError unless graph `file`, loaded for `role`, takes and returns the names of that role
 * in the manifest's family, with the kinds, ranks and known sizes the manifest implies (the batch may
 * be fixed; the source's time axis is max_source_length, the state's size latent_dim, the logits' width
 * the target vocabulary's length). `inputs` and `outputs` describe the graph as the engine reports it:
 * {name: {type, shape}}, `type` a dtype name ("int32", "float32", ...; undefined if unknown), `shape` an
 * array with a number for each known size and null for the others (undefined if even the rank is unknown).
 */
export function checkGraph(manifest, role, file, inputs, outputs, floatTypes = ['float32']) {
  const family = manifest.family;
  const want = family.io[role];
  const listed = `${file}, listed as the ${role} of the ${family.name} family,`;
  for (const [side, names, have] of [['inputs', want.inputs, inputs], ['outputs', want.outputs, outputs]]) {
    const got = Object.keys(have).sort();
    if (got.join('\n') !== [...names].sort().join('\n')) {
      throw new BundleError(`${listed} does not fit its role: its ${side} are ${got.join(', ') || 'none'}; that role's ${side} are ${names.join(', ')}`);
    }
  }
  const sizes = { time: manifest.maxSourceLength, latent: manifest.latentDim, vocab: manifest.targetVocab.size };
  for (const name of [...want.inputs, ...want.outputs]) {
    const { type, shape } = Object.hasOwn(inputs, name) ? inputs[name] : outputs[name];
    const [kind, axes] = TENSORS[name];
    const allowed = kind === 'ids' ? ['int32'] : floatTypes;
    if (type !== undefined && !allowed.includes(type)) {
      throw new BundleError(`${listed} does not fit its role: its ${name} is ${type}, not ${allowed.join(' or ')}`);
    }
    if (shape === undefined) continue;
    if (shape.length !== axes.length) {
      throw new BundleError(`${listed} does not fit its role: its ${name} has ${shape.length} axes, not ${axes.length} ([${axes.join(', ')}])`);
    }
    shape.forEach((have, i) => {
      const size = sizes[axes[i]];
      if (have === null || size === undefined || have === size) return;
      const what = {
        time: `reads ${have} source positions, but max_source_length is ${size}`,
        latent: `has ${have} units, but latent_dim is ${size}`,
        vocab: `scores ${have} ids, but target_vocab has ${size} characters`,
      }[axes[i]];
      throw new BundleError(`${listed} does not fit this manifest: its ${name} ${what}`);
    });
  }
}

/** The backend/precision pairs that have a complete model (encoder and decoder_step), e.g. "onnx/int8". */
export function completeModels(manifest) {
  const roles = new Map();
  for (const a of manifest.artifacts) {
    const key = `${a.backend}/${a.precision}`;
    if (!roles.has(key)) roles.set(key, new Set());
    roles.get(key).add(a.role);
  }
  return [...roles].filter(([, have]) => ROLES.every((r) => have.has(r))).map(([key]) => key).sort();
}

/** The artifacts of one backend and precision by role: encoder, decoder_step, and greedy when present. */
export function selectArtifacts(manifest, backend, precision) {
  const found = {};
  for (const a of manifest.artifacts) {
    if (a.backend === backend && a.precision === precision && Object.hasOwn(manifest.family.io, a.role)) found[a.role] = a;
  }
  if (!ROLES.every((r) => r in found)) {
    const have = [...new Set(manifest.artifacts.map((a) => `${a.backend}/${a.precision}`))].sort();
    throw new BundleError(`the bundle has no complete ${backend}/${precision} model (it has: ${have.join(', ') || 'nothing'})`);
  }
  return found;
}

/** Lower-case hex of a digest. */
export function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The error for a file whose size is not the manifest's (found before its bytes are read). */
export function sizeMismatch(where, have, want) {
  return new BundleError(
    `bundle file ${where} does not match its sha256 in ${MANIFEST}: it is ${have} bytes, not the ${want} listed there; ` +
      'the bundle is corrupt or was modified; export it again',
  );
}

/** Throws a BundleError unless `data` is the artifact's bytes (size and sha256). */
export function checkArtifactBytes(artifact, data, digestHex, where) {
  if (data.byteLength !== artifact.size || digestHex !== artifact.sha256) {
    throw new BundleError(
      `bundle file ${where} does not match its sha256 in ${MANIFEST}: the bundle is corrupt or was modified; export it again`,
    );
  }
}
