// What leaves the workbench: the burned-in text warning (Apply and Export, with the
// offer of +Pixel), the linkage as its own download and never in the export zip, and
// changes made by hand listed in the determination report with their time and reason.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  startServer, launchBrowser, openWorkbench, openFiles, corpus, CT_BRAIN, outPath,
  filterTree, waitRow, treeRow, shortcut, zipEntries, dcmdumpValue, screenshot,
} from './helpers.mjs';

const US = 'deid-data/ultrasounds/GREYSCALE_IMAGE.dcm'; // US, Burned In Annotation YES

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

async function applyProfile(page, profileId) {
  await shortcut(page, '2');
  await page.locator(`#profile-picker [data-profile="${profileId}"]`).click();
  await page.getByRole('button', { name: 'Apply', exact: true }).click();
  await page.locator('#apply-result .apply-ok').waitFor({ timeout: 120_000 });
}

/** Save a download under tests/browser/out and read it. */
async function saved(download, name) {
  const p = outPath(name);
  await download.saveAs(p);
  return fs.readFileSync(p);
}

test('burned-in: Basic on an ultrasound with Burned In Annotation YES warns on Apply and Export, offers +Pixel',
  { timeout: 240_000 }, async () => {
    const { context, page } = await openWorkbench(browser, server);
    assert.equal(dcmdumpValue(corpus(US), '0028,0301'), 'YES', 'the test file declares burned-in text');
    await openFiles(page, [corpus(US)]);
    await applyProfile(page, 'basic');

    // Apply: the file, why, and the offer.
    const notice = page.locator('#apply-result .burned-in');
    await notice.waitFor();
    const text = await notice.textContent();
    assert.match(text, /Pixels not cleaned: 1 image may show burned-in text/);
    assert.match(text, /file-1\.dcm: pixels not cleaned by this profile, and Burned In Annotation \(0028,0301\) is YES/);
    assert.ok(await notice.getByRole('button', { name: 'Use +Pixel' }).isVisible());
    await screenshot(page, 'burned-in-apply.png');

    // Export: asked, with the file named; Cancel exports nothing.
    let downloads = 0;
    page.on('download', () => { downloads += 1; });
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    const dlg = page.getByRole('alertdialog');
    await dlg.waitFor();
    assert.match(await dlg.textContent(), /Pixels not cleaned/);
    assert.match(await dlg.locator('#confirm-list').textContent(),
      /file-1\.dcm: pixels not cleaned by this profile, and Burned In Annotation \(0028,0301\) is YES/);
    assert.ok(await dlg.getByRole('button', { name: 'Export anyway' }).isVisible());
    await screenshot(page, 'burned-in-export.png');
    await dlg.getByRole('button', { name: 'Cancel' }).click();
    await dlg.waitFor({ state: 'hidden' });
    await page.waitForTimeout(300);
    assert.equal(downloads, 0);

    // "Use +Pixel" switches the profile and applies it again.
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await dlg.waitFor();
    await dlg.getByRole('button', { name: 'Use +Pixel' }).click();
    await page.waitForFunction(() => /Applied \+Pixel profile/.test(document.querySelector('#apply-result')?.textContent || ''),
      null, { timeout: 180_000 });
    assert.equal(await page.locator('#profile-picker [data-profile="pixel"]').getAttribute('aria-pressed'), 'true');
    assert.equal(await page.locator('#apply-result .burned-in').count(), 0, 'no warning once pixels are cleaned');

    // Now Export goes straight to the download.
    const dl = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    const bytes = await saved(await dl, 'leak-us-pixel.dcm');
    assert.equal(bytes.toString('latin1', 128, 132), 'DICM');
    assert.equal(downloads, 1);
    assert.deepEqual(page.errors, []);
    await context.close();
  });

test('linkage: its own download with the mappings and a README; the export zip holds no mapping and no original ID',
  { timeout: 240_000 }, async () => {
    const { context, page } = await openWorkbench(browser, server);
    const pid = dcmdumpValue(corpus(CT_BRAIN), '0010,0020');
    assert.ok(pid, 'the CT has a Patient ID (dcmdump installed)');
    await openFiles(page, [corpus(CT_BRAIN), corpus(US)]);
    const linkage = page.getByRole('button', { name: 'Linkage…' });
    assert.ok(await linkage.isDisabled(), 'nothing to link before Apply');
    await applyProfile(page, 'basic');

    // The linkage: labelled, confirmed, downloaded apart.
    assert.match(await linkage.getAttribute('title'), /^Linkage: contains original identifiers/);
    await linkage.click();
    const dlg = page.getByRole('alertdialog');
    await dlg.waitFor();
    assert.equal(await dlg.locator('#confirm-title').textContent(), 'Linkage: contains original identifiers');
    const linkDl = page.waitForEvent('download');
    await dlg.getByRole('button', { name: 'Download linkage' }).click();
    const link = await linkDl;
    assert.equal(link.suggestedFilename(), 'dcmask-linkage.zip');
    const linkEntries = zipEntries(await saved(link, 'linkage.zip'));
    assert.deepEqual(linkEntries.map((e) => e.name).sort(), ['README.txt', 'patid_mapping.csv', 'uid_mapping.csv']);
    const entry = (list, name) => list.find((e) => e.name === name).data.toString('utf8');
    assert.match(entry(linkEntries, 'README.txt'), /CONTAINS ORIGINAL IDENTIFIERS/);
    assert.match(entry(linkEntries, 'patid_mapping.csv'), new RegExp(`^id_old,id_new\\n(.*\\n)*${pid},`));
    assert.match(entry(linkEntries, 'uid_mapping.csv'), /^id_old,id_new\n.+,2\.25\.\d+/);

    // The data: files and report only (both images keep pixels that may show text).
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await dlg.waitFor();
    assert.match(await dlg.locator('#confirm-list').textContent(), /file-1\.dcm: .*file-2\.dcm: /s);
    const zipDl = page.waitForEvent('download');
    await dlg.getByRole('button', { name: 'Export anyway' }).click();
    const zipBytes = await saved(await zipDl, 'leak-export.zip');
    const entries = zipEntries(zipBytes);
    assert.deepEqual(entries.map((e) => e.name), ['file-1.dcm', 'file-2.dcm', 'report.json', 'report.html']);
    const uids = entry(linkEntries, 'uid_mapping.csv').trim().split('\n').slice(1).map((l) => l.split(',')[0]);
    for (const { name, data } of entries) {
      assert.ok(!data.includes(Buffer.from(pid)), `original Patient ID in ${name}`);
      for (const uid of uids) assert.ok(!data.includes(Buffer.from(uid)), `original UID ${uid} in ${name}`);
    }
    const report = JSON.parse(entry(entries, 'report.json'));
    assert.equal(report.burned_in.length, 2);
    assert.deepEqual(page.errors, []);
    await context.close();
  });

test('manual changes: an edit and a removal with their reasons are in the report with their time; undo takes them back',
  { timeout: 120_000 }, async () => {
    const { context, page } = await openWorkbench(browser, server);
    await openFiles(page, [corpus(CT_BRAIN)]);
    await applyProfile(page, 'basic');
    await shortcut(page, '3');
    await page.locator('#tree-body tr').first().waitFor();

    // Edit a value with a reason.
    await filterTree(page, '(0018,0050)');
    await treeRow(page, '(0018,0050)').dblclick();
    const edit = page.locator('#edit-dialog');
    await edit.waitFor({ state: 'visible' });
    await page.locator('#edit-value').fill('5');
    await page.getByLabel('Reason (optional)').fill('rounded: exact thickness identifies the protocol');
    await page.locator('#edit-save').click();
    await edit.waitFor({ state: 'hidden' });
    const edited = await waitRow(page, '(0018,0050)', (r) => r && r.value === '5');
    assert.match(edited.classes, /\bby-hand\b/);
    assert.match(edited.title, /Changed by hand/);

    // Remove an element with a reason.
    await filterTree(page, '(0020,0011)');
    await treeRow(page, '(0020,0011)').dblclick();
    await edit.waitFor({ state: 'visible' });
    await page.getByLabel('Reason (optional)').fill('series numbers not needed');
    await screenshot(page, 'edit-remove-reason.png');
    await page.getByRole('button', { name: 'Remove element' }).click();
    await edit.waitFor({ state: 'hidden' });
    await waitRow(page, '(0020,0011)', (r) => r && r.status === 'removed');

    // One count, said the same everywhere: top bar tooltip and Edit mode.
    const counterTitle = await page.locator('#modified-counter').getAttribute('title');
    assert.match(counterTitle, /^Elements changed from the files as opened: \d+ by the profile, 2 by hand\.$/);
    const total = Number((await page.locator('#modified-counter').textContent()).match(/^(\d+) modified$/)[1]);
    await filterTree(page, '');
    await page.waitForFunction((n) => document.querySelector('#tree-count').textContent.endsWith(`· ${n} changed`), total);

    // The report lists both, with time and reason.
    const popup = page.waitForEvent('popup');
    await page.getByRole('button', { name: 'Report', exact: true }).click();
    const tab = await popup;
    await tab.waitForLoadState();
    const html = await tab.content();
    await tab.screenshot({ path: outPath('report-manual.png'), fullPage: true });
    const time = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(Z|[+-]\\d\\d:\\d\\d)';
    assert.match(html, new RegExp(`<td class="?tag"?>${time}</td><td>file-1\\.dcm</td><td class="?tag"?>0018,0050</td><td>SliceThickness</td><td class="?act"?>edit value</td><td>rounded: exact thickness identifies the protocol</td>`));
    assert.match(html, new RegExp(`${time}</td><td>file-1\\.dcm</td><td class="?tag"?>0020,0011</td><td>SeriesNumber</td><td class="?act"?>remove</td><td>series numbers not needed</td>`));
    assert.match(html, new RegExp(`Elements changed</dt><dd>${total} \\(${total - 2} by the profile, 2 by hand\\)`));
    await tab.close();

    // Undo: the removal and its decision go together.
    await shortcut(page, 'z');
    await waitRow(page, '(0020,0011)', (r) => r === null || r.status !== 'removed');
    const res = await page.evaluate(async () => {
      const sid = performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)
        .map((p) => p.match(/^\/api\/sessions\/([0-9a-f]+)\//)).find(Boolean)[1];
      const token = sessionStorage.getItem('dcmask.token');
      const r = await fetch(`/api/sessions/${sid}/report.json`, { headers: { 'X-Dcmask-Token': token } });
      return r.json();
    });
    assert.deepEqual(res.manual.map((m) => [m.path, m.action, m.rule.source, m.rule.id, m.rule.note]),
      [['0018,0050', 'edit', 'manual', 'manual', 'rounded: exact thickness identifies the protocol']]);
    assert.ok(!JSON.stringify(res).includes('"5"'), 'the report never holds the value');
    assert.deepEqual(page.errors, []);
    await context.close();
  });
