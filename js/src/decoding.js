// Decoding over any step model: greedy (batched, per-row stop), streaming, beam search, sampling.
// The same loops as `runtime/decoding.py`, so every runtime gives the same outputs on the same bundle:
// ties go to the lower id as numpy's argmax, scores are natural-log probabilities in float64, and beam
// search ranks and stops exactly as the Python runtime does.
//
// A step model works on flat typed arrays, row-major; the decoder's state is named tensors
// {name: {data: Float32Array, dims: [batch, ...]}} (the family's, manifest.js FAMILIES), which the
// loops re-index when rows finish or beams reorder. Beam search also reads the model's `family`, when it
// has one, to leave the per-sentence context (attention's memory) in place while beams only reorder
// within their sentences:
//   encode(ids: Int32Array [batch * time], batch, time) -> Promise<state>
//   step(tokens: Int32Array [batch], state) -> Promise<{logits: Float32Array [batch * vocab], state}>

/**
 * @typedef {object} Decoded
 * @property {number[]} ids output ids, without START and END
 * @property {number} score sum of the log-probabilities of the chosen ids, END included
 * @property {boolean} finished false when the length limit cut the output
 */

/** The log-softmax of `scores[row * vocab .. (row + 1) * vocab)` in float64, into `out`. */
export function logSoftmaxRow(scores, row, vocab, out = new Float64Array(vocab)) {
  const base = row * vocab;
  let max = -Infinity;
  for (let j = 0; j < vocab; j++) if (scores[base + j] > max) max = scores[base + j];
  let sum = 0;
  for (let j = 0; j < vocab; j++) {
    out[j] = scores[base + j] - max;
    sum += Math.exp(out[j]);
  }
  const log = Math.log(sum);
  for (let j = 0; j < vocab; j++) out[j] -= log;
  return out;
}

/** A chooser maps (scores [live * vocab], vocab, rows: the input row of each live entry) to ids. */
export function argmaxChooser(scores, vocab, rows) {
  const out = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    let best = 0;
    let bestValue = scores[i * vocab];
    for (let j = 1; j < vocab; j++) {
      if (scores[i * vocab + j] > bestValue) {
        bestValue = scores[i * vocab + j];
        best = j;
      }
    }
    out[i] = best;
  }
  return out;
}

/**
 * Draw each row's next id from softmax(scores / temperature) restricted to its topK ids (0: all).
 * Row i draws from its own generator `randoms[i]` (a function returning numbers in [0, 1)), so a
 * sentence's sample does not depend on its batch-mates, the batch size or the batch order.
 */
export function samplingChooser(temperature, topK, randoms, never = []) {
  if (!(temperature > 0)) throw new RangeError(`temperature must be positive, got ${temperature}`);
  if (!(topK >= 0)) throw new RangeError(`topK must be 0 (all ids) or positive, got ${topK}`);
  return (scores, vocab, rows) => {
    const out = new Int32Array(rows.length);
    const logits = new Float64Array(vocab);
    for (let i = 0; i < rows.length; i++) {
      let max = -Infinity;
      for (let j = 0; j < vocab; j++) {
        logits[j] = scores[i * vocab + j] / temperature;
      }
      for (const j of never) if (j >= 0 && j < vocab) logits[j] = -Infinity; // the start token is no output character
      for (let j = 0; j < vocab; j++) if (logits[j] > max) max = logits[j];
      let kth = -Infinity;
      if (topK > 0 && topK < vocab) kth = Float64Array.from(logits).sort()[vocab - topK];
      let total = 0;
      let last = 0; // the last id with any probability: where a draw that rounds up to the total lands
      const cdf = new Float64Array(vocab);
      for (let j = 0; j < vocab; j++) {
        const p = logits[j] >= kth ? Math.exp(logits[j] - max) : 0;
        if (p > 0) last = j;
        total += p;
        cdf[j] = total;
      }
      const u = randoms[rows[i]]() * total;
      let pick = 0;
      while (pick < vocab && cdf[pick] <= u) pick++;
      out[i] = Math.min(pick, last);
    }
    return out;
  };
}

/** The state of the batch entries `select` (in that order; repeats allowed). */
export function selectRows(state, select) {
  const out = {};
  for (const [name, { data, dims }] of Object.entries(state)) {
    const width = data.length / dims[0];
    const rows = new data.constructor(select.length * width);
    select.forEach((row, i) => rows.set(data.subarray(row * width, (row + 1) * width), i * width));
    out[name] = { data: rows, dims: [select.length, ...dims.slice(1)] };
  }
  return out;
}

/** Decode each of `batch` rows of `ids` one id at a time, the next id picked by `choose`. */
export async function greedyDecode(model, ids, batch, time, startId, endId, maxSteps, { choose = argmaxChooser, withScores = false } = {}) {
  if (batch === 0) return [];
  let state = await model.encode(ids, batch, time);
  const out = Array.from({ length: batch }, () => []);
  const finished = new Array(batch).fill(false);
  const totals = new Float64Array(batch);
  let rows = Array.from({ length: batch }, (_, i) => i);
  let tokens = new Int32Array(batch).fill(startId);
  let logProbs = null;
  for (let t = 0; t < maxSteps; t++) {
    const next = await model.step(tokens, state);
    ({ state } = next);
    const vocab = next.logits.length / rows.length;
    tokens = choose(next.logits, vocab, rows);
    const live = [];
    for (let i = 0; i < rows.length; i++) {
      if (withScores) {
        logProbs ??= new Float64Array(vocab);
        totals[rows[i]] += logSoftmaxRow(next.logits, i, vocab, logProbs)[tokens[i]];
      }
      if (tokens[i] === endId) finished[rows[i]] = true;
      else {
        out[rows[i]].push(tokens[i]);
        live.push(i);
      }
    }
    if (live.length === 0) break;
    if (live.length < rows.length) {
      rows = live.map((i) => rows[i]);
      tokens = Int32Array.from(live, (i) => tokens[i]);
      state = selectRows(state, live);
    }
  }
  return out.map((ids_, i) => ({ ids: ids_, score: totals[i], finished: finished[i] }));
}

/**
 * Decoded rows of a one-graph greedy decoder's output ({ids: [batch * steps], steps}): each row up to
 * its first END (finished), or its first `maxSteps` ids (cut by the length limit). No scores (0).
 */
export function cutAtEnd({ ids, steps }, batch, endId, maxSteps) {
  const out = [];
  for (let b = 0; b < batch; b++) {
    const row = [];
    let finished = false;
    for (let t = 0; t < Math.min(steps, maxSteps); t++) {
      const id = ids[b * steps + t];
      if (id === endId) {
        finished = true;
        break;
      }
      row.push(id);
    }
    out.push({ ids: row, score: 0, finished });
  }
  return out;
}

/** The ids of one sentence (`ids` [1 * time]) as they are decoded, END excluded. */
export async function* streamDecode(model, ids, time, startId, endId, maxSteps, { choose = argmaxChooser } = {}) {
  let state = await model.encode(ids, 1, time);
  let token = Int32Array.of(startId);
  const rows = [0];
  for (let t = 0; t < maxSteps; t++) {
    const next = await model.step(token, state);
    ({ state } = next);
    token = choose(next.logits, next.logits.length, rows);
    if (token[0] === endId) return;
    yield token[0];
  }
}

/**
 * The `numHypotheses` best hypotheses of each row, best first (`runtime/decoding.py`'s beam_decode).
 *
 * Hypotheses are ranked by score / length ** lengthPenalty, length counting END (0: by the plain sum
 * of log-probabilities). Each step keeps, per sentence, the `beamSize` best prefixes that do not end;
 * a prefix that ends among the `beamSize` best candidates becomes a hypothesis. A sentence stops once
 * no live prefix can still outrank its `numHypotheses`-th hypothesis.
 */
export async function beamDecode(model, ids, batch, time, startId, endId, maxSteps, beamSize, numHypotheses = 1, lengthPenalty = 1.0) {
  if (!(beamSize >= 1)) throw new RangeError(`beamSize must be at least 1, got ${beamSize}`);
  if (!(numHypotheses >= 1 && numHypotheses <= beamSize)) {
    throw new RangeError(`numHypotheses must be between 1 and beamSize (${beamSize}), got ${numHypotheses}`);
  }
  if (!(lengthPenalty >= 0)) throw new RangeError(`lengthPenalty must be 0 or positive, got ${lengthPenalty}`);
  if (batch === 0) return [];
  const rank = (d) => {
    const length = d.ids.length + (d.finished ? 1 : 0);
    return lengthPenalty ? d.score / length ** lengthPenalty : d.score;
  };
  const byRank = (a, b) => rank(b) - rank(a);
  let state = await model.encode(ids, batch, time);
  const context = new Set(model.family?.context ?? []); // names constant per sentence
  let owner = Array.from({ length: batch }, (_, i) => i); // sentence of each live prefix
  let prefixes = owner.map(() => []);
  let totals = new Float64Array(batch);
  let tokens = new Int32Array(batch).fill(startId);
  const finished = owner.map(() => []);
  for (let t = 0; t < maxSteps; t++) {
    const next = await model.step(tokens, state);
    ({ state } = next);
    const vocab = next.logits.length / owner.length;
    const candidates = new Float64Array(owner.length * vocab);
    for (let i = 0; i < owner.length; i++) {
      const row = logSoftmaxRow(next.logits, i, vocab);
      for (let j = 0; j < vocab; j++) candidates[i * vocab + j] = totals[i] + row[j];
      if (startId >= 0 && startId < vocab) candidates[i * vocab + startId] = -Infinity; // START is no output character
    }
    const keep = []; // [live row, id, total]
    const sentences = [...new Set(owner)].sort((a, b) => a - b);
    for (const sentence of sentences) {
      const mine = [];
      owner.forEach((s, i) => s === sentence && mine.push(i));
      const flat = mine.length * vocab;
      const order = Array.from({ length: flat }, (_, k) => k);
      const value = (k) => candidates[mine[Math.floor(k / vocab)] * vocab + (k % vocab)];
      // Best first; ties: the lower index, as argmax (the Python and C loops too). At most beamSize
      // candidates end, so the best 2 * beamSize hold beamSize that do not.
      order.sort((a, b) => value(b) - value(a) || a - b);
      const alive = [];
      order.slice(0, Math.min(flat, 2 * beamSize)).forEach((k, position) => {
        const row = mine[Math.floor(k / vocab)];
        const token = k % vocab;
        const total = value(k);
        if (token === endId) {
          if (position < beamSize) finished[sentence].push({ ids: prefixes[row].slice(), score: total, finished: true });
        } else if (alive.length < beamSize) alive.push([row, token, total]);
      });
      const done = finished[sentence];
      if (t === maxSteps - 1) {
        // Cut by the length limit: they count as they stand, as in greedy.
        for (const [row, token, total] of alive) done.push({ ids: [...prefixes[row], token], score: total, finished: false });
        continue;
      }
      if (done.length >= numHypotheses && alive.length) {
        done.sort(byRank);
        // The best a live prefix can still rank: its score only falls, and its length reaches at
        // most maxSteps (dividing a negative score by more raises it).
        const bestLive = Math.max(...alive.map(([, , total]) => total));
        const bound = lengthPenalty ? bestLive / maxSteps ** lengthPenalty : bestLive;
        if (rank(done[numHypotheses - 1]) >= bound) continue;
      }
      keep.push(...alive);
    }
    if (keep.length === 0) break;
    const select = keep.map(([row]) => row);
    tokens = Int32Array.from(keep, ([, token]) => token);
    totals = Float64Array.from(keep, ([, , total]) => total);
    // The context (attention's memory) is per sentence: while every sentence keeps its rows,
    // reordering prefixes within their sentences leaves it as it is, so it moves only when a
    // sentence's number of rows changes (the first step, a sentence that stops).
    const moved = select.map((row) => owner[row]);
    const still = moved.length === owner.length && moved.every((s, i) => s === owner[i]) ? context : new Set();
    const [kept, moving] = [true, false].map((stays) => Object.fromEntries(
      Object.entries(state).filter(([name]) => still.has(name) === stays)));
    state = { ...selectRows(moving, select), ...kept };
    owner = moved;
    prefixes = select.map((row, i) => [...prefixes[row], tokens[i]]);
  }
  return finished.map((done) => done.sort(byRank).slice(0, numHypotheses));
}
