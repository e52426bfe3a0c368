import { connect } from 'node:net';

/**
 * Integration tests need the real MariaDB; when it does not answer the whole run fails here,
 * loudly, instead of skipping tests.
 */
export default async function requireMariaDb(): Promise<void> {
  const host = process.env.MARIADB_HOST ?? '127.0.0.1';
  const port = Number(process.env.MARIADB_PORT ?? 3306);
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, host);
    socket.setTimeout(3000);
    socket.once('data', () => {
      socket.destroy();
      resolve();
    });
    const fail = (why: string) => {
      socket.destroy();
      reject(
        new Error(
          `MariaDB is not answering on ${host}:${port} (${why}); integration tests need it. ` +
            'Start it with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd',
        ),
      );
    };
    socket.once('error', (err) => fail(err.message));
    socket.once('timeout', () => fail('timed out after 3 s'));
  });
}
