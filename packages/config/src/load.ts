import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import {
  ConfigReadError,
  ConfigSyntaxError,
  ConfigValidationError,
  type ConfigIssue,
} from './errors.js';
import { configSchema, type PerformanceConfig } from './schema.js';

/** Prefix of environment variables that override file values. `__` separates path segments. */
export const ENV_PREFIX = 'PEAKTRADE_';
/** Environment variable naming the config file to load instead of the discovered one. */
export const CONFIG_PATH_ENV = 'PEAKTRADE_CONFIG';
/** Path of the config file relative to the project root. */
export const DEFAULT_CONFIG_RELATIVE_PATH = join('config', 'performance.toml');

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /**
   * Explicit file to load. A missing explicit file is an error. Without it,
   * `PEAKTRADE_CONFIG` is used, then `config/performance.toml` in `cwd` or the
   * nearest parent folder; if none exists the defaults apply.
   */
  readonly path?: string;
  /** Folder to start the search from (default `process.cwd()`). */
  readonly cwd?: string;
  /** Environment to read overrides from (default `process.env`). Pass `{}` to ignore it. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Options of {@link parseConfig}. */
export interface ParseConfigOptions {
  /** Name used in error messages (a path or `<inline>`). */
  readonly source?: string;
  /** Environment overrides, as in {@link LoadConfigOptions.env}. Default: none. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Load, validate and freeze the Peak Trade configuration.
 *
 * Order of precedence: environment (`PEAKTRADE_PERFORMANCE__CACHE__L1_SIZE=5000`) over the
 * file over the documented defaults. Synchronous: it runs once at start-up.
 *
 * @throws {ConfigSyntaxError} the file is not valid TOML (names the line).
 * @throws {ConfigValidationError} a value has the wrong type or range, or a key is unknown.
 * @throws {ConfigReadError} an explicit file is missing or unreadable.
 */
export function loadConfig(options: LoadConfigOptions = {}): PerformanceConfig {
  const env = options.env ?? process.env;
  const explicit = options.path ?? env[CONFIG_PATH_ENV];
  const file = explicit
    ? resolve(options.cwd ?? process.cwd(), explicit)
    : findConfigFile(options.cwd ?? process.cwd());
  if (file === undefined) return parseConfig('', { source: '<defaults>', env });
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigReadError(file, { cause });
  }
  return parseConfig(text, { source: file, env });
}

/**
 * Find `config/performance.toml` in `cwd` or the nearest parent folder.
 * @returns the absolute path, or undefined when there is none.
 */
export function findConfigFile(cwd: string): string | undefined {
  let dir = resolve(cwd);
  for (;;) {
    const candidate = join(dir, DEFAULT_CONFIG_RELATIVE_PATH);
    if (isFile(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Parse and validate TOML text (plus optional environment overrides) into a frozen config.
 * Same errors as {@link loadConfig}.
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): PerformanceConfig {
  const source = options.source ?? '<inline>';
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text);
  } catch (cause) {
    if (cause instanceof TomlError) {
      const detail = cause.message.split('\n')[0] ?? 'syntax error';
      throw new ConfigSyntaxError(source, cause.line, cause.column, detail, { cause });
    }
    throw cause;
  }
  const { sources: envSources, issues: envIssues } = applyEnv(raw, options.env ?? {});
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = keyLines(text);
    const issues = result.error.issues.flatMap((issue) =>
      toIssues(issue, raw, source, envSources, lines),
    );
    throw new ConfigValidationError([...issues, ...envIssues], { cause: result.error });
  }
  if (envIssues.length > 0) throw new ConfigValidationError(envIssues);
  return deepFreeze(result.data);
}

/** The defaults, as a frozen config (what a missing file gives). */
export function defaultConfig(): PerformanceConfig {
  return parseConfig('', { source: '<defaults>' });
}

/**
 * Apply `PEAKTRADE_*__*` overrides onto the raw TOML tree. Returns which env var set (or
 * created) which path, and the variables that could not be applied because a value that is
 * not a table stands where their path needs one.
 */
function applyEnv(
  raw: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
): { sources: Map<string, string>; issues: ConfigIssue[] } {
  const sources = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.startsWith(ENV_PREFIX) || !name.includes('__')) continue;
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split('__');
    const parsed = parseEnvValue(value);
    let node: Record<string, unknown> | undefined = raw;
    for (const [depth, segment] of path.slice(0, -1).entries()) {
      const next = node[segment];
      if (next === undefined) {
        node[segment] = {};
        const created = path.slice(0, depth + 1).join('.');
        if (!sources.has(created)) sources.set(created, name);
      } else if (!isTable(next)) {
        // Replacing it would silently drop that value (and hide it if it is invalid).
        issues.push({
          path: path.join('.'),
          value: parsed,
          rule: `cannot be set: ${path.slice(0, depth + 1).join('.')} is not a table`,
          source: `env ${name}`,
        });
        node = undefined;
        break;
      }
      node = node[segment] as Record<string, unknown>;
    }
    if (node === undefined) continue;
    node[path[path.length - 1]!] = parsed;
    sources.set(path.join('.'), name);
  }
  return { sources, issues };
}

function isTable(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
  );
}

/** Environment values are read as TOML literals (numbers, booleans, quoted strings), else as plain strings. */
function parseEnvValue(value: string): unknown {
  try {
    const doc = parseToml(`v = ${value}`);
    // `5\nl1_ttl = 9` is a document, not a literal: do not keep its first value silently.
    return Object.keys(doc).length === 1 ? doc['v'] : value;
  } catch {
    return value;
  }
}

function toIssues(
  issue: z.core.$ZodIssue,
  raw: Record<string, unknown>,
  file: string,
  envSources: Map<string, string>,
  lines: Map<string, number>,
): ConfigIssue[] {
  const base = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const path = [...base, key].join('.');
      return locate(
        path,
        valueAt(raw, [...base, key]),
        `unknown key (allowed: ${allowedKeys(base).join(', ')})`,
        file,
        envSources,
        lines,
      );
    });
  }
  const path = base.join('.');
  return [locate(path, valueAt(raw, base), issue.message, file, envSources, lines)];
}

function locate(
  path: string,
  value: unknown,
  rule: string,
  file: string,
  envSources: Map<string, string>,
  lines: Map<string, number>,
): ConfigIssue {
  const envName = envSourceOf(path, envSources);
  if (envName !== undefined) return { path, value, rule, source: `env ${envName}` };
  const line = lines.get(path);
  return line === undefined
    ? { path, value, rule, source: file }
    : { path, value, rule, source: file, line };
}

/** The env var that set `path` or a table above it (an inline table, a table it created). */
function envSourceOf(path: string, envSources: Map<string, string>): string | undefined {
  const segments = path.split('.');
  for (let n = segments.length; n > 0; n--) {
    const name = envSources.get(segments.slice(0, n).join('.'));
    if (name !== undefined) return name;
  }
  return undefined;
}

function allowedKeys(path: readonly string[]): string[] {
  let schema: z.ZodType = configSchema;
  for (const segment of path) {
    const shape = shapeOf(schema);
    const next = shape?.[segment];
    if (next === undefined) return [];
    schema = next;
  }
  return Object.keys(shapeOf(schema) ?? {});
}

function shapeOf(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let s: z.ZodType = schema;
  // Unwrap default/prefault wrappers down to the object.
  while ('unwrap' in s && typeof s.unwrap === 'function' && !('shape' in s))
    s = (s.unwrap as () => z.ZodType)();
  const def = s.def as { innerType?: z.ZodType; shape?: Record<string, z.ZodType> };
  if (def.shape) return def.shape;
  return def.innerType ? shapeOf(def.innerType) : undefined;
}

function valueAt(raw: Record<string, unknown>, path: readonly string[]): unknown {
  let node: unknown = raw;
  for (const segment of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

/** Map each dotted key path to the 1-based line that sets it, for error messages. */
function keyLines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  let table: string[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const header = /^\s*\[\s*([^\]]+?)\s*\]/.exec(line);
    if (header) {
      table = splitKey(header[1]!);
      if (!out.has(table.join('.'))) out.set(table.join('.'), index + 1);
      return;
    }
    const assignment = /^\s*([A-Za-z0-9_\-."' ]+?)\s*=/.exec(line);
    if (assignment) out.set([...table, ...splitKey(assignment[1]!)].join('.'), index + 1);
  });
  return out;
}

function splitKey(key: string): string[] {
  return key.split('.').map((part) => part.trim().replace(/^["']|["']$/g, ''));
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
