// The Risk view and the determination report: six generated patients (ages all
// different, shared in bands of ten years), figures after Apply, Keep and Generalise
// from the Risk view changing them, undo restoring them, the saved rule file with the
// generalize action round-tripping, and the report with its Safe Harbor matrix, risk
// figures and signature block.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startServer, launchBrowser, openWorkbench, openFiles, outPath, shortcut, screenshot } from './helpers.mjs';

// id, age, sex: with age and sex as the quasi-identifiers every patient is unique;
// in bands of ten years two are (40s F, 70s M).
const PATIENTS = [
  ['RISKB1', '045Y', 'M'], ['RISKB2', '047Y', 'M'], ['RISKB3', '041Y', 'F'],
  ['RISKB4', '063Y', 'F'], ['RISKB5', '068Y', 'F'], ['RISKB6', '072Y', 'M'],
];

/** The cohort as DICOM files, written by dcmtk's dump2dcm from a text dump. */
function cohort() {
  const dir = outPath('risk-cohort');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return PATIENTS.map(([id, age, sex], i) => {
    const uid = `1.2.826.0.1.3680043.2.1125.88.${i + 1}`;
    const dump = [
      '(0008,0016) UI =CTImageStorage',
      `(0008,0018) UI [${uid}.1.1]`,
      '(0008,0060) CS [CT]',
      `(0010,0010) PN [Riskington^Person${i + 1}]`,
      `(0010,0020) LO [${id}]`,
      `(0010,0040) CS [${sex}]`,
      `(0010,1010) AS [${age}]`,
      `(0020,000d) UI [${uid}]`,
      `(0020,000e) UI [${uid}.1]`,
      '(0028,0002) US 1', '(0028,0004) CS [MONOCHROME2]', '(0028,0010) US 2', '(0028,0011) US 2',
      '(0028,0100) US 16', '(0028,0101) US 12', '(0028,0102) US 11', '(0028,0103) US 0',
      '(7fe0,0010) OW 0000\\0000\\0000\\0000',
    ].join('\n');
    const dumpPath = path.join(dir, `${id}.dump`);
    const file = path.join(dir, `${id}.dcm`);
    fs.writeFileSync(dumpPath, dump);
    const r = spawnSync('dump2dcm', ['-q', '-g', '--write-xfer-little', dumpPath, file]);
    assert.equal(r.status, 0, `dump2dcm: ${r.stderr}`);
    return file;
  });
}

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

async function apply(page) {
  const before = await page.evaluate(() => document.querySelector('#risk-figures')?.dataset.rev ?? null);
  await page.getByRole('button', { name: 'Apply', exact: true }).click();
  await page.locator('#apply-result .apply-ok').waitFor();
  // The Risk view answers the new state.
  await page.waitForFunction((b) => {
    const t = document.querySelector('#risk-figures');
    return t && t.dataset.rev !== b;
  }, before);
}

async function figure(page, key, col = 'after') {
  return page.locator(`#risk-figures tr[data-figure="${key}"] td.${col}`).textContent();
}

test('Risk view: figures after Apply, keep and generalise change them, undo restores them; the report', async () => {
  const files = cohort();
  const { context, page } = await openWorkbench(browser, server);
  await openFiles(page, files);
  await shortcut(page, '2');
  assert.ok(await page.locator('#risk-section').isHidden(), 'no Risk view before Apply');
  await page.locator('#profile-picker [data-profile="basic"]').click();
  await apply(page);
  await page.locator('#risk-section').waitFor();

  // Age and sex as the quasi-identifiers.
  await page.locator('#risk-list').fill('PatientAge,PatientSex');
  await page.getByRole('button', { name: 'Recompute' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#risk-fields .risk-field').length === 2);
  assert.equal(await figure(page, 'records'), '6');
  assert.equal(await figure(page, 'unique_records', 'before'), '6', 'as opened every patient is unique');
  assert.equal(await figure(page, 'unique_records'), '0', 'Basic removes age and sex');
  const age = page.locator('#risk-fields .risk-field[data-qi="PatientAge"]');
  assert.match(await age.textContent(), /Removed by the profile/);
  assert.equal(await age.locator('.risk-values').count(), 0, 'no values of a removed field');
  for (const [, a] of PATIENTS) assert.ok(!(await page.locator('#risk-section').textContent()).includes(a));

  // Keep both: every patient unique again, the ages listed with their counts.
  await age.getByRole('button', { name: 'Keep' }).click();
  await page.locator('#risk-fields .risk-field[data-qi="PatientSex"]').getByRole('button', { name: 'Keep' }).click();
  assert.equal(await page.locator('#rule-list .rule').count(), 2);
  await apply(page);
  assert.equal(await figure(page, 'unique_records'), '6');
  assert.equal(await figure(page, 'k_min'), '1');
  const ageNow = page.locator('#risk-fields .risk-field[data-qi="PatientAge"]');
  await ageNow.locator('summary').click();
  assert.match(await ageNow.locator('.risk-values').textContent(), /045Y 1 record/);
  assert.match(await ageNow.textContent(), /6 unique because of it/);

  // Generalise the age to bands of ten years: two unique left.
  await ageNow.getByRole('button', { name: 'Generalise to 10y' }).click();
  const rule = page.locator('#rule-list .rule[data-tag="(0010,1010)"]');
  assert.equal(await rule.getAttribute('data-act'), 'generalize');
  await apply(page);
  assert.equal(await figure(page, 'unique_records'), '2');
  assert.equal(await figure(page, 'records_below_k5'), '6');
  assert.equal(await figure(page, 'prosecutor_risk_avg'), (4 / 6).toFixed(4));
  await screenshot(page, 'risk-view.png');

  // Undo: the figures of the Apply before.
  await page.getByRole('button', { name: /Undo/ }).click();
  await page.waitForFunction(() => document.querySelector('#risk-figures tr[data-figure="unique_records"] td.after')?.textContent === '6');

  // The saved rule file holds the generalize rule, and loads back.
  const dl = page.waitForEvent('download');
  await page.locator('#save-profile-btn').click();
  const saved = outPath('risk-rules.json');
  await (await dl).saveAs(saved);
  const text = fs.readFileSync(saved, 'utf8');
  const rules = JSON.parse(text);
  const list = Array.isArray(rules) ? rules : rules.rules;
  const gen = list.find((r) => r.id === '(0010,1010)');
  assert.equal(gen.act, 'generalize');
  assert.equal(gen.to, '10y');
  assert.ok(list.some((r) => r.id === '(0010,0040)' && r.act === 'keep'));
  await rule.locator('.rule-remove').click();
  assert.equal(await page.locator('#rule-list .rule[data-tag="(0010,1010)"]').count(), 0);
  await page.setInputFiles('#load-profile-input', saved);
  await page.locator('#rule-list .rule[data-tag="(0010,1010)"][data-act="generalize"]').waitFor();
  assert.match(await page.locator('#rule-list .rule[data-tag="(0010,1010)"]').textContent(), /to 10y/);
  await apply(page);
  assert.equal(await figure(page, 'unique_records'), '2', 'the loaded rule generalises as before');

  // The Add-rule form offers generalize with its `to`: bands of 20 years.
  await page.locator('#rule-tag').fill('(0010,1010)');
  await page.locator('#rule-action').selectOption('generalize');
  await page.locator('#rule-to-field').waitFor();
  await page.locator('#rule-to').fill('20y');
  await page.locator('#rule-add').click();
  await page.locator('#rule-list .rule[data-tag="(0010,1010)"]', { hasText: 'to 20y' }).waitFor();
  await apply(page);
  assert.equal(await figure(page, 'classes'), '4', '40-59 and 60-79, by sex');
  const age20 = page.locator('#risk-fields .risk-field[data-qi="PatientAge"]');
  await age20.locator('summary').click();
  assert.match(await age20.locator('.risk-values').textContent(), /060Y 3 records/, '63, 68 and 72 in one band');

  // The report: release, Safe Harbor matrix, risk figures, signature block; no original value.
  await page.locator('#release-recipient').fill('Trial office');
  await page.locator('#release-expert').fill('Dr. A. Expert');
  await page.locator('#release-status').filter({ hasText: 'Saved' }).waitFor();
  const popup = page.waitForEvent('popup');
  await page.getByRole('button', { name: 'Report', exact: true }).click();
  const tab = await popup;
  await tab.waitForLoadState();
  await tab.locator('#signature').waitFor();
  assert.equal(await tab.locator('#safe-harbor tr[data-category]').count(), 18);
  assert.match(await tab.locator('#summary').textContent(), /Trial office/);
  assert.match(await tab.locator('#signature').textContent(), /Dr\. A\. Expert/);
  const summary = await tab.locator('#summary table.risk').textContent();
  assert.match(summary, /Prosecutor risk, maximum/);
  assert.equal(await tab.locator('#summary table.risk tr', { hasText: 'Records with k = 1' }).locator('td').nth(2).textContent(), '2 (33.3%)');
  assert.match(await tab.locator('#verify-result').textContent(), /No identifying value of the originals found/);
  assert.match(await tab.locator('#audit-head').textContent(), /^sha256:[0-9a-f]{64}$/);
  const html = await tab.content();
  for (const [id] of PATIENTS) assert.ok(!html.includes(id), `${id} in the report`);
  assert.ok(!html.includes('Riskington'), 'a name in the report');
  await screenshot(tab, 'risk-report.png');
  // Printed: the detail's groups open.
  await tab.emulateMedia({ media: 'print' });
  const group = tab.locator('#decisions details').first();
  assert.ok(await group.locator('table').isVisible(), 'a collapsed group prints open');
  await tab.pdf({ path: outPath('risk-report.pdf') }).catch(() => { /* headless shell without PDF */ });
  await tab.close();
  assert.deepEqual(page.errors, []);
  await context.close();
});
