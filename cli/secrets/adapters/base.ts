// What every built-in `kamal secrets fetch` adapter shares: the vendor CLI it
// drives (run without a shell, output capped, stderr never read), and Kamal's
// order of steps: account check, `<cli> --version`, sign-in, fetch. Messages
// name the CLI, its exit status and the items asked for, never a value or
// anything the CLI printed.

import { ConfigError } from '../../../shared/errors.js';

export interface VendorRun {
  ok: boolean;
  /** Exit status when not ok (null when killed by a signal). */
  code: number | null;
  /** What it printed on stdout, with surrounding whitespace kept. */
  stdout: string;
}

export interface Vendor {
  /** The CLI's name on PATH, e.g. `op`. */
  readonly program: string;
  /** Runs the CLI; an exit status is returned, a timeout or missing CLI throws. */
  run(args: readonly string[], extraEnv?: Record<string, string>): Promise<VendorRun>;
  /** The environment the CLI runs with (e.g. Doppler's DOPPLER_TOKEN). */
  readonly env: Readonly<Record<string, string>>;
}

export interface FetchRequest {
  secrets: string[];
  account: string | undefined;
  from: string | undefined;
  session: string | undefined;
}

/** fetch's result: secret name to value, as Kamal prints it as JSON (a null stays null). */
export type Fetched = Record<string, unknown>;

export interface SecretsAdapter {
  /** As Kamal names it in messages: "1Password", "AWS". */
  readonly title: string;
  readonly program: string;
  /** How Kamal checks the CLI is installed, when not `--version`. */
  readonly versionArgs?: readonly string[];
  readonly requiresAccount: boolean;
  /** Signs in when needed (as Kamal does) and returns a session token, if the CLI hands one out. */
  login(vendor: Vendor, account: string | undefined): Promise<string | undefined>;
  fetch(vendor: Vendor, request: FetchRequest): Promise<Fetched>;
}

export function fail(message: string, hint?: string): never {
  throw new ConfigError(message, hint);
}

/** ` (op exited with 1)`: the status only; stderr may hold secrets and is never read. */
export function exited(vendor: Vendor, run: VendorRun): string {
  return ` (${vendor.program} exited with ${run.code === null ? 'a signal' : run.code})`;
}

/** Kamal's `--from` prefix: `from/secret` for each secret. */
export function prefixed(secrets: readonly string[], from: string | undefined): string[] {
  return secrets.map((s) => (from === undefined ? s : `${from}/${s}`));
}

/** Ruby's `split("/")`: trailing empty parts are dropped, as Kamal's adapters see them. */
export function rubySplit(text: string, separator = '/'): string[] {
  const parts = text.split(separator);
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Parses what a CLI printed; the error names the CLI and the step, never the text. */
export function parseJson(vendor: Vendor, text: string, step: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return fail(`${vendor.program} printed something that is not JSON for ${step}`, `run \`${vendor.program}\` yourself to see what it prints; Berth never shows it, since it may hold secrets`);
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Fails with a message about the CLI's output shape, when it is not what Kamal expects. */
export function unexpected(vendor: Vendor, step: string): never {
  return fail(`${vendor.program} printed JSON of an unexpected shape for ${step}`, `check the ${vendor.program} version; Berth reads the same fields as Kamal`);
}
