// A minimal ustar writer for tests: hostile and odd archives (absolute names,
// `..`, devices, links out) that no well-behaved library would write, built
// byte by byte. A pax record carries names that ustar cannot (long, non-ASCII).
export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';
  data?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  devmajor?: number;
  devminor?: number;
}

const FLAG = { file: '0', link: '1', symlink: '2', char: '3', block: '4', directory: '5', fifo: '6' } as const;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(fields: { name: string; flag: string; size: number; mode: number; uid: number; gid: number; linkname: string; devmajor: number; devminor: number }): Buffer {
  const b = Buffer.alloc(512);
  b.write(fields.name, 0, 100, 'latin1');
  b.write(octal(fields.mode, 8), 100);
  b.write(octal(fields.uid, 8), 108);
  b.write(octal(fields.gid, 8), 116);
  b.write(octal(fields.size, 12), 124);
  b.write(octal(1_700_000_000, 12), 136);
  b.write('        ', 148);
  b.write(fields.flag, 156);
  b.write(fields.linkname, 157, 100, 'latin1');
  b.write('ustar\u000000', 257, 'latin1');
  b.write(octal(fields.devmajor, 8), 329);
  b.write(octal(fields.devminor, 8), 337);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(octal(sum, 7) + ' ', 148);
  return b;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);
const plain = (s: string) => /^[\x20-\x7e]*$/.test(s) && s.length < 100;

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`);
}

/** The archive bytes; `end: false` leaves out the end-of-archive marker. */
export function tarArchive(entries: TarEntry[], opts: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? (e.data !== undefined ? 'file' : 'directory');
    const data = Buffer.from(e.data ?? '');
    const linkname = e.linkname ?? '';
    const pax: Buffer[] = [];
    if (!plain(e.name)) pax.push(paxRecord('path', e.name));
    if (!plain(linkname)) pax.push(paxRecord('linkpath', linkname));
    if (pax.length > 0) {
      const body = Buffer.concat(pax);
      parts.push(header({ name: 'PaxHeader', flag: 'x', size: body.length, mode: 0o644, uid: 0, gid: 0, linkname: '', devmajor: 0, devminor: 0 }), body, pad(body.length));
    }
    const fields = {
      name: plain(e.name) ? e.name : 'pax-name',
      flag: FLAG[type],
      size: type === 'file' ? data.length : 0,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      linkname: plain(linkname) ? linkname : 'pax-link',
      devmajor: e.devmajor ?? 0,
      devminor: e.devminor ?? 0,
    };
    parts.push(header(fields));
    if (type === 'file') parts.push(data, pad(data.length));
  }
  if (opts.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
