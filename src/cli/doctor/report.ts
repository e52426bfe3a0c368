/** The checks the doctor runs, in order. Stable names: scripts match on them (`--json`). */
export type StepId = 'options' | 'dns' | 'tcp' | 'tls' | 'credentials' | 'token' | 'login' | 'query';

export type StepStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** A possible reason for a failed login, most likely first. */
export interface Cause {
  /** Stable id, e.g. `wrong-region`, `user-not-iam`, `policy`. */
  id: string;
  /** True when the doctor saw evidence for it; false when it is only on the checklist. */
  detected: boolean;
  message: string;
  fix: string;
}

export interface StepResult {
  id: StepId;
  title: string;
  status: StepStatus;
  /** One line: what was found. */
  summary: string;
  /** Further facts, one per line. */
  details: string[];
  /** What to do about a fail or warn. */
  fix?: string;
  /** For a failed login: what probably caused it. */
  causes?: Cause[];
  durationMs: number;
}

export interface DoctorReport {
  /** No step failed (warnings allowed). */
  ok: boolean;
  /** The first step that failed, or null. */
  failedStep: StepId | null;
  target: {
    hostname: string;
    port: number | undefined;
    username: string;
    region: string | undefined;
    connectHost: string | undefined;
    connectPort: number | undefined;
    database: string | undefined;
  };
  steps: StepResult[];
}

/** What a step function returns; the runner adds id, title and timing. */
export type StepOutcome = Omit<StepResult, 'id' | 'title' | 'durationMs'>;

export function pass(summary: string, details: string[] = []): StepOutcome {
  return { status: 'pass', summary, details };
}

export function warn(summary: string, details: string[], fix: string): StepOutcome {
  return { status: 'warn', summary, details, fix };
}

export function fail(summary: string, details: string[], fix: string, causes?: Cause[]): StepOutcome {
  return { status: 'fail', summary, details, fix, ...(causes ? { causes } : {}) };
}
