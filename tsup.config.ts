import { defineConfig } from 'tsup';

export default defineConfig({
  // Each subpath export is its own entry, so the main entry never loads the emulator, the CLI
  // or an ORM adapter (Lambda pays for every import at cold start).
  entry: ['src/index.ts', 'src/emulator/index.ts', 'src/adapters/*.ts', 'src/cli/*.ts'],
  format: ['esm', 'cjs'],
  // tsup 8.5 (the last tsup that runs on Node 20) sets `baseUrl` for its declaration build, which
  // TypeScript 6 reports as deprecated (TS5101) and fails on; the emitted .d.ts files are the same.
  dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
  // No source maps in the package: the output is not minified and keeps every name, so stack traces
  // and a debugger stepping into dist/ read as they are. Maps would either point at src/ files the
  // tarball does not carry or embed the sources (1.19 MB of the 2.0 MB unpacked when they did).
  sourcemap: false,
  clean: true,
  target: 'node20',
  // esbuild renames a class whose body refers to itself (`class _IamOptionsError`) or that it lowers
  // (`_class`), and `err.name`, `String(err)` and stack traces print that name. keepNames keeps the
  // source names; scripts/check-dist.mjs checks every exported class of every entry, ESM and CJS.
  keepNames: true,
  // Shared chunks: an adapter and the main entry load one copy of the core, so `instanceof
  // IamAuthError` holds across subpaths (esbuild splitting; tsup applies it to CJS too).
  splitting: true,
  // p-retry 7 ships ESM only; bundling it keeps the CommonJS build loadable on every Node 20.
  noExternal: ['p-retry', 'is-network-error'],
});
