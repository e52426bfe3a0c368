import { describe, expect, it } from 'vitest';
import { expectNoTokenInOutput, runScript } from './examples-shared.js';

describe('npm run demo', () => {
  it('signs once for 5 connections, once more after 16 minutes, and re-signs on refused logins', {
    timeout: 60_000,
  }, async () => {
    const run = await runScript('examples/demo.ts', 'rip_examples_demo');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('20 queries answered');
    expect(run.stdout).toContain('connections opened: 5, tokens signed: 1, reused from cache: 4');
    expect(run.stdout).toContain('connections opened: 6, tokens signed: 2 (one refresh');
    expect(run.stdout).toContain('auth retries: 2');
    expect(run.stdout).toContain('rejected {"fault-injected":2}');
    expectNoTokenInOutput(run);
  });
});
