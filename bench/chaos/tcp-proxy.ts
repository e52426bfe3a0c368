import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP relay the chaos runner can break on purpose: `refuse()` closes the listener and
 * every relayed session (new connections then get ECONNREFUSED, as from a host that is down or a
 * port that is closed), `accept()` listens again on the same port. Put in front of MariaDB it
 * stands for a backend restart; in front of the emulator, for a network that refuses connections.
 */
export class TcpProxy {
  readonly #target: { host: string; port: number };
  readonly #pairs = new Set<[Socket, Socket]>();
  #server: Server | undefined;
  #port = 0;
  #accepted = 0;

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  /** Starts relaying 127.0.0.1:<ephemeral port> to `target`. */
  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await proxy.accept();
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  /** Connections relayed so far. */
  get accepted(): number {
    return this.#accepted;
  }

  /** Listens (again, on the same port once one was chosen). */
  async accept(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => this.#relay(client));
    server.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    this.#port = typeof address === 'object' && address ? address.port : 0;
    this.#server = server;
  }

  /** Stops listening and cuts every relayed session. */
  async refuse(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.dropAll();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Cuts every relayed session; keeps listening. */
  dropAll(): void {
    for (const [a, b] of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    this.#pairs.clear();
  }

  async close(): Promise<void> {
    await this.refuse();
  }

  #relay(client: Socket): void {
    this.#accepted++;
    const upstream = connect(this.#target.port, this.#target.host);
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const teardown = () => {
      client.destroy();
      upstream.destroy();
      this.#pairs.delete(pair);
    };
    for (const socket of pair) {
      socket.setNoDelay(true);
      socket.on('error', teardown);
      socket.on('close', teardown);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
