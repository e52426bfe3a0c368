import { describe, expect, it } from 'vitest';
import { PacketSplitter } from '../../src/emulator/cluster-relay.js';
import { framePacket } from '../../src/protocol/mysql-packets.js';

/** Feeds `bytes` to a splitter in chunks of `chunk` bytes and records what comes out, in order. */
function split(bytes: Buffer, chunk: number, inspectLimit = 16) {
  const out: Array<{ whole: Buffer } | { bytes: Buffer }> = [];
  const splitter = new PacketSplitter(
    inspectLimit,
    (p) => out.push({ whole: Buffer.concat([p.header, p.payload]) }),
    (b) => out.push({ bytes: Buffer.from(b) }),
  );
  for (let i = 0; i < bytes.length; i += chunk) splitter.push(bytes.subarray(i, i + chunk));
  return out;
}

const header = (length: number, seq: number) => {
  const h = Buffer.alloc(4);
  h.writeUIntLE(length, 0, 3);
  h[3] = seq;
  return h;
};

describe('PacketSplitter (cluster relay framing)', () => {
  it('hands small packets over whole and lets large ones through unchanged, whatever the chunking', () => {
    const small = framePacket(0, Buffer.from('\x03SELECT 1'));
    const large = framePacket(0, Buffer.alloc(100, 7));
    const stream = Buffer.concat([small, large, small]);
    for (const chunk of [1, 3, 7, stream.length]) {
      const out = split(stream, chunk);
      expect(Buffer.concat(out.map((o) => ('whole' in o ? o.whole : o.bytes)))).toEqual(stream);
      const wholes = out.filter((o) => 'whole' in o).map((o) => (o as { whole: Buffer }).whole);
      expect(wholes).toEqual([small, small]);
    }
  });

  it('never treats the continuation of a 16 MB packet as a new message, even when it is small', () => {
    const first = Buffer.concat([header(0xffffff, 0), Buffer.alloc(0xffffff, 0xff)]);
    const continuation = framePacket(1, Buffer.from([0xff, 0x00, 0x07])); // looks like an ERR
    const next = framePacket(0, Buffer.from('\x03SELECT 2'));
    const out = split(Buffer.concat([first, continuation, next]), 65536);
    const wholes = out.filter((o) => 'whole' in o).map((o) => (o as { whole: Buffer }).whole);
    expect(wholes).toEqual([next]);
  });
});
