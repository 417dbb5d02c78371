import { peaktradeProject } from '@peaktrade/vitest-config';
import ts from 'typescript';

/**
 * Vite's TypeScript transform (oxc) lowers only legacy decorators, and Node 20 cannot run TC39
 * standard decorators. Test files that use `@cached(...)` are therefore compiled with
 * TypeScript itself, exactly as `tsc` compiles the package (standard decorators, ES2022 output).
 */
const standardDecorators = {
  name: 'peaktrade:tc39-decorators',
  enforce: 'pre' as const,
  transform(code: string, id: string): { code: string; map: string | undefined } | undefined {
    if (!id.endsWith('.test.ts') || !code.includes('@cached(')) return undefined;
    const out = ts.transpileModule(code, {
      fileName: id,
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        verbatimModuleSyntax: true,
        sourceMap: true,
      },
    });
    return { code: out.outputText, map: out.sourceMapText };
  },
};

export default peaktradeProject('cache-core', { plugins: [standardDecorators] });
