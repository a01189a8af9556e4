// A bundle served over HTTP(S) (a page's own server, a CDN of the app's choosing): fetched with
// `fetch`, checked with WebCrypto. Works in browsers, workers, and Node 20+.

import { BundleError } from './errors.js';
import { MANIFEST, MAX_MANIFEST_BYTES, checkArtifactBytes, checkFileName, hex, parseManifest, parseManifestBytes, sizeMismatch } from './manifest.js';

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

  /**
   * The bytes of bundle file `name`: exactly `size` of them, or at most `limit`. The response's
   * Content-Length is compared first (nothing is read from a file of another size), and the body is
   * read as a stream that stops once it runs past the bound (a server may send no length).
   */
  async #get(name, what, { size, limit }) {
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
    if (!response.ok) {
      await response.body?.cancel?.().catch(() => {});
      throw new BundleError(`cannot fetch the bundle's ${what} ${url.href}: HTTP ${response.status}`);
    }
    const tooMany = (have) => (size !== undefined ? sizeMismatch(url.href, have, size) : new BundleError(`${url.href} is larger than ${limit} bytes: refusing to read it`));
    // The length of the bytes as sent: it is the file's only when they are not content-encoded.
    const declared = response.headers?.get?.('content-length');
    const encoding = response.headers?.get?.('content-encoding');
    let bounded = false; // by a Content-Length that fetch holds the body to
    if (declared !== null && declared !== undefined && (!encoding || encoding === 'identity') && /^\d+$/.test(declared.trim())) {
      const length = Number(declared);
      if (size !== undefined ? length !== size : length > limit) {
        await response.body?.cancel?.().catch(() => {});
        throw tooMany(length);
      }
      bounded = true;
    }
    const bound = size ?? limit;
    if (bounded || !response.body?.getReader) {
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (bytes.byteLength > bound) throw tooMany(bytes.byteLength);
      if (size !== undefined && bytes.byteLength !== size) throw sizeMismatch(url.href, bytes.byteLength, size);
      return bytes;
    }
    const reader = response.body.getReader();
    const chunks = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > bound) {
        await reader.cancel().catch(() => {});
        throw tooMany(size !== undefined ? `more than ${size}` : total);
      }
      chunks.push(value);
    }
    if (size !== undefined && total !== size) throw sizeMismatch(url.href, total, size);
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.byteLength;
    }
    return bytes;
  }

  async manifest() {
    const where = new URL(MANIFEST, this.base).href;
    const bytes = await this.#get(MANIFEST, 'manifest', { limit: MAX_MANIFEST_BYTES });
    return parseManifest(parseManifestBytes(bytes, where), where);
  }

  /** Where bundle file `name` is, as errors name it: its URL. */
  where(name) {
    return new URL(encodeURIComponent(name), this.base).href;
  }

  /** The bytes of a model file (or of the golden file: any {file, sha256, size}), after checking its size and sha256. */
  async artifact(artifact) {
    checkFileName(artifact.file);
    const bytes = await this.#get(artifact.file, artifact.role ? 'model file' : 'bundle file', { size: artifact.size });
    const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes);
    checkArtifactBytes(artifact, bytes, hex(digest), this.where(artifact.file));
    return bytes;
  }
}
