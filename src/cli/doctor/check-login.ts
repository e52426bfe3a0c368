import mysql, { type RowDataPacket } from 'mysql2/promise';
import { createIamConnectionOptions, toIamError } from '../../index.js';
import { safeMessage } from '../shared/failures.js';
import { explainLoginFailure } from './login-causes.js';
import { fail, pass, type StepOutcome, warn } from './report.js';
import type { DoctorState } from './state.js';

/** Beyond this, a clock difference with the server is worth a warning: tokens are dated by this machine. */
const CLOCK_SKEW_WARNING_MS = 60_000;

/**
 * Logs in as the IAM user exactly as a pool does: mysql2 with the options `createIamConnectionOptions`
 * builds (the token only on a verified TLS socket, the bundled or --ca CAs, the host name checked,
 * TCP through --connect-host), taking the token the signing step put in its cache.
 * One attempt, no retry: the first answer is the one to explain.
 */
export async function checkLogin(state: DoctorState): Promise<StepOutcome> {
  const endpoint = state.endpoint!;
  const signing = state.signing!;
  const options = createIamConnectionOptions({
    host: endpoint.hostname,
    port: endpoint.port,
    user: endpoint.username,
    region: endpoint.region,
    credentials: signing.credentials,
    token: { cache: signing.tokens },
    ssl: { ca: state.trust!.certificates },
    ...(endpoint.connectHost === undefined ? {} : { connectHost: endpoint.connectHost }),
    ...(endpoint.connectPort === undefined ? {} : { connectPort: endpoint.connectPort }),
    ...(state.input.database === undefined ? {} : { database: state.input.database }),
    connectTimeout: state.input.timeoutMs,
  });
  const started = Date.now();
  try {
    state.connection = await mysql.createConnection(options);
  } catch (err) {
    const { cacheHits, tokensSigned } = options.iam.stats();
    return explainLoginFailure({
      error: toIamError(err, `${endpoint.hostname}:${endpoint.port}`),
      // The plugin asks for the token only on a verified TLS socket, right before sending it.
      tokenSent: cacheHits + tokensSigned > 0,
      endpoint,
      database: state.input.database,
      credentials: state.credentialFacts,
      tokenSignedAt: state.tokenSignedAt,
    });
  }
  state.connection.on('error', () => {});
  return pass(
    `logged in as ${endpoint.username} over ${state.tlsProtocol ?? 'TLS'} in ${Date.now() - started} ms`,
    state.input.database === undefined ? [] : [`database ${state.input.database}`],
  );
}

/** `SELECT CURRENT_USER()` on the IAM session, and the server's clock against this machine's. */
export async function checkQuery(state: DoctorState): Promise<StepOutcome> {
  const connection = state.connection!;
  const endpoint = state.endpoint!;
  let row: RowDataPacket | undefined;
  try {
    const [rows] = await connection.query<RowDataPacket[]>({
      sql: 'SELECT CURRENT_USER() AS current_user_name, UNIX_TIMESTAMP() AS server_time, VERSION() AS version',
      timeout: state.input.timeoutMs,
    });
    row = rows[0];
  } catch (err) {
    return fail(
      `the query failed: ${safeMessage(err)}`,
      [],
      'The login worked; check the server log for why a trivial query fails.',
    );
  }
  const currentUser = String(row?.current_user_name ?? '');
  const skewMs = Number(row?.server_time) * 1000 - Date.now();
  const details = [`server version ${String(row?.version ?? 'unknown')}`];
  if (!currentUser.startsWith(`${endpoint.username}@`)) {
    details.push(
      `the session runs as ${currentUser}: a proxy (or the local emulator) maps ${endpoint.username} to that account`,
    );
  }
  const summary = `CURRENT_USER() = ${currentUser}`;
  if (Number.isFinite(skewMs) && Math.abs(skewMs) > CLOCK_SKEW_WARNING_MS) {
    return warn(
      `${summary}, but the server's clock is ${Math.round(Math.abs(skewMs) / 1000)} s ${skewMs > 0 ? 'ahead of' : 'behind'} this machine's`,
      details,
      'Tokens are dated by this machine and rejected once they look 15 minutes old or from the future: sync the clock (NTP / chrony).',
    );
  }
  if (Number.isFinite(skewMs))
    details.push(
      `server clock within ${Math.max(1, Math.round(Math.abs(skewMs) / 1000))} s of this machine's`,
    );
  return pass(summary, details);
}
