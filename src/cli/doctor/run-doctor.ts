import { safeMessage } from '../shared/failures.js';
import { checkCredentials, checkToken } from './check-credentials.js';
import { checkLogin, checkQuery } from './check-login.js';
import { checkDns, checkTcp } from './check-network.js';
import { checkOptions } from './check-options.js';
import { checkTls } from './check-tls.js';
import type { DoctorReport, StepId, StepOutcome, StepResult } from './report.js';
import type { DoctorInput, DoctorState } from './state.js';

interface StepDefinition {
  id: StepId;
  title: string;
  /** Steps that must have passed (or warned) for this one to run. */
  needs: StepId[];
  /** Why the step did not run, given the failed step that blocked it (directly or through a skip). */
  skippedBecause: (failed: StepId) => string;
  run(state: DoctorState): Promise<StepOutcome>;
}

const after = (failed: StepId) => `not run: ${failed} failed`;

/**
 * The IAM login flow, one check per step. The network side (dns, tcp, tls) and the AWS side
 * (credentials, token) are independent, so both are reported even when one fails; the login needs both.
 */
export const DOCTOR_STEPS: readonly StepDefinition[] = [
  { id: 'options', title: 'options', needs: [], skippedBecause: after, run: checkOptions },
  { id: 'dns', title: 'dns', needs: ['options'], skippedBecause: after, run: checkDns },
  { id: 'tcp', title: 'tcp', needs: ['dns'], skippedBecause: after, run: checkTcp },
  { id: 'tls', title: 'tls', needs: ['tcp'], skippedBecause: after, run: checkTls },
  {
    id: 'credentials',
    title: 'credentials',
    needs: ['options'],
    skippedBecause: after,
    run: checkCredentials,
  },
  { id: 'token', title: 'token', needs: ['credentials'], skippedBecause: after, run: checkToken },
  {
    id: 'login',
    title: 'login',
    needs: ['tls', 'token'],
    skippedBecause: (failed) =>
      failed === 'tls'
        ? 'not attempted: TLS failed, and a token is sent only over verified TLS'
        : `not attempted: ${failed} failed`,
    run: checkLogin,
  },
  { id: 'query', title: 'query', needs: ['login'], skippedBecause: after, run: checkQuery },
];

export interface DoctorHooks {
  /** A step is about to run (for progress display). */
  onStepStart?(step: { id: StepId; title: string }): void;
  /** A step finished (or was skipped). */
  onStepDone?(result: StepResult): void;
}

/** Runs every step in order and returns the report. Never throws for a failed check. */
export async function runDoctor(input: DoctorInput, hooks: DoctorHooks = {}): Promise<DoctorReport> {
  const state: DoctorState = { input };
  const results = new Map<StepId, StepResult>();
  // For a skipped step: the failed step at the root of the skip, so the report names the real cause.
  const skippedBecauseOf = new Map<StepId, StepId>();
  try {
    for (const step of DOCTOR_STEPS) {
      let root: StepId | undefined;
      for (const need of step.needs) {
        const status = results.get(need)?.status;
        if (status === 'fail') root ??= need;
        if (status === 'skip') root ??= skippedBecauseOf.get(need);
      }
      let result: StepResult;
      if (root !== undefined) {
        skippedBecauseOf.set(step.id, root);
        result = {
          id: step.id,
          title: step.title,
          status: 'skip',
          summary: step.skippedBecause(root),
          details: [],
          durationMs: 0,
        };
      } else {
        hooks.onStepStart?.(step);
        const started = Date.now();
        let outcome: StepOutcome;
        try {
          outcome = await step.run(state);
        } catch (err) {
          outcome = {
            status: 'fail',
            summary: `unexpected error: ${safeMessage(err)}`,
            details: [],
            fix: 'This is a bug in the doctor; please report it with the output above.',
          };
        }
        result = { id: step.id, title: step.title, ...outcome, durationMs: Date.now() - started };
      }
      results.set(step.id, result);
      hooks.onStepDone?.(result);
    }
  } finally {
    await cleanUp(state);
  }
  const steps = [...results.values()];
  const failed = steps.find((s) => s.status === 'fail');
  const endpoint = state.endpoint;
  return {
    ok: failed === undefined,
    failedStep: failed?.id ?? null,
    target: {
      hostname: endpoint?.hostname ?? input.hostname,
      port: endpoint?.port ?? input.port,
      username: endpoint?.username ?? input.username,
      region: endpoint?.region,
      connectHost: endpoint?.connectHost ?? input.connectHost,
      connectPort: endpoint?.connectPort ?? input.connectPort,
      database: input.database,
    },
    steps,
  };
}

async function cleanUp(state: DoctorState): Promise<void> {
  state.socket?.destroy();
  const connection = state.connection;
  if (connection) {
    await connection.end().catch(() => connection.destroy());
  }
  // The token is not needed any more; drop the reference.
  state.signing = undefined;
}
