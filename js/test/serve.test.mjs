// The demo server (demo/serve.mjs) on a bundle directory that the test writes: a manifest with two
// dummy model files, beside files the manifest does not list. It serves the manifest and the files it
// lists, nothing else; it answers only Host names of this machine unless it listens on every
// interface, and then says so; bad command lines get one line and exit status 2. No model is loaded,
// so nothing is skipped here.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { serve } from '../demo/serve.mjs';
import { toyManifestFields } from './toy-manifest.mjs';

const PACKAGE_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const SERVE = path.join(PACKAGE_DIR, 'demo', 'serve.mjs');
const SECRET = 'API_TOKEN=do-not-serve-me';
const TIMEOUT_MS = 30_000;

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** A bundle directory: manifest.json listing `files` (name -> bytes), which are written beside it. */
function writeBundle(dir, files) {
  mkdirSync(dir, { recursive: true });
  const roles = ['encoder', 'decoder_step', 'greedy'];
  const artifacts = Object.entries(files).map(([file, bytes], i) => ({
    backend: 'onnx',
    precision: 'float32',
    role: roles[i],
    file,
    sha256: sha256(bytes),
    size: bytes.byteLength,
  }));
  for (const [file, bytes] of Object.entries(files)) writeFileSync(path.join(dir, file), bytes);
  const manifest = { ...toyManifestFields(), artifacts };
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 1));
  return manifest;
}

/** A request to 127.0.0.1:`port` with the path as written (no normalising) and, unless null, a Host header. */
function request(port, urlPath, { host = `127.0.0.1:${port}`, method = 'GET' } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: urlPath, method, setHost: false, headers: host === null ? {} : { Host: host } },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** `node demo/serve.mjs ARGS` until it prints its URL, then stopped: its URL, stderr and exit code. */
function runServer(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let url = null;
    child.stdout.setEncoding('utf8').on('data', (text) => {
      stdout += text;
      if (url === null && stdout.includes('\n')) {
        url = stdout.split('\n')[0];
        child.kill('SIGTERM');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (text) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code) => resolve({ url, stderr, code }));
    setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS / 2).unref();
  });
}

/** `node demo/serve.mjs ARGS` that is expected to end by itself. */
const runCli = (args) => spawnSync(process.execPath, [SERVE, ...args], { encoding: 'utf8', timeout: TIMEOUT_MS });

describe('demo server', { timeout: TIMEOUT_MS }, () => {
  const root = mkdtempSync(path.join(tmpdir(), 's2s-edge-serve-'));
  const bundle = path.join(root, 'bundle');
  const files = { 'encoder.onnx': Buffer.from('encoder bytes'), 'decoder_step.onnx': Buffer.from('decoder bytes') };
  let server;
  let port;

  before(async () => {
    writeBundle(bundle, files);
    // Beside the bundle's files: a secret, a model file and notes that the manifest does not list, and
    // outside the bundle another copy of the secret.
    writeFileSync(path.join(bundle, '.env'), SECRET);
    writeFileSync(path.join(bundle, 'extra.onnx'), 'an unlisted model');
    writeFileSync(path.join(bundle, 'notes.txt'), 'unlisted notes');
    writeFileSync(path.join(root, 'outside.txt'), SECRET);
    server = await serve({ bundle, port: 0 });
    port = Number(new URL(server.url).port);
  });

  after(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('listens on loopback by default and says which Host names it answers', () => {
    assert.equal(server.url, `http://127.0.0.1:${port}/`);
    assert.equal(server.exposed, false);
    assert.deepEqual([...server.hosts].sort(), ['127.0.0.1', '[::1]', 'localhost']);
  });

  test('serves the page and the package source as before', async () => {
    const page = await request(port, '/');
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'], /^text\/html/);
    assert.equal(page.body.toString(), readFileSync(path.join(PACKAGE_DIR, 'demo', 'index.html'), 'utf8'));
    assert.equal((await request(port, '/demo/app.js')).status, 200);
    const source = await request(port, '/src/manifest.js');
    assert.equal(source.status, 200);
    assert.match(source.headers['content-type'], /^text\/javascript/);
  });

  test('serves the manifest and each file it lists', async () => {
    const manifest = await request(port, '/bundle/manifest.json');
    assert.equal(manifest.status, 200);
    assert.match(manifest.headers['content-type'], /^application\/json/);
    assert.deepEqual(manifest.body, readFileSync(path.join(bundle, 'manifest.json')));
    for (const [name, bytes] of Object.entries(files)) {
      const got = await request(port, `/bundle/${name}`);
      assert.equal(got.status, 200, name);
      assert.deepEqual(got.body, bytes, name);
      assert.equal(got.headers['content-length'], String(bytes.byteLength));
      assert.equal(got.headers['x-content-type-options'], 'nosniff');
    }
    // Names as FetchSource writes them (encodeURIComponent), and HEAD.
    assert.equal((await request(port, '/bundle/encoder%2Eonnx')).status, 200);
    const head = await request(port, '/bundle/encoder.onnx', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(files['encoder.onnx'].byteLength));
    assert.equal(head.body.byteLength, 0);
  });

  test('serves nothing else of the bundle directory', async () => {
    for (const name of ['.env', 'extra.onnx', 'notes.txt', '', '.', 'manifest.json/', 'MANIFEST.JSON', '%2Eenv']) {
      const got = await request(port, `/bundle/${name}`);
      assert.equal(got.status, 404, `/bundle/${name}`);
      assert.ok(!got.body.toString().includes(SECRET), `/bundle/${name} gave the secret`);
    }
  });

  test('a listed name that is a link is refused, even to a file inside the bundle', async (t) => {
    const dir = path.join(root, 'linked');
    writeBundle(dir, { 'encoder.onnx': Buffer.from('e'), 'decoder_step.onnx': Buffer.from('d') });
    writeFileSync(path.join(dir, '.env'), SECRET);
    rmSync(path.join(dir, 'encoder.onnx'));
    symlinkSync('.env', path.join(dir, 'encoder.onnx'));
    rmSync(path.join(dir, 'decoder_step.onnx'));
    symlinkSync(path.join(root, 'outside.txt'), path.join(dir, 'decoder_step.onnx'));
    const linked = await serve({ bundle: dir, port: 0 });
    t.after(() => linked.close());
    const linkedPort = Number(new URL(linked.url).port);
    for (const name of ['encoder.onnx', 'decoder_step.onnx']) {
      const got = await request(linkedPort, `/bundle/${name}`);
      assert.equal(got.status, 404, name);
      assert.ok(!got.body.toString().includes(SECRET));
    }
  });

  test('paths that leave their folder are refused', async () => {
    const paths = [
      '/bundle/..%2f..%2foutside.txt',
      '/bundle/..%2foutside.txt',
      '/bundle/%2e%2e/outside.txt',
      '/bundle/..%5coutside.txt',
      '/bundle/.env%00.onnx',
      '/src/..%2f..%2f..%2fetc%2fpasswd',
      '/demo/..%2f..%2fpackage.json',
      '/demo/%2e%2e%2f%2e%2e%2fpackage.json',
      '/bundle/%E0%A4%A',
    ];
    for (const urlPath of paths) {
      const got = await request(port, urlPath);
      assert.ok([400, 404].includes(got.status), `${urlPath}: HTTP ${got.status}`);
      assert.ok(!got.body.toString().includes(SECRET), `${urlPath} gave the secret`);
      assert.ok(!got.body.toString().includes('"private"'), `${urlPath} gave package.json`);
    }
  });

  test('answers the Host names of this machine, with its port', async () => {
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `LocalHost:${port}`]) {
      const got = await request(port, '/bundle/manifest.json', { host });
      assert.equal(got.status, 200, host);
    }
  });

  test('refuses any other Host (DNS rebinding), saying which it answers', async () => {
    const foreign = [
      `evil.example:${port}`,
      'evil.example',
      `127.0.0.1.evil.example:${port}`,
      `localhost.evil.example:${port}`,
      `evil.example@localhost:${port}`,
      `localhost:${port}@evil.example`,
      'localhost',
      `localhost:${port + 1}`,
      `192.168.1.10:${port}`,
      '',
    ];
    for (const host of foreign) {
      for (const urlPath of ['/', '/bundle/manifest.json', '/bundle/encoder.onnx']) {
        const got = await request(port, urlPath, { host });
        assert.equal(got.status, 421, `Host ${JSON.stringify(host)} ${urlPath}`);
        assert.ok(!got.body.toString().includes('s2s-edge-bundle'), 'a refused request got the manifest');
      }
    }
    const got = await request(port, '/', { host: `evil.example:${port}` });
    assert.match(got.body.toString(), /answers requests for localhost, 127\.0\.0\.1 or \[::1\] on port \d+, not for Host "evil\.example:\d+"/);
    // HTTP/1.1 without a Host header: node itself answers 400.
    assert.ok([400, 421].includes((await request(port, '/', { host: null })).status));
  });

  test('serves the golden translations\' file that a version 4 manifest names, and no other', async (t) => {
    const dir = path.join(root, 'golden');
    writeBundle(dir, { 'encoder.onnx': Buffer.from('e'), 'decoder_step.onnx': Buffer.from('d') });
    const golden = Buffer.from('{"format": "s2s-edge-golden"}');
    writeFileSync(path.join(dir, 'golden.json'), golden);
    writeFileSync(path.join(dir, 'other.json'), SECRET);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    const v4 = { ...manifest, format_version: 4, family: 'seed', golden: { file: 'golden.json', sha256: sha256(golden), size: golden.byteLength } };
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(v4));
    const server = await serve({ bundle: dir, port: 0 });
    t.after(() => server.close());
    const serverPort = Number(new URL(server.url).port);
    const got = await request(serverPort, '/bundle/golden.json');
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, golden);
    assert.match(got.headers['content-type'], /^application\/json/);
    assert.equal(got.headers['content-length'], String(golden.byteLength));
    assert.equal((await request(serverPort, '/bundle/other.json')).status, 404);
    // Without the golden field, the file is one the manifest does not list.
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    assert.equal((await request(serverPort, '/bundle/golden.json')).status, 404);
  });

  test('reads the manifest again for each request', async (t) => {
    const log = t.mock.method(console, 'error', () => {});
    const dir = path.join(root, 'reexported');
    writeBundle(dir, { 'encoder.onnx': Buffer.from('e'), 'decoder_step.onnx': Buffer.from('d') });
    const again = await serve({ bundle: dir, port: 0 });
    t.after(() => again.close());
    const againPort = Number(new URL(again.url).port);
    assert.equal((await request(againPort, '/bundle/greedy.onnx')).status, 404);
    writeBundle(dir, { 'encoder.onnx': Buffer.from('e'), 'decoder_step.onnx': Buffer.from('d'), 'greedy.onnx': Buffer.from('g') });
    assert.equal((await request(againPort, '/bundle/greedy.onnx')).status, 200);
    // A manifest that no longer parses: nothing of the bundle is served, and nothing of the file is shown.
    writeFileSync(path.join(dir, 'manifest.json'), SECRET);
    for (const name of ['manifest.json', 'encoder.onnx']) {
      const got = await request(againPort, `/bundle/${name}`);
      assert.equal(got.status, 500, name);
      assert.ok(!got.body.toString().includes(SECRET));
    }
    assert.equal(log.mock.callCount(), 2);
    assert.match(log.mock.calls[0].arguments[0], /^serve\.mjs: \/bundle\/manifest\.json: .*manifest\.json is not valid JSON/);
  });

  test('listening on every interface, it answers any Host', async (t) => {
    const open = await serve({ bundle, port: 0, host: '0.0.0.0' });
    t.after(() => open.close());
    assert.equal(open.exposed, true);
    assert.equal(open.hosts, null);
    const openPort = Number(new URL(open.url).port);
    assert.equal(open.url, `http://127.0.0.1:${openPort}/`);
    assert.equal((await request(openPort, '/bundle/manifest.json', { host: `my-laptop.lan:${openPort}` })).status, 200);
    assert.equal((await request(openPort, '/bundle/.env', { host: `my-laptop.lan:${openPort}` })).status, 404);
  });

  test('the command line prints the URL, and a warning when other machines can reach the server', async () => {
    const local = await runServer(['--bundle', bundle, '--port', '0']);
    assert.match(local.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(local.stderr, '', 'a warning on loopback');

    const open = await runServer(['--bundle', bundle, '--port', '0', '--host', '0.0.0.0']);
    assert.match(open.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(
      open.stderr,
      'serve.mjs: warning: listening on 0.0.0.0, so other machines can reach this server; it answers requests for any Host name\n',
    );
  });

  test('bad command lines: one line on stderr, exit status 2', () => {
    const notBundle = path.join(root, 'empty');
    mkdirSync(notBundle, { recursive: true });
    const badManifest = path.join(root, 'bad-manifest');
    mkdirSync(badManifest, { recursive: true });
    writeFileSync(path.join(badManifest, 'manifest.json'), SECRET);
    // An address of no interface here (TEST-NET-3, documentation only).
    const NOT_HERE = '203.0.113.1';
    const localAddresses = Object.values(networkInterfaces()).flat().map((i) => i.address);
    const cases = [
      [[], /--bundle DIR is required/],
      [['--bundle', path.join(root, 'nowhere')], /not a directory/],
      [['--bundle', notBundle, '--port', '0'], /not a bundle/],
      [['--bundle', badManifest, '--port', '0'], /manifest\.json is not valid JSON/],
      [['--bundle', bundle, '--port', '-1'], /--port/],
      [['--bundle', bundle, '--port=-1'], /--port must be a number from 0 to 65535, got "-1"/],
      [['--bundle', bundle, '--port', 'http'], /--port must be a number/],
      [['--bundle', bundle, '--port', '70000'], /--port must be a number/],
      [['--bundle', bundle, '--host', ''], /--host must name an address/],
      [['--bundle', bundle, '--port', '0', '--host', NOT_HERE], /^serve\.mjs: error: cannot listen on 203\.0\.113\.1 port 0: /],
      [['--bundle', bundle, '--nope'], /--nope/],
      [['--bundle', bundle, 'extra'], /extra/],
    ];
    for (const [args, message] of cases) {
      if (args.includes(NOT_HERE) && localAddresses.includes(NOT_HERE)) continue;
      const done = runCli(args);
      const where = `serve.mjs ${args.join(' ')}`;
      assert.equal(done.status, 2, `${where}: exit status ${done.status}, stderr ${done.stderr}`);
      assert.equal(done.stdout, '', where);
      assert.match(done.stderr, /^serve\.mjs: error: [^\n]+\n$/, `${where}: ${JSON.stringify(done.stderr)}`);
      assert.match(done.stderr, message, where);
      assert.ok(!done.stderr.includes(SECRET), `${where} showed the manifest's bytes`);
    }
    const help = runCli(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: node demo\/serve\.mjs --bundle DIR/);
    assert.match(help.stdout, /--host HOST/);
  });
});
