import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Plugin } from 'esbuild';
import type { BenchContext } from '../lib/context.js';
import { REPO_ROOT } from '../lib/env.js';
import { atMost, below, type ResultRow } from '../lib/report.js';
import { summarize } from '../lib/stats.js';

const SECTION = 'Lambda handler bundle (esbuild, minified, ESM)';
const HANDLERS = {
  ours: 'rds-iam-pool',
  'hand-wired': 'mysql2 + rds-signer by hand',
  wrapper: 'AWS Advanced NodeJS Wrapper',
  'mysql2-only': 'mysql2 alone, password (no IAM)',
} as const;
type Handler = keyof typeof HANDLERS;

/**
 * Packages the wrapper imports from optional plugins (Secrets Manager, custom endpoints, federated
 * auth, telemetry) without depending on them: not installed, so they stay out of its bundle,
 * which makes the wrapper's figure a lower bound.
 */
const WRAPPER_OPTIONAL = [
  '@aws-sdk/client-secrets-manager',
  '@aws-sdk/client-rds',
  '@aws-sdk/client-sts',
  'axios',
  'axios-cookiejar-support',
  'tough-cookie',
  'http-cookie-agent',
  'entities',
  '@opentelemetry/*',
  'aws-xray-sdk',
];

/** Points the handler's `../../src/index.js` import at the built package entry, as `rds-iam-pool` would. */
function builtEntry(path: string): Plugin {
  return {
    name: 'built-entry',
    setup(b) {
      b.onResolve({ filter: /\/src\/index\.js$/ }, () => ({ path }));
    },
  };
}

interface BundleSize {
  bytes: number;
  gzipBytes: number;
}

async function bundle(handler: Handler, entryPath: string, sdkExternal: boolean): Promise<BundleSize> {
  const result = await build({
    entryPoints: [join(REPO_ROOT, 'bench/handlers', `${handler}.ts`)],
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    plugins: [builtEntry(entryPath)],
    // The Lambda Node.js runtime ships AWS SDK v3: some deployments leave @aws-sdk/* out.
    external: [...(handler === 'wrapper' ? WRAPPER_OPTIONAL : []), ...(sdkExternal ? ['@aws-sdk/*'] : [])],
  });
  const output = result.outputFiles[0]?.contents ?? new Uint8Array();
  return { bytes: output.byteLength, gzipBytes: gzipSync(output).byteLength };
}

/** Bundled size of a minimal handler per variant; deterministic, so one build each. */
export async function handlerBundleSize(ctx: BenchContext, entryPath: string): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  for (const sdkExternal of [false, true]) {
    const sizes = {} as Record<Handler, BundleSize>;
    for (const handler of Object.keys(HANDLERS) as Handler[]) {
      sizes[handler] = await bundle(handler, entryPath, sdkExternal);
    }
    const kib = (n: number) => n / 1024;
    const mode = sdkExternal ? '@aws-sdk/* external' : 'everything bundled';
    for (const baseline of ['hand-wired', 'wrapper', 'mysql2-only'] as const) {
      const ratio = sizes.ours.bytes / sizes[baseline].bytes;
      // Issue #14: no larger than the hand-wired handler (<= 1.15x with @aws-sdk/* external), smaller
      // than the wrapper's.
      const bound = baseline === 'hand-wired' ? (sdkExternal ? 1.15 : 1) : undefined;
      const target =
        bound !== undefined
          ? atMost(bound, ratio)
          : baseline === 'wrapper' && !sdkExternal
            ? below(1, ratio)
            : undefined;
      rows.push({
        section: SECTION,
        metric: mode,
        subject: HANDLERS.ours,
        baseline: HANDLERS[baseline],
        unit: 'KiB',
        subjectValue: summarize([kib(sizes.ours.bytes)]),
        baselineValue: summarize([kib(sizes[baseline].bytes)]),
        ratio: summarize([ratio]),
        better: 'lower',
        runs: '1 build (deterministic)',
        ...(target ? { target } : {}),
        ...(baseline === 'mysql2-only' ? { reference: true } : {}),
        detail: {
          subjectGzipKiB: Number(kib(sizes.ours.gzipBytes).toFixed(1)),
          baselineGzipKiB: Number(kib(sizes[baseline].gzipBytes).toFixed(1)),
          ...(baseline === 'wrapper' ? { note: 'lower bound: optional plugin packages left out' } : {}),
        },
      });
    }
    ctx.log(`bundle (${mode}): ours ${kib(sizes.ours.bytes).toFixed(0)} KiB`);
  }
  return rows;
}
