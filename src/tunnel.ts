import { connect, type Socket } from 'node:net';
import type { ResolvedIamOptions } from './options.js';

/**
 * mysql2's `stream` option for `connectHost` / `connectPort` (SSH tunnel, port-forward, emulator),
 * or nothing. mysql2 takes the TLS server name and certificate check from `host`, so `host` stays
 * the RDS endpoint name and only the TCP connection goes elsewhere.
 */
export function tunnelStreamOption(resolved: ResolvedIamOptions): { stream?: () => Socket } {
  const { connectHost, connectPort } = resolved;
  if (connectHost === undefined && connectPort === undefined) return {};
  return { stream: () => connect(connectPort ?? resolved.port, connectHost ?? resolved.host) };
}
