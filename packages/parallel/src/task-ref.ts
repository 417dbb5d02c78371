import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidOptionError } from './errors.js';

/** Any function a worker can call. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTaskFn = (...args: any[]) => unknown;

declare const taskFnType: unique symbol;

/**
 * A reference to a function exported by a JavaScript module, which a worker thread imports and
 * calls. Functions cannot cross threads, so work is named by **module URL + export name**.
 * Build one with {@link taskRef}; the type parameter `F` is the function's type, so calls are
 * type-checked: `taskRef<typeof import('./tasks.js').score>(new URL('./tasks.js', import.meta.url), 'score')`.
 *
 * The module must be JavaScript at run time (Node 20 workers cannot load `.ts`): point at the
 * compiled `dist/*.js` file, or at a `.mjs`/`.js` file.
 */
export interface TaskRef<F extends AnyTaskFn = AnyTaskFn> {
  /** Absolute `file:` URL (or other importable URL) of the module, as a string. */
  readonly module: string;
  /** Name of the exported function (`'default'` for the default export). */
  readonly export: string;
  /** Phantom type marker; never set at run time. */
  readonly [taskFnType]?: F;
}

/** A module location: a `URL`, a `file:`/`data:` URL string, or an absolute file path. */
export type ModuleLocation = URL | string;

/**
 * Build a {@link TaskRef}: which module a worker should import and which export to call.
 * Relative paths are rejected because a worker cannot know what they were relative to; write
 * `new URL('./tasks.js', import.meta.url)` to point next to the calling file.
 *
 * @param module `URL`, `file:` URL string, or absolute path of a JavaScript module.
 * @param exportName name of the exported function; default `'default'`.
 * @throws {InvalidOptionError} `module` is relative or not a URL/path, or `exportName` is empty.
 * @example
 * ```ts
 * const score = taskRef<typeof import('./tasks.js').score>(new URL('./tasks.js', import.meta.url), 'score');
 * ```
 */
export function taskRef<F extends AnyTaskFn = AnyTaskFn>(
  module: ModuleLocation,
  exportName = 'default',
): TaskRef<F> {
  if (typeof exportName !== 'string' || exportName.length === 0) {
    throw new InvalidOptionError('exportName', exportName, 'a non-empty export name');
  }
  return Object.freeze({ module: resolveModule(module, 'module'), export: exportName });
}

/**
 * Validate a `TaskRef`-shaped value (possibly a plain `{ module, export }` object written by hand)
 * and return it with `module` normalised to a URL string.
 * @throws {InvalidOptionError} naming `param`.
 */
export function normalizeTaskRef<F extends AnyTaskFn>(ref: unknown, param: string): TaskRef<F> {
  if (typeof ref !== 'object' || ref === null || !('module' in ref) || !('export' in ref)) {
    throw new InvalidOptionError(
      param,
      ref,
      "a task reference { module: URL | string, export: string } (functions cannot cross threads; use taskRef(new URL('./tasks.js', import.meta.url), 'name'))",
    );
  }
  const { module, export: exportName } = ref;
  if (typeof exportName !== 'string' || exportName.length === 0) {
    throw new InvalidOptionError(`${param}.export`, exportName, 'a non-empty export name');
  }
  if (!(module instanceof URL) && typeof module !== 'string') {
    throw new InvalidOptionError(
      `${param}.module`,
      module,
      'a URL, a file: URL string or an absolute path',
    );
  }
  return { module: resolveModule(module, `${param}.module`), export: exportName };
}

function resolveModule(module: ModuleLocation, param: string): string {
  if (module instanceof URL) return module.href;
  if (typeof module === 'string') {
    if (/^(file|data|node):/.test(module)) return module;
    if (isAbsolute(module)) return pathToFileURL(module).href;
  }
  throw new InvalidOptionError(
    param,
    module,
    "a URL, a file: URL string or an absolute path (for a file next to yours: new URL('./tasks.js', import.meta.url))",
  );
}
