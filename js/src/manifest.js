// The bundle's manifest: format, vocabularies, lengths, graph I/O and artifacts with their sha256.
// Mirrors `runtime/bundle.py`, which defines the format; this module reads and checks it.

import { BundleError } from './errors.js';
import { END, PAD, START, Vocabulary } from './vocab.js';

export const FORMAT = 's2s-edge-bundle';
// Version 2 adds zero padding ("pad_token": null), version 3 the model family ("family"); a bundle is
// written in the lowest version that holds it (a space-padded seed bundle is still version 1).
export const FORMAT_VERSION = 3;
export const READ_VERSIONS = Object.freeze([1, 2, 3]);
export const MANIFEST = 'manifest.json';
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

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
const REQUIRED_ARTIFACT_FIELDS = ARTIFACT_FIELDS.slice(0, 6);

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
    throw new BundleError(`${where} names a file outside the bundle: ${JSON.stringify(name)}`);
  }
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positiveInt(data, key, where) {
  const value = data[key];
  if (!Number.isInteger(value)) throw new BundleError(`${where} is malformed: ${key} must be an integer, got ${JSON.stringify(value)}`);
  return value;
}

function parseArtifact(a, where) {
  if (!isObject(a)) throw new BundleError(`${where} is malformed: an artifact is not an object`);
  const unknown = Object.keys(a).filter((k) => !ARTIFACT_FIELDS.includes(k));
  const missing = REQUIRED_ARTIFACT_FIELDS.filter((k) => !(k in a));
  if (unknown.length || missing.length) {
    throw new BundleError(
      `${where} is malformed: artifact ${unknown.length ? `has unknown fields ${unknown.join(', ')}` : `lacks ${missing.join(', ')}`}`,
    );
  }
  for (const key of ['backend', 'precision', 'role', 'file', 'sha256']) {
    if (typeof a[key] !== 'string') throw new BundleError(`${where} is malformed: artifact ${key} must be a string`);
  }
  if (!Number.isInteger(a.size) || a.size < 0) throw new BundleError(`${where} is malformed: artifact size must be a whole number`);
  checkFileName(a.file, where);
  return Object.freeze({
    backend: a.backend,
    precision: a.precision,
    role: a.role,
    file: a.file,
    sha256: a.sha256,
    size: a.size,
    // false when a row's output depends on its batch-mates (onnxruntime's dynamic quantization picks
    // one activation scale per tensor): the runtime then decodes row by row.
    batchInvariant: a.batch_invariant === undefined ? true : Boolean(a.batch_invariant),
  });
}

function parseLanguages(value, where) {
  if (value === undefined || value === null) return null;
  const ok = isObject(value) && Object.keys(value).sort().join() === 'source,target' &&
    [value.source, value.target].every((v) => typeof v === 'string' && v);
  if (!ok) throw new BundleError(`${where}: languages must be {"source": CODE, "target": CODE}, got ${JSON.stringify(value)}`);
  return Object.freeze({ source: value.source, target: value.target });
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
 */

/** Check the parsed JSON of a manifest and return a Manifest; a BundleError says what is wrong. */
export function parseManifest(data, where = MANIFEST) {
  if (!isObject(data) || data.format !== FORMAT) throw new BundleError(`${where} is not an s2s-edge bundle manifest`);
  if (!READ_VERSIONS.includes(data.format_version)) {
    throw new BundleError(
      `${where} has format_version ${JSON.stringify(data.format_version)}; this runtime reads versions ` +
        `${READ_VERSIONS.join(', ')}: re-export the bundle or upgrade s2s-edge`,
    );
  }
  // pad_token null (version 2): the all-zero one-hot row pads, written as the id past the alphabet.
  const padTokens = data.format_version >= 2 ? [PAD, null] : [PAD];
  if (data.start_token !== START || data.end_token !== END || !padTokens.includes(data.pad_token)) {
    throw new BundleError(`${where} uses special tokens this runtime does not know`);
  }
  const padding = data.pad_token === PAD ? 'space' : 'zero';
  if ((data.padding ?? 'right') !== 'right') {
    throw new BundleError(`${where} pads on the ${JSON.stringify(data.padding)} side; this runtime pads on the right`);
  }
  let modelFamily = FAMILIES.seed;
  if (data.format_version >= 3) {
    if (typeof data.family !== 'string') {
      throw new BundleError(`${where} is malformed: format_version 3 needs a family name, got ${JSON.stringify(data.family)}`);
    }
    if (!Object.hasOwn(FAMILIES, data.family)) {
      throw new BundleError(
        `${where} holds a model of family ${JSON.stringify(data.family)}; this runtime knows ${Object.keys(FAMILIES).join(', ')}: upgrade s2s-edge`,
      );
    }
    modelFamily = FAMILIES[data.family];
  }
  if (data.io !== undefined) {
    for (const role of Object.keys(modelFamily.io)) {
      const io = data.io?.[role];
      if (io === undefined && OPTIONAL_ROLES.includes(role)) continue;
      const want = modelFamily.io[role];
      if (!io || JSON.stringify([io.inputs, io.outputs]) !== JSON.stringify([want.inputs, want.outputs])) {
        throw new BundleError(`${where} declares graph inputs/outputs for ${role} that this runtime does not know: upgrade s2s-edge`);
      }
    }
  }
  if (!Array.isArray(data.artifacts)) throw new BundleError(`${where} is malformed: artifacts must be a list`);
  for (const key of ['source_vocab', 'target_vocab']) {
    if (typeof data[key] !== 'string') throw new BundleError(`${where} is malformed: ${key} must be a string`);
  }
  let sourceVocab, targetVocab;
  try {
    sourceVocab = Vocabulary.fromString(data.source_vocab, padding);
    targetVocab = Vocabulary.fromString(data.target_vocab, padding);
  } catch (err) {
    throw new BundleError(`${where} is malformed: ${err.message}`);
  }
  const manifest = Object.freeze({
    sourceVocab,
    targetVocab,
    maxSourceLength: positiveInt(data, 'max_source_length', where),
    maxTargetLength: positiveInt(data, 'max_target_length', where),
    latentDim: positiveInt(data, 'latent_dim', where),
    artifacts: Object.freeze(data.artifacts.map((a) => parseArtifact(a, where))),
    modelId: String(data.model_id ?? ''),
    languages: parseLanguages(data.languages, where),
    producer: isObject(data.producer) ? data.producer : {},
    validation: isObject(data.validation) ? data.validation : {},
    family: modelFamily,
  });
  for (const char of padding === 'space' ? [START, END, PAD] : [START, END]) {
    if (!targetVocab.has(char)) throw new BundleError(`${where}: target vocabulary lacks ${JSON.stringify(char)}`);
  }
  if (padding === 'space' && !sourceVocab.has(PAD)) throw new BundleError(`${where}: source vocabulary lacks the padding character`);
  if (manifest.maxSourceLength < 1 || manifest.maxTargetLength < 1) throw new BundleError(`${where}: maximum lengths must be positive`);
  return manifest;
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

/** Throws a BundleError unless `data` is the artifact's bytes (size and sha256). */
export function checkArtifactBytes(artifact, data, digestHex, where) {
  if (data.byteLength !== artifact.size || digestHex !== artifact.sha256) {
    throw new BundleError(
      `bundle file ${where} does not match its sha256 in ${MANIFEST}: the bundle is corrupt or was modified; export it again`,
    );
  }
}
