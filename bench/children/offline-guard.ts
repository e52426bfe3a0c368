/**
 * Preloaded (`node --import`) into every benchmark child: a TCP connection anywhere but loopback
 * ends the process with exit code 97. The children carry fake credentials and talk only to the
 * local emulator; if a library (a credential chain, a wrapper plugin) tried to reach AWS, the
 * benchmark must fail rather than measure it.
 */
import net from 'node:net';
import { OFFLINE_GUARD_EXIT_CODE } from './config.js';

const LOOPBACK = /^(?:127(?:\.\d{1,3}){3}|::1|::ffff:127(?:\.\d{1,3}){3}|localhost)$/i;

/** The host a `Socket#connect` call is for, in any of its call shapes; undefined for IPC paths. */
function targetHost(args: unknown[]): string | undefined {
  let first = args[0];
  // net.connect() passes its normalized [options, callback] pair.
  if (Array.isArray(first)) first = first[0];
  if (typeof first === 'object' && first !== null) {
    const options = first as { host?: string; path?: string | null };
    // As net does: a truthy `path` is a local (IPC) socket; https passes `path: null`.
    if (options.path) return undefined;
    return options.host ?? 'localhost';
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    return typeof args[1] === 'string' ? args[1] : 'localhost';
  }
  return undefined;
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
  const host = targetHost(args);
  if (host !== undefined && !LOOPBACK.test(host)) {
    process.stderr.write(`offline guard: refused a connection to ${host}\n`);
    process.exit(OFFLINE_GUARD_EXIT_CODE);
  }
  return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof connect;
