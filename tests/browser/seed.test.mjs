// The central workflow, word for word: Expert Determination custom profile
// (open, ⌘2, Custom, two rules, Save, ✕, Load, Apply, review, Export).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  startServer, launchBrowser, openWorkbench, corpus, CT_BRAIN, outPath, screenshot,
  filterTree, rowInfo, waitRow, shortcut, inspectJson, bytesContainTag, dcmdumpValue,
} from './helpers.mjs';

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

test('seed: expert determination workflow with a custom profile', async () => {
  const { context, page } = await openWorkbench(browser, server);
  const ctFile = corpus(CT_BRAIN);
  const originalName = dcmdumpValue(ctFile, '0010,0010');
  const originalSeries = dcmdumpValue(ctFile, '0008,103e');

  // 1. Open your DICOM file (⌘O) …
  const chooser = page.waitForEvent('filechooser');
  await shortcut(page, 'o');
  await (await chooser).setFiles(ctFile);
  await page.waitForSelector('#file-list .file-item');
  assert.equal(await page.locator('#file-list .file-item').count(), 1);
  assert.equal(await page.locator('#file-list .file-item[aria-current="true"]').count(), 1);
  await page.waitForSelector('#view-img:not([hidden])', { timeout: 20_000 }).catch(() => {});
  await screenshot(page, 'view.png');

  // … and switch to Anon mode (⌘2).
  await shortcut(page, '2');
  await page.locator('#panel-anon').waitFor({ state: 'visible' });
  assert.equal(await page.getByRole('tab', { name: 'Anon' }).getAttribute('aria-selected'), 'true');

  // 2. Select the Custom profile: placeholder "No custom rules configured yet."
  const custom = page.locator('#profile-picker [data-profile="custom"]');
  await custom.click();
  assert.equal(await custom.getAttribute('aria-pressed'), 'true');
  await page.getByText('No custom rules configured yet.', { exact: true }).waitFor({ state: 'visible' });
  const badgeBefore = await custom.locator('.rule-count').textContent();
  assert.match(badgeBefore, /^\d+ rules$/);

  // 3. First rule: (0008,103e) remove.
  const tagInput = page.getByLabel('DICOM tag');
  const action = page.getByLabel('Action', { exact: true });
  const options = await action.locator('option').evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(options.slice(0, 2), ['keep', 'remove'], 'keep and remove come first');
  await tagInput.fill('(0008,103e)');
  await page.locator('#rule-tag-info.tag-ok').waitFor(); // the debounced lookup shows the name
  await action.selectOption('remove');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await page.locator('#rule-list li').first().waitFor();

  // 4. Second rule: 00100010 keep.
  await tagInput.fill('00100010');
  await action.selectOption('keep');
  await page.getByRole('button', { name: 'Add', exact: true }).click();

  // 5. Both rows, normalised ids and capitalised actions.
  await page.waitForFunction(() => document.querySelectorAll('#rule-list li').length === 2);
  const rows = await page.locator('#rule-list li').evaluateAll((lis) => lis.map((li) => ({
    tag: li.querySelector('.rule-tag').textContent,
    act: li.querySelector('.rule-act').textContent,
    name: li.querySelector('.rule-name').textContent,
  })));
  assert.deepEqual(rows.map((r) => [r.tag, r.act]), [['(0008,103E)', 'REMOVE'], ['(0010,0010)', 'KEEP']]);
  assert.ok(rows[0].name.length > 0, 'attribute name shown for (0008,103E)');
  assert.ok(await page.getByText('No custom rules configured yet.').isHidden());
  const badgeAfter = await custom.locator('.rule-count').textContent();
  assert.equal(parseInt(badgeAfter, 10), parseInt(badgeBefore, 10) + 2, 'Custom badge = base count + custom rules');
  await screenshot(page, 'anon-custom.png');

  // Save Profile → custom_anonymization_profile.json with exactly the seed's content.
  const dl = page.waitForEvent('download');
  await page.getByRole('button', { name: '💾 Save Profile' }).click();
  const download = await dl;
  assert.equal(download.suggestedFilename(), 'custom_anonymization_profile.json');
  const saved = outPath('custom_anonymization_profile.json');
  await download.saveAs(saved);
  assert.equal(fs.readFileSync(saved, 'utf8'), '[{"id":"(0008,103E)","act":"remove"},{"id":"(0010,0010)","act":"keep"}]');

  // Remove the (0008,103E) rule: only (0010,0010) stays.
  await page.getByRole('button', { name: 'Remove rule (0008,103E)' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#rule-list li').length === 1);
  assert.equal(await page.locator('#rule-list li .rule-tag').textContent(), '(0010,0010)');

  // Load Profile restores both rules from the file.
  const chooser2 = page.waitForEvent('filechooser');
  await page.getByRole('button', { name: '📂 Load Profile' }).click();
  await (await chooser2).setFiles(saved);
  await page.waitForFunction(() => document.querySelectorAll('#rule-list li').length === 2);
  const loaded = await page.locator('#rule-list li').evaluateAll((lis) => lis.map((li) => [
    li.querySelector('.rule-tag').textContent, li.querySelector('.rule-act').textContent]));
  assert.deepEqual(loaded, [['(0008,103E)', 'REMOVE'], ['(0010,0010)', 'KEEP']]);

  // Apply.
  await page.getByRole('button', { name: 'Apply', exact: true }).click();
  await page.locator('#apply-result .apply-ok').waitFor();
  const result = await page.locator('#apply-result .apply-ok').textContent();
  assert.match(result, /Applied Custom profile to 1 file · \d+ elements? changed/);
  await page.getByText('Nothing is written to disk until you Export').first().waitFor();
  await page.locator('#modified-counter:not([hidden])').waitFor();
  assert.match(await page.locator('#modified-counter').textContent(), /^\d+ modified$/);

  // Review in Edit mode (⌘3).
  await shortcut(page, '3');
  await page.locator('#panel-edit').waitFor({ state: 'visible' });
  await page.locator('#tree-body tr').first().waitFor();
  await screenshot(page, 'edit-after-apply.png');

  // "remove": Series Description is gone (listed as removed, or absent).
  await filterTree(page, '(0008,103E)');
  const series = await rowInfo(page, '(0008,103E)');
  assert.ok(series === null || series.status === 'removed', `(0008,103E) should be removed, got ${JSON.stringify(series)}`);
  if (series && originalSeries) assert.ok(!series.value.includes(originalSeries.trim()), 'removed value not shown as current');

  // "keep": Patient's Name untouched, with its original value.
  await filterTree(page, '0010,0010');
  const name = await waitRow(page, '(0010,0010)', (r) => r !== null);
  assert.equal(name.status, 'unchanged');
  if (originalName) assert.equal(name.value.replace(/\^+$/, ''), originalName.replace(/\^+$/, ''));
  else assert.match(name.value, /SIMPSON/);

  // The Basic rules still did their work elsewhere.
  await filterTree(page, '00100020');
  const pid = await rowInfo(page, '(0010,0020)');
  assert.ok(pid, 'Patient ID row present');
  assert.equal(pid.status, 'modified');
  assert.match(pid.classes, /\bmodified\b/);
  await filterTree(page, '(0020,000D)');
  const suid = await rowInfo(page, '(0020,000D)');
  assert.equal(suid.status, 'modified');
  assert.match(suid.value, /^2\.25\.\d+$/);
  assert.ok(suid.original.length > 0, 'original Study Instance UID shown');
  assert.match(suid.title, /Original: /);

  // Export (one file open → the DICOM file itself). The file is a secondary capture
  // whose pixels the profile left alone: the workbench asks first.
  await page.getByRole('button', { name: 'Export', exact: true }).click();
  const pixels = page.getByRole('alertdialog');
  await pixels.waitFor();
  assert.match(await pixels.textContent(), /file-1\.dcm: pixels not cleaned by this profile/);
  const dl2 = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export anyway' }).click();
  const exported = await dl2;
  const exportPath = outPath('seed-export.dcm');
  await exported.saveAs(exportPath);
  const bytes = fs.readFileSync(exportPath);
  assert.ok(bytes.length > 132, 'exported file not empty');
  assert.equal(bytes.toString('latin1', 128, 132), 'DICM', 'exported file is DICOM');

  const inspected = inspectJson(exportPath);
  if (inspected !== null) {
    // `dcmask inspect FILE --json` lists an entry per element of the file.
    const report = JSON.parse(inspected);
    if (Array.isArray(report.entries)) {
      assert.ok(report.entries.length > 0, 'dcmask inspect lists the elements');
      const hit = report.entries.filter((e) => e.tag === '(0008,103E)' || e.keyword === 'SeriesDescription');
      assert.deepEqual(hit, [], 'dcmask inspect: Series Description absent');
    }
    assert.ok(!/0008,?103E|SeriesDescription/i.test(inspected), 'dcmask inspect: Series Description absent');
    if (originalSeries) assert.ok(!inspected.includes(originalSeries.trim()), 'dcmask inspect: old Series Description text absent');
  }
  assert.ok(!bytesContainTag(bytes, 0x0008, 0x103e), 'Series Description tag absent from the exported bytes');
  if (originalSeries) assert.ok(!bytes.includes(Buffer.from(originalSeries.trim())), 'old Series Description text absent');
  if (originalName) assert.ok(bytes.includes(Buffer.from(originalName.replace(/\^+$/, ''))), "kept Patient's Name still in the file");

  assert.deepEqual(page.errors, [], 'no page errors');
  await context.close();
});
