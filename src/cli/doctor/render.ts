import type { Output, Style } from '../shared/output.js';
import type { DoctorReport, StepResult, StepStatus } from './report.js';
import type { DoctorInput } from './state.js';

const LABEL: Record<StepStatus, [string, Style]> = {
  pass: ['PASS', 'green'],
  warn: ['WARN', 'yellow'],
  fail: ['FAIL', 'red'],
  skip: ['SKIP', 'dim'],
};
const TITLE_WIDTH = 12;
const INDENT = ' '.repeat(5 + TITLE_WIDTH);

export function renderHeader(out: Output, input: DoctorInput): void {
  const via =
    input.connectHost !== undefined || input.connectPort !== undefined
      ? ` via ${input.connectHost ?? input.hostname}:${input.connectPort ?? input.port ?? 3306}`
      : '';
  out.line(
    out.paint('bold', `rds-iam-pool doctor: ${input.username}@${input.hostname}:${input.port ?? 3306}${via}`),
  );
  out.line();
}

/** One step: status, title, summary, then details, causes and the fix, indented under it. */
export function renderStep(out: Output, step: StepResult): void {
  const [label, style] = LABEL[step.status];
  out.line(`${out.paint(style, label)} ${out.paint('bold', step.title.padEnd(TITLE_WIDTH))}${step.summary}`);
  for (const detail of step.details) out.line(`${INDENT}${out.paint('dim', detail)}`);
  if (step.causes?.length) {
    out.line(`${INDENT}likely causes, most likely first:`);
    step.causes.forEach((cause, i) => {
      const tag = cause.detected ? out.paint('red', '[detected] ') : '';
      out.line(`${INDENT}  ${i + 1}. ${tag}${cause.message}`);
      out.line(`${INDENT}     fix: ${cause.fix}`);
    });
  }
  if (step.fix !== undefined && step.status !== 'pass') {
    out.line(`${INDENT}${out.paint(step.status === 'fail' ? 'red' : 'yellow', 'fix:')} ${step.fix}`);
  }
}

export function renderSummary(out: Output, report: DoctorReport): void {
  out.line();
  const failed = report.steps.filter((s) => s.status === 'fail').map((s) => s.id);
  const warned = report.steps.filter((s) => s.status === 'warn').map((s) => s.id);
  const warnings =
    warned.length > 0
      ? `; ${warned.length} warning${warned.length > 1 ? 's' : ''} (${warned.join(', ')})`
      : '';
  if (report.ok) {
    out.line(out.paint('green', `All ${report.steps.length} checks passed${warnings}.`));
  } else {
    out.line(
      out.paint(
        'red',
        `${failed.length} check${failed.length > 1 ? 's' : ''} failed (${failed.join(', ')})${warnings}. Fix the first one first.`,
      ),
    );
  }
}
