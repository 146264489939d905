// Shared helpers for the browser tests: start the real `dcmask serve`,
// launch Chromium through playwright-core, open the page, find corpus files.
//
// Run:   cd tests/browser && npm install && npm test
// Env:   DCMASK_BIN    server binary (default ../../target/debug/dcmask)
//        DCMASK_CORPUS test corpus   (default ../../../shared/corpus)
//        CHROMIUM_BIN  browser       (default /usr/bin/chromium)
// Screenshots and downloads land in tests/browser/out/ (git-ignored).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const DCMASK_BIN = path.resolve(HERE, process.env.DCMASK_BIN || '../../target/debug/dcmask');
export const CORPUS = path.resolve(HERE, process.env.DCMASK_CORPUS || '../../../shared/corpus');
export const OUT = path.join(HERE, 'out');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

/** A corpus file, e.g. corpus('deid-data/humans/ctbrain1.dcm'). */
export function corpus(rel) {
  const p = path.join(CORPUS, rel);
  if (!fs.existsSync(p)) throw new Error(`corpus file missing: ${p} (set DCMASK_CORPUS)`);
  return p;
}

/** The main test file: a CT with rich fictitious header PHI. */
export const CT_BRAIN = 'deid-data/humans/ctbrain1.dcm';

export function outPath(name) {
  fs.mkdirSync(OUT, { recursive: true });
  return path.join(OUT, name);
}

/**
 * Start `dcmask serve --bind 127.0.0.1:0` with a fresh DCMASK_DATA_DIR and
 * wait for the line `dcmask workbench: http://…`.
 * → {url, origin, token, stop()}
 */
export async function startServer() {
  if (!fs.existsSync(DCMASK_BIN)) {
    throw new Error(`dcmask binary not found at ${DCMASK_BIN} (build it, or set DCMASK_BIN)`);
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dcmask-browser-'));
  const proc = spawn(DCMASK_BIN, ['serve', '--bind', '127.0.0.1:0'], {
    env: { ...process.env, DCMASK_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr += d.toString();
    if (stderr.length > 20000) stderr = stderr.slice(-20000);
  });
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      reject(new Error(`dcmask serve did not print its URL within 60 s.\nstdout: ${buf}\nstderr: ${stderr}`));
    }, 60_000);
    proc.stdout.on('data', (d) => {
      buf += d.toString();
      const m = buf.match(/dcmask workbench: (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dcmask serve exited with ${code} before printing its URL.\nstdout: ${buf}\nstderr: ${stderr}`));
    });
  });
  proc.stdout.resume();
  const u = new URL(url);
  return {
    url,
    origin: u.origin,
    token: u.searchParams.get('token'),
    dataDir,
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => { if (proc.exitCode === null) proc.kill('SIGKILL'); r(); }, 3000);
          proc.once('exit', () => { clearTimeout(t); r(); });
        });
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
    ],
  });
}

/**
 * New context + page at the workbench URL, 1400×900, downloads accepted.
 * Page errors, console errors and Content-Security-Policy violations are collected in
 * page.errors; the page's own response headers in page.headers.
 */
export async function openWorkbench(browser, server) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  // Anything the server's policy blocks (an inline style, a script) is an error.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI || ''} ${e.sourceFile || ''}:${e.lineNumber || ''}`);
    });
  });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') page.errors.push(`console: ${m.text()}`);
  });
  const response = await page.goto(server.url);
  page.headers = response.headers();
  await page.waitForSelector('body.ready', { timeout: 15_000 });
  return { context, page };
}

/** Open files through the hidden file input; waits until the rail lists them. */
export async function openFiles(page, files, { expectOpen = null } = {}) {
  const before = await page.locator('#file-list .file-item').count();
  await page.setInputFiles('#file-input', files);
  const want = expectOpen ?? (before + files.filter((f) => typeof f === 'string').length);
  await page.waitForFunction((n) => document.querySelectorAll('#file-list .file-item').length >= n, want);
}

/** Edit mode: filter the tree and return the row locator for a tag. */
export async function filterTree(page, text) {
  await page.getByLabel('Filter tags').fill(text);
  // the filter is debounced
  await page.waitForFunction((t) => document.querySelector('#tree-filter').value === t, text);
  await page.waitForTimeout(250);
}

export function treeRow(page, tag) {
  return page.locator(`#tree-body tr[data-tag="${tag}"]`).first();
}

/** Read a tree row as {status, value, original} from the DOM. */
export async function rowInfo(page, tag) {
  const row = treeRow(page, tag);
  if ((await row.count()) === 0) return null;
  return row.evaluate((tr) => ({
    status: tr.dataset.status,
    value: tr.querySelector('.c-value').textContent,
    original: tr.querySelector('.c-orig').textContent,
    classes: tr.className,
    title: tr.title,
  }));
}

/** Wait until a tree row for tag satisfies pred (the tree reloads after each change). */
export async function waitRow(page, tag, pred, timeout = 10_000) {
  const end = Date.now() + timeout;
  let last = null;
  while (Date.now() < end) {
    last = await rowInfo(page, tag);
    if (pred(last)) return last;
    await page.waitForTimeout(100);
  }
  throw new Error(`row ${tag} never matched; last seen: ${JSON.stringify(last)}`);
}

/**
 * Press a shortcut with Ctrl (Linux/Windows); mod can be 'Meta' for the macOS variant.
 *
 * A round trip to the page comes first: playwright-core turns on file-chooser interception
 * asynchronously when a test calls `waitForEvent('filechooser')`, and a bare key press can reach
 * Chromium before it (measured: 17 of 30 Ctrl+O presses lost their chooser without it, 0 of 30 with it).
 */
export async function shortcut(page, key, mod = 'Control') {
  await page.evaluate(() => 0);
  await page.keyboard.press(`${mod}+${key}`);
}

/**
 * Run `dcmask inspect FILE --json` when the binary supports it.
 * → stdout text, or null when the subcommand is not available.
 */
export function inspectJson(file) {
  const r = spawnSync(DCMASK_BIN, ['inspect', file, '--json'], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0 || !r.stdout.trim()) return null;
  try {
    JSON.parse(r.stdout);
  } catch {
    return null;
  }
  return r.stdout;
}

/** Does a DICOM file (explicit or implicit VR little endian) contain this tag in its bytes? */
export function bytesContainTag(buf, group, element) {
  const needle = Buffer.alloc(4);
  needle.writeUInt16LE(group, 0);
  needle.writeUInt16LE(element, 2);
  return buf.indexOf(needle, 132) >= 0;
}

/** Read the value of a top-level element with the system's dcmdump, if installed. */
export function dcmdumpValue(file, tag) {
  const r = spawnSync('dcmdump', ['-q', '+P', tag, file], { encoding: 'utf8' });
  if (r.error) return undefined; // dcmdump not installed
  const line = (r.stdout || '').split('\n').find((l) => l.trim());
  if (!line) return null;
  const m = line.match(/\[(.*)\]/);
  return m ? m[1] : line;
}

export async function screenshot(page, name) {
  const p = outPath(name);
  await page.screenshot({ path: p });
  return p;
}

/**
 * The entries of a zip archive (stored or deflated, no zip64), read from its central
 * directory: [{name, data: Buffer}].
 */
export function zipEntries(buf) {
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd -= 1;
  if (eocd < 0) throw new Error('not a zip archive: no end of central directory');
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const out = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const method = buf.readUInt16LE(at + 10);
    const size = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const skip = nameLen + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(start, start + size);
    const data = method === 0 ? raw : method === 8 ? zlib.inflateRawSync(raw) : null;
    if (!data) throw new Error(`${name}: compression method ${method} not supported`);
    out.push({ name, data });
    at += 46 + skip;
  }
  return out;
}
