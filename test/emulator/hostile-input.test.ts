import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Capability, encodeHandshakeResponse, lenencInt } from '../../src/protocol/mysql-packets.js';
import {
  CLIENT_FLAGS,
  createEmulatorFixture,
  type EmulatorFixture,
  packet,
  rawConnect,
} from '../helpers/emulator-harness.js';

function handshakeResponse(overrides: { flags?: number; user?: string } = {}): Buffer {
  return encodeHandshakeResponse({
    clientFlags: overrides.flags ?? CLIENT_FLAGS,
    maxPacketSize: 0,
    characterSet: 224,
    user: overrides.user ?? 'iam_app',
    authResponse: Buffer.alloc(0),
    database: 'test',
    authPluginName: 'mysql_native_password',
    connectAttrs: Buffer.from([0]),
  });
}

function sslRequest(): Buffer {
  const p = Buffer.alloc(32);
  p.writeUInt32LE(CLIENT_FLAGS | Capability.SSL, 0);
  p[8] = 224;
  return p;
}

/** Error codes of every ERR packet the emulator sent after its greeting. */
function errCodesAfterGreeting(data: Buffer): number[] {
  const codes: number[] = [];
  let offset = 0;
  while (offset + 4 <= data.length) {
    const len = data.readUIntLE(offset, 3);
    const payload = data.subarray(offset + 4, offset + 4 + len);
    if (payload[0] === 0xff && payload.length >= 3) codes.push(payload.readUInt16LE(1));
    offset += 4 + len;
  }
  return codes;
}

describe('emulator: hostile input', () => {
  let fx: EmulatorFixture;
  const HANDSHAKE_TIMEOUT = 400;
  beforeAll(async () => {
    fx = await createEmulatorFixture({
      name: 'emu_hostile',
      emulator: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT },
    });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  /**
   * Connects, waits for the greeting, sends `input` (chunks, in order), and returns how the
   * emulator reacted. The emulator must close every such connection by itself.
   */
  async function attack(
    chunks: Buffer[],
    waitForGreeting = true,
  ): Promise<{ codes: number[]; closed: boolean }> {
    const client = await rawConnect(fx.emulator.port);
    let greetingLength = 0;
    if (waitForGreeting) {
      const first = await client.waitFor(4);
      greetingLength = 4 + first.readUIntLE(0, 3);
      await client.waitFor(greetingLength);
    }
    for (const chunk of chunks) {
      if (client.socket.destroyed) break;
      client.socket.write(chunk);
    }
    const { closed, data } = await client.closed(HANDSHAKE_TIMEOUT + 3000);
    client.socket.destroy();
    return { codes: errCodesAfterGreeting(data.subarray(greetingLength)), closed };
  }

  const cases: Array<[string, Buffer[]]> = [
    ['a 0xFFFFFF length header with a few bytes', [Buffer.from([0xff, 0xff, 0xff, 1, 1, 2, 3])]],
    [
      'a 0xFFFFFF length header then 100 KB',
      [Buffer.from([0xff, 0xff, 0xff, 1]), Buffer.alloc(100_000, 0x41)],
    ],
    [
      '100 KB of small valid-looking packets',
      [Buffer.concat(Array.from({ length: 200 }, () => packet(1, Buffer.alloc(500, 7))))],
    ],
    ['an empty packet', [packet(1, Buffer.alloc(0))]],
    ['a packet with the wrong sequence id', [packet(7, handshakeResponse())]],
    [
      'a pre-4.1 handshake response',
      [packet(1, handshakeResponse({ flags: CLIENT_FLAGS & ~Capability.PROTOCOL_41 }))],
    ],
    ['a truncated header (stall)', [Buffer.from([0x20, 0x00])]],
    ['a packet announcing more than it sends (stall)', [Buffer.from([100, 0, 0, 1]), Buffer.alloc(10)]],
    ['nothing at all (stall)', []],
    ['an HTTP request', [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]],
    ['garbage before TLS', [packet(1, sslRequest()), Buffer.from('this is not a TLS ClientHello at all')]],
    ['an SSLRequest and then silence (stall)', [packet(1, sslRequest())]],
    ['two SSLRequests', [packet(1, sslRequest()), packet(2, sslRequest())]],
    [
      'a handshake response with an absurd lenenc auth length',
      [
        packet(
          1,
          Buffer.concat([
            handshakeResponse().subarray(0, 32),
            Buffer.from('iam_app\0'),
            Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
          ]),
        ),
      ],
    ],
    [
      'a handshake response with a 3-byte lenenc auth length beyond the packet',
      [
        packet(
          1,
          Buffer.concat([
            handshakeResponse().subarray(0, 32),
            Buffer.from('iam_app\0'),
            Buffer.from([0xfd, 0xff, 0xff, 0x0f]),
            Buffer.alloc(10),
          ]),
        ),
      ],
    ],
    [
      'a handshake response whose user has no NUL',
      [packet(1, Buffer.concat([handshakeResponse().subarray(0, 32), Buffer.alloc(200, 0x61)]))],
    ],
    [
      'connect attrs longer than the packet',
      [packet(1, Buffer.concat([handshakeResponse().subarray(0, -1), lenencInt(60_000)]))],
    ],
    [
      'an SSL flag on a plaintext handshake response',
      [packet(1, handshakeResponse({ flags: CLIENT_FLAGS | Capability.SSL }))],
    ],
    [
      'a valid IAM handshake then garbage instead of the token',
      [packet(1, handshakeResponse()), Buffer.from([0xff, 0xff, 0xff, 3, 1, 2])],
    ],
    ['a valid IAM handshake then silence (stall)', [packet(1, handshakeResponse())]],
    ['a handshake response for an unknown user', [packet(1, handshakeResponse({ user: 'nobody' }))]],
  ];

  /** Cases whose answer is deterministic; the rest only have to end in a closed socket. */
  const exactAnswers: Record<string, number[]> = {
    'an empty packet': [1043],
    'a packet with the wrong sequence id': [1043],
    'a pre-4.1 handshake response': [1043],
    'an HTTP request': [1043],
    'a handshake response with an absurd lenenc auth length': [1043],
    'a handshake response whose user has no NUL': [1043],
    'connect attrs longer than the packet': [1043],
    'an SSL flag on a plaintext handshake response': [1043],
    'a handshake response for an unknown user': [1045],
    'a truncated header (stall)': [],
    'nothing at all (stall)': [],
  };

  it.each(cases)('survives %s', async (name, chunks) => {
    const { codes, closed } = await attack(chunks);
    expect(closed).toBe(true);
    for (const code of codes) expect([1043, 1045, 1251]).toContain(code);
    if (name in exactAnswers) expect(codes).toEqual(exactAnswers[name]);
  });

  it('answers an oversized packet header at once with 1043 instead of waiting for 16 MB', async () => {
    const started = Date.now();
    const { codes, closed } = await attack([Buffer.from([0xff, 0xff, 0xff, 1, 0, 0])]);
    expect(closed).toBe(true);
    expect(codes).toEqual([1043]);
    expect(Date.now() - started).toBeLessThan(HANDSHAKE_TIMEOUT);
  });

  it('closes a client that stalls, after handshakeTimeoutMs', async () => {
    const started = Date.now();
    const { closed } = await attack([]);
    expect(closed).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT - 50);
  });

  it('survives random bytes, random packets and truncated handshake responses (fast-check)', async () => {
    const valid = packet(1, handshakeResponse());
    const inputs = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => [Buffer.from(b)]),
      fc
        .tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ minLength: 0, maxLength: 200 }))
        .map(([seq, body]) => [packet(seq, Buffer.from(body))]),
      fc.integer({ min: 4, max: valid.length - 1 }).map((cut) => {
        const body = valid.subarray(4, cut);
        return [packet(1, Buffer.from(body))];
      }),
      fc
        .tuple(fc.uint8Array({ minLength: 1, maxLength: 100 }), fc.integer({ min: 0, max: 40 }))
        .map(([noise, at]) => {
          const p = Buffer.from(valid);
          Buffer.from(noise).copy(p, Math.min(4 + at, p.length - 1));
          return [p];
        }),
      fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => [packet(1, sslRequest()), Buffer.from(b)]),
    );
    const samples = fc.sample(inputs, { numRuns: 40, seed: 20240501 });
    const results = await Promise.all(samples.map((chunks) => attack(chunks)));
    for (const { closed, codes } of results) {
      expect(closed).toBe(true);
      for (const code of codes) expect([1043, 1045, 1251]).toContain(code);
    }
    // And an arbitrary property run on top: bytes before the greeting is read.
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 64 }), async (bytes) => {
        const { closed } = await attack([Buffer.from(bytes)], false);
        return closed;
      }),
      { numRuns: 10, seed: 7 },
    );
  });

  it('still serves a valid login afterwards, with no leaked sessions', async () => {
    await expect.poll(() => fx.emulator.stats().liveSessions).toBe(0);
    const conn = await fx.connect();
    const [rows] = await conn.query<any[]>('SELECT CURRENT_USER() AS u');
    expect(rows[0].u).toBe(`${fx.backendUsers.iam_app}@%`);
    await conn.end();
    expect(fx.emulator.stats().loginsAccepted).toBe(1);
    expect(fx.emulator.stats().connectionsAccepted).toBeGreaterThan(70);
  });
});
