// Types of the s2s-edge JavaScript runtime (Node entry: src/node.js, browser entry: src/browser.js,
// engine-independent core: src/core.js).

export class S2SError extends Error {}
/** A bundle is missing, of an unknown format, or does not match its manifest. */
export class BundleError extends S2SError {}
/** A self-check of a bundle without golden translations (or without them for this artifact or kernel set). */
export class NoGoldenError extends BundleError {}
/**
 * An input the input policy refuses; `option` and `value` name the setting that lets it through
 * (`onUnknown: 'skip'`), `commandLineMessage()` says it as a flag (`--on-unknown skip`).
 */
export class InputPolicyError extends S2SError {
  readonly problem: string;
  readonly remedy: string | null;
  readonly option: string | null;
  readonly value: string | null;
  readonly where: string;
  commandLineMessage(): string;
  /** The same error, located (`at('stdin line 3')`). */
  at(where: string): this;
}
/** The input holds characters outside the model's vocabulary. */
export class UnknownCharacterError extends InputPolicyError {
  readonly characters: string[];
}
/** The input is longer than the encoder's maximum length. */
export class InputTooLongError extends InputPolicyError {}
/** Input bytes are not valid UTF-8 (the CLI's stdin). */
export class InputDecodingError extends S2SError {}
/** Decoding options out of range or that do not combine. */
export class DecodingOptionError extends S2SError {}
/** The requested backend cannot be run by this runtime. */
export class BackendUnavailableError extends S2SError {}

export const START: '\t';
export const END: '\n';
export const PAD: ' ';
export const PADDINGS: readonly ['space', 'zero'];
export const FORMAT: 's2s-edge-bundle';
/** The newest manifest version this runtime knows; it reads every one of READ_VERSIONS. */
export const FORMAT_VERSION: 4;
export const READ_VERSIONS: readonly number[];
export const MANIFEST: 'manifest.json';
/** The golden translations' file: its format name and largest size (16 MiB). */
export const GOLDEN_FORMAT: 's2s-edge-golden';
export const MAX_GOLDEN_BYTES: number;
/** The kernel set onnxruntime runs (it has one): the self-check compares the decodes recorded on it. */
export const KERNELS: 'default';
export const BACKENDS: readonly string[];
/** Greedy translate() uses the one-graph greedy decoder for batches up to this many sentences. */
export const GREEDY_LOOP_MAX_BATCH: number;
export type GraphIO = Readonly<Record<'encoder' | 'decoder_step' | 'greedy', { inputs: string[]; outputs: string[] }>>;
/** The seed family's graph I/O (bundles of format versions 1 and 2). */
export const GRAPH_IO: GraphIO;
/** A model family: what the decoder carries from step to step (state) and reads unchanged per row (context). */
export interface Family {
  readonly name: 'seed' | 'attention';
  readonly state: readonly string[];
  readonly context: readonly string[];
  readonly io: GraphIO;
}
export const FAMILIES: Readonly<Record<'seed' | 'attention', Family>>;

export class Vocabulary {
  constructor(chars: Iterable<string>, padding?: 'space' | 'zero');
  static fromString(text: string, padding?: 'space' | 'zero'): Vocabulary;
  readonly chars: readonly string[];
  /** space: padded with PAD's id; zero: with the all-zero one-hot row, id `size` (models of the 2017 Keras example). */
  readonly padding: 'space' | 'zero';
  readonly padId: number;
  readonly size: number;
  has(char: string): boolean;
  id(char: string): number;
  unknown(text: string): string[];
  encode(texts: string[], length: number): Int32Array;
  decode(ids: Iterable<number>): string;
}

export type OnUnknown = 'error' | 'skip';
export type OnOverflow = 'error' | 'truncate';

export interface Artifact {
  backend: string;
  precision: string;
  role: 'encoder' | 'decoder_step' | string;
  file: string;
  sha256: string;
  size: number;
  batchInvariant: boolean;
}

export interface Manifest {
  sourceVocab: Vocabulary;
  targetVocab: Vocabulary;
  maxSourceLength: number;
  maxTargetLength: number;
  latentDim: number;
  artifacts: readonly Artifact[];
  modelId: string;
  languages: { source: string; target: string } | null;
  /** What the encoder reads of a text (format version 5): lowercased (toLowerCase), wrapped in START ... END. */
  sourceForm: SourceForm;
  producer: Record<string, string>;
  validation: Record<string, { size?: number; decodes_identical?: number; decodes_compared?: number; chrf?: number; [k: string]: unknown }>;
  family: Family;
  /** The ids the encoder was built for (its one-hot depth), when the export recorded it; equals sourceVocab.size. */
  sourceVocabSize: number | null;
  /** The width of the decoder's logits, when the export recorded it; equals targetVocab.size. */
  targetVocabSize: number | null;
  /** The golden translations' file (format version 4), checked as a model file is; null when the bundle has none. */
  golden: GoldenRef | null;
}

/** Where the golden translations are: a file of the bundle, with its sha256 and size. */
export interface GoldenRef {
  file: string;
  sha256: string;
  size: number;
}

/** A bundle's golden translations (docs/bundle.md#golden-translations), checked against its manifest. */
export interface Golden {
  readonly artifacts: readonly GoldenEntry[];
}

export interface GoldenEntry {
  readonly backend: string;
  readonly precision: string;
  /** Held-out source sentences. */
  readonly sources: readonly string[];
  /** The Keras model's greedy decode of each. */
  readonly keras: readonly string[];
  /** The artifact's greedy decodes at export, one per kernel set. */
  readonly decodes: readonly GoldenDecode[];
}

export interface GoldenDecode {
  readonly kernels: string;
  readonly engine: string;
  readonly engineVersion: string;
  readonly machine: string | null;
  readonly outputs: readonly string[];
}

/** A self-check's result: the golden sentences decoded here, compared with the export's decodes. */
export class SelfCheck {
  readonly backend: string;
  readonly precision: string;
  /** The kernel set compared ('default'). */
  readonly kernels: string;
  /** What ran here, e.g. "onnxruntime-node 1.30.0" or "onnxruntime-web 1.30.0". */
  readonly engine: string;
  readonly identical: number;
  readonly total: number;
  /** identical, total */
  readonly k: number;
  readonly N: number;
  /** identical === total */
  readonly passed: boolean;
  readonly firstDifference: null | { readonly index: number; readonly source: string; readonly recorded: string; readonly got: string };
  /** The indexes (in the golden sources, from 0) of every differing sentence. */
  readonly differences: readonly number[];
  readonly recorded: { readonly engine: string; readonly engineVersion: string; readonly machine: string | null; readonly kernels: string };
  /** One line, then on a difference three more (the first differing sentence; strings as JSON): what --self-check prints. */
  summary(): string;
}

export function parseManifest(data: unknown, where?: string): Manifest;
/** Check a golden file's parsed JSON against its format and the manifest; `where` names it in errors. */
export function parseGolden(data: unknown, manifest: Manifest, where: string): Golden;
export function selectArtifacts(manifest: Manifest, backend: string, precision: string): { encoder: Artifact; decoder_step: Artifact; greedy?: Artifact };
export function completeModels(manifest: Manifest): string[];
export interface SourceForm {
  readonly lowercase: boolean;
  readonly wrap: boolean;
}
export const PLAIN_FORM: SourceForm;
export function prepareSource(text: string, vocab: Vocabulary, maxLength: number, onUnknown?: OnUnknown, onOverflow?: OnOverflow, form?: SourceForm): string;

/** Where a bundle comes from: a directory (Node), a URL (fetch), or your own. */
export interface BundleSource {
  describe(): string;
  manifest(): Promise<Manifest>;
  /** A file's bytes (a model file, or the golden file), after checking its size and sha256. */
  artifact(artifact: Pick<Artifact, 'file' | 'sha256' | 'size'>): Promise<Uint8Array>;
  /** Where file `name` is (a path, a URL), as errors name it; the name alone when absent. */
  where?(name: string): string;
}

export class FetchSource implements BundleSource {
  constructor(url: string | URL, options?: { fetch?: typeof fetch; init?: RequestInit });
  describe(): string;
  manifest(): Promise<Manifest>;
  artifact(artifact: Pick<Artifact, 'file' | 'sha256' | 'size'>): Promise<Uint8Array>;
  where(name: string): string;
}

/** Node only. */
export class DirectorySource implements BundleSource {
  constructor(dir: string);
  describe(): string;
  manifest(): Promise<Manifest>;
  artifact(artifact: Pick<Artifact, 'file' | 'sha256' | 'size'>): Promise<Uint8Array>;
  where(name: string): string;
}

export interface DecodingOptions {
  /** Beam search width (1: greedy). */
  beamSize?: number;
  /** The N best outputs (hypotheses() only; <= beamSize). */
  numHypotheses?: number;
  /** Beam ranking: score / length ** lengthPenalty (0: plain log-probability). Default 1. */
  lengthPenalty?: number;
  /** Sample among the K most likely characters (0: all; 1: greedy, the default). */
  topK?: number;
  temperature?: number;
  /** Makes sampling reproducible: a sentence's sample depends only on (seed, its text). */
  seed?: number | bigint | null;
  onUnknown?: OnUnknown;
  onOverflow?: OnOverflow;
}

export interface LoadOptions {
  /** "onnx" (the artifacts this runtime runs). */
  backend?: string;
  /** "float32" (default), "int8", ... as the bundle holds. */
  precision?: string;
  /** Sentences per batch (default 64). */
  maxBatchSize?: number;
  onUnknown?: OnUnknown;
  onOverflow?: OnOverflow;
  /** Node: onnxruntime intra-op threads (default 1). */
  threads?: number;
  /** Passed to onnxruntime's InferenceSession.create. */
  sessionOptions?: Record<string, unknown>;
  /** Run greedy translate() with the bundle's one-graph greedy decoder when it has one (default true). */
  greedyLoop?: boolean;
}

export interface Hypothesis {
  text: string;
  /** Natural-log probability of the output, END included. */
  score: number;
  /** False when the output was cut at the model's maximum length. */
  finished: boolean;
}

/** The decoder's state: named tensors (flat row-major data, dims[0] the batch). */
export type DecoderState = Record<string, { data: Float32Array; dims: readonly number[] }>;

/** A step model: what decoding needs from an engine (flat row-major typed arrays). */
export interface StepModel {
  /** The names of the state that the step reads and never changes (per-sentence context): beam search leaves them in place while beams only reorder within their sentences. */
  readonly family?: { readonly context: readonly string[] };
  encode(ids: Int32Array, batch: number, time: number): Promise<DecoderState>;
  step(tokens: Int32Array, state: DecoderState): Promise<{ logits: Float32Array; state: DecoderState }>;
  release?(): Promise<void>;
}

export class Translator {
  /** Node: a bundle directory; browser: the bundle's URL; or any BundleSource. */
  static load(bundle: string | URL | BundleSource, options?: LoadOptions): Promise<Translator>;
  /** Any bundle source and onnxruntime binding (onnxruntime-node, onnxruntime-web, onnxruntime-react-native). */
  static create(source: BundleSource, ort: unknown, options?: LoadOptions): Promise<Translator>;
  constructor(manifest: Manifest, model: StepModel, options?: { maxBatchSize?: number; onUnknown?: OnUnknown; onOverflow?: OnOverflow });
  readonly manifest: Manifest;
  readonly backend: string;
  readonly precision: string;
  readonly batchInvariant: boolean;
  readonly maxInputLength: number;
  readonly artifacts?: { encoder: Artifact; decoder_step: Artifact; greedy?: Artifact };
  /** The bundle's golden translations, read and checked at load; null when it has none. */
  readonly golden: Golden | null;
  /** What runs the graphs here, e.g. "onnxruntime-node 1.30.0". */
  readonly engine: string;
  translate(text: string, options?: DecodingOptions): Promise<string>;
  translate(texts: string[], options?: DecodingOptions): Promise<string[]>;
  translateBatch(texts: string[], options?: DecodingOptions): Promise<string[]>;
  hypotheses(texts: string[], options?: DecodingOptions): Promise<Hypothesis[][]>;
  /** Characters as they are decoded; joined, equals translate(text, options). */
  translateStream(text: string, options?: DecodingOptions): AsyncGenerator<string>;
  /** The texts the encoder reads after the input policy (throws as translate would). */
  prepare(texts: string[], options?: Pick<DecodingOptions, 'onUnknown' | 'onOverflow'>): string[];
  /**
   * Decode the golden sentences of this backend and precision here (greedy translate, one call) and
   * compare with the decodes recorded on the 'default' kernels; a NoGoldenError when the bundle has none.
   */
  selfCheck(): Promise<SelfCheck>;
  release(): Promise<void>;
}
