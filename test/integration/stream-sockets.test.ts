/**
 * The TCP sockets rds-iam-pool opens itself, through mysql2's `stream` option (`connectHost` /
 * `connectPort`, and every connection of a `topologyFailover` pool): mysql2 sets TCP_NODELAY and
 * keep-alive only on sockets it opens, so ours must, or a pool behind a tunnel or following an Aurora
 * failover would hold back small writes (Nagle) and never probe an idle connection's peer.
 */
import { createServer, Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { iamConnectionOptions } from '../../src/connection/mysql2-options.js';
import { resolveOptions } from '../../src/options.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { iamOptionsFor, poolFor } from '../helpers/pool-fixture.js';

let fx: EmulatorFixture;
beforeAll(async () => {
  fx = await createEmulatorFixture({ name: 'stream_sockets' });
});
afterAll(async () => {
  await fx?.teardown();
});
afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * Spies on the options set on client sockets to `port`: plain TCP sockets only (not the TLS sockets
 * layered on them), and not the emulator's own (accepted, or to MariaDB). Read while they are open.
 */
function spyOnClientSockets(port: () => number) {
  const noDelay = vi.spyOn(Socket.prototype, 'setNoDelay');
  const keepAlive = vi.spyOn(Socket.prototype, 'setKeepAlive');
  const onClient = (spy: { mock: { contexts: unknown[]; calls: unknown[][] } }) =>
    spy.mock.calls.filter((_, i) => {
      const socket = spy.mock.contexts[i];
      return socket instanceof Socket && !(socket instanceof TLSSocket) && socket.remotePort === port();
    });
  return { noDelay: () => onClient(noDelay), keepAlive: () => onClient(keepAlive) };
}

describe('sockets opened through connectHost / connectPort', () => {
  it("get TCP_NODELAY and keep-alive with the pool's keepAliveInitialDelay, as mysql2 sets on its own", async () => {
    const spies = spyOnClientSockets(() => fx.emulator.port);
    const pool = poolFor(fx, { connectionLimit: 2, keepAliveInitialDelay: 30_000 });
    try {
      await Promise.all([pool.query('SELECT SLEEP(0.05)'), pool.query('SELECT SLEEP(0.05)')]);
      expect(spies.noDelay()).toEqual([[true], [true]]);
      expect(spies.keepAlive()).toEqual([
        [true, 30_000],
        [true, 30_000],
      ]);
    } finally {
      await pool.end();
    }
  });

  it('get no keep-alive with enableKeepAlive: false', async () => {
    const spies = spyOnClientSockets(() => fx.emulator.port);
    const pool = poolFor(fx, { enableKeepAlive: false });
    try {
      await pool.query('SELECT 1');
      expect(spies.noDelay()).toEqual([[true]]);
      expect(spies.keepAlive()).toEqual([]);
    } finally {
      await pool.end();
    }
  });
});

describe('sockets of a pool that routes each connection (topologyFailover)', () => {
  it('get TCP_NODELAY and keep-alive too', async () => {
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const spies = spyOnClientSockets(() => port);
    try {
      const resolved = resolveOptions(iamOptionsFor(fx, { connectPort: port }));
      const options = iamConnectionOptions(
        resolved,
        { token: async () => ({ token: 't', signedAt: 0 }), refused: () => {}, succeeded: () => {} },
        () => 'instance-1.abc123.us-east-1.rds.amazonaws.com',
      );
      const config = { host: resolved.host, enableKeepAlive: true, keepAliveInitialDelay: 1_000 };
      const socket = options.stream?.({ config });
      expect(config.host, 'the route picked the connection host').toBe(
        'instance-1.abc123.us-east-1.rds.amazonaws.com',
      );
      await new Promise((resolve) => socket?.once('connect', resolve));
      expect(spies.noDelay()).toEqual([[true]]);
      expect(spies.keepAlive()).toEqual([[true, 1_000]]);
      socket?.destroy();
    } finally {
      server.close();
    }
  });
});
