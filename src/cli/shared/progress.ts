const FRAMES = ['-', '\\', '|', '/'];
const FRAME_MS = 100;

export interface Progress {
  /** Clears the progress line. */
  stop(): void;
}

/**
 * A one-line spinner on a terminal (`label...` with a turning bar and the seconds elapsed), so a slow
 * step (a credential provider calling IMDS or SSO, a TCP connect that will time out) is visibly
 * working. Writes nothing when the stream is not a terminal: logs and pipes get only results.
 */
export function startProgress(stream: NodeJS.WritableStream & { isTTY?: boolean }, label: string): Progress {
  if (stream.isTTY !== true) return { stop() {} };
  const started = Date.now();
  let frame = 0;
  const draw = () => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    stream.write(`\r\u001b[2K${FRAMES[frame++ % FRAMES.length]} ${label}... ${seconds}s`);
  };
  draw();
  const timer = setInterval(draw, FRAME_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      stream.write('\r\u001b[2K');
    },
  };
}
