// The s2s-edge browser demo: loads the bundle served at /bundle/ with onnxruntime-web (WASM) and
// translates as you type, streaming the output one character at a time.
// After loading, it decodes the bundle's golden translations and shows the self-check under the model's facts.
// State for tests and styling: document.body.dataset.state is loading | ready | translating | done | error;
// #output's data-source is the input its finished translation belongs to; #self-check's data-state is
// waiting | running | passed | failed | none | error.

import { Translator, ort } from 's2s-edge';

const BUNDLE_URL = '/bundle/';
const DEBOUNCE_MS = 150;
// While decoding, hand the event loop back at least this often so that the page paints and keystrokes land.
const YIELD_EVERY_MS = 30;

const $ = (id) => document.getElementById(id);
const els = {
  pair: $('pair'),
  source: $('source'),
  count: $('count'),
  error: $('error'),
  output: $('output'),
  status: $('status'),
  time: $('time'),
  model: $('model'),
  vocab: $('vocab'),
  selfCheck: $('self-check'),
};

function setState(state, status) {
  document.body.dataset.state = state;
  if (status !== undefined) els.status.textContent = status;
}

function showError(node) {
  els.error.replaceChildren(node);
  els.error.hidden = false;
}

function clearError() {
  els.error.hidden = true;
  els.error.replaceChildren();
}

/** An element with text and optional children. */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

function kib(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** How a character is named to the user: visible characters as themselves, others by code point. */
function charName(c) {
  const code = c.codePointAt(0);
  const hexCode = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  if (/\s/u.test(c) || /\p{C}/u.test(c)) return hexCode;
  return c;
}

const nextTick = () => new Promise((resolve) => setTimeout(resolve, 0));

// ---------------------------------------------------------------------------------------------------

const params = new URLSearchParams(location.search);
const precision = params.get('precision') || 'float32';

ort.env.wasm.wasmPaths = new URL('/ort/', location.href).pathname; // '/ort/': an absolute path
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;
ort.env.logLevel = 'error';

let translator = null;

function describeModel(t) {
  const m = t.manifest;
  const { encoder, decoder_step: decoder } = t.artifacts;
  const key = `${t.backend}/${t.precision}`;
  const check = m.validation?.[key];
  const rows = [
    ['Model', `${key} · ${t.batchInvariant ? 'batch-invariant' : 'decoded row by row'}`],
    ['Files', `encoder ${kib(encoder.size)} · decoder step ${kib(decoder.size)} · total ${kib(encoder.size + decoder.size)}`],
    ['Vocabulary', `${m.sourceVocab.size} source characters → ${m.targetVocab.size} target characters`],
    ['Lengths', `input up to ${m.maxSourceLength} characters · output up to ${m.maxTargetLength}`],
    ['Latent size', String(m.latentDim)],
  ];
  if (check && Number.isInteger(check.decodes_compared) && check.decodes_compared > 0) {
    const share = (100 * check.decodes_identical) / check.decodes_compared;
    let text = `${check.decodes_identical} of ${check.decodes_compared} greedy decodes identical to Keras (${share.toFixed(1)} %)`;
    if (typeof check.chrf === 'number') text += ` · chrF ${check.chrf}`;
    rows.push(['Export check', text]);
  } else {
    rows.push(['Export check', h('span', { class: 'note' }, `none recorded for ${key}`)]);
  }
  const producer = m.producer ?? {};
  const made = [
    producer.s2s_edge && `s2s-edge ${producer.s2s_edge}`,
    producer.keras && `Keras ${producer.keras}`,
    producer.opset && `opset ${producer.opset}`,
  ].filter(Boolean);
  if (made.length) rows.push(['Exported with', made.join(' · ')]);
  rows.push(['Runtime', `onnxruntime-web ${ort.env.versions?.common ?? '?'} · WebAssembly, ${ort.env.wasm.numThreads} thread`]);

  els.model.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  els.vocab.replaceChildren(...m.sourceVocab.chars.map((c) => h('span', { title: `U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}` }, c === ' ' ? '␣' : c)));

  const langs = m.languages;
  if (langs?.source && langs?.target) {
    els.pair.replaceChildren(h('strong', {}, `${langs.source} → ${langs.target}`));
  } else {
    els.pair.textContent = `${m.sourceVocab.size}-character source vocabulary → ${m.targetVocab.size}-character target vocabulary`;
  }
}

function updateCount(text) {
  if (!translator) return;
  const n = Array.from(text).length;
  const max = translator.maxInputLength;
  els.count.textContent = `${n} / ${max}`;
  els.count.classList.toggle('over', n > max);
}

/** Explain an input the model cannot read; returns false for errors that are not about the input. */
function explainInputError(err, text) {
  if (err?.name === 'UnknownCharacterError') {
    const chars = err.characters?.length ? err.characters : translator.manifest.sourceVocab.unknown(text);
    const node = h('span', {}, chars.length > 1 ? 'These characters are not in the model\'s vocabulary: ' : 'This character is not in the model\'s vocabulary: ');
    chars.slice(0, 10).forEach((c, i) => {
      if (i) node.append(', ');
      node.append(h('code', {}, `“${charName(c)}”`));
    });
    if (chars.length > 10) node.append(` and ${chars.length - 10} more`);
    node.append(chars.length > 1 ? '. Remove them to translate.' : '. Remove it to translate.');
    showError(node);
    return true;
  }
  if (err?.name === 'InputTooLongError') {
    const n = Array.from(text).length;
    showError(h('span', {}, `The input is ${n} characters long; this model reads at most ${translator.maxInputLength}. Shorten it to translate.`));
    return true;
  }
  return false;
}

// Translations run one at a time (an onnxruntime session runs one call at a time); a newer input
// makes the running one stop at its next character and the queued older ones skip.
let latest = 0;
let queue = Promise.resolve();
let timer = null;

function schedule(text) {
  const job = ++latest;
  queue = queue.then(() => run(job, text));
}

async function run(job, text) {
  if (job !== latest) return;
  clearError();
  if (!text) {
    els.output.textContent = '';
    els.output.dataset.source = '';
    els.time.textContent = '';
    setState('ready', 'Type to translate.');
    return;
  }
  let stream;
  try {
    stream = translator.translateStream(text);
  } catch (err) {
    els.output.textContent = '';
    els.output.dataset.source = '';
    els.time.textContent = '';
    if (!explainInputError(err, text)) showError(h('span', {}, `${err.name ?? 'Error'}: ${err.message}`));
    setState('error', 'Cannot translate this input.');
    return;
  }
  setState('translating', 'Translating…');
  els.output.textContent = '';
  els.output.dataset.source = '';
  const start = performance.now();
  let first = null;
  let lastYield = start;
  let chars = 0;
  try {
    for await (const c of stream) {
      if (job !== latest) return; // leaving the loop ends the stream
      if (first === null) first = performance.now() - start;
      els.output.textContent += c;
      chars++;
      if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await nextTick();
        lastYield = performance.now();
        if (job !== latest) return;
      }
    }
  } catch (err) {
    if (job !== latest) return;
    showError(h('span', {}, `Translation failed: ${err.name ?? 'Error'}: ${err.message}`));
    setState('error', 'Translation failed.');
    return;
  }
  if (job !== latest) return;
  const total = performance.now() - start;
  els.output.dataset.source = text;
  els.time.textContent = `${total.toFixed(1)} ms · first character ${(first ?? total).toFixed(1)} ms · ${chars} characters`;
  setState('done', 'Translated.');
}

function showSelfCheck(state, text) {
  els.selfCheck.dataset.state = state;
  els.selfCheck.textContent = text;
}

/**
 * Decode the bundle's golden translations here and compare them with the export's decodes: the line
 * under the model's facts. Runs in the translation queue (one onnxruntime call at a time).
 */
async function selfCheck() {
  showSelfCheck('running', 'self-check: decoding the golden translations…');
  try {
    const check = await translator.selfCheck();
    let text = `self-check: ${check.k}/${check.N} identical`;
    const d = check.firstDifference;
    if (d) text += ` — first difference: ${JSON.stringify(d.source)}: recorded ${JSON.stringify(d.recorded)}, here ${JSON.stringify(d.got)}`;
    els.selfCheck.title = `${check.engine} here; recorded with ${check.recorded.engine} ${check.recorded.engineVersion}` +
      `${check.recorded.machine ? ` on ${check.recorded.machine}` : ''}, ${check.kernels} kernels`;
    showSelfCheck(check.passed ? 'passed' : 'failed', text);
  } catch (err) {
    if (err?.name !== 'NoGoldenError') {
      showSelfCheck('error', `self-check: failed: ${err.name ?? 'Error'}: ${err.message}`);
    } else if (!translator.golden) {
      showSelfCheck('none', 'self-check: no golden translations in this bundle');
    } else {
      showSelfCheck('none', `self-check: no golden translations for ${translator.backend}/${translator.precision} in this bundle`);
    }
  }
}

function onInput() {
  const text = els.source.value;
  updateCount(text);
  ++latest; // anything running or queued is now stale
  clearTimeout(timer);
  timer = setTimeout(() => schedule(els.source.value), DEBOUNCE_MS);
}

async function main() {
  setState('loading', `Loading the ${precision} model…`);
  try {
    // The page streams, which steps the decoder: the one-graph greedy decoder would be fetched for nothing.
    translator = await Translator.load(new URL(BUNDLE_URL, location.href), { precision, greedyLoop: false });
  } catch (err) {
    showError(h('span', {}, `Cannot load the model: ${err.name ?? 'Error'}: ${err.message}`));
    setState('error', 'The model did not load.');
    els.source.placeholder = 'The model did not load';
    return;
  }
  describeModel(translator);
  queue = queue.then(selfCheck);
  els.source.disabled = false;
  els.source.placeholder = 'Type a sentence…';
  els.source.addEventListener('input', onInput);
  updateCount(els.source.value);
  setState('ready', 'Type to translate.');
  els.source.focus();
  if (els.source.value) onInput();
}

main();
