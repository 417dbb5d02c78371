import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type Database from 'better-sqlite3';
import {
  InvalidOptionError,
  InvalidSqlError,
  NPlusOneError,
  ProfilerAttachedError,
  nPlusOneMessage,
} from './errors.js';
import { fingerprint, type Fingerprint } from './fingerprint.js';
import { analyzePlan, isExplainable } from './plan.js';
import { formatReport, type ReportFormat, type ReportOptions } from './report.js';
import { StatsEntry, type StatementStats } from './stats.js';

/** Slow-query log options. */
export interface SlowQueryOptions {
  /** Executions taking at least this long (ms) are slow. Must be ≥ 0. */
  readonly thresholdMs: number;
  /** Fraction (0..1) of slow executions that are logged; all are counted. Default 1. */
  readonly sampleRate?: number;
  /** Size of the in-memory ring of logged slow queries. Default 100. */
  readonly maxEntries?: number;
  /** Keep the bound parameters of logged slow queries. Default false (they may hold secrets). */
  readonly captureParams?: boolean;
  /** Called for each logged slow query, synchronously, after the statement returned. */
  readonly onSlow?: (entry: SlowQuery) => void;
}

/** N+1 detection options. */
export interface NPlusOneOptions {
  /** N: a statement may run N times per scope; the (N+1)-th run is reported. Integer ≥ 1. Default 10. */
  readonly threshold?: number;
  /** Throw {@link NPlusOneError} (before running the statement) instead of warning. Default false. */
  readonly strict?: boolean;
  /** Called once per fingerprint per scope. Default: `process.emitWarning` with code E_DBPROF_N_PLUS_ONE. */
  readonly onDetect?: (finding: NPlusOneFinding) => void;
}

/** Options of {@link profile}. Resolved once, when the profiler is created. */
export interface ProfileOptions {
  /** Run EXPLAIN QUERY PLAN once per new fingerprint (on its first execution). Default true. */
  readonly explain?: boolean;
  /** Slow-query log; disabled when omitted. */
  readonly slowQuery?: SlowQueryOptions;
  /** N+1 detection inside {@link Profiler.scope}. */
  readonly nPlusOne?: NPlusOneOptions;
  /**
   * Most distinct fingerprints tracked (default 5000). Further new shapes are counted under one
   * `(other)` entry, as pg_stat_statements' `max` bounds its memory.
   */
  readonly maxFingerprints?: number;
}

/** One logged slow execution. */
export interface SlowQuery {
  readonly id: string;
  readonly fingerprint: string;
  /** The SQL text of the statement that ran. */
  readonly sql: string;
  readonly durationNs: number;
  /** Wall-clock time (ms since epoch) when it finished. */
  readonly at: number;
  /** Bound parameters, when `captureParams` is on. */
  readonly params?: readonly unknown[];
}

/** One N+1 detection. */
export interface NPlusOneFinding {
  readonly id: string;
  readonly fingerprint: string;
  readonly sql: string;
  /** Executions in the scope when detection fired: threshold + 1. */
  readonly count: number;
  readonly threshold: number;
}

/** Per-scope options of {@link Profiler.scope}; default to the profiler's. */
export interface ScopeOptions {
  readonly threshold?: number;
  readonly strict?: boolean;
}

interface ScopeState {
  readonly counts: Map<StatsEntry, number>;
  readonly threshold: number;
  readonly strict: boolean;
}

type Stmt = Database.Statement<unknown[], unknown>;
type Fn = (...args: unknown[]) => unknown;

const attached = new WeakSet<Database.Database>();
const MAX_FINDINGS = 1000;

function checkNumber(name: string, v: unknown, min: number, max: number, integer: boolean): number {
  if (
    typeof v !== 'number' ||
    Number.isNaN(v) ||
    v < min ||
    v > max ||
    (integer && !Number.isInteger(v))
  )
    throw new InvalidOptionError(
      name,
      v,
      `${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`,
    );
  return v;
}

/**
 * A profiler attached to one better-sqlite3 `Database`. Create it with {@link profile}. Every
 * statement the database prepares afterwards is measured per fingerprint; the statements behave
 * exactly as before (same object, same results, same errors, except that a prepare failure is
 * rethrown as {@link InvalidSqlError}).
 */
export class Profiler {
  readonly #db: Database.Database;
  readonly #origPrepare: Database.Database['prepare'];
  /** `db`'s own `prepare` property before {@link profile} (another wrapper), restored on detach. */
  readonly #ownPrepare: PropertyDescriptor | undefined;
  readonly #explain: boolean;
  readonly #maxFingerprints: number;
  readonly #slowNs: number;
  readonly #slowSample: number;
  readonly #slowMax: number;
  readonly #slowParams: boolean;
  readonly #onSlow: ((e: SlowQuery) => void) | undefined;
  readonly #n1Threshold: number;
  readonly #n1Strict: boolean;
  readonly #onDetect: (f: NPlusOneFinding) => void;

  readonly #bySql = new Map<string, Fingerprint>();
  readonly #entries = new Map<string, StatsEntry>();
  #other: StatsEntry | undefined;
  readonly #slow: SlowQuery[] = [];
  #slowCount = 0;
  readonly #findings: NPlusOneFinding[] = [];
  readonly #als = new AsyncLocalStorage<ScopeState>();
  #activeScopes = 0;
  #internal = false;
  #attached = true;

  /** Use {@link profile}. */
  constructor(db: Database.Database, options: ProfileOptions = {}) {
    if (
      db === null ||
      typeof db !== 'object' ||
      typeof (db as { prepare?: unknown }).prepare !== 'function'
    )
      throw new InvalidOptionError('db', db, 'a better-sqlite3 Database');
    if (attached.has(db)) throw new ProfilerAttachedError();
    this.#explain = options.explain ?? true;
    this.#maxFingerprints = checkNumber(
      'opts.maxFingerprints',
      options.maxFingerprints ?? 5000,
      1,
      1e7,
      true,
    );
    const slow = options.slowQuery;
    this.#slowNs = slow
      ? checkNumber('opts.slowQuery.thresholdMs', slow.thresholdMs, 0, 1e9, false) * 1e6
      : Infinity;
    this.#slowSample = checkNumber('opts.slowQuery.sampleRate', slow?.sampleRate ?? 1, 0, 1, false);
    this.#slowMax = checkNumber('opts.slowQuery.maxEntries', slow?.maxEntries ?? 100, 1, 1e6, true);
    this.#slowParams = slow?.captureParams ?? false;
    this.#onSlow = slow?.onSlow;
    const n1 = options.nPlusOne ?? {};
    this.#n1Threshold = checkNumber('opts.nPlusOne.threshold', n1.threshold ?? 10, 1, 1e9, true);
    this.#n1Strict = n1.strict ?? false;
    this.#onDetect =
      n1.onDetect ??
      ((f) =>
        process.emitWarning(nPlusOneMessage(f.fingerprint, f.count, f.threshold), {
          type: 'NPlusOneWarning',
          code: NPlusOneError.code,
        }));

    this.#db = db;
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call(db)
    this.#origPrepare = db.prepare;
    this.#ownPrepare = Object.getOwnPropertyDescriptor(db, 'prepare');
    attached.add(db);
    const prepare = (source: string): Stmt => this.#prepare(source);
    Object.defineProperty(db, 'prepare', {
      value: prepare,
      configurable: true,
      writable: true,
      enumerable: false,
    });
  }

  /** The profiled database (the same object that was passed to {@link profile}). */
  get db(): Database.Database {
    return this.#db;
  }

  /** Number of slow executions seen (logged or not, see `sampleRate`). */
  get slowCount(): number {
    return this.#slowCount;
  }

  /** Statistics of every fingerprint with at least one call or error, by total time, largest first. */
  stats(): StatementStats[] {
    const out: StatementStats[] = [];
    for (const e of this.#entries.values()) if (e.calls > 0 || e.errors > 0) out.push(e.snapshot());
    if (this.#other && (this.#other.calls > 0 || this.#other.errors > 0))
      out.push(this.#other.snapshot());
    return out.sort((a, b) => b.totalNs - a.totalNs);
  }

  /** Statistics of the fingerprint of `sql` (any literals), or undefined when it never ran. */
  statsFor(sql: string): StatementStats | undefined {
    const fp = this.#fingerprint(sql);
    const e = this.#entries.get(fp.text);
    return e && (e.calls > 0 || e.errors > 0) ? e.snapshot() : undefined;
  }

  /** The logged slow queries, oldest first (at most `maxEntries`). */
  slowQueries(): SlowQuery[] {
    return this.#slow.slice();
  }

  /** N+1 detections so far (at most 1000, oldest first). */
  nPlusOneFindings(): NPlusOneFinding[] {
    return this.#findings.slice();
  }

  /**
   * Run `fn` as one N+1 scope (a request, a job): every fingerprint may run `threshold` times in it;
   * the next run warns (or throws in strict mode), once per fingerprint. Works across `await`
   * (AsyncLocalStorage); scopes nest, the innermost counts. Returns what `fn` returns.
   */
  scope<T>(fn: () => T, options: ScopeOptions = {}): T {
    const state: ScopeState = {
      counts: new Map(),
      threshold:
        options.threshold === undefined
          ? this.#n1Threshold
          : checkNumber('options.threshold', options.threshold, 1, 1e9, true),
      strict: options.strict ?? this.#n1Strict,
    };
    this.#activeScopes++;
    let result: T;
    try {
      result = this.#als.run(state, fn);
    } catch (err) {
      this.#activeScopes--;
      throw err;
    }
    if (result instanceof Promise) {
      return result.finally(() => {
        this.#activeScopes--;
      }) as T;
    }
    this.#activeScopes--;
    return result;
  }

  /** Zero every statistic, the slow log and the N+1 findings. Plans are kept. */
  reset(): void {
    for (const e of this.#entries.values()) e.reset();
    this.#other?.reset();
    this.#slow.length = 0;
    this.#slowCount = 0;
    this.#findings.length = 0;
  }

  /** Render the statistics as a console table, JSON or markdown. */
  report(format: ReportFormat = 'table', options: ReportOptions = {}): string {
    return formatReport(
      {
        statements: this.stats(),
        slowQueries: this.#slow,
        nPlusOne: this.#findings,
        slowCount: this.#slowCount,
      },
      format,
      options,
    );
  }

  /**
   * Stop profiling: statements prepared from now on are plain. Statements prepared while attached
   * keep recording into this profiler.
   */
  detach(): void {
    if (!this.#attached) return;
    this.#attached = false;
    // put back what was there: deleting would also drop a wrapper installed before profile()
    if (this.#ownPrepare) Object.defineProperty(this.#db, 'prepare', this.#ownPrepare);
    else delete (this.#db as { prepare?: unknown }).prepare;
    attached.delete(this.#db);
  }

  #fingerprint(sql: string): Fingerprint {
    let fp = this.#bySql.get(sql);
    if (!fp) {
      fp = fingerprint(sql);
      if (this.#bySql.size >= 10_000) this.#bySql.clear();
      this.#bySql.set(sql, fp);
    }
    return fp;
  }

  #entry(fp: Fingerprint, sql: string): StatsEntry {
    let e = this.#entries.get(fp.text);
    if (!e) {
      if (this.#entries.size >= this.#maxFingerprints) {
        this.#other ??= new StatsEntry('0000000000000000', '(other)', '(other)', false);
        return this.#other;
      }
      e = new StatsEntry(fp.id, fp.text, sql, this.#explain && isExplainable(sql));
      this.#entries.set(fp.text, e);
    }
    return e;
  }

  #prepare(source: string): Stmt {
    const raw = this.#origPrepare as unknown as (this: Database.Database, s: string) => Stmt;
    if (this.#internal) return raw.call(this.#db, source);
    let stmt: Stmt;
    try {
      stmt = raw.call(this.#db, source);
    } catch (err) {
      // Only SQLite's own refusals are "invalid SQL"; a closed database or a non-string argument
      // keeps better-sqlite3's TypeError.
      const code = (err as { code?: unknown } | null)?.code;
      if (typeof source !== 'string' || typeof code !== 'string' || !code.startsWith('SQLITE_'))
        throw err;
      const fp = this.#fingerprint(source);
      throw new InvalidSqlError(source, fp.text, fp.id, err);
    }
    this.#instrument(stmt, this.#entry(this.#fingerprint(source), source));
    return stmt;
  }

  #analyse(
    entry: StatsEntry,
    stmt: Stmt,
    args: readonly unknown[],
    bound: readonly unknown[] | undefined,
  ): void {
    entry.planPending = false;
    this.#internal = true;
    try {
      entry.plan = analyzePlan(this.#db, stmt.source, args.length > 0 ? args : (bound ?? []));
    } finally {
      this.#internal = false;
    }
  }

  #hit(entry: StatsEntry): void {
    const state = this.#als.getStore();
    if (!state) return;
    const prev = state.counts.get(entry) ?? 0;
    // Strict mode refuses every run past N, not just the first: a caller that catches the error
    // (per-item error handling in a job loop) must not get the N+1 pattern back. The count stays
    // at N+1 because refused runs do not run; the finding is recorded once.
    if (state.strict && prev > state.threshold)
      throw new NPlusOneError(entry.fingerprint, prev, state.threshold);
    const count = prev + 1;
    state.counts.set(entry, count);
    if (count !== state.threshold + 1) return;
    const finding: NPlusOneFinding = {
      id: entry.id,
      fingerprint: entry.fingerprint,
      sql: entry.sql,
      count,
      threshold: state.threshold,
    };
    if (this.#findings.length >= MAX_FINDINGS) this.#findings.shift();
    this.#findings.push(finding);
    if (state.strict) throw new NPlusOneError(entry.fingerprint, count, state.threshold);
    this.#onDetect(finding);
  }

  #slowHit(entry: StatsEntry, sql: string, ns: number, args: readonly unknown[]): void {
    this.#slowCount++;
    if (this.#slowSample < 1 && Math.random() >= this.#slowSample) return;
    const item: SlowQuery = this.#slowParams
      ? {
          id: entry.id,
          fingerprint: entry.fingerprint,
          sql,
          durationNs: ns,
          at: Date.now(),
          params: args.slice(),
        }
      : { id: entry.id, fingerprint: entry.fingerprint, sql, durationNs: ns, at: Date.now() };
    if (this.#slow.length >= this.#slowMax) this.#slow.shift();
    this.#slow.push(item);
    this.#onSlow?.(item);
  }

  #instrument(stmt: Stmt, entry: StatsEntry): void {
    const proto = Object.getPrototypeOf(stmt) as Record<
      'run' | 'get' | 'all' | 'iterate' | 'bind',
      Fn
    >;
    const { run, get, all, iterate, bind } = proto;
    let bound: unknown[] | undefined;
    const before = (args: unknown[]): void => {
      if (entry.planPending) this.#analyse(entry, stmt, args, bound);
      if (this.#activeScopes !== 0) this.#hit(entry);
    };
    const slow = (ns: number, args: unknown[]): void => {
      if (ns >= this.#slowNs) this.#slowHit(entry, stmt.source, ns, args);
    };
    const own = stmt as unknown as Record<string, unknown>;
    // Hot path: two clock reads, one Welford update, one histogram increment; the rarely needed
    // work (first-run EXPLAIN, N+1 scopes, slow log) sits behind cheap checks. The wrappers take
    // `arguments` and forward up to three of them with `call` (see `invoke`): a rest parameter
    // forwarded with `apply` cost about 200 ns more per call (a 2-parameter lookup on a 2-vCPU
    // AMD EPYC VM, Node 20.20, 2026-11-27: 250–330 ns over the plain call instead of 440–570 ns).
    // The argument list is copied into an array only on the rare paths that keep it. The three
    // wrappers are written out, not made by one factory: a shared factory (one closure body for
    // run/get/all) measured 630–730 ns over the plain call against 110–170 ns for these, same VM.
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the wrappers are `function`s (for `arguments`)
    const profiler = this;
    /* eslint-disable prefer-rest-params -- `arguments` on purpose: see above */
    own.run = function (): unknown {
      if (entry.planPending || profiler.#activeScopes !== 0) before(Array.from(arguments));
      const t0 = performance.now();
      let r: { changes: number };
      try {
        r = invoke(run, stmt, arguments) as { changes: number };
      } catch (err) {
        entry.errors++;
        throw err;
      }
      const ns = (performance.now() - t0) * 1e6;
      entry.record(ns, r.changes);
      if (ns >= profiler.#slowNs) slow(ns, Array.from(arguments));
      return r;
    };
    own.get = function (): unknown {
      if (entry.planPending || profiler.#activeScopes !== 0) before(Array.from(arguments));
      const t0 = performance.now();
      let r: unknown;
      try {
        r = invoke(get, stmt, arguments);
      } catch (err) {
        entry.errors++;
        throw err;
      }
      const ns = (performance.now() - t0) * 1e6;
      entry.record(ns, r === undefined ? 0 : 1);
      if (ns >= profiler.#slowNs) slow(ns, Array.from(arguments));
      return r;
    };
    own.all = function (): unknown {
      if (entry.planPending || profiler.#activeScopes !== 0) before(Array.from(arguments));
      const t0 = performance.now();
      let r: unknown[];
      try {
        r = invoke(all, stmt, arguments) as unknown[];
      } catch (err) {
        entry.errors++;
        throw err;
      }
      const ns = (performance.now() - t0) * 1e6;
      entry.record(ns, r.length);
      if (ns >= profiler.#slowNs) slow(ns, Array.from(arguments));
      return r;
    };
    /* eslint-enable prefer-rest-params */
    own.iterate = (...args: unknown[]): IterableIterator<unknown> => {
      before(args);
      const t0 = performance.now();
      let inner: Iterator<unknown>;
      try {
        inner = iterate.apply(stmt, args) as Iterator<unknown>;
      } catch (err) {
        entry.errors++;
        throw err;
      }
      return new TimedIterator(inner, performance.now() - t0, (ms, rows, failed) => {
        if (failed) {
          entry.errors++;
          return;
        }
        const ns = ms * 1e6;
        entry.record(ns, rows);
        slow(ns, args);
      });
    };
    own.bind = (...args: unknown[]): unknown => {
      bind.apply(stmt, args);
      bound = args;
      return stmt;
    };
  }
}

/**
 * `fn.call(self, ...args)` for a statement method: up to three arguments are passed with `call`,
 * which V8 runs without building an argument array; more go through `apply`. The count is kept
 * exactly (better-sqlite3 counts the arguments it is given, so an added `undefined` would be a
 * parameter).
 */
function invoke(fn: Fn, self: unknown, args: IArguments): unknown {
  switch (args.length) {
    case 0:
      return fn.call(self);
    case 1:
      return fn.call(self, args[0]);
    case 2:
      return fn.call(self, args[0], args[1]);
    case 3:
      return fn.call(self, args[0], args[1], args[2]);
    default:
      return fn.apply(self, args as unknown as unknown[]);
  }
}

/** Iterator wrapper that times only the time spent inside `next()` (not the consumer's loop body). */
class TimedIterator implements IterableIterator<unknown> {
  readonly #inner: Iterator<unknown>;
  readonly #done: (ms: number, rows: number, failed: boolean) => void;
  #ms: number;
  #rows = 0;
  #finished = false;

  constructor(
    inner: Iterator<unknown>,
    startMs: number,
    done: (ms: number, rows: number, failed: boolean) => void,
  ) {
    this.#inner = inner;
    this.#ms = startMs;
    this.#done = done;
  }

  next(): IteratorResult<unknown> {
    const t0 = performance.now();
    let r: IteratorResult<unknown>;
    try {
      r = this.#inner.next();
    } catch (err) {
      this.#finish(true);
      throw err;
    }
    this.#ms += performance.now() - t0;
    if (r.done) this.#finish(false);
    else this.#rows++;
    return r;
  }

  return(value?: unknown): IteratorResult<unknown> {
    const t0 = performance.now();
    const r = this.#inner.return ? this.#inner.return(value) : { done: true as const, value };
    this.#ms += performance.now() - t0;
    this.#finish(false);
    return r;
  }

  [Symbol.iterator](): IterableIterator<unknown> {
    return this;
  }

  #finish(failed: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#done(this.#ms, this.#rows, failed);
  }
}

/**
 * Attach a profiler to `db`. From now on every statement `db.prepare()` returns is measured per
 * fingerprint (calls, rows, time), analysed once with EXPLAIN QUERY PLAN, logged when slow and
 * counted for N+1 detection inside {@link Profiler.scope}. Statements prepared before the call
 * are not measured. Throws {@link ProfilerAttachedError} when `db` is already profiled and
 * {@link InvalidOptionError} for bad options.
 */
export function profile(db: Database.Database, options: ProfileOptions = {}): Profiler {
  return new Profiler(db, options);
}
