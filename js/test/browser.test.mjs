// The browser demo end to end: demo/serve.mjs serves a bundle, headless Chromium (puppeteer-core)
// loads the page, which self-checks the bundle's golden translations (all identical), real key events
// type reference sentences, and the streamed outputs must equal the Python runtime's greedy outputs on
// the same bundle.
//
// Needs: S2S_TEST_BUNDLE (a bundle directory) and S2S_TEST_REFERENCE (JSON:
// {"sentences": [...], "greedy": {"float32": [...], "int8": [...]}}). Without them the test is
// skipped, unless S2S_REQUIRE_JS=1, when it fails. Chromium: $CHROMIUM or /usr/bin/chromium.
// The screenshot goes to $S2S_SCREENSHOT_DIR (default js/test-output/) as demo.png.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { serve } from '../demo/serve.mjs';

const PACKAGE_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const BUNDLE = process.env.S2S_TEST_BUNDLE;
const REFERENCE = process.env.S2S_TEST_REFERENCE;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT_DIR = path.resolve(process.env.S2S_SCREENSHOT_DIR || path.join(PACKAGE_DIR, 'test-output'));
const REQUIRED = process.env.S2S_REQUIRE_JS === '1';
const TIMEOUT_MS = 120_000;

function missing() {
  if (!BUNDLE || !REFERENCE) return 'S2S_TEST_BUNDLE and S2S_TEST_REFERENCE are not set (a bundle directory and a reference JSON of Python greedy outputs)';
  if (!existsSync(path.join(BUNDLE, 'manifest.json'))) return `S2S_TEST_BUNDLE=${BUNDLE} holds no manifest.json`;
  if (!existsSync(REFERENCE)) return `S2S_TEST_REFERENCE=${REFERENCE} does not exist`;
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (set CHROMIUM)`;
  return null;
}

const reason = missing();
// Skipped when the inputs are absent; with S2S_REQUIRE_JS=1 the test runs and fails on the reason instead.
const skip = reason && !REQUIRED ? `skipped: ${reason}` : false;

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Sentences to type: non-empty expected output, longer than 8 characters, every character in the vocabulary. */
function pickSentences(reference, sourceVocab, count) {
  const { sentences } = reference;
  const expected = reference.greedy?.float32;
  assert.ok(Array.isArray(sentences) && Array.isArray(expected), 'the reference needs "sentences" and "greedy.float32" lists');
  assert.equal(expected.length, sentences.length, 'the reference\'s float32 outputs and sentences differ in number');
  const vocab = new Set(Array.from(sourceVocab));
  const picked = [];
  for (let i = 0; i < sentences.length && picked.length < count; i++) {
    const s = sentences[i];
    if (!expected[i] || Array.from(s).length <= 8 || !Array.from(s).every((c) => vocab.has(c))) continue;
    // Each further sentence must change the output, or the second check would prove nothing.
    if (picked.some((p) => p.expected === expected[i])) continue;
    picked.push({ index: i, sentence: s, expected: expected[i] });
  }
  assert.equal(picked.length, count, `the reference has fewer than ${count} usable sentences`);
  return picked;
}

/** A typeable character outside the source vocabulary. */
function outsideVocab(sourceVocab) {
  const vocab = new Set(Array.from(sourceVocab));
  const c = Array.from('#@QXZ%&*+=0123456789zjq').find((ch) => !vocab.has(ch));
  assert.ok(c, 'no typeable character outside the source vocabulary');
  return c;
}

test('browser demo streams the Python runtime\'s greedy translations (float32)', { skip, timeout: TIMEOUT_MS }, async (t) => {
  if (reason) assert.fail(`S2S_REQUIRE_JS=1 but ${reason}`);
  const { default: puppeteer } = await import('puppeteer-core');
  const manifest = JSON.parse(readFileSync(path.join(BUNDLE, 'manifest.json'), 'utf8'));
  const reference = JSON.parse(readFileSync(REFERENCE, 'utf8'));
  const [first, second] = pickSentences(reference, manifest.source_vocab, 2);

  const problems = [];
  const userDataDir = mkdtempSync(path.join(tmpdir(), 's2s-edge-chromium-'));
  let server;
  let browser;
  try {
    server = await serve({ bundle: BUNDLE, port: 0 });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir,
      args: CHROMIUM_ARGS,
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1000, height: 900 });
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`));
    page.on('response', (res) => {
      if (res.status() >= 400 && !new URL(res.url()).pathname.endsWith('/favicon.ico')) {
        problems.push(`HTTP ${res.status()}: ${res.url()}`);
      }
    });

    const started = Date.now();
    await page.goto(server.url, { waitUntil: 'load' });
    await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state), { timeout: 60_000 });
    const loadState = await page.$eval('body', (b) => b.dataset.state);
    assert.equal(loadState, 'ready', `the page did not load the model: ${await page.$eval('#error', (e) => e.textContent)}`);
    t.diagnostic(`model loaded in ${Date.now() - started} ms`);

    const model = await page.$eval('#model', (e) => e.textContent);
    assert.match(model, /float32/);
    assert.match(model, /onnxruntime-web \d+\.\d+/);

    // The bundle's golden translations, decoded by onnxruntime-web in the page: all identical to the export's.
    await page.waitForFunction(() => !['waiting', 'running'].includes(document.getElementById('self-check').dataset.state), { timeout: 60_000 });
    const selfCheck = await page.$eval('#self-check', (e) => ({ state: e.dataset.state, text: e.textContent }));
    t.diagnostic(selfCheck.text);
    const golden = JSON.parse(readFileSync(path.join(BUNDLE, manifest.golden.file), 'utf8'))
      .artifacts.find((a) => a.backend === 'onnx' && a.precision === 'float32');
    assert.equal(selfCheck.text, `self-check: ${golden.sources.length}/${golden.sources.length} identical`);
    assert.equal(selfCheck.state, 'passed');

    /** Type `text` into the emptied input and wait for its finished, stable translation. */
    async function translate(text) {
      await page.focus('#source');
      await page.keyboard.down('Control');
      await page.keyboard.press('KeyA');
      await page.keyboard.up('Control');
      await page.keyboard.press('Backspace');
      await page.type('#source', text);
      assert.equal(await page.$eval('#source', (e) => e.value), text);
      await page.waitForFunction(
        (want) => document.body.dataset.state === 'done' && document.getElementById('output').dataset.source === want,
        { timeout: 30_000 },
        text,
      );
      const output = await page.$eval('#output', (e) => e.textContent);
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(await page.$eval('#output', (e) => e.textContent), output, 'the output changed after the page said done');
      assert.equal(await page.$eval('body', (b) => b.dataset.state), 'done');
      assert.equal(await page.$eval('#error', (e) => e.hidden), true, 'an error is shown next to a translation');
      return { output, time: await page.$eval('#time', (e) => e.textContent) };
    }

    for (const { index, sentence, expected } of [first, second]) {
      const { output, time } = await translate(sentence);
      t.diagnostic(`#${index} ${JSON.stringify(sentence)} -> ${JSON.stringify(output)} (${time})`);
      assert.equal(output, expected, `sentence #${index} ${JSON.stringify(sentence)}: the browser's output differs from the Python runtime's`);
      assert.match(time, /\d+(\.\d+)? ms/);
    }

    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const shot = path.join(SCREENSHOT_DIR, 'demo.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    t.diagnostic(`screenshot: ${shot}`);

    // A character outside the vocabulary: a message naming it, no exception.
    const bad = outsideVocab(manifest.source_vocab);
    await page.type('#source', bad);
    await page.waitForFunction(() => document.body.dataset.state === 'error', { timeout: 30_000 });
    const error = await page.$eval('#error', (e) => ({ hidden: e.hidden, visible: e.offsetParent !== null, text: e.textContent }));
    assert.equal(error.hidden, false);
    assert.ok(error.visible, 'the error element is not visible');
    assert.ok(error.text.includes(`“${bad}”`), `the error does not name ${JSON.stringify(bad)}: ${error.text}`);
    t.diagnostic(`error shown: ${error.text}`);

    assert.deepEqual(problems, [], 'console errors or failed requests');
  } finally {
    await browser?.close();
    await server?.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
});
