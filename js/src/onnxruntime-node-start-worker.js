// Starts onnxruntime in this worker thread (see onnxruntime-node-start.js): one session on a one-node model.
import { parentPort, workerData } from 'node:worker_threads';

import * as ort from 'onnxruntime-node';

try {
  const session = await ort.InferenceSession.create(Buffer.from(workerData, 'base64'));
  await session.release();
  parentPort.postMessage(null);
} catch (err) {
  parentPort.postMessage(String(err?.message ?? err));
}
