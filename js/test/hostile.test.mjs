// Bundles that lie about themselves, read by the JavaScript runtime: the cases of tests/hostile/cases.json,
// the file the Python runtime's tests read too (tests/test_hostile_bundles.py), so both runtimes answer
// each hostile bundle alike. tests/test_js.py runs this with the bundles it exports: S2S_TEST_BUNDLE (a
// seed-family bundle) and S2S_TEST_ATTENTION_BUNDLE (an attention-family one). The sweep of the
// manifest's schema needs no bundle.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, createReadStream, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

import {
  MAX_ARTIFACT_BYTES, MAX_LATENT_DIM, MAX_LENGTH, MAX_NESTING, MAX_VOCAB_SIZE, jsonNesting, parseManifest,
} from '../src/manifest.js';
import { Translator as CoreTranslator } from '../src/core.js';
import { BundleError, FetchSource, Translator } from '../src/node.js';
import { BUNDLE, needsBundle, reference } from './fixture.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CASES_FILE = process.env.S2S_HOSTILE_CASES ?? path.join(here, '..', '..', 'tests', 'hostile', 'cases.json');
const CASES = JSON.parse(readFileSync(CASES_FILE, 'utf8'));
const SCHEMA = JSON.parse(readFileSync(path.join(here, '..', 'src', 'manifest.schema.json'), 'utf8'));
const BUNDLES = { seed: BUNDLE, attention: process.env.S2S_TEST_ATTENTION_BUNDLE };

// --- building a case's bundle (tests/test_hostile_bundles.py does the same) ----------------------

const matches = (artifact, select) => Object.entries(select).every(([k, v]) => artifact[k] === v);

/** The container and key that `keys` names; an object in a path selects the list item it matches. */
function resolve(data, keys) {
  let node = data;
  for (const [i, key] of keys.entries()) {
    const k = typeof key === 'object' ? node.findIndex((item) => matches(item, key)) : key;
    if (i === keys.length - 1) return [node, k];
    node = node[k];
  }
  throw new Error('empty path');
}

function bundleOf(name) {
  if (!BUNDLES[name]) throw new Error(`no ${name} bundle: set S2S_TEST_ATTENTION_BUNDLE (tests/test_js.py does)`);
  return BUNDLES[name];
}

const PATH_OPS = ['set', 'delete', 'add', 'cut', 'append', 'split', 'raw', 'nest', 'keys'];

/** A path operation on parsed JSON (the manifest, or a golden file); raw JSON goes in at `serialize`. */
function applyPathOp(op, data, raws) {
  const [node, key] = resolve(data, op.path);
  if (op.op === 'set') node[key] = structuredClone(op.value);
  else if (op.op === 'delete') delete node[key];
  else if (op.op === 'add') node[key] += op.by;
  else if (op.op === 'cut') node[key] = Array.isArray(node[key]) ? node[key].slice(0, -op.chars) : Array.from(node[key]).slice(0, -op.chars).join('');
  else if (op.op === 'append') node[key] += op.text;
  else if (op.op === 'split') node[key] = Array.from(node[key]);
  else {
    const marker = `@@raw${raws.size}@@`;
    const raw = op.op === 'raw' ? op.json
      : op.op === 'keys' ? `{${Array.from({ length: op.count }, (_, i) => `${JSON.stringify(op.key)}: ${i}`).join(', ')}}`
        : '['.repeat(op.depth) + ']'.repeat(op.depth);
    raws.set(JSON.stringify(marker), raw);
    node[key] = marker;
  }
}

function serialize(data, raws) {
  let text = JSON.stringify(data);
  for (const [marker, raw] of raws) text = text.replace(marker, raw);
  return text;
}

const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);
const isPlainName = (name) => typeof name === 'string' && /^[^/\\:\0]+$/.test(name) && name !== '.' && name !== '..';

/**
 * The "golden" operation: the golden file of the case's bundle (or, with "from", of that other bundle),
 * edited with path operations ("edit") or replaced by "text", written where the manifest's golden names
 * it; "rehash" records its new sha256 and size in the manifest.
 */
function applyGoldenOp(op, manifest, bundle) {
  const fromDir = op.from ? bundleOf(op.from) : bundle;
  // The manifest on disk: the one the bundle was copied with (this case's is written after its operations).
  const source = JSON.parse(readFileSync(path.join(fromDir, 'manifest.json'), 'utf8')).golden.file;
  const target = isPlainName(manifest.golden?.file) ? manifest.golden.file : source;
  let bytes;
  if (op.text !== undefined) {
    bytes = Buffer.from(op.text, op.encoding === 'latin-1' ? 'latin1' : 'utf8');
  } else {
    const golden = JSON.parse(readFileSync(path.join(fromDir, source), 'utf8'));
    const raws = new Map();
    for (const edit of op.edit ?? []) {
      if (!PATH_OPS.includes(edit.op)) throw new Error(`unknown golden edit ${edit.op}`);
      applyPathOp(edit, golden, raws);
    }
    bytes = Buffer.from(serialize(golden, raws), 'utf8');
  }
  writeFileSync(path.join(bundle, target), bytes);
  if (op.rehash) {
    manifest.golden = { ...(isObject(manifest.golden) ? manifest.golden : { file: target }), sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
  }
}

function applyManifestOp(op, manifest, bundle, raws) {
  if (PATH_OPS.includes(op.op)) {
    applyPathOp(op, manifest, raws);
  } else if (op.op === 'golden') {
    applyGoldenOp(op, manifest, bundle);
  } else if (op.op === 'roles') {
    for (const a of manifest.artifacts) if (matches(a, op.select) && Object.hasOwn(op.map, a.role)) a.role = op.map[a.role];
  } else if (op.op === 'graft') {
    const other = bundleOf(op.from);
    const theirs = JSON.parse(readFileSync(path.join(other, 'manifest.json'), 'utf8')).artifacts;
    for (const role of op.roles) {
      const mine = manifest.artifacts.find((a) => matches(a, { ...op.select, role }));
      const graft = theirs.find((a) => matches(a, { ...op.select, role }));
      copyFileSync(path.join(other, graft.file), path.join(bundle, mine.file));
      Object.assign(mine, { sha256: graft.sha256, size: graft.size });
    }
  } else {
    throw new Error(`unknown manifest operation ${op.op}`);
  }
}

function applyFileOp(op, manifest, bundle) {
  let file = path.join(bundle, 'manifest.json');
  if (['grow', 'shrink', 'link_artifact'].includes(op.op)) file = path.join(bundle, manifest.artifacts.find((a) => matches(a, op.select)).file);
  if (op.op === 'grow' || op.op === 'shrink') truncateSync(file, op.bytes); // growing leaves a sparse file
  else if (op.op === 'link_artifact' || op.op === 'link_manifest') {
    let target = op.to ?? 'outside';
    if (target === 'outside') {
      target = path.join(path.dirname(bundle), `elsewhere-${path.basename(file)}`);
      renameSync(file, target);
    } else unlinkSync(file);
    symlinkSync(target, file);
  } else if (op.op === 'manifest_text') writeFileSync(file, Buffer.from(op.text, op.encoding === 'latin-1' ? 'latin1' : 'utf8'));
  else if (op.op === 'manifest_prefix') writeFileSync(file, Buffer.concat([Buffer.from(op.text, 'utf8'), readFileSync(file)]));
  else throw new Error(`unknown file operation ${op.op}`);
}

/** A copy of the case's bundle, changed as the case says: {dir, cleanup}. */
function buildCase(testCase) {
  const tmp = mkdtempSync(path.join(tmpdir(), 's2s-edge-hostile-'));
  const bundle = path.join(tmp, 'bundle');
  cpSync(bundleOf(testCase.bundle ?? 'seed'), bundle, { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
  const raws = new Map();
  for (const op of testCase.manifest ?? []) applyManifestOp(op, manifest, bundle, raws);
  writeFileSync(path.join(bundle, 'manifest.json'), serialize(manifest, raws));
  for (const op of testCase.files ?? []) applyFileOp(op, manifest, bundle);
  return { dir: bundle, cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

/** A static server for a directory, as a page's own server would serve it: with Content-Length, or chunked. */
async function serve(root, { chunked }) {
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url, 'http://localhost').pathname).replace(/^\/+/, '');
    const file = path.join(root, name);
    let size;
    try {
      if (name.includes('/') || name.includes('..')) throw new Error('outside');
      size = statSync(file).size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, chunked ? {} : { 'Content-Length': size });
    const stream = createReadStream(file);
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(resolve);
    }),
  };
}

async function check(testCase, load) {
  const peakBefore = process.resourceUsage().maxRSS; // KiB
  const started = performance.now();
  if (testCase.error === null) {
    const translator = await load();
    try {
      const options = { onUnknown: 'skip', onOverflow: 'truncate' };
      const sentence = reference.sentences[0];
      const t = testCase.translate;
      if (t) {
        let out;
        if (t.beam) out = (await translator.hypotheses([sentence], { beamSize: t.beam, ...options }))[0][0].text;
        else if (t.scores) out = (await translator.hypotheses([sentence], options))[0][0].text;
        else out = await translator.translate(sentence, options);
        for (const c of out) assert.ok(translator.manifest.targetVocab.has(c), JSON.stringify(out));
      }
    } finally {
      await translator.release();
    }
  } else {
    await assert.rejects(load(), (err) => {
      assert.ok(err instanceof BundleError, `${err?.name}: ${err?.message}`);
      assert.ok(err.message.includes(testCase.error), err.message);
      assert.ok(err.message.includes(testCase.also ?? ''), err.message);
      assert.ok(!err.message.includes('\n') && err.message.length < 600, err.message);
      for (const leak of testCase.not_in_error ?? []) assert.ok(!err.message.includes(leak), err.message);
      return true;
    });
  }
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds < (testCase.seconds ?? 60), `${seconds.toFixed(1)} s`);
  if (testCase.max_mib !== undefined) {
    const grew = (process.resourceUsage().maxRSS - peakBefore) / 1024;
    assert.ok(grew < testCase.max_mib, `the peak memory grew by ${grew.toFixed(0)} MiB`);
  }
}

const nodeCases = CASES.cases.filter((c) => (c.runtimes ?? ['javascript']).includes('javascript'));

describe('hostile bundles (tests/hostile/cases.json), from a directory', needsBundle, () => {
  for (const testCase of nodeCases) {
    test(testCase.name, async () => {
      const { dir, cleanup } = buildCase(testCase);
      try {
        await check(testCase, () => Translator.load(dir, { backend: testCase.backend ?? 'onnx' }));
      } finally {
        cleanup();
      }
    });
  }
});

describe('hostile bundles (tests/hostile/cases.json), over HTTP', needsBundle, () => {
  for (const chunked of [false, true]) {
    for (const testCase of nodeCases.filter((c) => c.http)) {
      test(`${testCase.name} (${chunked ? 'chunked, no Content-Length' : 'Content-Length'})`, async () => {
        const { dir, cleanup } = buildCase(testCase);
        const server = await serve(dir, { chunked });
        try {
          await check(testCase, () => Translator.load(new FetchSource(server.url), { backend: testCase.backend ?? 'onnx' }));
        } finally {
          await server.close();
          cleanup();
        }
      });
    }
  }
});

// --- the schema -----------------------------------------------------------------------------------

test('ids past the target vocabulary are a BundleError, never the text "undefined"', async () => {
  const manifest = parseManifest(CASES.sweep.base);
  const vocab = manifest.targetVocab.size;
  const end = manifest.targetVocab.id('\n');
  // A graph that hides its logits' width and scores vocab + 3 ids: it picks id vocab + 1, then END.
  const model = {
    async encode(ids, batch) {
      this.t = 0;
      return { h: { data: new Float32Array(batch * 2), dims: [batch, 2] } };
    },
    async step(tokens, state) {
      this.t += 1;
      const logits = new Float32Array(tokens.length * (vocab + 3));
      for (let i = 0; i < tokens.length; i++) logits[i * (vocab + 3) + (this.t === 1 ? vocab + 1 : end)] = 5;
      return { logits, state };
    },
  };
  const translator = new CoreTranslator(manifest, model);
  const refused = (err) => err instanceof BundleError && err.message.includes(`past the ${vocab} characters of the bundle's target_vocab`);
  await assert.rejects(translator.translate('ab'), refused);
  await assert.rejects(translator.hypotheses(['ab'], { beamSize: 2 }), refused);
  await assert.rejects((async () => {
    for await (const c of translator.translateStream('ab')) assert.fail(`streamed ${JSON.stringify(c)}`);
  })(), refused);
});

describe('the manifest schema (js/src/manifest.schema.json)', () => {
  test('the limits are the schema\'s', () => {
    assert.equal(MAX_LENGTH, SCHEMA.$defs.length.maximum);
    assert.equal(MAX_LATENT_DIM, SCHEMA.properties.latent_dim.maximum);
    assert.equal(MAX_VOCAB_SIZE, SCHEMA.$defs.vocab_size.maximum);
    assert.equal(MAX_ARTIFACT_BYTES, SCHEMA.$defs.artifact.properties.size.maximum);
    assert.equal(MAX_NESTING, SCHEMA.$defs.max_nesting.const);
  });

  test('every value of the sweep gets the verdict the schema gives it (tests/hostile/cases.json)', () => {
    const { base, values, verdicts } = CASES.sweep;
    const wrong = [];
    for (const [where, expected] of Object.entries(verdicts)) {
      const keys = where.split('/').map((k) => (/^\d+$/.test(k) ? Number(k) : k));
      assert.equal(expected.length, values.length, where);
      values.forEach((value, i) => {
        const data = structuredClone(base);
        const [node, key] = resolve(data, keys);
        node[key] = structuredClone(value);
        let got = '.';
        try {
          parseManifest(data);
        } catch (err) {
          assert.ok(err instanceof BundleError && !err.message.includes('\n'), String(err));
          got = err.message.includes('its graphs were built for') ? 's' : 'x';
        }
        if (got !== expected[i]) wrong.push(`${where} = ${JSON.stringify(value)}: ${got}, not ${expected[i]}`);
      });
    }
    assert.deepEqual(wrong, []);
  });

  test('nesting is counted as the Python runtime counts it, without recursion', () => {
    assert.equal(jsonNesting('{"a": [1, {"b": "[[{{"}], "c\\"[": []}'), 3);
    assert.equal(jsonNesting('['.repeat(3_000_000)), 3_000_000);
    assert.equal(jsonNesting(`"${'['.repeat(100)}`), 0);
    assert.equal(jsonNesting(''), 0);
  });
});

