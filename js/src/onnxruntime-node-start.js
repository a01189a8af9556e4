// onnxruntime-node, started safely under a long command line.
//
// When onnxruntime first starts in a process (its first session), it reads the process's command line
// (/proc/self/cmdline) with a recursive parser that takes about three native stack frames per
// character: a command line of ~30 KB (2,000 short sentences as arguments) overflows the main
// thread's 8 MiB stack and the process dies with a segmentation fault, no message. That start
// happens once per process, so `startOnnxruntime` makes it happen in a worker thread whose stack is
// sized for the command line, on a one-node model; sessions created afterwards, on any thread, skip
// it. A short command line starts onnxruntime where it is, as before.

import { readFileSync } from 'node:fs';
import process from 'node:process';
import { Worker } from 'node:worker_threads';

// A command line this long starts onnxruntime on a worker: a quarter of what the main thread's stack
// holds (8 MiB by default hold about 30,000 characters), at most 4 KiB.
export function longCommandLineBytes(stackBytes = mainStackBytes()) {
  return Math.min(4096, Math.floor(stackBytes / STACK_BYTES_PER_CHARACTER / 2));
}

/** The main thread's stack limit (`ulimit -s`), from /proc/self/limits; 8 MiB where unknown. */
export function mainStackBytes() {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max stack size'));
    const soft = line?.split(/\s{2,}/)[1];
    if (soft && /^\d+$/.test(soft)) return Number(soft);
  } catch {
    // not Linux
  }
  return 8 * 2 ** 20;
}
// Measured: ~100 bytes a frame, ~2.7 frames a character (~270 bytes); about twice that.
const STACK_BYTES_PER_CHARACTER = 512;

// Identity on a float[1]: the smallest model that starts onnxruntime (65 bytes, checked by onnx).
const IDENTITY_MODEL = 'CAg6NwoQCgF4EgF5IghJZGVudGl0eRIBZ1oPCgF4EgoKCAgBEgQKAggBYg8KAXkSCgoICAESBAoCCAFCBAoAEA0=';

/** The bytes of this process's command line (as onnxruntime reads it). */
export function commandLineBytes() {
  try {
    return readFileSync('/proc/self/cmdline').length;
  } catch {
    return Buffer.byteLength([process.execPath, ...process.execArgv, ...process.argv.slice(1)].join('\0'));
  }
}

let started = null;

/** Resolves once onnxruntime has started in this process (in a worker when the command line is long). */
export function startOnnxruntime() {
  started ??= (async () => {
    const bytes = commandLineBytes();
    if (bytes < longCommandLineBytes()) return;
    const stackSizeMb = Math.ceil((bytes * STACK_BYTES_PER_CHARACTER) / 2 ** 20) + 16;
    const worker = new Worker(new URL('./onnxruntime-node-start-worker.js', import.meta.url), {
      workerData: IDENTITY_MODEL,
      resourceLimits: { stackSizeMb },
    });
    try {
      const error = await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`onnxruntime's start-up thread exited with code ${code}`)));
      });
      if (error) throw new Error(`onnxruntime could not start: ${error}`);
    } finally {
      await worker.terminate();
    }
  })();
  return started;
}
