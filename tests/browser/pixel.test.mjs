// View mode's Redact tool and +Pixel: OCR boxes on an ultrasound with a fictitious
// patient burned in, a rectangle drawn with the mouse, Apply +Pixel, and the stored
// pixel values read back through the API: black inside the boxes, unchanged outside.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, openWorkbench, openFiles, corpus, screenshot, shortcut,
} from './helpers.mjs';

const US = 'deid-data/ultrasounds/GREYSCALE_IMAGE.dcm'; // 1024×768, US, name and DOB burned in

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

/** Stored values of the staged file in a rectangle, flattened. */
async function probe(sid, fid, x, y, w, h) {
  const res = await fetch(
    `${server.origin}/api/sessions/${sid}/files/${fid}/pixels?x=${x}&y=${y}&w=${w}&h=${h}`,
    { headers: { 'X-Dcmask-Token': server.token } },
  );
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()).values.flat();
}

const sum = (a) => a.reduce((s, v) => s + v, 0);

test('redact: OCR boxes, a drawn box, Apply +Pixel blanks them (pixel values via the API)', { timeout: 180_000 }, async () => {
  const { context, page } = await openWorkbench(browser, server);
  let sid = null;
  page.on('request', (r) => {
    const m = new URL(r.url()).pathname.match(/^\/api\/sessions\/([0-9a-f]+)\//);
    if (m) sid = m[1];
  });
  await openFiles(page, [corpus(US)]);
  await page.waitForFunction(() => {
    const i = document.querySelector('#view-img');
    return i && !i.hidden && i.complete && i.naturalWidth > 0;
  }, null, { timeout: 30_000 });
  const fid = await page.locator('#file-list .file-item').first().getAttribute('data-fid')
    .catch(() => null) || 'f1';

  // Redact on: the proposed boxes arrive (OCR takes a few seconds).
  const toggle = page.getByRole('button', { name: 'Redact' });
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
  await page.waitForFunction(() => /\d+ box/.test(document.querySelector('#redact-status').textContent),
    null, { timeout: 120_000 });
  const sources = await page.locator('#redact-list .rlist-ocr .rsource').allTextContents();
  assert.ok(sources.includes('ocr: identifying word (name)'), `OCR boxes: ${sources}`);
  assert.ok(sources.includes('ocr: identifying word (date)'), `OCR boxes: ${sources}`);
  const ocrOverlays = await page.locator('#box-layer .rbox-ocr').count();
  assert.equal(ocrOverlays, sources.length, 'each OCR box is drawn over the image');

  // Draw a rectangle over the middle of the image with the mouse.
  const img = await page.locator('#view-img').boundingBox();
  const at = (x, y) => [img.x + (x / 1024) * img.width, img.y + (y / 768) * img.height];
  const [sx, sy] = at(400, 300);
  const [ex, ey] = at(600, 460);
  await page.mouse.move(sx, sy);
  await page.mouse.down();
  await page.mouse.move(ex, ey, { steps: 5 });
  await page.mouse.up();
  const manual = page.locator('#redact-list .rlist-manual');
  await manual.waitFor();
  const coords = await manual.locator('.rcoords').textContent();
  const [mx0, my0, mx1, my1] = coords.match(/\d+/g).map(Number);
  assert.ok(Math.abs(mx0 - 400) <= 3 && Math.abs(my0 - 300) <= 3, `drawn at ${coords}`);
  assert.ok(Math.abs(mx1 - 600) <= 3 && Math.abs(my1 - 460) <= 3, `drawn to ${coords}`);
  assert.equal(await page.locator('#box-layer .rbox-manual').count(), 1);
  await page.getByRole('button', { name: 'Apply to this file' }).click();
  await page.waitForFunction(() => !/not saved/.test(document.querySelector('#redact-status').textContent));
  assert.equal(await page.locator('#redact-list .rlist-manual').count(), 1, 'saved on the server');

  // Before Apply: the drawn region has image content; find a textured patch outside all boxes.
  const boxes = await (await fetch(`${server.origin}/api/sessions/${sid}/files/${fid}/boxes`,
    { headers: { 'X-Dcmask-Token': server.token } })).json();
  const inner = [mx0 + 10, my0 + 10, mx1 - mx0 - 20, my1 - my0 - 20];
  assert.ok(sum(await probe(sid, fid, ...inner)) > 0, 'the drawn region is not black before Apply');
  const clear = (x, y, w, h) => boxes.boxes.every((b) => x + w <= b.x0 || x >= b.x1 || y + h <= b.y0 || y >= b.y1);
  let outside = null;
  for (let y = 100; y < 700 && !outside; y += 64) {
    for (let x = 100; x < 900 && !outside; x += 64) {
      if (!clear(x, y, 48, 48)) continue;
      const v = await probe(sid, fid, x, y, 48, 48);
      if (sum(v) > 48 * 48 * 5) outside = { rect: [x, y, 48, 48], before: v };
    }
  }
  assert.ok(outside, 'a textured patch outside the boxes');
  const nameBox = boxes.boxes.find((b) => b.source === 'ocr: identifying word (name)');
  const nameRect = [nameBox.x0, nameBox.y0, nameBox.x1 - nameBox.x0, nameBox.y1 - nameBox.y0];
  assert.ok(sum(await probe(sid, fid, ...nameRect)) > 0, 'the burned-in name is visible before Apply');

  // Apply +Pixel in Anon mode.
  await shortcut(page, '2');
  await page.locator('#profile-picker [data-profile="pixel"]').click();
  await page.getByRole('button', { name: 'Apply', exact: true }).click();
  await page.locator('#apply-result .apply-ok').waitFor({ timeout: 120_000 });

  // After: black inside the drawn box and the name box, unchanged outside.
  const drawn = await probe(sid, fid, mx0, my0, mx1 - mx0, my1 - my0);
  assert.ok(drawn.every((v) => v === 0), 'the drawn box is black');
  assert.ok((await probe(sid, fid, ...nameRect)).every((v) => v === 0), 'the name box is black');
  const after = await probe(sid, fid, ...outside.rect);
  assert.deepEqual(after, outside.before, 'pixels outside the boxes are unchanged');

  // The record names the sources, never the words.
  const report = await (await fetch(`${server.origin}/api/sessions/${sid}/report.json`,
    { headers: { 'X-Dcmask-Token': server.token } })).text();
  assert.ok(!/PATIENTFI|ZZZ/i.test(report), 'no recognised text in the report');

  // Back in View: the blanked image with the boxes over it.
  await shortcut(page, '1');
  await page.waitForFunction(() => {
    const i = document.querySelector('#view-img');
    return i && !i.hidden && i.complete && i.naturalWidth > 0;
  });
  await page.waitForFunction(() => /\d+ box/.test(document.querySelector('#redact-status').textContent),
    null, { timeout: 60_000 });
  await page.waitForTimeout(300);
  await screenshot(page, 'view-redact.png');
  assert.deepEqual(page.errors, []);
  await context.close();
});
