// age (age-encryption.org/v1, X25519 recipients) for backup files, the one
// importer of age-encryption. The agent encrypts to the operator's recipient
// (a public key); only the CLI, given the operator's identity file, decrypts.
// Streams: Node streams in and out, 64 KiB chunks inside; a tampered or
// cut-short file fails the stream ("invalid tag"), never yields short plaintext.
import { Duplex, PassThrough, Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Decrypter, Encrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { UserError } from './errors.js';

export const AGE_IDENTITY = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;

function through(transform: (input: WebReadableStream<Uint8Array>) => Promise<WebReadableStream<Uint8Array>>): Duplex {
  const input = new PassThrough();
  const output = new PassThrough();
  transform(Readable.toWeb(input) as WebReadableStream<Uint8Array>).then(
    (web) => {
      const readable = Readable.fromWeb(web);
      readable.on('error', (err) => output.destroy(err));
      readable.pipe(output);
    },
    (err: unknown) => output.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  const duplex = Duplex.from({ writable: input, readable: output });
  return duplex;
}

/** Encrypts what is written to it to one recipient (age1…). */
export function encryptStream(recipient: string): Duplex {
  const e = new Encrypter();
  e.addRecipient(recipient);
  return through(async (input) => (await e.encrypt(input as unknown as ReadableStream<Uint8Array>)) as unknown as WebReadableStream<Uint8Array>);
}

/** Decrypts an age file with the identities of an identity file's text (`age-keygen` output: comments and AGE-SECRET-KEY-1… lines). */
export function decryptStream(identityFileText: string): Duplex {
  const identities = parseIdentityFile(identityFileText);
  const d = new Decrypter();
  for (const id of identities) d.addIdentity(id);
  return through(async (input) => (await d.decrypt(input as unknown as ReadableStream<Uint8Array>)) as unknown as WebReadableStream<Uint8Array>);
}

/** The AGE-SECRET-KEY-1… lines of an identity file; UserError (never echoing the text) when there is none or a line is malformed. */
export function parseIdentityFile(text: string): string[] {
  const keys: string[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!AGE_IDENTITY.test(line)) throw new UserError(`line ${i + 1} of the identity file is not an age X25519 identity (AGE-SECRET-KEY-1…)`);
    keys.push(line);
  }
  if (keys.length === 0) throw new UserError('the identity file holds no age identity (AGE-SECRET-KEY-1…); make one with `age-keygen -o FILE`');
  return keys;
}

/** A new identity file's text (as age-keygen writes it) and its recipient. */
export async function newIdentity(now: Date = new Date()): Promise<{ identityFile: string; recipient: string }> {
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  return { recipient, identityFile: `# created: ${now.toISOString()}\n# public key: ${recipient}\n${identity}\n` };
}
