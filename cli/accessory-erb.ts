// Accessory files whose name ends in `erb`, rendered as Kamal renders them at
// boot: ERB in the app directory with the accessory's env (clear values and
// secret values) added to ENV. The result may hold secrets, so it only ever
// travels sealed; render errors name the tag and line, never a value.

import { ConfigError } from '../shared/errors.js';
import { renderErb } from './config/erb.js';

export interface AccessoryErbInput {
  /** The file as written in deploy.yml, for messages. */
  label: string;
  text: string;
  appDir: string;
  destination: string;
  /** The CLI's environment, as deploy.yml's ERB sees it. */
  processEnv: Readonly<Record<string, string | undefined>>;
  /** The accessory's env: clear values and opened secrets, added to processEnv. */
  env: Readonly<Record<string, string>>;
  maxBytes: number;
}

export async function renderAccessoryFile(input: AccessoryErbInput): Promise<string> {
  const env = { ...input.processEnv, ...input.env };
  const [rendered] = await renderErb([{ label: input.label, text: input.text }], input.appDir, input.destination, { env, maxBytes: input.maxBytes });
  if (rendered === undefined) throw new ConfigError(`ERB in ${input.label} could not be rendered`);
  return rendered.text;
}
