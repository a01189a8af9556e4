// The onnxruntime backend, for any onnxruntime JavaScript binding: onnxruntime-node in Node,
// onnxruntime-web (WASM) in the browser. The binding is passed in, so this module imports neither.

import { BundleError } from '../errors.js';
import { LOGITS, NEXT_STATE_C, NEXT_STATE_H, OUTPUT_IDS, SOURCE_IDS, STATE_C, STATE_H, TOKEN_IDS } from '../manifest.js';

async function createSession(ort, bytes, role, options) {
  try {
    return await ort.InferenceSession.create(bytes, options);
  } catch (err) {
    const first = String(err?.message ?? err).split('\n')[0];
    throw new BundleError(`onnxruntime ${ort.env?.versions?.common ?? ''} cannot load the bundle's ${role} model: ${first}`);
  }
}

/**
 * Runs the encoder and the single-step decoder with onnxruntime (a step model for decoding.js), and
 * the one-graph greedy decoder when given (`greedyIds`).
 */
export class OnnxStepModel {
  /**
   * @param {object} ort the onnxruntime module (onnxruntime-node or onnxruntime-web)
   * @param {Uint8Array} encoder the encoder model's bytes
   * @param {Uint8Array} decoderStep the step decoder model's bytes
   * @param {object} sessionOptions onnxruntime session options (execution providers, threads)
   * @param {Uint8Array | null} greedy the one-graph greedy decoder's bytes, if any
   */
  static async create(ort, encoder, decoderStep, sessionOptions = {}, greedy = null) {
    const self = new OnnxStepModel();
    self.ort = ort;
    self.greedy = null;
    try {
      self.encoder = await createSession(ort, encoder, 'encoder', sessionOptions);
      self.decoder = await createSession(ort, decoderStep, 'decoder_step', sessionOptions);
      if (greedy) self.greedy = await createSession(ort, greedy, 'greedy', sessionOptions);
    } catch (err) {
      await self.release();
      throw err;
    }
    return self;
  }

  /** The greedy graph's output_ids: {ids: Int32Array [batch * steps], steps}. */
  async greedyIds(ids, batch, time) {
    const out = await this.greedy.run({ [SOURCE_IDS]: new this.ort.Tensor('int32', ids, [batch, time]) }, [OUTPUT_IDS]);
    const result = out[OUTPUT_IDS];
    return { ids: result.data, steps: result.dims[1] };
  }

  async encode(ids, batch, time) {
    const out = await this.encoder.run({ [SOURCE_IDS]: new this.ort.Tensor('int32', ids, [batch, time]) }, [STATE_H, STATE_C]);
    return { h: out[STATE_H].data, c: out[STATE_C].data };
  }

  async step(tokens, h, c) {
    const batch = tokens.length;
    const latent = h.length / batch;
    const { Tensor } = this.ort;
    const out = await this.decoder.run(
      {
        [TOKEN_IDS]: new Tensor('int32', tokens, [batch]),
        [STATE_H]: new Tensor('float32', h, [batch, latent]),
        [STATE_C]: new Tensor('float32', c, [batch, latent]),
      },
      [LOGITS, NEXT_STATE_H, NEXT_STATE_C],
    );
    return { logits: out[LOGITS].data, h: out[NEXT_STATE_H].data, c: out[NEXT_STATE_C].data };
  }

  async release() {
    await this.encoder?.release?.();
    await this.decoder?.release?.();
    await this.greedy?.release?.();
  }
}
