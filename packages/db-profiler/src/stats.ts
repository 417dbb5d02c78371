import { LogLinearHistogram } from './histogram.js';
import type { PlanAnalysis } from './plan.js';

/** A point-in-time copy of one fingerprint's statistics. Times are in nanoseconds. */
export interface StatementStats {
  /** Fingerprint id (16 hex chars). */
  readonly id: string;
  /** Normalised SQL. */
  readonly fingerprint: string;
  /** The first SQL text seen with this fingerprint (with its literals). */
  readonly sql: string;
  /** Completed executions (run/get/all/iterate calls). */
  readonly calls: number;
  /** Executions that threw. Not included in the timing figures. */
  readonly errors: number;
  /** Rows returned (get/all/iterate) or changed (run). */
  readonly rows: number;
  readonly totalNs: number;
  readonly meanNs: number;
  readonly minNs: number;
  readonly maxNs: number;
  /** Population standard deviation (Welford). */
  readonly stddevNs: number;
  /** Median from the log-linear histogram (≈ 6 % resolution). */
  readonly p50Ns: number;
  /** 95th percentile from the histogram. */
  readonly p95Ns: number;
  /** EXPLAIN QUERY PLAN findings, when the statement was analysed. */
  readonly plan: PlanAnalysis | undefined;
}

/** Mutable accumulator behind one fingerprint. Internal. */
export class StatsEntry {
  readonly id: string;
  readonly fingerprint: string;
  readonly sql: string;
  calls = 0;
  errors = 0;
  rows = 0;
  totalNs = 0;
  mean = 0;
  m2 = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  readonly histogram = new LogLinearHistogram();
  /** Plan analysis state: undefined = not yet analysed. */
  plan: PlanAnalysis | undefined = undefined;
  planPending: boolean;

  constructor(id: string, fingerprint: string, sql: string, planPending: boolean) {
    this.id = id;
    this.fingerprint = fingerprint;
    this.sql = sql;
    this.planPending = planPending;
  }

  /** Add one execution (Welford's online mean/variance). */
  record(ns: number, rows: number): void {
    const n = ++this.calls;
    this.rows += rows;
    this.totalNs += ns;
    const delta = ns - this.mean;
    this.mean += delta / n;
    this.m2 += delta * (ns - this.mean);
    if (ns < this.min) this.min = ns;
    if (ns > this.max) this.max = ns;
    this.histogram.record(ns);
  }

  reset(): void {
    this.calls = 0;
    this.errors = 0;
    this.rows = 0;
    this.totalNs = 0;
    this.mean = 0;
    this.m2 = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.max = 0;
    this.histogram.reset();
  }

  snapshot(): StatementStats {
    const has = this.calls > 0;
    return {
      id: this.id,
      fingerprint: this.fingerprint,
      sql: this.sql,
      calls: this.calls,
      errors: this.errors,
      rows: this.rows,
      totalNs: this.totalNs,
      meanNs: has ? this.mean : 0,
      minNs: has ? this.min : 0,
      maxNs: this.max,
      stddevNs: has ? Math.sqrt(this.m2 / this.calls) : 0,
      p50Ns: this.histogram.quantile(0.5, this.min, this.max),
      p95Ns: this.histogram.quantile(0.95, this.min, this.max),
      plan: this.plan,
    };
  }
}
