#!/usr/bin/env node
// A small static server for the browser demo (node:http only, meant for 127.0.0.1):
//   /          -> demo/index.html
//   /demo/*    -> demo/
//   /src/*     -> src/ (the package's source, loaded as ES modules)
//   /ort/*     -> onnxruntime-web's dist/ (its .mjs and .wasm files)
//   /bundle/*  -> the bundle directory
// Usage: node demo/serve.mjs --bundle DIR [--port 8000] [--host 127.0.0.1]

import { createReadStream, existsSync, realpathSync, statSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const DEMO_DIR = path.dirname(fileURLToPath(import.meta.url));
const PACKAGE_DIR = path.dirname(DEMO_DIR);
const SRC_DIR = path.join(PACKAGE_DIR, 'src');

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

/**
 * Start the demo server. Resolves to { url, close() } once it listens; port 0 picks a free port.
 * @param {{ bundle: string, port?: number, host?: string }} options
 */
export async function serve({ bundle, port = 0, host = '127.0.0.1' } = {}) {
  if (!bundle) throw new Error('serve: a bundle directory is required');
  const bundleDir = path.resolve(bundle);
  if (!existsSync(bundleDir) || !statSync(bundleDir).isDirectory()) throw new Error(`not a directory: ${bundleDir}`);
  if (!existsSync(path.join(bundleDir, 'manifest.json'))) throw new Error(`not a bundle (no manifest.json): ${bundleDir}`);
  const mounts = [
    ['/demo/', DEMO_DIR],
    ['/src/', SRC_DIR],
    ['/ort/', ortDistDir()],
    ['/bundle/', bundleDir],
  ];

  const server = http.createServer(async (req, res) => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      let pathname;
      try {
        pathname = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
      } catch {
        return send(res, 400, 'bad request\n');
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
      res.writeHead(200, {
        'Content-Type': mimeType(file),
        'Content-Length': info.size,
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
      });
      if (req.method === 'HEAD') return res.end();
      createReadStream(file)
        .on('error', () => res.destroy())
        .pipe(res);
    } catch (err) {
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
      console.error(`serve: ${req.url}: ${err.message}`);
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
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/`,
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

options:
  --bundle DIR   the bundle directory (holds manifest.json)
  --port N       port to listen on (default 8000; 0 picks a free one)
  --host HOST    address to listen on (default 127.0.0.1)
  -h, --help     show this help`;

async function main(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        bundle: { type: 'string' },
        port: { type: 'string', default: '8000' },
        host: { type: 'string', default: '127.0.0.1' },
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
  let running;
  try {
    running = await serve({ bundle: values.bundle, port, host: values.host });
  } catch (err) {
    const why = err.code === 'EADDRINUSE' ? `port ${port} on ${values.host} is in use (try --port 0)` : err.message;
    return fail(why);
  }
  console.log(running.url);
  const stop = () => running.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function fail(message) {
  console.error(`serve.mjs: error: ${message}`);
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
