/**
 * Fuzz properties for the parts that read untrusted input: the emulator's packet parser (framing
 * and every login-phase decoder), its token verifier, its live socket, and option parsing. Each
 * runs a given number of generated inputs from a seed, so `npm test` runs a short budget and
 * `npm run chaos` a long one of the very same properties.
 */
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { MAX_LOGIN_BYTES } from '../../src/emulator/session.js';
import { verifyAuthToken } from '../../src/emulator/verify-token.js';
import { IamOptionsError } from '../../src/errors.js';
import { resolveOptions } from '../../src/options.js';
import {
  Capability,
  decodeAuthSwitchRequest,
  decodeErr,
  decodeGreeting,
  decodeHandshakeResponse,
  encodeAuthSwitchRequest,
  encodeErr,
  encodeGreeting,
  encodeHandshakeResponse,
  isSslRequest,
  PacketChannel,
  ProtocolError,
} from '../../src/protocol/mysql-packets.js';
import { AMAZON_ROOT_CERTIFICATES } from '../../src/tls/ca-bundle.js';
import { signAuthToken } from '../../src/token/sign.js';
import { CLIENT_FLAGS } from './client-flags.js';
import { SecretRegistry, scanText } from './leak-scanner.js';

export interface FuzzResult {
  name: string;
  runs: number;
  /** The first counterexample, described (fast-check's report); undefined when every run passed. */
  failure: string | undefined;
  durationMs: number;
  /** Outcomes seen, e.g. how many inputs were refused with which error. */
  outcomes: Record<string, number>;
}

/** Fake credentials for fuzzing: tokens signed with them are valid only for the fuzz verifier. */
export const FUZZ_KEY = {
  accessKeyId: 'AKIAFUZZTEST00000001',
  secretAccessKey: 'fuzz-secret-key-not-real-0123456789',
  sessionToken: 'fuzz-session-token-not-real-0123456789',
} as const;
const FUZZ_HOST = 'fuzz.abc123.eu-west-1.rds.amazonaws.com';

function tally(outcomes: Record<string, number>, key: string): void {
  outcomes[key] = (outcomes[key] ?? 0) + 1;
}

/** Runs a fast-check property and reports instead of throwing, counting unhandled rejections as failures. */
async function runProperty(
  name: string,
  runs: number,
  seed: number,
  outcomes: Record<string, number>,
  property: fc.IAsyncPropertyWithHooks<any> | fc.IPropertyWithHooks<any>,
): Promise<FuzzResult> {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const started = performance.now();
  let failure: string | undefined;
  try {
    const details = await fc.check(property as fc.IAsyncProperty<any>, {
      numRuns: runs,
      seed,
      endOnFailure: true,
    });
    if (details.failed) {
      const error = details.errorInstance;
      const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      failure = `${why}\n${fc.defaultReportMessage(details) ?? ''}`;
    }
    // Let rejections that were left dangling by the last runs surface before judging.
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (!failure && unhandled.length > 0) {
      failure = `${unhandled.length} unhandled rejection(s), first: ${String(unhandled[0])}`;
    }
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  return { name, runs, failure, durationMs: Math.round(performance.now() - started), outcomes };
}

// ---------------------------------------------------------------------------------------------
// Inputs

function frame(sequenceId: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(Math.min(payload.length, 0xffffff), 0, 3);
  header[3] = sequenceId & 0xff;
  return Buffer.concat([header, payload]);
}

/** Well-formed login-phase payloads, as starting points for mutation. */
const VALID_PAYLOADS: Buffer[] = [
  encodeHandshakeResponse({
    clientFlags: CLIENT_FLAGS,
    maxPacketSize: 0x1000000,
    characterSet: 224,
    user: 'iam_app',
    authResponse: Buffer.from('x'.repeat(30)),
    database: 'test',
    authPluginName: 'mysql_clear_password',
    connectAttrs: Buffer.concat([
      Buffer.from([12, 4]),
      Buffer.from('_os'),
      Buffer.from([5]),
      Buffer.from('linux'),
    ]),
  }),
  encodeHandshakeResponse({
    clientFlags: CLIENT_FLAGS & ~Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA,
    maxPacketSize: 0,
    characterSet: 33,
    user: 'u',
    authResponse: Buffer.alloc(20, 7),
    database: undefined,
    authPluginName: undefined,
    connectAttrs: undefined,
  }),
  encodeGreeting({
    serverVersion: '10.11.6-MariaDB',
    connectionId: 42,
    scramble: Buffer.alloc(20, 0x41),
    capabilities: CLIENT_FLAGS | Capability.SSL,
    characterSet: 45,
    statusFlags: 2,
    authPluginName: 'mysql_native_password',
  }),
  (() => {
    const ssl = Buffer.alloc(32);
    ssl.writeUInt32LE(CLIENT_FLAGS | Capability.SSL, 0);
    return ssl;
  })(),
  encodeAuthSwitchRequest('mysql_clear_password', Buffer.alloc(21, 0x30)),
  encodeErr(1045, '28000', "Access denied for user 'u'@'h' (using password: YES)"),
];

/** A valid payload with bytes overwritten, bytes cut off the end, or a length byte made huge. */
const mutatedPayload: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.constantFrom(...VALID_PAYLOADS),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    fc.option(fc.nat(), { nil: undefined }),
  )
  .map(([base, edits, cut]) => {
    const p = Buffer.from(base);
    for (const [at, byte] of edits) p[at % p.length] = byte;
    return cut === undefined ? p : p.subarray(0, cut % (p.length + 1));
  });

const payload: fc.Arbitrary<Buffer> = fc.oneof(
  mutatedPayload,
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  // Length-encoded integers at the edges, where decoders read lengths.
  fc
    .tuple(fc.constantFrom(0xfb, 0xfc, 0xfd, 0xfe, 0xff), fc.uint8Array({ maxLength: 12 }))
    .map(([marker, rest]) =>
      Buffer.concat([VALID_PAYLOADS[0]!.subarray(0, 40), Buffer.from([marker]), rest]),
    ),
);

/** Bytes on the wire: framed payloads, headers that lie about their length, noise; split at random. */
export const wireInput: fc.Arbitrary<Buffer[]> = fc
  .tuple(
    fc.array(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc.tuple(fc.integer({ min: 0, max: 255 }), payload).map(([s, p]) => frame(s, p)),
        },
        { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => Buffer.from(b)) },
        {
          weight: 1,
          arbitrary: fc
            .tuple(fc.integer({ min: 0, max: 0xffffff }), fc.uint8Array({ maxLength: 64 }))
            .map(([length, body]) => {
              const header = Buffer.alloc(4);
              header.writeUIntLE(length, 0, 3);
              header[3] = 1;
              return Buffer.concat([header, body]);
            }),
        },
      ),
      { minLength: 1, maxLength: 5 },
    ),
    fc.array(fc.nat(), { maxLength: 4 }),
  )
  .map(([pieces, cuts]) => {
    const all = Buffer.concat(pieces);
    const at = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    let from = 0;
    for (const cut of at) {
      chunks.push(all.subarray(from, cut));
      from = cut;
    }
    chunks.push(all.subarray(from));
    return chunks.filter((c) => c.length > 0);
  });

// ---------------------------------------------------------------------------------------------
// Packet parser

export type Decoder = [name: string, decode: (payload: Buffer) => unknown];

/** The emulator's login-phase decoders, each of which reads untrusted bytes. */
export const DECODERS: readonly Decoder[] = [
  ['handshake-response', decodeHandshakeResponse],
  ['greeting', decodeGreeting],
  ['auth-switch', decodeAuthSwitchRequest],
  ['err', decodeErr],
  ['ssl-request', isSslRequest],
];

/** Every decoder returns or throws ProtocolError; anything else (RangeError, TypeError) is a bug. */
function decodeAll(p: Buffer, decoders: readonly Decoder[], outcomes: Record<string, number>): void {
  for (const [name, decode] of decoders) {
    try {
      decode(p);
      tally(outcomes, `${name}: decoded`);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw new Error(`${name} threw ${String(err)}`);
      tally(outcomes, `${name}: ProtocolError`);
    }
  }
}

/** Reads every packet the channel frames from `chunks`, within a bound; returns how the stream ended. */
async function drainChannel(
  chunks: readonly Buffer[],
  decoders: readonly Decoder[],
  outcomes: Record<string, number>,
): Promise<void> {
  const stream = new PassThrough();
  const channel = new PacketChannel(stream, MAX_LOGIN_BYTES);
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('PacketChannel.read() hung for 2 s')), 2000);
  });
  try {
    for (let i = 0; i < 10_000; i++) {
      let packet: Awaited<ReturnType<PacketChannel['read']>>;
      try {
        packet = await Promise.race([channel.read(), deadline]);
      } catch (err) {
        if (err instanceof ProtocolError) tally(outcomes, 'channel: ProtocolError');
        else if (err instanceof Error && err.message === 'connection closed')
          tally(outcomes, 'channel: closed');
        else throw err;
        return;
      }
      decodeAll(packet.payload, decoders, outcomes);
    }
    throw new Error('PacketChannel delivered more than 10 000 packets from a few hundred bytes');
  } finally {
    clearTimeout(timer);
    stream.destroy();
  }
}

/**
 * The emulator's packet framing and login-phase decoders on generated byte streams. `decoders`
 * is there so a test can plant a broken decoder and see the property fail.
 */
export function fuzzPacketParser(runs: number, seed = 1, decoders = DECODERS): Promise<FuzzResult> {
  const outcomes: Record<string, number> = {};
  return runProperty(
    'emulator packet parser',
    runs,
    seed,
    outcomes,
    fc.asyncProperty(wireInput, payload, async (chunks, direct) => {
      decodeAll(direct, decoders, outcomes);
      await drainChannel(chunks, decoders, outcomes);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Token verifier

const TOKEN_REASONS = new Set([
  'malformed-token',
  'bad-expires',
  'wrong-host',
  'wrong-user',
  'wrong-region',
  'wrong-service',
  'wrong-action',
  'unknown-access-key',
  'bad-signature',
  'expired',
  'not-yet-valid',
  'session-token-mismatch',
  'credentials-expired',
]);

/** The emulator's token verifier on random strings and on valid tokens with characters changed. */
export async function fuzzTokenVerifier(runs: number, seed = 2): Promise<FuzzResult> {
  const now = new Date();
  const valid = await signAuthToken({
    hostname: FUZZ_HOST,
    port: 3306,
    username: 'iam_app',
    region: 'eu-west-1',
    credentials: FUZZ_KEY,
    signingDate: now,
  });
  const expected = {
    host: FUZZ_HOST,
    port: 3306,
    user: 'iam_app',
    region: 'eu-west-1',
    keys: [FUZZ_KEY],
    now,
    skewSeconds: 300,
  };
  const alphabet = fc.constantFrom(
    ...'&=%/?:.-_ABCXYZabcxyz0123456789'.split(''),
    '%zz',
    '%00',
    '\u0000',
    'é',
  );
  const token = fc.oneof(
    fc.string({ maxLength: 400 }),
    fc.string({ unit: 'grapheme', maxLength: 200 }),
    fc
      .tuple(fc.array(fc.tuple(fc.nat(), alphabet), { minLength: 1, maxLength: 4 }), fc.boolean())
      .map(([edits, truncate]) => {
        let t = valid;
        for (const [at, text] of edits) {
          const i = at % (t.length + 1);
          t = `${t.slice(0, i)}${text}${t.slice(truncate ? i + 1 : i)}`;
        }
        return t;
      }),
    // Whole parameters dropped, duplicated or reordered.
    fc.array(fc.nat(), { minLength: 1, maxLength: 12 }).map((picks) => {
      const [authority, query = ''] = valid.split('/?');
      const params = query.split('&');
      return `${authority}/?${picks.map((p) => params[p % params.length]).join('&')}`;
    }),
  );
  const outcomes: Record<string, number> = {};
  return runProperty(
    'emulator token verifier',
    runs,
    seed,
    outcomes,
    fc.asyncProperty(token, async (t) => {
      const verdict = await verifyAuthToken(t, expected);
      if (verdict.ok) {
        tally(outcomes, 'accepted');
        // Only the untouched token (or one whose edits decode to the same thing) may pass.
        if (verdict.accessKeyId !== FUZZ_KEY.accessKeyId) throw new Error('accepted a foreign key');
        return;
      }
      if (!TOKEN_REASONS.has(verdict.reason)) throw new Error(`unknown rejection reason ${verdict.reason}`);
      tally(outcomes, verdict.reason);
      if (JSON.stringify(verdict).includes(FUZZ_KEY.secretAccessKey))
        throw new Error('verdict carries a secret');
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// The emulator's live socket

const ALLOWED_ERRORS = new Set([1043, 1045, 1251]);

function errCodes(data: Buffer, greetingLength: number): number[] {
  const codes: number[] = [];
  let offset = greetingLength;
  while (offset + 4 <= data.length) {
    const length = data.readUIntLE(offset, 3);
    const body = data.subarray(offset + 4, offset + 4 + length);
    if (body[0] === 0xff && body.length >= 3) codes.push(body.readUInt16LE(1));
    offset += 4 + length;
  }
  return codes;
}

/** Sends `chunks` after the greeting and waits for the emulator to close the connection. */
function attack(port: number, chunks: readonly Buffer[], closeWithinMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let greetingLength = 0;
    let sent = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the emulator kept a hostile connection open for ${closeWithinMs} ms`));
    }, closeWithinMs);
    socket.on('error', () => {});
    socket.on('data', (data) => {
      received.push(data);
      const all = Buffer.concat(received);
      if (!sent && all.length >= 4 && all.length >= 4 + all.readUIntLE(0, 3)) {
        sent = true;
        greetingLength = 4 + all.readUIntLE(0, 3);
        for (const chunk of chunks) if (!socket.destroyed) socket.write(chunk);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(errCodes(Buffer.concat(received), greetingLength));
    });
  });
}

/**
 * Generated byte streams against a running emulator: every connection must be answered with at
 * most a 1043/1045/1251 ERR and closed by the emulator itself within `handshakeTimeoutMs` + 3 s.
 * `concurrency` connections run at once.
 */
export function fuzzEmulatorSocket(
  port: number,
  options: { runs: number; seed?: number; handshakeTimeoutMs: number; concurrency?: number },
): Promise<FuzzResult> {
  const outcomes: Record<string, number> = {};
  const concurrency = options.concurrency ?? 8;
  const batch = fc.array(wireInput, { minLength: concurrency, maxLength: concurrency });
  return runProperty(
    'emulator socket',
    Math.ceil(options.runs / concurrency),
    options.seed ?? 3,
    outcomes,
    fc.asyncProperty(batch, async (inputs) => {
      const results = await Promise.all(
        inputs.map((chunks) => attack(port, chunks, options.handshakeTimeoutMs + 3000)),
      );
      for (const codes of results) {
        for (const code of codes) {
          if (!ALLOWED_ERRORS.has(code)) throw new Error(`answered with error ${code}`);
        }
        tally(
          outcomes,
          codes.length === 0 ? 'closed without an error' : `closed after ERR ${codes.join(',')}`,
        );
      }
    }),
  ).then((result) => ({ ...result, runs: result.runs * concurrency }));
}

// ---------------------------------------------------------------------------------------------
// Option parsing

const OPTION_NAMES = [
  'host',
  'port',
  'user',
  'region',
  'credentials',
  'connectHost',
  'connectPort',
  'ssl',
  'retry',
  'token',
  'clock',
  'acquireTimeoutMs',
  'validateAfterIdleMs',
  'validationTimeoutMs',
  'maxLifetimeMs',
  'maxLoginsPerSecond',
  'endTimeoutMs',
  'password',
  'authPlugins',
  'stream',
  'database',
  'connectionLimit',
] as const;

/** Any JavaScript value, including the awkward ones: null prototypes, boxed values, bigints, symbols. */
const anyValue = fc.anything({
  maxDepth: 2,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  withUnicodeString: true,
});

/** Values each option plausibly gets, right or wrong, plus a whole token (pasted where it does not belong). */
function optionValue(tokenShaped: string): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: anyValue },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        'mydb.abc123.us-east-1.rds.amazonaws.com',
        'proxy-1.proxy-abc123.eu-west-3.rds.amazonaws.com.cn',
        'db.example.com',
        '10.0.0.1',
        '::1',
        'us-east-1',
        'US-EAST-1',
        '',
        ' ',
        '3306',
        'TLSv1',
        'TLSv1.3',
        tokenShaped,
      ),
    },
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc.integer({ min: -2, max: 70_000 }),
        fc.constantFrom(0, 1, 3306, 65535, 65536, 2 ** 31, -0, 0.5, Number.NaN, Number.POSITIVE_INFINITY),
      ),
    },
    { weight: 1, arbitrary: fc.constant(async () => ({ ...FUZZ_KEY })) },
    {
      weight: 2,
      arbitrary: fc.record(
        {
          ca: fc.oneof(fc.string(), fc.constant(undefined)),
          rejectUnauthorized: fc.oneof(fc.boolean(), anyValue),
          verifyIdentity: fc.oneof(fc.boolean(), anyValue),
          minVersion: fc.oneof(fc.constantFrom('TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'), anyValue),
          retries: fc.oneof(fc.integer({ min: -1, max: 25 }), anyValue),
          minTimeoutMs: fc.oneof(fc.integer({ min: -1, max: 70_000 }), anyValue),
          maxTimeoutMs: fc.oneof(fc.integer({ min: -1, max: 400_000 }), anyValue),
          refreshBeforeExpiryMs: fc.oneof(fc.integer({ min: -1, max: 1_000_000 }), anyValue),
          cache: anyValue,
        },
        { requiredKeys: [] },
      ),
    },
  );
}

/**
 * resolveOptions on generated option objects: it resolves or throws IamOptionsError, and the error
 * never echoes a token. `resolve` is there so a test can plant a bug and see the property fail.
 */
export async function fuzzResolveOptions(
  runs: number,
  seed = 4,
  resolve: (options: unknown) => unknown = (o) => resolveOptions(o as Parameters<typeof resolveOptions>[0]),
): Promise<FuzzResult> {
  const tokenShaped = await signAuthToken({
    hostname: FUZZ_HOST,
    port: 3306,
    username: 'iam_app',
    region: 'eu-west-1',
    credentials: FUZZ_KEY,
  });
  // A token is recognisable, so an option error must never echo one (redactSecrets); the token's
  // token-shaped parameters are caught by the scanner's patterns, its signature by value.
  const secrets = new SecretRegistry();
  secrets.add(
    'a token signature',
    new URLSearchParams(tokenShaped.split('/?')[1]).get('X-Amz-Signature') ?? '',
  );
  const value = optionValue(tokenShaped);
  const options = fc.oneof(
    { weight: 1, arbitrary: anyValue },
    {
      weight: 6,
      arbitrary: fc
        .tuple(
          fc.dictionary(fc.constantFrom(...OPTION_NAMES), value, { maxKeys: 8 }),
          fc.dictionary(fc.string({ maxLength: 12 }), anyValue, { maxKeys: 3 }),
          fc.boolean(),
        )
        .map(([known, extra, plausibleBase]) =>
          plausibleBase
            ? { host: 'mydb.abc123.us-east-1.rds.amazonaws.com', user: 'iam_app', ...extra, ...known }
            : { ...extra, ...known },
        ),
    },
  );
  const outcomes: Record<string, number> = {};
  return runProperty(
    'resolveOptions',
    runs,
    seed,
    outcomes,
    fc.property(options, (o) => {
      try {
        resolve(o);
        tally(outcomes, 'resolved');
      } catch (err) {
        if (!(err instanceof IamOptionsError)) {
          throw new Error(`threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
        }
        tally(outcomes, `IamOptionsError ${err.option}`);
        const leaks = scanText('IamOptionsError', `${err.message} ${err.hint}`, secrets);
        if (leaks.length > 0) throw new Error(`IamOptionsError for ${err.option} echoes ${leaks[0]?.kind}`);
      }
    }),
  );
}

// The effective mysql2 config

/** `mysql://` URIs with query parameters that would, if they got through, weaken the login. */
const HOSTILE_URI = fc
  .tuple(
    fc.constantFrom('', 'app:secret@', 'iam_app@', 'iam_app:@'),
    fc.constantFrom('mydb.abc123.us-east-1.rds.amazonaws.com', 'db.example.com', '127.0.0.1'),
    fc.constantFrom('', ':3306', ':3307'),
    fc.constantFrom('', '/orders'),
    fc.subarray(
      [
        'debug=true',
        'debug=1',
        'socketPath=%2Ftmp%2Fmysql.sock',
        'password=secret',
        'ssl=%7B%22rejectUnauthorized%22%3Afalse%7D',
        'ssl=%7B%22ca%22%3A%22%22%7D',
        'ssl=%22Amazon%20RDS%22',
        'connectionLimit=5',
        'connectionLimit=-1',
        'multipleStatements=true',
        'enableCleartextPlugin=true',
        'charset=utf8mb4',
      ],
      { maxLength: 4 },
    ),
  )
  .map(
    ([auth, host, port, path, params]) =>
      `mysql://${auth}${host}${port}${path}${params.length ? `?${params.join('&')}` : ''}`,
  );

/** Mostly absent, sometimes `value`: most generated option sets are then valid enough to build. */
function rarely<T>(value: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value });
}

/** A real PEM certificate (a CA a user might pass), as a string and as a Buffer. */
const SOME_CA = AMAZON_ROOT_CERTIFICATES[0] ?? '';

/** `ssl` objects, right and wrong, including the falsy CAs and old TLS versions that must never pass. */
const SSL_VALUE = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  {
    weight: 3,
    arbitrary: fc.record(
      {
        ca: rarely(
          fc.constantFrom(
            SOME_CA,
            [SOME_CA],
            Buffer.from(SOME_CA),
            '',
            false,
            [],
            Buffer.alloc(0),
            'not a pem',
            [''],
            null,
          ),
        ),
        minVersion: rarely(fc.constantFrom(undefined, 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3')),
        maxVersion: rarely(fc.constantFrom('TLSv1.1', 'TLSv1.2', 'TLSv1.3')),
        rejectUnauthorized: rarely(fc.constantFrom(true, false)),
        verifyIdentity: rarely(fc.constantFrom(true, false)),
        secureProtocol: rarely(fc.constant('TLSv1_method')),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom('Amazon RDS', false, null) },
);

/** mysql2 options that reach the driver through a library's own option (`dialectOptions`, `extra`). */
const MYSQL2_EXTRA = fc.record(
  {
    debug: rarely(fc.constantFrom(undefined, true, false, 1, ['ComQueryPacket'])),
    socketPath: rarely(fc.constant('/tmp/mysql.sock')),
    stream: rarely(fc.constant(() => connect(1, '127.0.0.1'))),
    password: rarely(fc.constantFrom('', 'secret')),
    password2: rarely(fc.constant('secret')),
    authPlugins: rarely(fc.constant({})),
    authSwitchHandler: rarely(fc.constant(() => {})),
    uri: rarely(HOSTILE_URI),
    ssl: rarely(SSL_VALUE),
    charset: fc.constantFrom(undefined, 'utf8mb4'),
    connectionLimit: rarely(fc.constantFrom(0, -1, '10', 5)),
  },
  { requiredKeys: [] },
);

/** What every config that reaches mysql2 must look like, whatever route its options took. */
export function effectiveConfigViolation(
  config: Record<string, unknown>,
  built: { tunnel: boolean },
): string | undefined {
  if (config.debug) return 'debug is on';
  if (config.socketPath !== undefined && config.socketPath !== null) return 'a socketPath';
  if (config.stream !== undefined && !built.tunnel) return 'a stream that is not our tunnel';
  for (const field of ['password', 'password1', 'password2', 'password3', 'passwordSha1']) {
    if (config[field]) return `a ${field}`;
  }
  if (config.authSwitchHandler) return 'an authSwitchHandler';
  const ssl = config.ssl as Record<string, unknown> | false | undefined;
  if (!ssl || typeof ssl !== 'object') return `ssl is ${String(ssl)}`;
  if (ssl.rejectUnauthorized !== true || ssl.verifyIdentity !== true) return 'TLS verification off';
  const cas = Array.isArray(ssl.ca) ? ssl.ca : [ssl.ca];
  if (
    cas.length === 0 ||
    !cas.every(
      (ca) => (typeof ca === 'string' || Buffer.isBuffer(ca)) && ca.toString().includes('BEGIN CERTIFICATE'),
    )
  ) {
    return 'a CA that is not a PEM certificate';
  }
  if (!['TLSv1.2', 'TLSv1.3'].includes(ssl.minVersion as string))
    return `minVersion ${String(ssl.minVersion)}`;
  if (ssl.maxVersion !== undefined && !['TLSv1.2', 'TLSv1.3'].includes(ssl.maxVersion as string)) {
    return `maxVersion ${String(ssl.maxVersion)}`;
  }
  if (ssl.secureProtocol !== undefined) return 'a secureProtocol';
  return undefined;
}

/** One way options reach mysql2: an entry point, and the config mysql2 then really uses. */
export interface EntryPoint {
  name: string;
  /** Builds with the IAM options and the library-level mysql2 options; returns the effective config. */
  build(iam: Record<string, unknown>, extra: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/**
 * Random option objects (top-level mysql2 options, `uri` strings, spreads of undefined, and the
 * shapes adapters merge in) through each entry point: each either throws IamOptionsError, or the
 * config mysql2 would use has no debug, no foreign socket or stream, no password, verified TLS
 * 1.2+ and a real CA.
 */
export async function fuzzEffectiveConfig(
  runs: number,
  entryPoints: readonly EntryPoint[],
  seed = 5,
): Promise<FuzzResult> {
  const outcomes: Record<string, number> = {};
  const input = fc.tuple(
    fc.constantFrom(...entryPoints.map((_, i) => i)),
    fc.record(
      {
        connectHost: fc.constantFrom(undefined, '127.0.0.1'),
        ssl: SSL_VALUE,
        uri: rarely(HOSTILE_URI),
        debug: rarely(fc.constantFrom(undefined, false, true)),
        database: fc.constantFrom(undefined, 'orders'),
      },
      { requiredKeys: [] },
    ),
    MYSQL2_EXTRA,
    fc.boolean(),
  );
  return runProperty(
    'effective mysql2 config',
    runs,
    seed,
    outcomes,
    fc.asyncProperty(input, async ([which, iamExtra, extra, spreadTopLevel]) => {
      const entry = entryPoints[which] as EntryPoint;
      const iam = {
        host: 'mydb.abc123.us-east-1.rds.amazonaws.com',
        user: 'iam_app',
        credentials: async () => ({ ...FUZZ_KEY }),
        ...iamExtra,
        // The same mysql2 options given directly, as with createIamPool, or through the adapter.
        ...(spreadTopLevel ? extra : {}),
      };
      let config: Record<string, unknown>;
      try {
        config = await entry.build(iam, spreadTopLevel ? {} : extra);
      } catch (err) {
        if (!(err instanceof IamOptionsError)) {
          throw new Error(
            `${entry.name} threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
          );
        }
        tally(outcomes, `${entry.name}: IamOptionsError`);
        return;
      }
      const violation = effectiveConfigViolation(config, { tunnel: iam.connectHost !== undefined });
      if (violation) throw new Error(`${entry.name} built a config with ${violation}`);
      tally(outcomes, `${entry.name}: built`);
    }),
  );
}
