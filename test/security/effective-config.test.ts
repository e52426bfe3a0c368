/**
 * Whatever route an option takes to mysql2 (given directly, inside a `uri`, inside an adapter's own
 * option, spread in as undefined), the config mysql2 really uses is checked, on every entry point.
 * Each row is a bypass the review found or one of its kind; each entry point must refuse it.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ENTRY_POINTS } from '../../bench/chaos/entry-points.js';
import { effectiveConfigViolation } from '../../bench/chaos/fuzz-properties.js';
import { IamOptionsError } from '../../src/index.js';

const HOST = 'mydb.abc123.us-east-1.rds.amazonaws.com';
const iam = {
  host: HOST,
  user: 'iam_app',
  credentials: async () => ({ accessKeyId: 'AKID', secretAccessKey: 's' }),
};

/** [what, mysql2 options (as an adapter's own option, or top level), the option the error names]. */
const REFUSED: Array<[string, Record<string, unknown>, RegExp]> = [
  ['debug', { debug: true }, /debug/],
  ['debug inside a uri', { uri: `mysql://iam_app@${HOST}/orders?debug=true` }, /debug/],
  [
    'debug in a uri beside a spread debug: undefined',
    { debug: undefined, uri: `mysql://${HOST}?debug=true` },
    /debug/,
  ],
  ['a socketPath inside a uri', { uri: `mysql://${HOST}/db?socketPath=%2Ftmp%2Fmysql.sock` }, /socketPath/],
  ['a socketPath', { socketPath: '/tmp/mysql.sock' }, /socketPath/],
  ['a stream of its own', { stream: () => connect(3306, '127.0.0.1') }, /stream/],
  ['a password', { password: 'secret' }, /password/],
  ['a password inside a uri', { uri: `mysql://iam_app:secret@${HOST}/orders` }, /password/],
  ['a second-factor password', { password2: 'secret' }, /password2/],
  ['auth plugins of its own', { authPlugins: {} }, /authPlugins/],
  ['an auth switch handler', { authSwitchHandler: () => {} }, /authSwitchHandler/],
  ['an empty CA string', { ssl: { ca: '' } }, /ssl\.ca/],
  ['ca: false', { ssl: { ca: false } }, /ssl\.ca/],
  ['an empty CA array', { ssl: { ca: [] } }, /ssl\.ca/],
  ['an empty CA Buffer', { ssl: { ca: Buffer.alloc(0) } }, /ssl\.ca/],
  ['a CA that is not PEM', { ssl: { ca: 'not a certificate' } }, /ssl\.ca/],
  ['TLS 1.1 as the minimum', { ssl: { minVersion: 'TLSv1.1' } }, /ssl\.minVersion/],
  ['TLS 1.1 as the maximum', { ssl: { maxVersion: 'TLSv1.1' } }, /ssl\.maxVersion/],
  ['a pinned old protocol', { ssl: { secureProtocol: 'TLSv1_method' } }, /ssl\.secureProtocol/],
  // Fails on the code before 2026-12: a verified TLS 1.2 session that encrypts nothing.
  ['NULL ciphers at security level 0', { ssl: { ciphers: 'NULL-SHA256:@SECLEVEL=0' } }, /ssl\.ciphers/],
  ['eNULL added to the defaults', { ssl: { ciphers: 'DEFAULT:eNULL' } }, /ssl\.ciphers/],
  ['anonymous ciphers', { ssl: { ciphers: 'aNULL' } }, /ssl\.ciphers/],
  ['an empty cipher string', { ssl: { ciphers: '' } }, /ssl\.ciphers/],
  ['verification off', { ssl: { rejectUnauthorized: false } }, /ssl\.rejectUnauthorized/],
  [
    'verification off inside a uri',
    { uri: `mysql://${HOST}?ssl=%7B%22rejectUnauthorized%22%3Afalse%7D` },
    /ssl\.rejectUnauthorized/,
  ],
  ['an SSL profile name', { ssl: 'Amazon RDS' }, /ssl/],
];

/** Options that are fine and must build a config with verified TLS 1.2+ and the RDS CAs. */
const ACCEPTED: Array<[string, Record<string, unknown>]> = [
  ['ssl.minVersion spread in as undefined', { ssl: { minVersion: undefined } }],
  ['ssl spread in as undefined', { ssl: undefined }],
  ['a harmless uri', { uri: `mysql://iam_app@${HOST}:3306/orders?charset=utf8mb4` }],
  ['debug: false', { debug: false }],
  ['ciphers that only remove weak ones', { ssl: { ciphers: 'HIGH:!aNULL:!eNULL:-EXPORT' } }],
  ['a list of AEAD ciphers', { ssl: { ciphers: 'TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256' } }],
];

describe.each(ENTRY_POINTS.map((e) => [e.name, e] as const))('%s', (_name, entry) => {
  it.each(REFUSED)('refuses %s', async (_what, mysql2Options, option) => {
    const error = await entry.build(iam, mysql2Options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IamOptionsError);
    expect((error as IamOptionsError).option).toMatch(option);
  });

  it.each(ACCEPTED)('accepts %s, with TLS 1.2+ verified against a real CA', async (_what, mysql2Options) => {
    const config = await entry.build(iam, mysql2Options);
    expect(effectiveConfigViolation(config, { tunnel: false })).toBeUndefined();
    expect((config.ssl as { minVersion?: string }).minVersion).toBe('TLSv1.2');
  });
});
