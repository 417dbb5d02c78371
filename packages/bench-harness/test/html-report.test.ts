import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { benchmark } from '../src/benchmark.js';
import { compareResults, createBaseline } from '../src/baseline.js';
import { renderHtml } from '../src/report.js';
import { suite } from '../src/suite.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const artifacts = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-artifacts');
const tmp = mkdtempSync(join(tmpdir(), 'pt-bench-html-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  // Loud on purpose: CI must install chromium (.ci/run does); elsewhere we say why nothing ran.
  console.warn(
    `[bench-harness] ${CHROMIUM} is missing: the HTML report browser test ${process.env.CI ? 'FAILS (CI is set)' : 'is skipped (CI is not set); install it with apt-get install -y chromium'}`,
  );
}

function work(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s = (Math.imul(s, 31) + i) | 0;
  return s;
}

describe('HTML report in headless Chromium', () => {
  it('renders every chart with data, logs no console errors and saves a screenshot', async (ctx) => {
    if (!haveChromium) {
      if (process.env.CI)
        throw new Error(`${CHROMIUM} is required in CI (apt-get install -y chromium)`);
      ctx.skip();
      return;
    }
    const a = await benchmark(() => work(300), { name: 'work300', timeMs: 30 });
    const s = await suite(
      'loops',
      { base: () => work(400), half: () => work(200) },
      { baseline: 'base', timeMs: 30 },
    );
    const history = [1, 2, 3].map((i) =>
      createBaseline({ results: [a], suites: [s], createdAt: new Date(Date.UTC(2026, 0, i)) }),
    );
    const html = renderHtml({
      title: 'bench-harness browser test',
      results: [a],
      suites: [s],
      comparisons: [compareResults(a, a)],
      history,
    });
    const file = join(tmp, 'report.html');
    writeFileSync(file, html);

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('request', (r) => {
        if (!r.url().startsWith('file:')) problems.push(`network request to ${r.url()}`);
      });
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      const charts = await page.$$eval('svg.chart', (svgs) =>
        svgs.map((svg) => {
          const box = svg.getBoundingClientRect();
          const marks = [...svg.querySelectorAll('.mark')].filter((m) => {
            const b = m.getBoundingClientRect();
            return b.width > 0 && b.height > 0;
          });
          return {
            kind: svg.getAttribute('data-kind'),
            points: Number(svg.getAttribute('data-points')),
            width: box.width,
            height: box.height,
            visibleMarks: marks.length,
          };
        }),
      );
      // work300 + the suite's two variants; one ratio chart; one trend chart.
      expect(charts.map((c) => c.kind).sort()).toEqual([
        'distribution',
        'distribution',
        'distribution',
        'ratios',
        'trend',
      ]);
      for (const c of charts) {
        expect(c.points).toBeGreaterThan(0);
        expect(c.width).toBeGreaterThan(100);
        expect(c.height).toBeGreaterThan(50);
        expect(c.visibleMarks).toBeGreaterThan(0);
      }
      expect(problems).toEqual([]);
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'html-report.png'), fullPage: true });
      expect(existsSync(join(artifacts, 'html-report.png'))).toBe(true);
    } finally {
      await browser.close();
    }
  });
});
