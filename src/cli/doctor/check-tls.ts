import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import {
  checkServerIdentity,
  type DetailedPeerCertificate,
  type TLSSocket,
  connect as tlsConnect,
} from 'node:tls';
import { safeMessage } from '../shared/failures.js';
import { withTimeout } from '../shared/timeout.js';
import { sslRequest } from './mysql-wire.js';
import { fail, pass, type StepOutcome, warn } from './report.js';
import type { DoctorState, TrustStore } from './state.js';

const DAY_MS = 86_400_000;
/** Warn when the server certificate or the CA it chains to expires this soon. */
const EXPIRY_WARNING_DAYS = 30;

const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_CHAIN_TOO_LONG',
]);

/**
 * Asks for TLS the way a MySQL client does (SSLRequest), completes the handshake and inspects the
 * certificate: chain against the trusted CAs, validity dates, host name. Nothing else is sent on
 * this connection (no user, no token); it is closed afterwards.
 */
export async function checkTls(state: DoctorState): Promise<StepOutcome> {
  const endpoint = state.endpoint!;
  const trust = state.trust!;
  const socket = state.socket!;
  if (!state.offersTls) {
    return fail(
      'the server does not offer TLS; no token was sent',
      [
        'rds-iam-pool sends a token only over TLS verified against the trusted CAs; this server would have received it in cleartext.',
      ],
      'RDS always offers TLS, so this is not RDS answering: a proxy or tunnel that terminates TLS, or a plain ' +
        'MySQL/MariaDB server. Connect to the RDS endpoint, or through a tunnel that forwards TCP unchanged.',
    );
  }

  socket.write(sslRequest(state.greeting?.characterSet ?? 45));
  let secure: TLSSocket;
  try {
    secure = await withTimeout(
      handshake(socket, endpoint.hostname, trust),
      state.input.timeoutMs,
      'The TLS handshake',
      () => socket.destroy(),
    );
  } catch (err) {
    return fail(
      `TLS handshake failed: ${safeMessage(err)}`,
      [],
      'The server may offer only TLS 1.0/1.1 (rds-iam-pool requires 1.2 or newer: upgrade the engine version), ' +
        'or something between this machine and the server interferes with TLS.',
    );
  }
  try {
    return inspect(secure, endpoint.hostname, trust, state);
  } finally {
    secure.destroy();
  }
}

function handshake(socket: Socket, servername: string, trust: TrustStore): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({
      socket,
      servername,
      ca: trust.certificates,
      minVersion: 'TLSv1.2',
      // Verification is judged below, so the report can say what failed and why.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    secure.once('secureConnect', () => {
      secure.off('error', reject);
      secure.on('error', () => {});
      resolve(secure);
    });
    secure.once('error', reject);
  });
}

function inspect(secure: TLSSocket, hostname: string, trust: TrustStore, state: DoctorState): StepOutcome {
  const protocol = secure.getProtocol() ?? 'TLS';
  state.tlsProtocol = protocol;
  const leaf = secure.getPeerCertificate(true);
  if (!leaf || Object.keys(leaf).length === 0) {
    return fail(
      'the server presented no certificate',
      [],
      'This is not RDS: check --hostname / --connect-host.',
    );
  }
  const chain = certificateChain(leaf);
  const leafValidFrom = new Date(leaf.valid_from);
  const leafValidTo = new Date(leaf.valid_to);
  state.serverCertificateValidFrom = leafValidFrom;
  const now = Date.now();
  const details = [
    `server certificate: ${subjectName(leaf)}, issued by ${issuerName(leaf)}, valid ${isoDay(leafValidFrom)} to ${isoDay(leafValidTo)}`,
    `names in it: ${leaf.subjectaltname ?? `CN=${String(leaf.subject?.CN ?? '')}`}`,
  ];

  if (!secure.authorized) {
    details.push(`trusted CAs: ${trust.description}`);
    return verificationFailure(
      String(secure.authorizationError ?? 'UNKNOWN'),
      leaf,
      chain,
      trust,
      details,
      now,
    );
  }

  const identityError = checkServerIdentity(hostname, leaf);
  if (identityError) {
    return fail(
      `the certificate does not name ${hostname}; no token was sent`,
      details,
      '--hostname must be the RDS endpoint name the certificate was issued for (the token names it too). To go ' +
        'through a tunnel, an IP or a CNAME, keep --hostname and pass that address as --connect-host.',
    );
  }

  const root = chain[chain.length - 1] ?? leaf;
  const rootValidTo = new Date(root.valid_to);
  details.push(
    `trusted CA: ${subjectName(root)}, expires ${isoDay(rootValidTo)} (${trustedCaOrigin(root, trust)})`,
  );
  const summary = `${protocol}, certificate verified against ${trust.bundled ? 'the bundled RDS CAs' : 'the --ca file'}, host name matches`;
  const soon = now + EXPIRY_WARNING_DAYS * DAY_MS;
  if (rootValidTo.getTime() < soon || leafValidTo.getTime() < soon) {
    const what = rootValidTo.getTime() < soon ? `the CA ${subjectName(root)}` : 'the server certificate';
    return warn(
      `${summary}, but ${what} expires within ${EXPIRY_WARNING_DAYS} days`,
      details,
      "Rotate the instance's certificate authority (aws rds modify-db-instance --ca-certificate-identifier rds-ca-rsa2048-g1) before it expires.",
    );
  }
  return pass(summary, details);
}

/** Why the certificate did not verify, and what to do about it. */
function verificationFailure(
  code: string,
  leaf: DetailedPeerCertificate,
  chain: DetailedPeerCertificate[],
  trust: TrustStore,
  details: string[],
  now: number,
): StepOutcome {
  const leafValidFrom = new Date(leaf.valid_from);
  const leafValidTo = new Date(leaf.valid_to);
  if (code === 'CERT_HAS_EXPIRED') {
    return fail(
      `the server certificate expired on ${leafValidTo.toISOString()} (this machine's clock: ${new Date(now).toISOString()})`,
      details,
      "Rotate the instance's certificate authority to a current one (rds-ca-rsa2048-g1 or newer) and apply it; if " +
        "the date is not really past, this machine's clock is wrong, which also makes every token look expired.",
    );
  }
  if (code === 'CERT_NOT_YET_VALID') {
    return fail(
      `the server certificate is valid only from ${leafValidFrom.toISOString()}, but this machine's clock reads ${new Date(now).toISOString()}`,
      details,
      "This machine's clock is probably behind: sync it (NTP / chrony). A clock that is off also makes RDS refuse tokens as expired or not yet valid.",
    );
  }
  if (UNTRUSTED_CODES.has(code)) {
    const issuer = issuerName(chain[chain.length - 1] ?? leaf);
    return fail(
      `the server certificate does not chain to a trusted CA (${code}); no token was sent`,
      details,
      trust.bundled
        ? `It was issued by ${issuer}, which is not among the bundled RDS CAs. If the instance is in a region the ` +
            'bundle lacks (docs/tls.md) or a TLS proxy sits in between, pass --ca with the right bundle ' +
            "(https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem, or your proxy's CA). If that issuer " +
            'is not Amazon RDS or Amazon, you are not talking to RDS: check --hostname and --connect-host.'
        : `It was issued by ${issuer}, which the --ca file does not contain. Pass the CA that issued it (for RDS: ` +
            'https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem), or leave --ca out to use the bundled RDS CAs.',
    );
  }
  return fail(
    `the server certificate did not verify (${code}); no token was sent`,
    details,
    'Check --hostname and --connect-host, and pass the issuing CA with --ca if it is not an RDS CA.',
  );
}

/** The server's certificate and its issuers as Node verified them (up to the trusted CA when it did). */
function certificateChain(leaf: DetailedPeerCertificate): DetailedPeerCertificate[] {
  const chain: DetailedPeerCertificate[] = [];
  const seen = new Set<string>();
  let current: DetailedPeerCertificate | undefined = leaf;
  while (current && Object.keys(current).length > 0 && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256);
    chain.push(current);
    current = current.issuerCertificate;
  }
  return chain;
}

function trustedCaOrigin(root: DetailedPeerCertificate, trust: TrustStore): string {
  const inStore = trust.certificates.some((pem) => {
    try {
      return new X509Certificate(pem).fingerprint256 === root.fingerprint256;
    } catch {
      return false;
    }
  });
  const store = trust.bundled ? 'bundled' : 'from --ca';
  return inStore
    ? store
    : `reached through the chain the server sent, anchored in ${trust.bundled ? 'the bundled CAs' : 'the --ca file'}`;
}

function subjectName(cert: DetailedPeerCertificate): string {
  return distinguishedName(cert.subject);
}

function issuerName(cert: DetailedPeerCertificate): string {
  return distinguishedName(cert.issuer);
}

function distinguishedName(name: Record<string, string | string[] | undefined> | undefined): string {
  if (!name) return '(none)';
  const cn = name.CN;
  const org = name.O;
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  return (
    [cn ? `CN=${first(cn)}` : undefined, org ? `O=${first(org)}` : undefined].filter(Boolean).join(', ') ||
    '(empty)'
  );
}

function isoDay(date: Date): string {
  return Number.isNaN(date.getTime()) ? 'unknown' : date.toISOString().slice(0, 10);
}
