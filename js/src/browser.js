// The browser entry: bundles fetched from a URL, checked with WebCrypto, run by onnxruntime-web (WASM).
// onnxruntime-web fetches its .wasm files from `ort.env.wasm.wasmPaths`: serve
// node_modules/onnxruntime-web/dist/ with the app and set it (an absolute path), or let a bundler do it.

import * as ort from 'onnxruntime-web';

import { Translator as CoreTranslator } from './core.js';
import { FetchSource } from './fetch-source.js';

export * from './core.js';
export { FetchSource };
export { ort };

/** Translator with `Translator.load(url, options)` for the browser (onnxruntime-web, WASM). */
export class Translator extends CoreTranslator {
  /**
   * Load the bundle served at `url` (or from any source with `manifest()` and `artifact()`).
   * Options: backend, precision, maxBatchSize, onUnknown, onOverflow, sessionOptions.
   */
  static async load(url, options = {}) {
    const { sessionOptions = {}, ...rest } = options;
    const source = typeof url === 'object' && url !== null && 'artifact' in url ? url : new FetchSource(url);
    const session = { executionProviders: ['wasm'], ...sessionOptions };
    return CoreTranslator.create.call(this, source, ort, { ...rest, sessionOptions: session });
  }
}
