/**
 * Secret-leak scan for the whole test suite (a vitest `setupFiles` module, so it runs in every test
 * file). While a file runs it collects what the library and the tests let out of the process or
 * hand to user code:
 *
 * - every console.* call and every process.stdout / process.stderr write;
 * - every event payload an IAM pool handle emits (`tokenSigned`, `retry`, `connectFailed`, ...);
 * - every message published on a diagnostics_channel whose name starts with `rds-iam-pool`;
 * - every `IamAuthError` constructed (the library's typed errors), inspected with its cause chain;
 * - every pool handle and mysql2 pool created, and their `stats()`, through util.inspect.
 *
 * After the file (the last afterAll) all of it is checked against the secrets the run really used,
 * learned as SigV4 signs them (secret access keys, session tokens, token signatures and 16-character
 * fragments of each), plus anything token-shaped (`X-Amz-Signature=`, `X-Amz-Security-Token=`,
 * `X-Amz-Credential=`, 64 hex digits, a credential field printed with its value). A find fails the
 * file; the failure message names what leaked where, never the secret.
 *
 * What it cannot see is listed in docs/security.md.
 */
import buffer from 'node:buffer';
import diagnosticsChannel from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import { appendFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { inspect } from 'node:util';
import { SignatureV4 } from '@smithy/signature-v4';
import mysql from 'mysql2';
import { afterAll, expect } from 'vitest';
import {
  formatFindings,
  type LeakFinding,
  SecretRegistry,
  scanText,
} from '../../bench/chaos/leak-scanner.js';
import { IamAuthError } from '../../src/errors.js';

/** What one test file let out; reset when the next file starts. */
export interface LeakScanState {
  texts: Array<{ source: string; text: string }>;
  errors: Set<Error>;
  handles: Set<object>;
  pools: Set<object>;
  secrets: SecretRegistry;
  /** How many items each collector saw, so a test can prove a collector is alive. */
  seen: Record<string, number>;
  /** Record console and stream output without printing it (for planting a leak on purpose). */
  muted: boolean;
}

const STATE_KEY = Symbol.for('rds-iam-pool.leak-scan.state');
const HOOKED = Symbol.for('rds-iam-pool.leak-scan.hooked');
/** The channel prefix the library publishes diagnostics under. */
export const LIBRARY_CHANNEL_PREFIX = 'rds-iam-pool';

/** Deep enough for an error's cause chain and a pool's config, without walking every socket. */
const INSPECT = {
  depth: 6,
  maxArrayLength: 200,
  maxStringLength: Number.POSITIVE_INFINITY,
  breakLength: Number.POSITIVE_INFINITY,
} as const;

type Global = typeof globalThis & { [STATE_KEY]?: LeakScanState };

/** The state of the file that is running (collectors installed once per process write into it). */
export function leakScanState(): LeakScanState {
  const g = globalThis as Global;
  g[STATE_KEY] ??= freshState();
  return g[STATE_KEY];
}

function freshState(): LeakScanState {
  return {
    texts: [],
    errors: new Set(),
    handles: new Set(),
    pools: new Set(),
    secrets: new SecretRegistry(),
    seen: {},
    muted: false,
  };
}

function note(kind: string): void {
  const state = leakScanState();
  state.seen[kind] = (state.seen[kind] ?? 0) + 1;
}

function record(source: string, values: readonly unknown[]): void {
  note(source.split(' ')[0] ?? source);
  const text = values.map((v) => (typeof v === 'string' ? v : safeInspect(v))).join(' ');
  leakScanState().texts.push({ source, text });
}

function safeInspect(value: unknown): string {
  try {
    return inspect(value, INSPECT);
  } catch (err) {
    return `[inspect failed: ${String(err)}]`;
  }
}

/** Replaces `owner[name]` with a wrapper once per process; the marker keeps it from stacking. */
function wrapOnce<T extends object>(
  owner: T,
  name: keyof T & string,
  make: (original: any) => unknown,
): void {
  const current = owner[name] as { [HOOKED]?: boolean } | undefined;
  if (typeof current !== 'function' || current[HOOKED]) return;
  const wrapper = make(current) as { [HOOKED]?: boolean };
  Object.defineProperty(wrapper, HOOKED, { value: true });
  Object.defineProperty(owner, name, {
    value: wrapper,
    writable: true,
    configurable: true,
    enumerable: Object.getOwnPropertyDescriptor(owner, name)?.enumerable ?? false,
  });
}

function installConsoleAndStreams(): void {
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir'] as const) {
    wrapOnce(
      console,
      method,
      (original: (...args: unknown[]) => void) =>
        function (this: unknown, ...args: unknown[]) {
          record(`console.${method}`, args);
          if (!leakScanState().muted) original.apply(this, args);
        },
    );
  }
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = process[name];
    wrapOnce(
      stream,
      'write',
      (original: (...args: unknown[]) => boolean) =>
        function (this: unknown, chunk: unknown, ...rest: unknown[]) {
          record(`process.${name}`, [
            typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : chunk,
          ]);
          if (!leakScanState().muted) return original.call(this, chunk, ...rest);
          const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
          callback?.();
          return true;
        },
    );
  }
}

/** An IAM pool handle: the object behind `pool.iam`, found by its public API, not its class identity. */
function isPoolHandle(value: unknown): value is EventEmitter & { stats(): unknown } {
  const v = value as { invalidateToken?: unknown; stats?: unknown } | null;
  return typeof v?.invalidateToken === 'function' && typeof v.stats === 'function';
}

/**
 * Every EventEmitter runs EventEmitter.init from its constructor, subclasses included; by then the
 * instance already has its class's prototype, so pool handles can be recognised and their event
 * payloads captured without changing the library.
 */
function installPoolHandleHook(): void {
  wrapOnce(
    EventEmitter as unknown as { init: (...args: unknown[]) => void },
    'init',
    (original) =>
      function (this: unknown, ...args: unknown[]) {
        const result = original.apply(this, args);
        if (isPoolHandle(this)) {
          note('handle');
          leakScanState().handles.add(this);
          const proto = Object.getPrototypeOf(this) as EventEmitter;
          if (!Object.hasOwn(proto, HOOKED)) {
            Object.defineProperty(proto, HOOKED, { value: true });
            const inherited = proto.emit;
            Object.defineProperty(proto, 'emit', {
              value: function (this: EventEmitter, event: string | symbol, ...payload: unknown[]) {
                record(`event ${String(event)}`, payload);
                return inherited.call(this, event, ...payload);
              },
              writable: true,
              configurable: true,
            });
          }
        }
        return result;
      },
  );
}

/** Pools are created through mysql2's createPool (looked up at call time), so wrapping it sees each one. */
function installPoolHook(): void {
  wrapOnce(
    mysql as unknown as { createPool: (...args: unknown[]) => object },
    'createPool',
    (original) =>
      function (this: unknown, ...args: unknown[]) {
        const pool = original.apply(this, args) as object;
        note('pool');
        leakScanState().pools.add(pool);
        return pool;
      },
  );
}

/** Learns every secret the run signs with, and every signature it produces, as it happens. */
function installSigningHook(): void {
  type Presign = (this: SignatureV4, ...args: unknown[]) => Promise<{ query?: Record<string, unknown> }>;
  wrapOnce(
    SignatureV4.prototype as unknown as { presign: Presign },
    'presign',
    (original: Presign) =>
      async function (this: SignatureV4, ...args: unknown[]) {
        const result = await original.apply(this, args);
        const secrets = leakScanState().secrets;
        const query = result.query ?? {};
        secrets.add('a token signature', stringOf(query['X-Amz-Signature']));
        secrets.add('a session token', stringOf(query['X-Amz-Security-Token']));
        try {
          const provider = (this as unknown as { credentialProvider: () => Promise<Record<string, unknown>> })
            .credentialProvider;
          const credentials = await provider();
          secrets.add('a secret access key', stringOf(credentials.secretAccessKey));
          secrets.add('a session token', stringOf(credentials.sessionToken));
        } catch {
          // The signing itself succeeded; the provider is the caller's and may be one-shot.
        }
        note('signing');
        return result;
      },
  );
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * Subscribes to every diagnostics_channel the library creates. `channel()` and `tracingChannel()`
 * are wrapped before the library is imported (syncBuiltinESMExports makes named imports see the
 * wrappers too), and a channel whose name starts with the library prefix gets a recording subscriber.
 */
function installDiagnosticsHook(): void {
  const subscribed = new Set<string>();
  const subscribe = (name: string | symbol) => {
    if (typeof name !== 'string' || !name.startsWith(LIBRARY_CHANNEL_PREFIX) || subscribed.has(name)) return;
    subscribed.add(name);
    diagnosticsChannel.subscribe(name, (message) => record(`diagnostics_channel ${name}`, [message]));
  };
  const dc = diagnosticsChannel as unknown as Record<string, (...args: any[]) => unknown>;
  wrapOnce(
    dc,
    'channel',
    (original) =>
      function (this: unknown, name: string | symbol) {
        subscribe(name);
        return original.call(this, name);
      },
  );
  wrapOnce(
    dc,
    'tracingChannel',
    (original) =>
      function (this: unknown, nameOrChannels: unknown) {
        if (typeof nameOrChannels === 'string') {
          for (const event of ['start', 'end', 'asyncStart', 'asyncEnd', 'error']) {
            subscribe(`tracing:${nameOrChannels}:${event}`);
            subscribe(`${nameOrChannels}:${event}`);
          }
        }
        return original.call(this, nameOrChannels);
      },
  );
  syncBuiltinESMExports();
}

/**
 * Every IamAuthError names itself with `this.name = new.target.name` right after `super()`; an
 * accessor on the prototype turns that assignment into a hook that remembers the instance, and then
 * defines `name` as the same own property the assignment would have made.
 */
function installErrorHook(base: typeof IamAuthError): void {
  const existing = Object.getOwnPropertyDescriptor(base.prototype, 'name');
  if ((existing?.set as { [HOOKED]?: boolean } | undefined)?.[HOOKED]) return;
  const setter = function (this: Error, value: string) {
    Object.defineProperty(this, 'name', { value, writable: true, enumerable: true, configurable: true });
    note('error');
    leakScanState().errors.add(this);
  };
  Object.defineProperty(setter, HOOKED, { value: true });
  Object.defineProperty(base.prototype, 'name', {
    configurable: true,
    get: () => 'IamAuthError',
    set: setter,
  });
}

/** Everything collected so far, inspected and scanned; an empty list means nothing leaked. */
export function scanCollected(state: LeakScanState = leakScanState()): LeakFinding[] {
  const previousMaxBytes = buffer.INSPECT_MAX_BYTES;
  // Buffers print as hex; show enough of them that a token held in one is decoded and seen.
  buffer.INSPECT_MAX_BYTES = 4096;
  try {
    const findings: LeakFinding[] = [];
    const scan = (source: string, text: string | undefined) => {
      if (text) findings.push(...scanText(source, text, state.secrets));
    };
    for (const { source, text } of state.texts) scan(source, text);
    for (const error of state.errors) {
      const label = `${error.name} "${error.message.slice(0, 60)}"`;
      scan(`error ${label} (util.inspect)`, safeInspect(error));
      scan(`error ${label} (stack)`, error.stack);
      scan(`error ${label} (JSON)`, JSON.stringify(error));
      scan(`error ${label} (hint)`, String((error as { hint?: unknown }).hint));
    }
    for (const handle of state.handles) {
      scan('pool.iam (util.inspect)', safeInspect(handle));
      if (isPoolHandle(handle)) {
        const stats = handle.stats();
        scan('pool.iam.stats()', `${safeInspect(stats)} ${JSON.stringify(stats)}`);
      }
    }
    for (const pool of state.pools) {
      scan('mysql2 pool of createIamPool (util.inspect)', safeInspect(pool));
    }
    return findings;
  } finally {
    buffer.INSPECT_MAX_BYTES = previousMaxBytes;
  }
}

/** Forgets what was collected (the planted-leak tests use it to clean up after themselves). */
export function resetCollected(): void {
  const state = leakScanState();
  const secrets = state.secrets;
  Object.assign(state, freshState(), { secrets });
}

installConsoleAndStreams();
installPoolHandleHook();
installPoolHook();
installSigningHook();
installDiagnosticsHook();
installErrorHook(IamAuthError);
// A fresh state per test file: findings belong to the file that produced them.
(globalThis as Global)[STATE_KEY] = freshState();

afterAll(() => {
  const findings = scanCollected();
  // LEAK_SCAN_SUMMARY=<path> appends what each file's scan looked at (counts only) to that file.
  const summaryPath = process.env.LEAK_SCAN_SUMMARY;
  if (summaryPath) {
    const state = leakScanState();
    const line = {
      file: expect.getState().testPath,
      texts: state.texts.length,
      errors: state.errors.size,
      handles: state.handles.size,
      pools: state.pools.size,
      secretsKnown: state.secrets.size,
      seen: state.seen,
      findings: findings.length,
    };
    appendFileSync(summaryPath, `${JSON.stringify(line)}\n`);
  }
  if (findings.length > 0) {
    throw new Error(
      `Secret-leak scan: ${findings.length} finding(s) in this test file ` +
        `(see test/helpers/leak-scan-setup.ts):\n${formatFindings(findings.slice(0, 20))}`,
    );
  }
});
