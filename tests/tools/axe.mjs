// Audit an HTML file with axe-core in headless Chromium (WCAG 2.2 A/AA).
// Usage: node axe.mjs <file.html> [screenshot.png]
// Prints the violations as JSON and exits 1 if there are any.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const file = resolve(process.argv[2]);
const shot = process.argv[3];

const browser = await chromium.launch({
  executablePath: process.env.SAFER_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  // Any request beyond the file itself means the pack is not self-contained.
  const external = [];
  page.on('request', (r) => { if (!r.url().startsWith('file://')) external.push(r.url()); });
  await page.goto('file://' + file, { waitUntil: 'load' });
  if (shot) await page.screenshot({ path: shot, fullPage: false });
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () =>
    await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
    }));
  // Reflow (WCAG 1.4.10): at 320 CSS px nothing may scroll the whole page
  // sideways (wide tables scroll inside their own region), and axe runs
  // again at that width.
  const narrow = await browser.newPage({ viewport: { width: 320, height: 640 } });
  await narrow.goto('file://' + file, { waitUntil: 'load' });
  const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await narrow.addScriptTag({ content: axeSource });
  const small = await narrow.evaluate(async () =>
    await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
    }));
  const list = (r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length, example: v.nodes[0]?.html?.slice(0, 200) }));
  const violations = list(result).concat(list(small).map((v) => ({ ...v, id: v.id + ' (at 320px)' })));
  if (overflow > 0) {
    violations.push({ id: 'reflow (at 320px)', impact: 'serious', help: `the page scrolls sideways by ${overflow}px`, nodes: 1 });
  }
  const out = {
    violations,
    passes: result.passes.length,
    external,
  };
  console.log(JSON.stringify(out, null, 2));
  process.exitCode = out.violations.length === 0 && external.length === 0 ? 0 : 1;
} finally {
  await browser.close();
}
