// The library on a real bundle against the Python runtime's answers (see fixture.mjs): greedy, beam
// and streaming parity on held-out sentences, onnxruntime-node and onnxruntime-web (WASM, the
// browser's engine) on the same files, and the bundle checks (tampering, escaping names, extra files).

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as ortWeb from 'onnxruntime-web';

import {
  BackendUnavailableError,
  BundleError,
  FetchSource,
  GREEDY_LOOP_MAX_BATCH,
  InputTooLongError,
  NoGoldenError,
  Translator,
  UnknownCharacterError,
} from '../src/node.js';
import { BUNDLE, agreement, copyBundle, dropGolden, editGolden, goldenEntry, goldenOf, needsBundle, reference } from './fixture.mjs';

// The engines' versions as their packages give them (what the self-check names as the engine).
const packageVersion = (name) => JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;
const ORT_NODE_VERSION = packageVersion('onnxruntime-node');
const ORT_WEB_VERSION = packageVersion('onnxruntime-web');

const TOLERANCE = 1e-4;

describe('onnxruntime-node on the exported bundle', needsBundle, () => {
  let float32;
  let int8;
  before(async () => {
    float32 = await Translator.load(BUNDLE);
    int8 = await Translator.load(BUNDLE, { precision: 'int8' });
  });
  after(async () => {
    await float32?.release();
    await int8?.release();
  });

  test('greedy float32 equals the Python runtime on every held-out sentence', async (t) => {
    assert.ok(reference.sentences.length >= 200, `only ${reference.sentences.length} sentences`);
    const out = await float32.translate(reference.sentences);
    t.diagnostic(`float32: ${out.length} sentences, agreement ${agreement(out, reference.greedy.float32)}`);
    assert.deepEqual(out, reference.greedy.float32);
  });

  test('greedy int8 equals the Python runtime (row by row: its quantization is batch-dependent)', async (t) => {
    assert.equal(int8.batchInvariant, false);
    const out = await int8.translate(reference.sentences);
    t.diagnostic(`int8: agreement with Python ${agreement(out, reference.greedy.int8)} on ${out.length} sentences`);
    assert.deepEqual(out, reference.greedy.int8);
  });

  test('the one-graph greedy decoder, used by default, gives what stepping gives', async (t) => {
    for (const [precision, translator] of [['float32', float32], ['int8', int8]]) {
      assert.ok(translator.model.greedy, `the exported bundle has no ${precision} greedy graph in use`);
      const stepping = await Translator.load(BUNDLE, { precision, greedyLoop: false });
      assert.equal(stepping.model.greedy, null);
      const some = reference.sentences.slice(0, precision === 'int8' ? 100 : undefined);
      const stepped = await stepping.translate(some);
      await stepping.release();
      const sizes = precision === 'int8' ? [1] : [1, 5, GREEDY_LOOP_MAX_BATCH];
      for (const size of sizes) {
        const looped = await Translator.load(BUNDLE, { precision, maxBatchSize: size });
        let calls = 0;
        const greedyIds = looped.model.greedyIds.bind(looped.model);
        looped.model.greedyIds = (...args) => ((calls += 1), greedyIds(...args));
        assert.deepEqual(await looped.translate(some), stepped, `${precision}, batches of ${size}`);
        assert.equal(calls, Math.ceil(some.length / size), 'every batch ran the graph');
        await looped.release();
      }
      t.diagnostic(`${precision}: the greedy graph equals stepping on ${some.length} sentences in batches of ${sizes.join(', ')}`);
    }
  });

  test('a released Translator says so, in its own words', async () => {
    const one = await Translator.load(BUNDLE);
    await one.release();
    await one.release(); // twice is harmless
    await assert.rejects(one.translate('x'), (err) => err.name === 'S2SError' && /released: load another one/.test(err.message));
    await assert.rejects(one.hypotheses(['x']), /released/);
    assert.throws(() => one.translateStream('x'), /released/);
  });

  test('seeds: past 2**53 as BigInts, not as imprecise Numbers', async () => {
    const text = reference.sentences[0];
    const options = (seed) => ({ topK: 0, seed });
    const a = await float32.translate(text, options(2n ** 60n));
    assert.equal(await float32.translate(text, options(2n ** 60n)), a);
    assert.equal(await float32.translate(text, options(2n ** 40n)), await float32.translate(text, options(2 ** 40)));
    await assert.rejects(float32.translate(text, options(2 ** 60)), /past 2\*\*53: pass a BigInt/);
    await assert.rejects(float32.translate(text, options(-1n)), /seed must be a non-negative integer/);
  });

  test('batch size does not change a float32 translation', async () => {
    const one = await Translator.load(BUNDLE, { maxBatchSize: 1 });
    const some = reference.sentences.slice(0, 40);
    assert.deepEqual(await one.translate(some), reference.greedy.float32.slice(0, 40));
    await one.release();
  });

  test('greedy scores match Python within 1e-4', async () => {
    const n = reference.greedyScores.length;
    const hyps = await float32.hypotheses(reference.sentences.slice(0, n));
    hyps.forEach(([h], i) => {
      const want = reference.greedyScores[i];
      assert.equal(h.text, want.text);
      assert.equal(h.finished, want.finished);
      assert.ok(Math.abs(h.score - want.score) <= TOLERANCE, `${h.score} vs ${want.score}`);
    });
  });

  test('beam n-best: the same texts in the same order, scores within 1e-4', async () => {
    const { beamSize, numHypotheses, lengthPenalty, sentences, hypotheses } = reference.beam;
    const got = await float32.hypotheses(sentences, { beamSize, numHypotheses, lengthPenalty });
    let worst = 0;
    got.forEach((hyps, i) => {
      assert.deepEqual(hyps.map((h) => h.text), hypotheses[i].map((h) => h.text), `sentence ${i}: ${sentences[i]}`);
      assert.deepEqual(hyps.map((h) => h.finished), hypotheses[i].map((h) => h.finished));
      hyps.forEach((h, k) => (worst = Math.max(worst, Math.abs(h.score - hypotheses[i][k].score))));
    });
    assert.ok(worst <= TOLERANCE, `largest score difference ${worst}`);
  });

  test('streaming joined equals greedy', async () => {
    const some = reference.sentences.slice(0, 60);
    for (const [i, text] of some.entries()) {
      let joined = '';
      for await (const char of float32.translateStream(text)) joined += char;
      assert.equal(joined, reference.greedy.float32[i]);
    }
  });

  test('input policy: skip and truncate give what Python gives; errors name the problem', async () => {
    const { outside, skip, truncate } = reference.policy;
    assert.deepEqual(await float32.translate(skip.map(([s]) => s), { onUnknown: 'skip' }), skip.map(([, t]) => t));
    assert.deepEqual(await float32.translate(truncate.map(([s]) => s), { onOverflow: 'truncate' }), truncate.map(([, t]) => t));
    await assert.rejects(float32.translate(skip[0][0]), (err) => {
      assert.ok(err instanceof UnknownCharacterError);
      assert.deepEqual(err.characters, outside);
      for (const c of outside) assert.ok(err.message.includes(JSON.stringify(c)), err.message);
      return true;
    });
    await assert.rejects(float32.translate(truncate[0][0]), InputTooLongError);
    assert.equal(await float32.translate(''), '');
    await assert.rejects(float32.translate(42), TypeError);
  });
});

describe('bundle checks', needsBundle, () => {
  test('a tampered model file is refused before it is loaded', async () => {
    const { dir, cleanup } = copyBundle();
    try {
      const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
      const file = path.join(dir, manifest.artifacts.find((a) => a.role === 'decoder_step' && a.precision === 'float32').file);
      const bytes = readFileSync(file);
      bytes[bytes.length >> 1] ^= 0x01;
      writeFileSync(file, bytes);
      await assert.rejects(Translator.load(dir), (err) => err instanceof BundleError && /does not match its sha256/.test(err.message));
    } finally {
      cleanup();
    }
  });

  test('a manifest naming ../x is refused', async () => {
    const { dir, cleanup } = copyBundle();
    try {
      const file = path.join(dir, 'manifest.json');
      const manifest = JSON.parse(readFileSync(file, 'utf8'));
      manifest.artifacts[0].file = '../x';
      writeFileSync(file, JSON.stringify(manifest));
      await assert.rejects(Translator.load(dir), (err) => err instanceof BundleError && /outside the bundle: "\.\.\/x"/.test(err.message));
    } finally {
      cleanup();
    }
  });

  test('unlisted files, missing bundles, absent precisions and backends are refused', async () => {
    const { dir, cleanup } = copyBundle();
    try {
      writeFileSync(path.join(dir, 'stray.onnx'), 'x');
      await assert.rejects(Translator.load(dir), /does not list: stray\.onnx/);
      mkdirSync(path.join(dir, 'empty'));
      await assert.rejects(Translator.load(path.join(dir, 'empty')), /no manifest\.json/);
      await assert.rejects(Translator.load(path.join(dir, 'nope')), /bundle directory not found/);
    } finally {
      cleanup();
    }
    await assert.rejects(Translator.load(BUNDLE, { precision: 'float16' }), /no complete onnx\/float16 model \(it has: .*onnx\/float32/);
    await assert.rejects(Translator.load(BUNDLE, { backend: 'tflite' }), BackendUnavailableError);
  });
});

describe('golden translations and the self-check', needsBundle, () => {
  test('the exported bundle is version 4 with golden translations of each ONNX model', () => {
    const { manifest, golden } = goldenOf(BUNDLE);
    assert.equal(manifest.format_version, 4);
    assert.deepEqual(Object.keys(manifest.golden).sort(), ['file', 'sha256', 'size']);
    for (const precision of ['float32', 'int8']) {
      const entry = golden.artifacts.find((a) => a.backend === 'onnx' && a.precision === precision);
      assert.ok(entry?.sources.length > 0, `no golden translations of onnx/${precision}`);
    }
  });

  for (const precision of ['float32', 'int8']) {
    test(`${precision}: every golden sentence decodes as the export recorded (onnxruntime-node)`, async () => {
      const entry = goldenEntry(BUNDLE, precision);
      const t = await Translator.load(BUNDLE, { precision });
      try {
        const check = await t.selfCheck();
        const n = entry.sources.length;
        assert.equal(check.firstDifference, null, check.summary());
        assert.deepEqual([check.identical, check.total, check.k, check.N, check.passed], [n, n, n, n, true]);
        assert.deepEqual([check.backend, check.precision, check.kernels], ['onnx', precision, 'default']);
        assert.equal(check.engine, `onnxruntime-node ${ORT_NODE_VERSION}`);
        const d = entry.decode;
        assert.deepEqual({ ...check.recorded }, { engine: d.engine, engineVersion: d.engine_version, machine: d.machine ?? null, kernels: 'default' });
        assert.equal(check.summary(), `onnx/${precision}, default kernels, onnxruntime-node ${ORT_NODE_VERSION}: ${n}/${n} identical to the golden decodes ` +
          `(recorded with ${d.engine} ${d.engine_version}${d.machine ? ` on ${d.machine}` : ''})`);
      } finally {
        await t.release();
      }
    });
  }

  test('a recorded decode edited (and rehashed) is reported as the first difference', async () => {
    const { dir, cleanup } = copyBundle();
    try {
      const original = goldenEntry(dir, 'float32');
      editGolden(dir, (golden) => {
        const d = golden.artifacts.find((a) => a.backend === 'onnx' && a.precision === 'float32').decodes.find((x) => x.kernels === 'default');
        d.outputs[2] = `${d.outputs[2]}!`;
      });
      const t = await Translator.load(dir);
      try {
        const check = await t.selfCheck();
        const n = original.sources.length;
        assert.deepEqual([check.identical, check.total, check.passed], [n - 1, n, false]);
        assert.deepEqual({ ...check.firstDifference }, {
          index: 2, source: original.sources[2], recorded: `${original.decode.outputs[2]}!`, got: original.decode.outputs[2],
        });
        const lines = check.summary().split('\n');
        assert.equal(lines.length, 4);
        assert.match(lines[0], new RegExp(`: ${n - 1}/${n} identical to the golden decodes`));
        assert.equal(lines[1], `first difference, sentence 3 of ${n}: ${JSON.stringify(original.sources[2])}`);
      } finally {
        await t.release();
      }
      // int8's golden translations are untouched.
      const int8 = await Translator.load(dir, { precision: 'int8' });
      assert.equal((await int8.selfCheck()).passed, true);
      await int8.release();
    } finally {
      cleanup();
    }
  });

  test('a bundle without golden translations loads, and its self-check says there are none', async () => {
    const { dir, cleanup } = copyBundle();
    try {
      dropGolden(dir);
      const t = await Translator.load(dir);
      try {
        assert.equal(t.golden, null);
        await assert.rejects(t.selfCheck(), (err) => err instanceof NoGoldenError && err instanceof BundleError &&
          err.message === 'this bundle has no golden translations (it was exported before format version 4, or with --golden 0): export it again to record them');
      } finally {
        await t.release();
      }
    } finally {
      cleanup();
    }
  });

  test('the golden file is checked as a model file is, whatever is asked next: missing, a link, tampered, malformed', async () => {
    const { dir, cleanup } = copyBundle();
    try {
      const { manifest } = goldenOf(dir);
      const file = path.join(dir, manifest.golden.file);
      const bytes = readFileSync(file);
      // Listed: the directory holds no file its manifest does not list.
      await (await Translator.load(dir)).release();
      rmSync(file);
      await assert.rejects(Translator.load(dir), { name: 'BundleError', message: `bundle file missing or not a regular file: ${file}` });
      writeFileSync(path.join(dir, 'elsewhere.json'), bytes);
      symlinkSync('elsewhere.json', file);
      rmSync(path.join(dir, 'elsewhere.json'));
      await assert.rejects(Translator.load(dir), /is a symbolic link, not a regular file/);
      rmSync(file);
      const tampered = Buffer.from(bytes);
      tampered[tampered.length >> 1] ^= 0x01;
      writeFileSync(file, tampered);
      await assert.rejects(Translator.load(dir, { precision: 'int8' }), { message: `bundle file ${file} does not match its sha256 in manifest.json: the bundle is corrupt or was modified; export it again` });
      writeFileSync(file, Buffer.concat([bytes, Buffer.from(' ')]));
      await assert.rejects(Translator.load(dir), new RegExp(`it is ${bytes.length + 1} bytes, not the ${bytes.length} listed there`));
      writeFileSync(file, bytes);
      editGolden(dir, (golden) => {
        golden.artifacts[0].precision = 'int4';
      });
      await assert.rejects(Translator.load(dir), { message: `${file} holds golden translations for onnx/int4, which the bundle does not hold` });
    } finally {
      cleanup();
    }
  });
});

/** A static server for a bundle directory, as a page's own server would serve it. */
async function serveDir(root) {
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url, 'http://localhost').pathname).replace(/^\/+/, '');
    try {
      if (name.includes('/') || name.includes('..')) throw new Error('outside');
      res.end(readFileSync(path.join(root, name)));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((resolve) => server.close(resolve)) };
}

describe('onnxruntime-web (WASM) over fetch and WebCrypto, the browser path', needsBundle, () => {
  let server;
  before(async () => {
    ortWeb.env.wasm.numThreads = 1;
    server = await serveDir(BUNDLE);
  });
  after(() => server?.close());

  const load = (url, precision) => Translator.create(new FetchSource(url), ortWeb, { precision, sessionOptions: { executionProviders: ['wasm'] } });

  test('float32 equals the Python runtime on every held-out sentence', async () => {
    const t = await load(server.url, 'float32');
    assert.deepEqual(await t.translate(reference.sentences), reference.greedy.float32);
    await t.release();
  });

  test('the self-check of float32 passes in WASM: the golden decodes, recorded on x86', async () => {
    const t = await load(server.url, 'float32');
    try {
      const check = await t.selfCheck();
      assert.equal(check.engine, `onnxruntime-web ${ORT_WEB_VERSION}`);
      assert.ok(check.passed && check.total > 0, check.summary());
    } finally {
      await t.release();
    }
  });

  test('int8 agrees with Keras about as the export measured it', async (t) => {
    const web = await load(server.url, 'int8');
    const out = await web.translate(reference.sentences);
    await web.release();
    // WASM's integer kernels are not x86's (MLAS with VNNI): dynamic quantization rounds differently, so
    // int8 decodes may differ from the Python runtime's where the export measured near-ties.
    const withPython = agreement(out, reference.greedy.int8);
    const withKeras = agreement(out, reference.greedy.float32); // float32 decodes equal Keras' (checked at export)
    const v = (await new FetchSource(server.url).manifest()).validation['onnx/int8'];
    const exported = v.decodes_identical / v.decodes_compared;
    t.diagnostic(`web int8: same as Python int8 ${withPython.toFixed(3)}; same as Keras ${withKeras.toFixed(3)}; export measured ${exported.toFixed(3)} (x86)`);
    assert.ok(withKeras >= exported - 0.1, `web int8 agrees with Keras on ${withKeras}, the export measured ${exported}`);
  });

  test('a tampered file served over HTTP is refused', async () => {
    const { dir, cleanup } = copyBundle();
    const tampered = await serveDir(dir);
    try {
      const file = path.join(dir, JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')).artifacts[0].file);
      const bytes = readFileSync(file);
      bytes[10] ^= 0xff;
      writeFileSync(file, bytes);
      await assert.rejects(load(tampered.url, 'float32'), (err) => err instanceof BundleError && /sha256/.test(err.message));
      await assert.rejects(load(`${tampered.url}missing/`, 'float32'), /HTTP 404/);
      writeFileSync(file, readFileSync(path.join(BUNDLE, path.basename(file))));
      // The golden file, named by its URL.
      const golden = path.join(dir, goldenOf(dir).manifest.golden.file);
      const goldenBytes = readFileSync(golden);
      goldenBytes[goldenBytes.length >> 1] ^= 0x01;
      writeFileSync(golden, goldenBytes);
      await assert.rejects(load(tampered.url, 'float32'), {
        message: `bundle file ${tampered.url}${path.basename(golden)} does not match its sha256 in manifest.json: the bundle is corrupt or was modified; export it again`,
      });
      editGolden(dir, (data) => {
        data.format_version = 2;
      });
      await assert.rejects(load(tampered.url, 'float32'), {
        message: `${tampered.url}${path.basename(golden)} has format_version 2; this runtime reads version 1: upgrade s2s-edge`,
      });
    } finally {
      await tampered.close();
      cleanup();
    }
  });
});
