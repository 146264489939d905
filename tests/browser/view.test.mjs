// View mode, the file rail, export/report and basic accessibility.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  startServer, launchBrowser, openWorkbench, openFiles, corpus, CT_BRAIN, outPath, screenshot,
  shortcut,
} from './helpers.mjs';

const MULTI_FRAME = 'pydicom-data/emri_small.dcm'; // 10 frames, MONOCHROME2
const NO_IMAGE = 'pydicom/test_files/rtplan.dcm'; // RT Plan: sequences, no pixel data

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

function frameRequests(page) {
  const urls = [];
  page.on('request', (r) => {
    if (/\/frame\/\d+\.png/.test(r.url())) urls.push(new URL(r.url()));
  });
  return urls;
}

test('view: frames, window presets, window/level drag, zoom, pan, reset', async () => {
  const { context, page } = await openWorkbench(browser, server);
  // The page runs under a strict policy (violations would be in page.errors).
  const csp = page.headers['content-security-policy'] || '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.equal(page.headers['x-frame-options'], 'DENY');
  const reqs = frameRequests(page);
  await openFiles(page, [corpus(MULTI_FRAME)]);
  assert.equal(await page.getByRole('tab', { name: 'View' }).getAttribute('aria-selected'), 'true');
  const img = page.locator('#view-img');
  await page.waitForFunction(() => {
    const i = document.querySelector('#view-img');
    return i && !i.hidden && i.complete && i.naturalWidth > 0;
  }, null, { timeout: 20_000 });
  assert.ok(reqs.length >= 1);
  assert.ok(reqs.every((u) => u.searchParams.get('token')), 'frame URLs carry token=');
  assert.equal(await page.locator('#frame-readout').textContent(), 'Frame 1 / 10');

  // Wheel scrolls frames.
  const vp = page.locator('#viewport');
  await vp.hover();
  await page.mouse.wheel(0, 120);
  await page.waitForFunction(() => document.querySelector('#frame-readout').textContent === 'Frame 2 / 10');
  await page.waitForFunction(() => document.querySelector('#view-img').alt.includes('frame 2'));
  assert.match(reqs.at(-1).pathname, /\/frame\/1\.png$/, 'second frame requested (0-based frame numbers)');

  // Presets.
  await page.getByRole('button', { name: 'Brain' }).click();
  assert.equal(await page.getByRole('button', { name: 'Brain' }).getAttribute('aria-pressed'), 'true');
  await page.waitForFunction(() => document.querySelector('#wl-readout').textContent === 'WW 80 · WL 40');
  await page.waitForTimeout(300);
  const brain = reqs.at(-1);
  assert.equal(brain.searchParams.get('wc'), '40');
  assert.equal(brain.searchParams.get('ww'), '80');
  await page.getByRole('button', { name: 'Lung' }).click();
  await page.waitForFunction(() => document.querySelector('#wl-readout').textContent === 'WW 1500 · WL -600');

  // Left-drag: horizontal = width, vertical = center.
  const box = await vp.boundingBox();
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  await page.mouse.move(cx + 60, cy - 40, { steps: 4 });
  await page.mouse.up();
  const wl = await page.locator('#wl-readout').textContent();
  const [, ww, wc] = wl.match(/WW (-?\d+) · WL (-?\d+)/).map(Number);
  assert.ok(ww > 1500, `width grew: ${wl}`);
  assert.ok(wc > -600, `center moved up: ${wl}`);
  await page.waitForTimeout(400);
  assert.equal(reqs.at(-1).searchParams.get('ww'), String(ww));

  // Zoom with Ctrl+wheel and the buttons; pan with Shift+drag; Reset.
  await page.keyboard.down('Control');
  await page.mouse.wheel(0, -100);
  await page.keyboard.up('Control');
  assert.equal(await page.locator('#zoom-readout').textContent(), '110%');
  await page.getByRole('button', { name: 'Zoom in' }).click();
  assert.equal(await page.locator('#zoom-readout').textContent(), '138%');
  await page.keyboard.down('Shift');
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  await page.mouse.move(cx + 50, cy + 30, { steps: 3 });
  await page.mouse.up();
  await page.keyboard.up('Shift');
  assert.match(await img.evaluate((i) => i.style.transform), /translate\(50px, 30px\)/);
  await page.getByRole('button', { name: 'Reset' }).click();
  assert.equal(await page.locator('#zoom-readout').textContent(), '100%');
  assert.match(await img.evaluate((i) => i.style.transform), /translate\(0px, 0px\) scale\(1\)/);
  assert.equal(await page.getByRole('button', { name: 'Default' }).getAttribute('aria-pressed'), 'true');
  await page.waitForTimeout(300);
  await screenshot(page, 'view-multiframe.png');

  // Keyboard frame navigation on the focused viewport.
  await vp.focus();
  await page.keyboard.press('End');
  assert.equal(await page.locator('#frame-readout').textContent(), 'Frame 10 / 10');

  // The browser's context menu is suppressed over the image.
  const prevented = await vp.evaluate((el) => {
    const ev = new MouseEvent('contextmenu', { bubbles: true, cancelable: true });
    el.dispatchEvent(ev);
    return ev.defaultPrevented;
  });
  assert.equal(prevented, true);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('view: an object without pixel data says so; its sequences expand in Edit', async () => {
  const { context, page } = await openWorkbench(browser, server);
  await openFiles(page, [corpus(NO_IMAGE)]);
  const msg = page.locator('#view-msg');
  await msg.waitFor({ state: 'visible' });
  assert.match(await msg.textContent(), /^This object has no image: .+/);

  await shortcut(page, '3');
  const seq = page.locator('#tree-body tr.seq').first();
  await seq.waitFor();
  assert.match(await seq.locator('.c-value').textContent(), /^\d+ items$/);
  assert.equal(await seq.getAttribute('aria-expanded'), 'false');
  const rowsBefore = await page.locator('#tree-body tr').count();
  await seq.locator('.twisty').click();
  await page.waitForFunction((n) => document.querySelectorAll('#tree-body tr').length > n, rowsBefore);
  const item = page.locator('#tree-body tr.item').first();
  assert.equal(await item.locator('.name').textContent(), 'Item 1');
  // keyboard: ← collapses the focused sequence again
  const path = await seq.getAttribute('data-path');
  await page.locator(`#tree-body tr[data-path="${path}"]`).focus();
  await page.keyboard.press('ArrowLeft');
  await page.waitForFunction((n) => document.querySelectorAll('#tree-body tr').length === n, rowsBefore);
  await context.close();
});

test('file rail: grouping, selection, closing', async () => {
  const { context, page } = await openWorkbench(browser, server);
  await openFiles(page, [corpus(CT_BRAIN), corpus(MULTI_FRAME)]);
  assert.equal(await page.locator('#file-list .file-item').count(), 2);
  assert.equal(await page.locator('#file-list .g-patient').count(), 2, 'two patients');
  const current = page.locator('#file-list .file-item[aria-current="true"]');
  assert.equal(await current.count(), 1);
  const first = page.locator('#file-list .file-btn').first();
  await first.focus();
  await page.keyboard.press('ArrowDown');
  const second = page.locator('#file-list .file-btn').nth(1);
  assert.equal(await second.evaluate((b) => b.closest('.file-item').getAttribute('aria-current')), 'true');
  const name = await second.locator('.file-name').textContent();
  await page.getByRole('button', { name: `Close ${name}` }).click();
  await page.waitForFunction(() => document.querySelectorAll('#file-list .file-item').length === 1);
  assert.equal(await page.locator('#file-list .file-item[aria-current="true"]').count(), 1);
  await context.close();
});

test('export: confirmation before exporting unprocessed files; zip for several; report', async () => {
  const { context, page } = await openWorkbench(browser, server);
  await openFiles(page, [corpus(CT_BRAIN)]);
  assert.ok(await page.locator('#report-btn').isDisabled(), 'no report before Apply');

  // Nothing applied: ask first; Cancel exports nothing.
  let downloads = 0;
  page.on('download', () => { downloads += 1; });
  await page.getByRole('button', { name: 'Export', exact: true }).click();
  const dlg = page.getByRole('alertdialog');
  await dlg.waitFor();
  assert.match(await dlg.textContent(), /Nothing has been de-identified yet\. Export the files as they are\?/);
  await page.getByRole('button', { name: 'Cancel' }).click();
  await dlg.waitFor({ state: 'hidden' });
  await page.waitForTimeout(300);
  assert.equal(downloads, 0);

  // Confirmed: the single file downloads.
  await page.getByRole('button', { name: 'Export', exact: true }).click();
  const one = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export anyway' }).click();
  const single = await one;
  const singlePath = outPath('export-unprocessed.dcm');
  await single.saveAs(singlePath);
  assert.equal(fs.readFileSync(singlePath).toString('latin1', 128, 132), 'DICM');

  // Two files + Apply: a zip.
  await openFiles(page, [corpus(MULTI_FRAME)]);
  await shortcut(page, '2');
  await page.locator('#profile-picker [data-profile="basic"]').click();
  await page.getByRole('button', { name: 'Apply', exact: true }).click();
  await page.locator('#apply-result .apply-ok').waitFor();
  assert.match(await page.locator('#apply-result .apply-ok').textContent(), /to 2 files/);
  // The secondary capture (CT_BRAIN) keeps pixels that may show text: asked, named.
  await page.getByRole('button', { name: 'Export', exact: true }).click();
  await dlg.waitFor();
  assert.match(await dlg.textContent(), /file-1\.dcm: pixels not cleaned by this profile/);
  const zipDl = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export anyway' }).click();
  const zip = await zipDl;
  const zipPath = outPath('export.zip');
  await zip.saveAs(zipPath);
  assert.equal(fs.readFileSync(zipPath).toString('latin1', 0, 2), 'PK', 'a zip archive');

  // Report: new tab with report.html?token=, JSON download.
  assert.ok(await page.locator('#report-btn').isEnabled());
  const popup = page.waitForEvent('popup');
  await page.getByRole('button', { name: 'Report', exact: true }).click();
  const tab = await popup;
  await tab.waitForLoadState();
  assert.match(tab.url(), /\/report\.html\?token=/);
  await tab.close();
  const jsonDl = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Report JSON' }).click();
  const report = await jsonDl;
  const reportPath = outPath('report.json');
  await report.saveAs(reportPath);
  JSON.parse(fs.readFileSync(reportPath, 'utf8'));
  await context.close();
});

test('accessibility basics: names, labels, tabs, focus', async () => {
  const { context, page } = await openWorkbench(browser, server);
  await openFiles(page, [corpus(CT_BRAIN)]);
  for (const mode of ['1', '2', '3']) {
    await shortcut(page, mode);
    await page.waitForTimeout(200);
    const problems = await page.evaluate(() => {
      const out = [];
      const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
      for (const b of document.querySelectorAll('button')) {
        if (!visible(b)) continue;
        const name = (b.getAttribute('aria-label') || b.textContent || b.title || '').trim();
        if (!name) out.push(`button without a name: ${b.outerHTML.slice(0, 80)}`);
      }
      for (const i of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
        if (!visible(i)) continue;
        const labelled = i.labels?.length || i.getAttribute('aria-label') || i.getAttribute('aria-labelledby');
        if (!labelled) out.push(`control without a label: ${i.outerHTML.slice(0, 80)}`);
      }
      return out;
    });
    assert.deepEqual(problems, [], `mode ${mode}`);
  }
  // Tabs: role/aria-selected and arrow keys.
  const tabs = page.getByRole('tab');
  assert.equal(await tabs.count(), 3);
  await page.getByRole('tab', { name: 'Edit' }).focus();
  await page.keyboard.press('ArrowLeft');
  assert.equal(await page.getByRole('tab', { name: 'Anon' }).getAttribute('aria-selected'), 'true');
  assert.ok(await page.locator('#panel-anon').isVisible());
  // Cmd variant of the mode shortcuts.
  await shortcut(page, '1', 'Meta');
  assert.equal(await page.getByRole('tab', { name: 'View' }).getAttribute('aria-selected'), 'true');
  // Ctrl+O opens the file chooser (and does not reach the browser).
  const chooser = page.waitForEvent('filechooser', { timeout: 5000 });
  await shortcut(page, 'o');
  await chooser;
  // Focus is visible.
  await page.getByRole('tab', { name: 'View' }).focus();
  await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none');
  assert.deepEqual(page.errors, []);
  await context.close();
});
