// The only module of the CLI that reads process.env (and the terminal facts
// that decide how output looks). Everything else receives a CliEnv.

export interface CliEnv {
  cwd: string;
  home: string;
  xdgConfigHome: string | undefined;
  /** BERTH_KEY: path of the operator key file. */
  berthKey: string | undefined;
  noColor: boolean;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  /** A person can answer a question (`deploy remove` asks for the service name). */
  stdinIsTTY?: boolean;
  /** The whole environment, for `$VAR` in secrets files and the commands they run. */
  processEnv: Readonly<Record<string, string | undefined>>;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

export function readCliEnv(): CliEnv {
  const env = process.env;
  return {
    cwd: process.cwd(),
    home: nonEmpty(env.HOME) ?? nonEmpty(env.USERPROFILE) ?? '/',
    xdgConfigHome: nonEmpty(env.XDG_CONFIG_HOME),
    berthKey: nonEmpty(env.BERTH_KEY),
    // https://no-color.org: any non-empty value disables colour.
    noColor: nonEmpty(env.NO_COLOR) !== undefined || env.TERM === 'dumb',
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    stdinIsTTY: process.stdin.isTTY === true,
    processEnv: { ...env },
  };
}
