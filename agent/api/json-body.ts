// Decoding the raw request body as strict UTF-8 JSON with a clear 400.
import { UserError } from '../../shared/errors.js';

export function parseJsonBody(body: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new UserError('request body is not valid UTF-8', undefined, 'malformed_json');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UserError('request body is not valid JSON', undefined, 'malformed_json');
  }
}
