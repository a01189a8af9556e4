// The Node entry: bundles read from a directory, checked with node:crypto, run by onnxruntime-node.

import { createHash } from 'node:crypto';
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

import * as ort from 'onnxruntime-node';

import { Translator as CoreTranslator } from './core.js';
import { startOnnxruntime } from './onnxruntime-node-start.js';
import { readRegularFile } from './regular-file.js';
import { BundleError } from './errors.js';
import { MANIFEST, MAX_MANIFEST_BYTES, checkArtifactBytes, checkFileName, parseManifest, parseManifestBytes } from './manifest.js';

export * from './core.js';
export { FetchSource } from './fetch-source.js';

/** A bundle directory on disk: the manifest, then each model file after checking its sha256. */
export class DirectorySource {
  constructor(dir) {
    this.dir = path.resolve(String(dir));
  }

  describe() {
    return this.dir;
  }

  async manifest() {
    const file = path.join(this.dir, MANIFEST);
    const dirStat = await stat(this.dir).catch(() => null);
    if (!dirStat?.isDirectory()) throw new BundleError(`bundle directory not found: ${this.dir}`);
    const info = await lstat(file).catch(() => null);
    if (!info || info.isDirectory()) throw new BundleError(`no ${MANIFEST} in ${this.dir}: not a bundle (export one with python -m export.to_onnx)`);
    // Followed, a link could make any file of the machine "the manifest" (and its bytes an error
    // message): refused, as model files that are links are.
    const bytes = await readRegularFile(file, info, { limit: MAX_MANIFEST_BYTES });
    const manifest = parseManifest(parseManifestBytes(bytes, file), file);
    // A bundle holds exactly what its manifest names: anything else is a sign of tampering or of two
    // bundles mixed together, and is refused before any model is loaded.
    const expected = new Set([MANIFEST, ...manifest.artifacts.map((a) => a.file), ...(manifest.golden ? [manifest.golden.file] : [])]);
    const extra = (await readdir(this.dir)).filter((name) => !expected.has(name)).sort();
    if (extra.length) {
      const shown = extra.slice(0, 5).join(', ') + (extra.length > 5 ? ` and ${extra.length - 5} more` : '');
      throw new BundleError(`bundle ${this.dir} holds files its ${MANIFEST} does not list: ${shown}; remove them or export the bundle again`);
    }
    return manifest;
  }

  /** Where bundle file `name` is, as errors name it. */
  where(name) {
    return path.join(this.dir, name);
  }

  /** The bytes of a model file (or of the golden file: any {file, sha256, size}), after checking its size and sha256. */
  async artifact(artifact) {
    checkFileName(artifact.file);
    const file = path.join(this.dir, artifact.file);
    // Its size on disk is compared with the manifest's first: nothing is read from a file of another size.
    const data = await readRegularFile(file, null, { size: artifact.size });
    checkArtifactBytes(artifact, data, createHash('sha256').update(data).digest('hex'), file);
    return data;
  }
}

/** Translator with `Translator.load(dir, options)` for Node (onnxruntime-node, CPU). */
export class Translator extends CoreTranslator {
  /**
   * Load the bundle in directory `dir` (or from any source with `manifest()` and `artifact()`).
   * Options: backend ("onnx"), precision ("float32" | "int8" | ...), maxBatchSize (64), onUnknown,
   * onOverflow, threads (onnxruntime intra-op threads, default 1), sessionOptions.
   */
  static async load(dir, options = {}) {
    const { threads = 1, sessionOptions = {}, ...rest } = options;
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
    const source = typeof dir === 'object' && dir !== null && 'artifact' in dir ? dir : new DirectorySource(dir);
    // One thread by default, as in Python: a decoder step is a few small matrix products.
    const session = { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, ...sessionOptions };
    await startOnnxruntime(); // a long command line would crash onnxruntime's start on this thread
    return CoreTranslator.create.call(this, source, ort, { ...rest, sessionOptions: session });
  }
}
