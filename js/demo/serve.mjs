#!/usr/bin/env node
// A small static server for the browser demo (node:http only, meant for this machine):
//   /          -> demo/index.html
//   /demo/*    -> demo/
//   /src/*     -> src/ (the package's source, loaded as ES modules)
//   /ort/*     -> onnxruntime-web's dist/ (its .mjs and .wasm files)
//   /bundle/*  -> the bundle's manifest.json and the files it lists (models, golden translations), nothing else
// It answers only requests whose Host header names this machine (a defence against DNS rebinding),
// unless --host makes it listen on every interface.
// Usage: node demo/serve.mjs --bundle DIR [--port 8000] [--host 127.0.0.1]

import { createReadStream, realpathSync } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { MANIFEST, MAX_MANIFEST_BYTES, parseManifest, parseManifestBytes } from '../src/manifest.js';
import { OPEN_FLAGS, readRegularFile } from '../src/regular-file.js';

const DEMO_DIR = path.dirname(fileURLToPath(import.meta.url));
const PACKAGE_DIR = path.dirname(DEMO_DIR);
const SRC_DIR = path.join(PACKAGE_DIR, 'src');
const BUNDLE_PREFIX = '/bundle/';
const DEFAULT_HOST = '127.0.0.1';
/** Host names that mean this machine, whatever address the server listens on. */
const LOOPBACK_NAMES = Object.freeze(['localhost', '127.0.0.1', '[::1]']);
/** A Host header: a name or an IPv4 address, or a bracketed IPv6 address, then an optional port. */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$/i;

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.tflite': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

/** onnxruntime-web's dist/ folder, wherever node resolution finds the package. */
function ortDistDir() {
  try {
    // Resolves to dist/ort.node.min.mjs under Node's conditions; its folder is dist/.
    return path.dirname(fileURLToPath(import.meta.resolve('onnxruntime-web')));
  } catch {
    return path.join(PACKAGE_DIR, 'node_modules', 'onnxruntime-web', 'dist');
  }
}

function mimeType(file) {
  return MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** The file under `root` that `rel` (URL-decoded, '/'-separated) names, or null if it leaves `root`. */
function resolveUnder(root, rel) {
  if (rel.includes('\0') || rel.includes('\\')) return null;
  const full = path.resolve(root, '.' + path.posix.sep + rel);
  if (full !== root && !full.startsWith(root + path.sep)) return null;
  return full;
}

function send(res, status, text, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

/** Answer with `body` (bytes) or, for `file`, a stream of its `size` bytes; HEAD gets the headers only. */
function sendContent(req, res, { type, body, file, size }) {
  res.writeHead(200, {
    'Content-Type': type,
    'Content-Length': body ? body.byteLength : size,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  if (req.method === 'HEAD') return res.end();
  if (body) return res.end(body);
  // Opened without following links: one put in the file's place since it was checked is refused.
  createReadStream(file, { flags: OPEN_FLAGS })
    .on('error', () => res.destroy())
    .pipe(res);
}

/**
 * The bundle's manifest.json: its bytes and the manifest they parse to, read as the Node runtime reads
 * them (js/src/regular-file.js: a regular file, not a link, its size checked first; js/src/manifest.js).
 */
async function readManifest(bundleDir) {
  const file = path.join(bundleDir, MANIFEST);
  const info = await lstat(file).catch(() => null);
  if (!info || info.isDirectory()) throw new Error(`not a bundle (no ${MANIFEST}): ${bundleDir}`);
  const bytes = await readRegularFile(file, info, { limit: MAX_MANIFEST_BYTES });
  return { bytes, manifest: parseManifest(parseManifestBytes(bytes, file), file) };
}

/**
 * What /bundle/`name` serves: the manifest's bytes, or a file that the manifest lists and that is a
 * regular file (a link could point at anything), or null. The manifest is read again for each request,
 * so a bundle exported again in place is served as it is now.
 */
async function bundleContent(bundleDir, name) {
  const { bytes, manifest } = await readManifest(bundleDir);
  if (name === MANIFEST) return { type: mimeType(MANIFEST), body: bytes };
  // parseManifest has checked that each listed name (model files, the golden file) is a plain file
  // name inside the bundle.
  if (!manifest.artifacts.some((a) => a.file === name) && manifest.golden?.file !== name) return null;
  const file = path.join(bundleDir, name);
  const info = await lstat(file).catch(() => null);
  if (!info?.isFile()) return null;
  return { type: mimeType(file), file, size: info.size };
}

/** How a Host header writes `address`: IPv6 addresses in brackets, names in lower case. */
function hostName(address) {
  const lower = address.toLowerCase();
  return lower.includes(':') && !lower.startsWith('[') ? `[${lower}]` : lower;
}

function isLoopback(address) {
  return address === '::1' || /^(::ffff:)?127\./i.test(address);
}

function isUnspecified(address) {
  return address === '0.0.0.0' || address === '::';
}

/**
 * Which Host headers the server answers, given the address it listens on and the host it was asked
 * for: on every interface, any (the names other machines use cannot be known); otherwise the names of
 * this machine's loopback, the host asked for and the address, with the server's port.
 * @returns {{ hosts: string[] | null, accepts: (header: string | undefined) => boolean }} hosts null: any
 */
function hostPolicy(address, port, host) {
  if (isUnspecified(address)) return { hosts: null, accepts: () => true };
  const names = new Set([...LOOPBACK_NAMES, hostName(host), hostName(address)]);
  return {
    hosts: [...names],
    accepts(header) {
      const match = HOST_HEADER.exec(header ?? '');
      return Boolean(match) && names.has(match[1].toLowerCase()) && Number(match[2] ?? 80) === port;
    },
  };
}

/** The names list of a message: "a, b or c". */
function orList(items) {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

/**
 * Start the demo server. Resolves once it listens (port 0 picks a free port) to
 * { url, hosts, exposed, server, close() }: hosts, the Host names it answers (null: any); exposed,
 * whether other machines can reach it (it listens on an address other than loopback).
 * @param {{ bundle: string, port?: number, host?: string }} options
 */
export async function serve({ bundle, port = 0, host = DEFAULT_HOST } = {}) {
  if (!bundle) throw new Error('serve: a bundle directory is required');
  // An empty host would make node listen on every interface.
  if (typeof host !== 'string' || !host) throw new Error(`serve: host must name an address, got ${JSON.stringify(host)}`);
  let bundleDir = path.resolve(bundle);
  if (!(await stat(bundleDir).catch(() => null))?.isDirectory()) throw new Error(`not a directory: ${bundleDir}`);
  bundleDir = await realpath(bundleDir);
  await readManifest(bundleDir);
  const mounts = [
    ['/demo/', DEMO_DIR],
    ['/src/', SRC_DIR],
    ['/ort/', ortDistDir()],
  ];
  let policy = null;

  const server = http.createServer(async (req, res) => {
    try {
      if (!policy?.accepts(req.headers.host)) {
        return send(
          res,
          421,
          `this server answers requests for ${orList(policy?.hosts ?? LOOPBACK_NAMES)} on port ${server.address()?.port}, ` +
            `not for Host ${JSON.stringify(req.headers.host ?? '')}; start it with --host to listen on another address\n`,
        );
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      let pathname;
      try {
        pathname = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
      } catch {
        return send(res, 400, 'bad request\n');
      }
      if (pathname.startsWith(BUNDLE_PREFIX)) {
        let content;
        try {
          content = await bundleContent(bundleDir, pathname.slice(BUNDLE_PREFIX.length));
        } catch (err) {
          console.error(`serve.mjs: ${req.url}: ${err.message}`);
          return send(res, 500, `the bundle's ${MANIFEST} cannot be read (the server's log says why)\n`);
        }
        return content ? sendContent(req, res, content) : send(res, 404, 'not found\n');
      }
      let file = null;
      let root = DEMO_DIR;
      if (pathname === '/' || pathname === '/index.html') {
        file = path.join(DEMO_DIR, 'index.html');
      } else {
        for (const [prefix, mountRoot] of mounts) {
          if (pathname.startsWith(prefix)) {
            root = mountRoot;
            file = resolveUnder(root, pathname.slice(prefix.length));
            break;
          }
        }
      }
      if (!file) return send(res, 404, 'not found\n');
      let info;
      try {
        // The file itself, links resolved, must lie under its mount's real folder.
        const [realFile, realRoot] = await Promise.all([realpath(file), realpath(root)]);
        if (realFile !== realRoot && !realFile.startsWith(realRoot + path.sep)) return send(res, 404, 'not found\n');
        file = realFile;
        info = await stat(file);
      } catch {
        return send(res, 404, 'not found\n');
      }
      if (!info.isFile()) return send(res, 404, 'not found\n');
      sendContent(req, res, { type: mimeType(file), file, size: info.size });
    } catch (err) {
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
      console.error(`serve.mjs: ${req.url}: ${err.message}`);
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  policy = hostPolicy(address.address, address.port, host);
  // On every interface, the URL to open here is loopback's.
  const shownHost = isUnspecified(address.address)
    ? (address.family === 'IPv6' ? '[::1]' : '127.0.0.1')
    : hostName(address.address);
  return {
    url: `http://${shownHost}:${address.port}/`,
    hosts: policy.hosts,
    exposed: !isLoopback(address.address),
    server,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}

const USAGE = `usage: node demo/serve.mjs --bundle DIR [--port 8000] [--host 127.0.0.1]

Serve the s2s-edge browser demo for the bundle in DIR (onnxruntime-web, WASM).
Open the printed URL; add ?precision=int8 to load the bundle's int8 model.
Of the bundle, only manifest.json and the files it lists are served. Requests must name this
machine in their Host header (localhost, 127.0.0.1, [::1] or HOST, with the port) unless HOST
is 0.0.0.0 or ::, where the server answers any Host and other machines can reach it.

options:
  --bundle DIR   the bundle directory (holds manifest.json)
  --port N       port to listen on (default 8000; 0 picks a free one)
  --host HOST    address to listen on (default 127.0.0.1, this machine only)
  -h, --help     show this help`;

/** The line that says, on start, that machines other than this one can reach the server. */
function exposureWarning(host, running) {
  const where = `listening on ${host}, so other machines can reach this server`;
  if (!running.hosts) return `serve.mjs: warning: ${where}; it answers requests for any Host name`;
  const port = new URL(running.url).port;
  return `serve.mjs: warning: ${where}; it answers requests for ${orList(running.hosts)} on port ${port}`;
}

async function main(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        bundle: { type: 'string' },
        port: { type: 'string', default: '8000' },
        host: { type: 'string', default: DEFAULT_HOST },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return fail(err.message);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.bundle) return fail('--bundle DIR is required (see --help)');
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535) return fail(`--port must be a number from 0 to 65535, got ${JSON.stringify(values.port)}`);
  if (!values.host) return fail('--host must name an address, e.g. 127.0.0.1');
  let running;
  try {
    running = await serve({ bundle: values.bundle, port, host: values.host });
  } catch (err) {
    if (err.code === 'EADDRINUSE') return fail(`port ${port} on ${values.host} is in use (try --port 0)`);
    return fail(err.syscall ? `cannot listen on ${values.host} port ${port}: ${err.message}` : err.message);
  }
  if (running.exposed) console.error(exposureWarning(values.host, running));
  console.log(running.url);
  const stop = () => running.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** One line on stderr (node's own messages, parseArgs' among them, may span several) and exit status 2. */
function fail(message) {
  console.error(`serve.mjs: error: ${message.split('\n').map((line) => line.trim()).filter(Boolean).join(' ')}`);
  process.exitCode = 2;
}

function isMain() {
  try {
    return Boolean(process.argv[1]) && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  await main(process.argv.slice(2));
}
