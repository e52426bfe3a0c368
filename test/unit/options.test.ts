import { describe, expect, it } from 'vitest';
import { IamOptionsError } from '../../src/errors.js';
import { type IamPoolOptions, resolveOptions } from '../../src/options.js';
import { inferRegion } from '../../src/shared/rds-names.js';
import { TokenCache } from '../../src/token/cache.js';

const base = { host: 'mydb.abc123.us-east-1.rds.amazonaws.com', user: 'app_iam' };

function optionError(options: unknown): IamOptionsError {
  try {
    resolveOptions(options as IamPoolOptions);
  } catch (err) {
    expect(err).toBeInstanceOf(IamOptionsError);
    return err as IamOptionsError;
  }
  throw new Error('expected resolveOptions to throw');
}

describe('region inference', () => {
  it.each([
    ['mydb.abc123.us-east-1.rds.amazonaws.com', 'us-east-1'],
    ['orders.cluster-abc123.eu-west-1.rds.amazonaws.com', 'eu-west-1'],
    ['orders.cluster-ro-abc123.ap-southeast-2.rds.amazonaws.com', 'ap-southeast-2'],
    ['orders.cluster-custom-abc123.ca-central-1.rds.amazonaws.com', 'ca-central-1'],
    ['myproxy.proxy-abc123.us-west-2.rds.amazonaws.com', 'us-west-2'],
    ['reader.endpoint.proxy-abc123.eu-central-1.rds.amazonaws.com', 'eu-central-1'],
    ['mydb.abc123.us-gov-west-1.rds.amazonaws.com', 'us-gov-west-1'],
    ['mydb.abc123.cn-north-1.rds.amazonaws.com.cn', 'cn-north-1'],
    ['MYDB.ABC123.US-EAST-2.RDS.AMAZONAWS.COM', 'us-east-2'],
  ])('%s is in %s', (host, region) => {
    expect(inferRegion(host)).toBe(region);
  });

  it.each(['db.example.com', 'localhost', 'rds.amazonaws.com', 'x.us-east-1.example.com'])(
    '%s has no region',
    (host) => {
      expect(inferRegion(host)).toBeUndefined();
    },
  );
});

describe('resolveOptions', () => {
  it('applies defaults and passes mysql2 options through', () => {
    const r = resolveOptions({ ...base, database: 'orders', connectionLimit: 7 });
    expect(r).toMatchObject({ port: 3306, region: 'us-east-1', user: 'app_iam' });
    expect(r.passThrough).toEqual({ database: 'orders', connectionLimit: 7 });
    expect(r.retry).toEqual({ retries: 3, minTimeoutMs: 100, maxTimeoutMs: 2000 });
  });

  it('takes an explicit region for a host that carries none', () => {
    expect(resolveOptions({ host: 'db.internal.example', user: 'u', region: 'eu-west-3' }).region).toBe(
      'eu-west-3',
    );
  });

  it.each([
    ['no host', { user: 'u' }, 'host'],
    ['empty host', { host: ' ', user: 'u' }, 'host'],
    ['IP host', { host: '10.0.0.5', user: 'u', region: 'us-east-1' }, 'host'],
    ['no user', { host: base.host }, 'user'],
    ['port 0', { ...base, port: 0 }, 'port'],
    ['port 70000', { ...base, port: 70000 }, 'port'],
    ['port 3306.5', { ...base, port: 3306.5 }, 'port'],
    ['connectPort -1', { ...base, connectPort: -1 }, 'connectPort'],
    ['region not inferable', { host: 'db.example.com', user: 'u' }, 'region'],
    ['unparseable region', { ...base, region: 'Virginia' }, 'region'],
    ['ssl: false', { ...base, ssl: false }, 'ssl'],
    ['ssl profile string', { ...base, ssl: 'Amazon RDS' }, 'ssl'],
    ['rejectUnauthorized off', { ...base, ssl: { rejectUnauthorized: false } }, 'ssl.rejectUnauthorized'],
    ['verifyIdentity off', { ...base, ssl: { verifyIdentity: false } }, 'ssl.verifyIdentity'],
    ['TLS 1.0', { ...base, ssl: { minVersion: 'TLSv1' } }, 'ssl.minVersion'],
    ['a password', { ...base, password: 'hunter2' }, 'password'],
    ['authPlugins', { ...base, authPlugins: {} }, 'authPlugins'],
    ['stream', { ...base, stream: () => null }, 'stream'],
    ['socketPath', { ...base, socketPath: '/tmp/mysql.sock' }, 'socketPath'],
    ['debug (prints the login packet)', { ...base, debug: true }, 'debug'],
    ['debug packet list', { ...base, debug: ['ClientHandshake'] }, 'debug'],
    ['a token cache that is not one', { ...base, token: { cache: 5 } }, 'token.cache'],
    [
      'credentials not a function',
      { ...base, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
      'credentials',
    ],
    ['negative retries', { ...base, retry: { retries: -1 } }, 'retry.retries'],
    ['max below min', { ...base, retry: { minTimeoutMs: 500, maxTimeoutMs: 100 } }, 'retry.maxTimeoutMs'],
    [
      'refresh margin too long',
      { ...base, token: { refreshBeforeExpiryMs: 15 * 60_000 } },
      'token.refreshBeforeExpiryMs',
    ],
    ['acquireTimeoutMs 0 (no bound)', { ...base, acquireTimeoutMs: 0 }, 'acquireTimeoutMs'],
    [
      'acquireTimeoutMs Infinity',
      { ...base, acquireTimeoutMs: Number.POSITIVE_INFINITY },
      'acquireTimeoutMs',
    ],
    ['acquireTimeoutMs as a string', { ...base, acquireTimeoutMs: '1000' }, 'acquireTimeoutMs'],
    ['negative validateAfterIdleMs', { ...base, validateAfterIdleMs: -1 }, 'validateAfterIdleMs'],
    ['validationTimeoutMs 0', { ...base, validationTimeoutMs: 0 }, 'validationTimeoutMs'],
    ['maxLifetimeMs below 30 s', { ...base, maxLifetimeMs: 5000 }, 'maxLifetimeMs'],
    ['fractional maxLoginsPerSecond', { ...base, maxLoginsPerSecond: 2.5 }, 'maxLoginsPerSecond'],
    ['negative endTimeoutMs', { ...base, endTimeoutMs: -5 }, 'endTimeoutMs'],
    // Issue 12, section 4: wrong values mysql2 would coerce, and unknown keys it would only warn about.
    ['connectionLimit -1 (every query would time out)', { ...base, connectionLimit: -1 }, 'connectionLimit'],
    ["connectionLimit '10'", { ...base, connectionLimit: '10' }, 'connectionLimit'],
    ['connectionLimit 0 (unlimited by accident)', { ...base, connectionLimit: 0 }, 'connectionLimit'],
    ['queueLimit -5', { ...base, queueLimit: -5 }, 'queueLimit'],
    ['maxIdle 1.5', { ...base, maxIdle: 1.5 }, 'maxIdle'],
    ['connectTimeout 0', { ...base, connectTimeout: 0 }, 'connectTimeout'],
    ["waitForConnections 'no'", { ...base, waitForConnections: 'no' }, 'waitForConnections'],
    ['a region that contradicts the host', { ...base, region: 'eu-west-1' }, 'region'],
    ['an unknown option', { ...base, acquireTimeout: 5000 }, 'acquireTimeout'],
    ['a misspelt mysql2 option', { ...base, conectTimeout: 5000 }, 'conectTimeout'],
    ['mysql2-internal isServer', { ...base, isServer: true }, 'isServer'],
    ['an empty CA (an unset environment variable)', { ...base, ssl: { ca: '' } }, 'ssl.ca'],
    ['ca: false', { ...base, ssl: { ca: false } }, 'ssl.ca'],
    ['TLS 1.1 as maxVersion', { ...base, ssl: { maxVersion: 'TLSv1.1' } }, 'ssl.maxVersion'],
    ['debug in a uri', { ...base, uri: 'mysql://db.example/orders?debug=true' }, 'debug'],
    [
      'socketPath in a uri',
      { ...base, uri: 'mysql://db.example/orders?socketPath=%2Ftmp%2Fs' },
      'socketPath',
    ],
    ['a uri that is not a URL', { ...base, uri: 'not a url' }, 'uri'],
    [
      'refreshBeforeExpiryMs beside a shared cache',
      { ...base, token: { cache: new TokenCache(), refreshBeforeExpiryMs: 1000 } },
      'token.refreshBeforeExpiryMs',
    ],
  ])('%s is refused, naming the option', (_name, options, option) => {
    const err = optionError(options);
    expect(err.option).toBe(option);
    expect(err.code).toBe('RDS_IAM_INVALID_OPTION');
    expect(err.step).toBe('options');
    expect(err.hint.length).toBeGreaterThan(10);
    expect(err.message).toContain(option);
  });

  it('applies the production pool defaults, and takes 0 where 0 means "off"', () => {
    expect(resolveOptions(base).pool).toEqual({
      acquireTimeoutMs: 10_000,
      validateAfterIdleMs: 500,
      validationTimeoutMs: 2000,
      maxLifetimeMs: 1_800_000,
      maxLoginsPerSecond: 20,
      endTimeoutMs: 10_000,
    });
    const r = resolveOptions({
      ...base,
      connectionLimit: 5,
      validateAfterIdleMs: 0,
      maxLifetimeMs: 0,
      maxLoginsPerSecond: 0,
      endTimeoutMs: 0,
    });
    expect(r.pool).toMatchObject({
      validateAfterIdleMs: 0,
      maxLifetimeMs: 0,
      maxLoginsPerSecond: 0,
      endTimeoutMs: 0,
    });
    // Pool options are ours, not mysql2's: they do not pass through.
    expect(r.passThrough).toEqual({ connectionLimit: 5 });
  });

  it('does not echo a password it refuses', () => {
    const err = optionError({ ...base, password: 'super-secret-password' });
    expect(JSON.stringify(err)).not.toContain('super-secret-password');
    expect(err.message).not.toContain('super-secret-password');
  });

  it('suggests the option meant', () => {
    expect(optionError({ ...base, acquireTimeout: 5000 }).hint).toContain('acquireTimeoutMs');
    expect(optionError({ ...base, connecttimeout: 5000 }).hint).toContain('connectTimeout');
  });

  // Fails on the code before 2026-12, which trimmed the host and signed a token for the trimmed
  // name while the AWS signer signs what it is given.
  it.each(['host', 'user', 'connectHost'])(
    'refuses whitespace around %s instead of trimming it',
    (option) => {
      const value = option === 'connectHost' ? ' 127.0.0.1' : `${(base as Record<string, string>)[option]} `;
      const error = optionError({ ...base, [option]: value });
      expect(error.option).toBe(option);
      expect(error.message).toMatch(/whitespace/);
    },
  );

  it('follows an Aurora cluster endpoint by default, but not behind one tunnel address unless asked', () => {
    const cluster = { ...base, host: 'orders.cluster-abc123.us-east-1.rds.amazonaws.com' };
    expect(resolveOptions(cluster).topologyFailover).toBeDefined();
    expect(resolveOptions({ ...cluster, connectHost: '127.0.0.1' }).topologyFailover).toBeUndefined();
    expect(resolveOptions({ ...cluster, connectPort: 3307 }).topologyFailover).toBeUndefined();
    expect(
      resolveOptions({ ...cluster, connectHost: '127.0.0.1', topologyFailover: true }).topologyFailover,
    ).toBeDefined();
    const connectTo = () => ({ host: '127.0.0.1', port: 3307 });
    expect(resolveOptions({ ...cluster, connectTo }).topologyFailover).toBeDefined();
    expect(resolveOptions({ ...cluster, topologyFailover: false }).topologyFailover).toBeUndefined();
  });

  it('takes connectTo as a function, and not beside connectHost / connectPort', () => {
    const connectTo = (_host: string, port: number) => ({ host: '127.0.0.1', port: port + 1 });
    expect(resolveOptions({ ...base, connectTo }).connectTo).toBe(connectTo);
    expect(optionError({ ...base, connectTo: '127.0.0.1' }).option).toBe('connectTo');
    expect(optionError({ ...base, connectTo, connectHost: '127.0.0.1' }).message).toMatch(
      /beside connectHost/,
    );
  });

  it('reads a uri into the options, options given directly winning, and keeps no uri', () => {
    const r = resolveOptions({
      uri: 'mysql://iam_app@mydb.abc123.us-east-1.rds.amazonaws.com:3307/orders?charset=utf8mb4&connectionLimit=4',
      connectionLimit: 6,
    } as never);
    expect(r).toMatchObject({ host: 'mydb.abc123.us-east-1.rds.amazonaws.com', port: 3307, user: 'iam_app' });
    expect(r.passThrough).toEqual({ database: 'orders', charset: 'utf8mb4', connectionLimit: 6 });
  });

  it('passes every real mysql2 option through', () => {
    const mysql2Options = {
      charset: 'utf8mb4',
      timezone: 'Z',
      connectTimeout: 5000,
      dateStrings: true,
      decimalNumbers: true,
      namedPlaceholders: true,
      multipleStatements: false,
      rowsAsArray: false,
      supportBigNumbers: true,
      bigNumberStrings: false,
      typeCast: true,
      maxPreparedStatements: 100,
      enableKeepAlive: true,
      keepAliveInitialDelay: 1000,
      connectAttributes: { program_name: 'test' },
      waitForConnections: true,
      queueLimit: 0,
      maxIdle: 5,
      idleTimeout: 60000,
      resetOnRelease: false,
      jsonStrings: false,
      gracefulEnd: false,
      disableEval: false,
      trace: true,
      database: 'orders',
      localAddress: '127.0.0.1',
    };
    expect(resolveOptions({ ...base, ...mysql2Options }).passThrough).toEqual(mysql2Options);
  });

  it('refuses a non-object', () => {
    expect(optionError(undefined).option).toBe('options');
  });
});
