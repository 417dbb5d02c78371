import type { Measurement } from '@peaktrade/bench-harness';
import { describe, expect, it } from 'vitest';
import { evaluate, gatingFailures, type SuiteOutcome } from './evaluate.js';
import type { Target } from './targets.js';

function outcome(name: string, measurements: Measurement[], status: SuiteOutcome['status'] = 'ok') {
  return {
    name,
    pkg: name,
    file: `packages/${name}/bench/${name}.bench.ts`,
    status,
    durationMs: 1,
    measurements,
  };
}

const speedup: Target = {
  measurement: 'k.speedup',
  label: 'Speed-up over idiomatic JS',
  op: '>=',
  value: 5,
  unit: 'x',
  gate: 'gating',
  source: 'test',
};
const ratio: Target = {
  ...speedup,
  measurement: 'k.ratio',
  label: 'Ratio to the baseline',
  op: '<=',
  value: 2,
};

describe('evaluate', () => {
  it('fails a target whose measured value is infinite or NaN instead of passing it', () => {
    // 1 / ratio against a zero-time variant is Infinity, and Infinity >= 5 holds.
    const results = evaluate(
      [speedup, ratio],
      [
        outcome('k', [
          { id: 'k.speedup', label: 'speed-up', value: Number.POSITIVE_INFINITY, unit: 'x' },
          { id: 'k.ratio', label: 'ratio', value: Number.NaN, unit: 'x' },
        ]),
      ],
    );
    expect(results.map((r) => r.verdict)).toEqual(['fail', 'fail']);
    expect(results[0]!.reason).toBe(
      'Speed-up over idiomatic JS: measured Infinity x, not a finite number',
    );
    expect(results[1]!.reason).toContain('measured NaN x, not a finite number');
    expect(gatingFailures(results, [])).toHaveLength(2);
  });

  it('never passes a target whose suite failed or that no suite reported', () => {
    const results = evaluate(
      [speedup, { ...ratio, measurement: 'other.ratio' }],
      [outcome('k', [], 'error')],
    );
    expect(results.map((r) => r.verdict)).toEqual(['missing', 'missing']);
    expect(results[0]!.reason).toContain('suite k failed');
    expect(results[1]!.reason).toBe('no suite reported other.ratio');
  });
});
