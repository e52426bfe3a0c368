import { defineConfig } from 'tsup';

export default defineConfig({
  // Each subpath export is its own entry, so the main entry never loads the emulator, the CLI
  // or an ORM adapter (Lambda pays for every import at cold start).
  entry: ['src/index.ts', 'src/emulator/index.ts', 'src/adapters/*.ts', 'src/cli/*.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // Shared chunks: an adapter and the main entry load one copy of the core, so `instanceof
  // IamAuthError` holds across subpaths (esbuild splitting; tsup applies it to CJS too).
  splitting: true,
  // p-retry 7 ships ESM only; bundling it keeps the CommonJS build loadable on every Node 20.
  noExternal: ['p-retry', 'is-network-error'],
});
