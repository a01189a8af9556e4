// A bundle served over HTTP(S) (a page's own server, a CDN of the app's choosing): fetched with
// `fetch`, checked with WebCrypto. Works in browsers, workers, and Node 20+.

import { BundleError } from './errors.js';
import { MANIFEST, MAX_MANIFEST_BYTES, checkArtifactBytes, checkFileName, hex, parseManifest } from './manifest.js';

export class FetchSource {
  /** @param {string | URL} url the bundle's directory URL (a trailing slash is added if missing) */
  constructor(url, { fetch: fetchImpl = globalThis.fetch, init = {} } = {}) {
    const base = new URL(String(url), globalThis.location?.href);
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    this.base = base;
    // Called unbound: a browser's fetch throws "Illegal invocation" when called as a method of another object.
    this.fetch = (...args) => fetchImpl.call(globalThis, ...args);
    this.init = init;
  }

  describe() {
    return this.base.href;
  }

  async #get(name, what) {
    // A plain name inside the bundle's directory: encoded, so that ':', '%', '?' or '#' cannot make it
    // another URL.
    const url = new URL(encodeURIComponent(name), this.base);
    if (!url.href.startsWith(this.base.href)) throw new BundleError(`${MANIFEST} names a file outside the bundle: ${JSON.stringify(name)}`);
    let response;
    try {
      response = await this.fetch(url, this.init);
    } catch (err) {
      throw new BundleError(`cannot fetch the bundle's ${what} ${url.href}: ${err.message}`);
    }
    if (!response.ok) throw new BundleError(`cannot fetch the bundle's ${what} ${url.href}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  async manifest() {
    const bytes = await this.#get(MANIFEST, 'manifest');
    const where = new URL(MANIFEST, this.base).href;
    // ignoreBOM keeps a byte-order mark, which JSON (and Python's reader) refuses.
    if (bytes.byteLength > MAX_MANIFEST_BYTES) throw new BundleError(`${where} is larger than ${MAX_MANIFEST_BYTES} bytes: refusing to read it`);
    let data;
    try {
      data = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes));
    } catch (err) {
      throw new BundleError(`${where} is not valid JSON: ${err.message}`);
    }
    return parseManifest(data, where);
  }

  async artifact(artifact) {
    checkFileName(artifact.file);
    const bytes = await this.#get(artifact.file, 'model file');
    const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes);
    checkArtifactBytes(artifact, bytes, hex(digest), new URL(encodeURIComponent(artifact.file), this.base).href);
    return bytes;
  }
}
