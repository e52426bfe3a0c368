import { describe, expect, it } from 'vitest';
import { expectNoTokenInOutput, runExample } from './examples-shared.js';

describe('the Express example runs with one command', () => {
  it('serves notes and a /health that reports one signing before and one after 16 minutes', {
    timeout: 60_000,
  }, async () => {
    const run = await runExample('express', 'rip_examples_express');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual([
      'POST /notes -> 201 {"id":1,"body":"hello"}',
      'GET /notes -> 200 [{"id":1,"body":"hello"}]',
    ]);
    // The token's times are known from the first request on (pool.iam.token()), not only after a
    // later signing.
    expect(lines[2]).toMatch(
      /^GET \/health -> ok, tokens signed: 1, connections opened: 1, token signed at \S+Z$/,
    );
    expect(lines[3]).toMatch(
      /^16 minutes later: GET \/health -> ok, tokens signed: 2, token expires at \S+Z$/,
    );
    expect(lines).toHaveLength(4);
    expectNoTokenInOutput(run);
  });
});
