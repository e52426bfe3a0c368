import type { EmulatorStats } from '../../emulator/index.js';

/** What each refusal means for the person at the keyboard (RDS itself only ever says "Access denied"). */
export const REFUSAL_MEANING: Record<string, string> = {
  'unknown-user': 'user not configured with --user',
  'not-tls': 'the client offered a password over plaintext',
  'empty-token': 'empty password',
  'malformed-token': 'the password is not an RDS IAM token',
  'bad-expires': 'X-Amz-Expires outside 1..900',
  'wrong-host': 'token signed for another host:port',
  'wrong-action': 'token is not for Action=connect',
  'wrong-user': 'token signed for another DBUser',
  'wrong-service': 'token not signed for rds-db',
  'wrong-region': 'token signed for another region',
  'unknown-access-key': 'signed with a key this emulator does not trust (export the printed keys)',
  'session-token-mismatch': 'session token missing or different (unset AWS_SESSION_TOKEN?)',
  'bad-signature': 'signature mismatch (wrong secret key)',
  'credentials-expired': 'the signing credentials have expired',
  expired: 'token expired (older than its X-Amz-Expires; clock?)',
  'not-yet-valid': 'token dated in the future (clock?)',
  'fault-injected': 'fault switch rejectNextLogins',
  'rate-limited': 'fault switch capLoginsPerSecond',
  'auth-plugin-unsupported': 'client cannot do plugin authentication',
  'backend-refused': 'the backend refused its login (privileges, database?)',
  'backend-unavailable': 'the backend did not answer',
};

export type LoginEvent =
  | { event: 'login-accepted'; count: number }
  | { event: 'login-refused'; reason: string; meaning: string; count: number };

/** The logins between two stats snapshots, as events (the emulator keeps counters, not a log). */
export function loginEvents(before: EmulatorStats, after: EmulatorStats): LoginEvent[] {
  const events: LoginEvent[] = [];
  const accepted = after.loginsAccepted - before.loginsAccepted;
  if (accepted > 0) events.push({ event: 'login-accepted', count: accepted });
  for (const [reason, total] of Object.entries(after.loginsRejected)) {
    const count = total - (before.loginsRejected[reason] ?? 0);
    if (count > 0) {
      events.push({ event: 'login-refused', reason, meaning: REFUSAL_MEANING[reason] ?? reason, count });
    }
  }
  return events;
}
