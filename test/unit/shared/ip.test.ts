import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { isIPv4, isIPv6 } from '../../../shared/ip.js';

// shared/ip.ts stands in for node:net in pure code; it must answer as Node does.
const CORPUS = [
  '', '1.2.3.4', '0.0.0.0', '255.255.255.255', '256.1.1.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', ' 1.2.3.4',
  '1.2.3.4 ', '1.2.3.-4', '1.2.3.4/24', '127.0.0.1', '172.18.0.2', 'a.b.c.d', '1..2.3',
  '::', '::1', '1::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1::2::3', ':1', '1:', '[::1]',
  'fe80::1%eth0', 'fe80::1%', '::ffff:1.2.3.4', '::ffff:256.2.3.4', '1:2:3:4:5:6:1.2.3.4',
  '1:2:3:4:5:6:7:1.2.3.4', 'FFFF::abcd', 'g::1', '12345::1', '2001:db8::', '2001:db8:0:0:0:0:2:1',
  'localhost', 'example.com', '::1.2.3.4', '1.2.3.4::',
];

describe('shared/ip', () => {
  it('answers as node:net for a corpus of valid and malformed addresses', () => {
    for (const s of CORPUS) {
      assert.equal(isIPv4(s), net.isIPv4(s), `isIPv4(${JSON.stringify(s)})`);
      assert.equal(isIPv6(s), net.isIPv6(s), `isIPv6(${JSON.stringify(s)})`);
    }
  });

  it('answers as node:net for generated near-addresses', () => {
    const parts = ['0', '1', '09', '255', '256', 'ff', 'ffff', '1ffff', '', '1.2.3.4'];
    for (const a of parts) for (const b of parts) for (const c of parts) {
      for (const s of [`${a}.${b}.${c}.${a}`, `${a}:${b}::${c}`, `${a}::${b}:${c}`, `::${a}:${b}:${c}`]) {
        assert.equal(isIPv4(s), net.isIPv4(s), `isIPv4(${JSON.stringify(s)})`);
        assert.equal(isIPv6(s), net.isIPv6(s), `isIPv6(${JSON.stringify(s)})`);
      }
    }
  });
});
