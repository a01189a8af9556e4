// Reading a bundle's files on disk (Node): regular files only, their size checked before reading.
// The runtime's DirectorySource (node.js) and the demo server (demo/serve.mjs) read through this.

import { constants as fsConstants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';

import { BundleError } from './errors.js';
import { sizeMismatch } from './manifest.js';

// O_NOFOLLOW: a link put in a file's place is refused; O_NONBLOCK: a FIFO cannot hang the open.
export const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0);

const symlinked = (file) => new BundleError(`${file} is a symbolic link, not a regular file: a bundle's files must be its own`);
const notRegular = (file) => new BundleError(`bundle file missing or not a regular file: ${file}`);

/**
 * The bytes of `file`, a regular file (not a link), of exactly `size` bytes or at most `limit`:
 * compared on its size on disk before anything is read, then read through the one open handle (as the
 * Python runtime reads it, runtime/bundle.py _read_regular).
 */
export async function readRegularFile(file, info, { size, limit }) {
  info ??= await lstat(file).catch(() => null);
  if (info?.isSymbolicLink()) throw symlinked(file);
  if (!info?.isFile()) throw notRegular(file);
  let handle;
  try {
    handle = await open(file, OPEN_FLAGS);
  } catch (err) {
    throw err?.code === 'ELOOP' ? symlinked(file) : notRegular(file);
  }
  try {
    const opened = await handle.stat();
    if (!opened.isFile()) throw notRegular(file);
    if (limit !== undefined && opened.size > limit) throw new BundleError(`${file} is larger than ${limit} bytes: refusing to read it`);
    if (size !== undefined && opened.size !== size) throw sizeMismatch(file, opened.size, size);
    const want = size ?? opened.size;
    const buffer = new Uint8Array(want + 1); // one more byte: a file that grew since is seen
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled !== want) { // it changed while being read
      throw size !== undefined ? sizeMismatch(file, filled, size) : new BundleError(`${file} changed while it was read`);
    }
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
