// The onnxruntime backend, for any onnxruntime JavaScript binding: onnxruntime-node in Node,
// onnxruntime-web (WASM) in the browser. The binding is passed in, so this module imports neither.

import { BundleError } from '../errors.js';
import { FAMILIES, LOGITS, OUTPUT_IDS, SOURCE_IDS, TOKEN_IDS, nextName } from '../manifest.js';

/**
 * A session's inputs or outputs as manifest.js `checkGraph` reads them: {name: {type, shape}}, unknown
 * sizes as null. A binding without metadata (older onnxruntime) gives the names alone.
 */
export function graphIO(session, which) {
  const metadata = session[`${which}Metadata`];
  if (!Array.isArray(metadata)) return Object.fromEntries(session[`${which}Names`].map((name) => [name, {}]));
  return Object.fromEntries(metadata.map((m) => [m.name, m.isTensor === false ? { type: 'not a tensor' } : {
    type: m.type,
    // An empty shape is onnxruntime's "not defined" (a scalar reads the same).
    shape: Array.isArray(m.shape) && m.shape.length ? m.shape.map((d) => (typeof d === 'number' && d > 0 ? d : null)) : undefined,
  }]));
}

async function checked(session, role, check) {
  try {
    check?.(role, graphIO(session, 'input'), graphIO(session, 'output'));
  } catch (err) {
    await session.release?.();
    throw err;
  }
  return session;
}

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
   * @param {object} family the graphs' model family (manifest.js FAMILIES)
   * @param {((role: string, inputs: object, outputs: object) => void) | null} check sees each graph's
   *   interface as it is loaded, before anything runs it (manifest.js checkGraph)
   */
  static async create(ort, encoder, decoderStep, sessionOptions = {}, greedy = null, family = FAMILIES.seed, check = null) {
    const self = new OnnxStepModel();
    self.ort = ort;
    self.family = family;
    self.greedy = null;
    try {
      self.encoder = await checked(await createSession(ort, encoder, 'encoder', sessionOptions), 'encoder', check);
      self.decoder = await checked(await createSession(ort, decoderStep, 'decoder_step', sessionOptions), 'decoder_step', check);
      if (greedy) self.greedy = await checked(await createSession(ort, greedy, 'greedy', sessionOptions), 'greedy', check);
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

  /** The decoder's initial state: {name: {data: Float32Array, dims: [batch, ...]}} (decoding.js). */
  async encode(ids, batch, time) {
    const names = [...this.family.state, ...this.family.context];
    const out = await this.encoder.run({ [SOURCE_IDS]: new this.ort.Tensor('int32', ids, [batch, time]) }, names);
    return Object.fromEntries(names.map((name) => [name, { data: out[name].data, dims: out[name].dims }]));
  }

  /** One step: {logits, state}, the state with the family's carried tensors replaced. */
  async step(tokens, state) {
    const { Tensor } = this.ort;
    const feeds = { [TOKEN_IDS]: new Tensor('int32', tokens, [tokens.length]) };
    for (const [name, { data, dims }] of Object.entries(state)) feeds[name] = new Tensor('float32', data, dims);
    const out = await this.decoder.run(feeds, [LOGITS, ...this.family.state.map(nextName)]);
    const next = { ...state };
    for (const name of this.family.state) next[name] = { data: out[nextName(name)].data, dims: out[nextName(name)].dims };
    return { logits: out[LOGITS].data, state: next };
  }

  async release() {
    await this.encoder?.release?.();
    await this.decoder?.release?.();
    await this.greedy?.release?.();
  }
}
