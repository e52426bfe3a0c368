import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startProgress } from '../../src/cli/shared/progress.js';

function stream(isTTY: boolean) {
  const s = Object.assign(new PassThrough(), { isTTY });
  let written = '';
  s.on('data', (d: Buffer) => {
    written += d.toString();
  });
  return { s, written: () => written };
}

describe('doctor progress line', () => {
  it('shows the step with a spinner on a terminal and clears the line when the step ends', async () => {
    const { s, written } = stream(true);
    const progress = startProgress(s, 'checking credentials');
    await new Promise((resolve) => setTimeout(resolve, 250));
    progress.stop();
    await new Promise((resolve) => setImmediate(resolve));
    const frames = written()
      .split('\r\u001b[2K')
      .filter((f) => f !== '');
    expect(frames.length).toBeGreaterThanOrEqual(2); // redrawn while the step runs
    expect(frames[0]).toMatch(/^[-\\|/] checking credentials\.\.\. \d+\.\ds$/);
    expect(written().endsWith('\r\u001b[2K')).toBe(true); // nothing left on the line
  });

  it('writes nothing when the stream is not a terminal', async () => {
    const { s, written } = stream(false);
    const progress = startProgress(s, 'checking tcp');
    await new Promise((resolve) => setTimeout(resolve, 150));
    progress.stop();
    expect(written()).toBe('');
  });
});
