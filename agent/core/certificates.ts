// PURE: what makes a TLS certificate servable for a set of hosts, when it is
// due for renewal, and how long to wait after a failed renewal. Shared by the
// router (which checks every certificate it is sent) and the agent (which
// checks certificates given as PEM before sending them). Messages never carry
// PEM text.

import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { CertificateInvalidError } from '../../shared/errors.js';

/** A chain plus an ECDSA or RSA key is a few KiB; this bounds what is parsed. */
export const MAX_CHAIN_BYTES = 64 * 1024;
export const MAX_KEY_BYTES = 16 * 1024;
export const MAX_CHAIN_CERTIFICATES = 10;

export interface CertificateInfo {
  notBefore: number;
  notAfter: number;
  /** sha256 of the leaf (DER), hex. */
  sha256: string;
  serial: string;
  /** DNS names of the leaf's subjectAltName, lower-cased. */
  names: string[];
  issuer: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Checks `certPem` (leaf first, then intermediates) and `keyPem` for serving
 * `hosts` at `nowMs`; returns what the leaf says. Throws CertificateInvalidError.
 */
export function checkCertificate(certPem: string, keyPem: string, hosts: readonly string[], nowMs: number): CertificateInfo {
  if (certPem.length > MAX_CHAIN_BYTES) throw invalid(`the certificate chain is larger than ${MAX_CHAIN_BYTES} bytes`);
  if (keyPem.length > MAX_KEY_BYTES) throw invalid(`the private key is larger than ${MAX_KEY_BYTES} bytes`);
  const blocks = certPem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw invalid('the certificate is not PEM (no BEGIN CERTIFICATE block)');
  if (blocks.length > MAX_CHAIN_CERTIFICATES) throw invalid(`the chain holds more than ${MAX_CHAIN_CERTIFICATES} certificates`);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(blocks[0]!);
    for (const block of blocks.slice(1)) new X509Certificate(block);
  } catch {
    throw invalid('the certificate does not parse');
  }
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    throw invalid('the private key does not parse (PEM, unencrypted)');
  }
  if (!matches) throw invalid('the private key does not match the certificate');
  const info = describe(leaf);
  if (info.notAfter <= nowMs) throw invalid(`the certificate expired on ${new Date(info.notAfter).toISOString()}`);
  for (const host of hosts) {
    if (!covers(info.names, host)) {
      throw invalid(`the certificate does not cover ${host} (it names ${info.names.slice(0, 10).join(', ') || 'no DNS name'})`);
    }
  }
  return info;
}

function describe(leaf: X509Certificate): CertificateInfo {
  return {
    notBefore: Date.parse(leaf.validFrom),
    notAfter: Date.parse(leaf.validTo),
    sha256: createHash('sha256').update(leaf.raw).digest('hex'),
    serial: leaf.serialNumber,
    names: dnsNames(leaf.subjectAltName),
    issuer: /(?:^|\n)CN=([^\n]*)/.exec(leaf.issuer)?.[1] ?? leaf.issuer.slice(0, 200),
  };
}

/** `DNS:a.test, DNS:*.b.test, IP Address:…` → the DNS names, lower-cased. */
export function dnsNames(subjectAltName: string | undefined): string[] {
  return (subjectAltName ?? '')
    .split(/,\s*/)
    .filter((part) => part.startsWith('DNS:'))
    .map((part) => part.slice(4).toLowerCase());
}

/**
 * True when one of the certificate's names serves `host`: the same name, or a
 * wildcard `*.rest` where host is one label more than `rest` (TLS wildcards
 * match exactly one label, RFC 6125 §6.4.3). A wildcard host needs the same
 * wildcard name.
 */
export function covers(names: readonly string[], host: string): boolean {
  const h = host.toLowerCase();
  if (names.includes(h)) return true;
  if (h.startsWith('*.')) return false;
  const dot = h.indexOf('.');
  return dot > 0 && names.includes(`*${h.slice(dot)}`);
}

/** The names a TLS server looks a requested SNI name up under, in order. */
export function sniCandidates(serverName: string): string[] {
  const name = serverName.toLowerCase().replace(/\.$/, '');
  const dot = name.indexOf('.');
  return dot > 0 ? [name, `*${name.slice(dot)}`] : [name];
}

/** Renewal is due once less than a third of the certificate's lifetime remains. */
export function renewAt(notBefore: number, notAfter: number): number {
  return notAfter - Math.floor((notAfter - notBefore) / 3);
}

const HOUR_MS = 3_600_000;

/**
 * When to try again after the `failures`-th failed renewal in a row: doubling
 * from one hour up to a day, but never more than a quarter of what remains of
 * the old certificate (so a short-lived one gets several tries before it
 * expires), never under a second; `jitter` in [0, 1) spreads it by ±10 %.
 */
export function retryAt(failures: number, nowMs: number, notAfter: number, jitter: number): number {
  const doubling = Math.min(2 ** Math.max(0, failures - 1) * HOUR_MS, 24 * HOUR_MS);
  const remaining = notAfter - nowMs;
  const delay = remaining > 0 ? Math.max(1000, Math.min(doubling, remaining / 4)) : doubling;
  return nowMs + Math.round(delay * (0.9 + 0.2 * jitter));
}

function invalid(message: string): CertificateInvalidError {
  return new CertificateInvalidError(message);
}
