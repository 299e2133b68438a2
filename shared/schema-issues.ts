// PURE: a failed zod parse as field-path messages (`roles.web.proxy.app_port:
// expected number`), the way every wire schema reports what is wrong.
import type { z } from 'zod';

const MAX_REPORTED_ISSUES = 10;

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

function formatIssue(issue: z.core.$ZodIssue): string[] {
  const where = formatPath(issue.path);
  const at = (text: string, path = where) => (path === '' ? text : `${path}: ${text}`);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) => at('unknown field', formatPath([...issue.path, k])));
    case 'invalid_type': {
      const text = issue.message.replace(/^Invalid input: /, '');
      return [at(/received undefined$/.test(text) ? 'required' : text.replace(/, received /, ', got '))];
    }
    case 'invalid_key': {
      const inner = issue.issues[0]?.message ?? 'invalid';
      return [at(`invalid key: ${inner}`)];
    }
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = small ? issue.minimum : issue.maximum;
      const op = `${small ? '>' : '<'}${issue.inclusive === false ? '' : '='}`;
      if (issue.origin === 'array') return [at(`must have ${small ? 'at least' : 'at most'} ${String(bound)} items`)];
      if (issue.origin === 'string') return [at(`must be ${small ? 'at least' : 'at most'} ${String(bound)} characters`)];
      return [at(`must be ${op} ${String(bound)}`)];
    }
    case 'custom':
      if ((issue.params as { standalone?: boolean } | undefined)?.standalone) return [issue.message];
      return [at(issue.message)];
    default:
      return [at(issue.message.replace(/^Invalid input: /, ''))];
  }
}

/** Human-readable field-path messages for a failed parse (at most 10). */
export function describeIssues(error: z.ZodError): string {
  const lines = error.issues.flatMap(formatIssue);
  const shown = lines.slice(0, MAX_REPORTED_ISSUES);
  if (lines.length > shown.length) shown.push(`(${lines.length - shown.length} more)`);
  return shown.join('; ');
}
