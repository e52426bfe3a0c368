import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEmulatorFixture,
  type EmulatorFixture,
  lambdaHandlerEnv,
  TEST_KEY,
} from '../helpers/emulator-harness.js';

/**
 * docs/lambda.md's esbuild commands, run as written on examples/lambda/handler.ts (from this
 * repository's sources), and each bundle invoked in a fresh Node process against the emulator, the
 * way the Lambda runtime loads a handler file. The sizes this test prints are the ones the page quotes:
 * `npx vitest run test/integration/lambda-bundle.test.ts`.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PAGE = 'docs/lambda.md';
const HANDLER = 'examples/lambda/handler.ts';
const BUILTINS = new Set(builtinModules);
/**
 * mysql2's optional SQL highlighter for its debug output, required inside a try block (a failed
 * require is caught): once minified, esbuild sees the name and lists it as external.
 */
const OPTIONAL_REQUIRES = new Set(['cardinal']);

interface Recipe {
  /** The comment above the command on the page. */
  name: string;
  command: string;
}

/** The `npx esbuild` commands of the page's bundling block, each with the comment line above it. */
function documentedRecipes(): Recipe[] {
  const markdown = readFileSync(join(ROOT, PAGE), 'utf8');
  const recipes: Recipe[] = [];
  let comment = '';
  for (const line of markdown.split('\n')) {
    if (line.startsWith('# ')) comment = line.slice(2).trim();
    if (line.startsWith('npx esbuild ')) recipes.push({ name: comment, command: line.trim() });
  }
  return recipes;
}

const RECIPES = documentedRecipes();
/** What the page says the banner-less ES module fails with. */
const DYNAMIC_REQUIRE = 'Dynamic require of "buffer" is not supported';

interface Built {
  recipe: Recipe;
  dir: string;
  bundle: string;
  bytes: number;
  /** Modules the bundle leaves to the runtime (not Node built-ins). */
  externals: string[];
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { ...options, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? ((error as { code?: unknown }).code as number) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

/** Runs the page's command with the handler's path and a temporary output directory substituted. */
async function build(recipe: Recipe, root: string, index: number): Promise<Built> {
  const dir = join(root, `recipe-${index}`);
  mkdirSync(dir);
  expect(recipe.command).toContain(' handler.ts ');
  expect(recipe.command).toMatch(/--outfile=build\/index\.m?js/);
  const command = `${recipe.command
    .replace(' handler.ts ', ` ${HANDLER} `)
    .replace('--outfile=build/', `--outfile=${dir}/`)} --metafile=${dir}/meta.json --log-level=warning`;
  const result = await run('sh', ['-c', command], { cwd: ROOT });
  expect(result.code, result.stderr).toBe(0);
  const bundle = join(dir, /--outfile=build\/(\S+)/.exec(recipe.command)![1]!);
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as {
    outputs: Record<string, { imports: Array<{ path: string; external?: boolean }> }>;
  };
  // Paths in the metafile are relative to the working directory; the bundle is the one output.
  const output = Object.entries(meta.outputs).find(([path]) => path.endsWith(`/${basename(bundle)}`));
  expect(output, Object.keys(meta.outputs).join(', ')).toBeDefined();
  const externals = [
    ...new Set(
      (output?.[1].imports ?? [])
        .filter((i) => i.external && !BUILTINS.has(i.path) && !i.path.startsWith('node:'))
        .filter((i) => !OPTIONAL_REQUIRES.has(i.path))
        .map((i) => i.path),
    ),
  ];
  return { recipe, dir, bundle, bytes: statSync(bundle).size, externals };
}

const INVOKE = `
import { pathToFileURL } from 'node:url';
const mod = await import(pathToFileURL(process.argv[2]).href);
const handler = mod.handler ?? mod.default?.handler;
const responses = [];
for (const orderId of [1, 2]) responses.push(await handler({ orderId }));
console.log(JSON.stringify(responses));
process.exit(0);
`;

describe('docs/lambda.md: the documented esbuild bundles of the Lambda handler run', () => {
  let fx: EmulatorFixture;
  let root: string;
  let credentialsFile: string;
  const built: Built[] = [];

  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: `lambda_bundle_${process.pid}` });
    // Outside the repository: a self-contained bundle finds no node_modules to fall back on.
    root = mkdtempSync(join(tmpdir(), 'rds-iam-pool-lambda-bundle-'));
    credentialsFile = join(root, 'credentials');
    writeFileSync(
      credentialsFile,
      `[emulator]\naws_access_key_id = ${TEST_KEY.accessKeyId}\naws_secret_access_key = ${TEST_KEY.secretAccessKey}\n`,
    );
  });

  afterAll(async () => {
    if (built.length > 0) {
      const mib = (n: number) => (n / 1024 / 1024).toFixed(2);
      const lines = built.map(
        (b) =>
          `  ${b.recipe.name.padEnd(70)} ${b.bytes.toLocaleString('en-US').padStart(10)} bytes  ${mib(b.bytes)} MiB`,
      );
      console.log(
        `Lambda bundles of ${HANDLER} (esbuild ${readEsbuildVersion()}, Node ${process.version}):\n${lines.join('\n')}`,
      );
    }
    if (root) rmSync(root, { recursive: true, force: true });
    await fx?.teardown();
  });

  /** The handler's environment as a deployed function has it, pointed at the emulator. */
  function lambdaEnv(credentials: 'environment' | 'profile'): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('AWS_')) env[key] = value;
    return {
      ...env,
      ...lambdaHandlerEnv(fx),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: join(root, 'no-config'),
      ...(credentials === 'environment'
        ? { AWS_ACCESS_KEY_ID: TEST_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey }
        : // A profile: rds-iam-pool has to load the SDK's credential chain, from the bundle or the runtime.
          { AWS_PROFILE: 'emulator', AWS_SHARED_CREDENTIALS_FILE: credentialsFile }),
    };
  }

  async function invoke(b: Built, credentials: 'environment' | 'profile') {
    writeFileSync(join(b.dir, 'invoke.mjs'), INVOKE);
    return run(process.execPath, ['invoke.mjs', b.bundle], { cwd: b.dir, env: lambdaEnv(credentials) });
  }

  it('the page documents CommonJS, minified, SDK-external and ES module recipes', () => {
    expect(RECIPES.map((r) => r.command)).toEqual([
      expect.stringMatching(/--format=cjs --outfile=build\/index\.js$/),
      expect.stringContaining('--format=cjs --minify --outfile'),
      expect.stringMatching(/--format=cjs --minify '--external:@aws-sdk\/\*' '--external:@smithy\/\*'/),
      expect.stringMatching(/--format=esm --minify --outfile=build\/index\.mjs "--banner:js=/),
      expect.stringMatching(
        /--format=esm --minify '--external:@aws-sdk\/\*' '--external:@smithy\/\*'.*--banner:js=/,
      ),
    ]);
    expect(readFileSync(join(ROOT, PAGE), 'utf8')).toContain(DYNAMIC_REQUIRE);
  });

  it.each(RECIPES.map((recipe, i) => [recipe.name, recipe, i] as const))(
    '%s: bundles, and answers two invocations on one connection',
    { timeout: 60_000 },
    async (_name, recipe, i) => {
      const b = await build(recipe, root, i);
      built.push(b);
      const sdkExternal = recipe.command.includes('--external:');
      if (sdkExternal) {
        // What the nodejs18.x+ runtimes provide; the bundle must need nothing else.
        expect(
          b.externals.every((m) => /^@(aws-sdk|smithy)\//.test(m)),
          b.externals.join(', '),
        ).toBe(true);
        expect(b.externals).toContain('@aws-sdk/credential-provider-node');
        symlinkSync(join(ROOT, 'node_modules'), join(b.dir, 'node_modules'), 'dir');
      } else {
        expect(b.externals).toEqual([]);
      }
      for (const credentials of ['environment', 'profile'] as const) {
        const result = await invoke(b, credentials);
        expect(result.code, `${credentials}: ${result.stderr}`).toBe(0);
        const responses = JSON.parse(result.stdout) as Array<{ statusCode: number; body: string }>;
        const bodies = responses.map((r) => JSON.parse(r.body) as { connectionId: number; orderId: number });
        expect(responses.map((r) => r.statusCode)).toEqual([200, 200]);
        expect(bodies.map((body) => body.orderId)).toEqual([1, 2]);
        expect(bodies[0]?.connectionId).toBe(bodies[1]?.connectionId);
      }
    },
  );

  it('without the banner, the ES module fails as the page says', { timeout: 60_000 }, async () => {
    const esm = RECIPES.find((r) => r.command.includes('--format=esm') && !r.command.includes('--external'))!;
    const withoutBanner = {
      name: 'ESM without the banner',
      command: esm.command.replace(/ "--banner:js=[^"]*"/, ''),
    };
    expect(withoutBanner.command).not.toContain('banner');
    const b = await build(withoutBanner, root, RECIPES.length);
    const result = await invoke(b, 'environment');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(DYNAMIC_REQUIRE);
  });
});

function readEsbuildVersion(): string {
  return (
    JSON.parse(readFileSync(join(ROOT, 'node_modules/esbuild/package.json'), 'utf8')) as { version: string }
  ).version;
}
