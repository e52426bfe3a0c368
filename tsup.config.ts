import { defineConfig } from 'tsup';

const entry = {
  index: 'src/index.ts',
  'emulator/index': 'src/emulator/index.ts',
};

export default defineConfig([
  {
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: false,
    // p-retry 7 ships ESM only; bundling it keeps the CommonJS build loadable on every Node 20.
    noExternal: ['p-retry', 'is-network-error'],
  },
]);
