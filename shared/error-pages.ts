// PURE: Kamal's error pages (`error_pages_path`, feature proxy.error_pages.v1).
// kamal-proxy runs an app's `4xx.html`/`5xx.html` as Go html templates for the
// answers it gives itself, with `{{ .Message }}` set on the maintenance 503.
// Berth never evaluates a template language: a page is split once into text
// and the few actions those pages use, and rendering only pastes the escaped
// message. Anything else in `{{ }}` is refused where the page is checked.
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Pages of one release at most; each file and all of them together are bounded too (the signed manifest is at most 256 KiB). */
export const MAX_ERROR_PAGES = 16;
export const MAX_ERROR_PAGE_BYTES = 64 * 1024;
export const MAX_ERROR_PAGES_TOTAL_BYTES = 96 * 1024;
/** A page's key: the HTTP status it answers, 400-599. */
export const ERROR_PAGE_STATUS = /^[45]\d\d$/;
/** The file name a page is read from, exactly. */
export const ERROR_PAGE_FILE = /^[45]\d\d\.html$/;
/** How a page is named between the agent and the router: the SHA-256 of its UTF-8 bytes, hex. */
export const ERROR_PAGE_HASH = /^[0-9a-f]{64}$/;

export type PagePart = { text: string } | { message: true } | { if: PagePart[]; else: PagePart[] };
export type ParsedPage = PagePart[];

const ACTION = /^\.Message$|^if \.Message$|^else$|^end$|^\/\*[\s\S]*\*\/$/;
const SUPPORTED = '{{ .Message }}, {{ if .Message }}…{{ else }}…{{ end }} and {{/* comments */}}';

/**
 * The page split into text and actions, or throws an Error naming the problem
 * (the caller adds which page). `{{-` and `-}}` trim the white space beside
 * them, as in Go templates.
 */
export function parseErrorPage(html: string): ParsedPage {
  const root: PagePart[] = [];
  const stack: Array<{ parts: PagePart[]; node?: { if: PagePart[]; else: PagePart[] }; inElse?: boolean }> = [{ parts: root }];
  let rest = html;
  let trimNext = false;
  for (;;) {
    const open = rest.indexOf('{{');
    let text = open === -1 ? rest : rest.slice(0, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open === -1) {
      if (text) stack[stack.length - 1]!.parts.push({ text });
      break;
    }
    const close = rest.indexOf('}}', open + 2);
    if (close === -1) throw new Error('has a "{{" without "}}"');
    let inner = rest.slice(open + 2, close);
    if (inner.startsWith('- ') || inner === '-') {
      text = text.replace(/\s+$/, '');
      inner = inner.slice(1);
    }
    trimNext = inner.endsWith(' -');
    if (trimNext) inner = inner.slice(0, -1);
    if (text) stack[stack.length - 1]!.parts.push({ text });
    const action = inner.trim();
    if (!ACTION.test(action)) throw new Error(`uses {{ ${action.slice(0, 60)} }}; only ${SUPPORTED} are supported`);
    const top = stack[stack.length - 1]!;
    if (action === '.Message') top.parts.push({ message: true });
    else if (action === 'if .Message') {
      const node = { if: [] as PagePart[], else: [] as PagePart[] };
      top.parts.push(node);
      stack.push({ parts: node.if, node });
    } else if (action === 'else') {
      if (!top.node || top.inElse) throw new Error('has {{ else }} outside {{ if }}');
      top.parts = top.node.else;
      top.inElse = true;
    } else if (action === 'end') {
      if (!top.node) throw new Error('has {{ end }} without {{ if }}');
      stack.pop();
    }
    if (stack.length > 32) throw new Error('nests {{ if }} more than 32 deep');
    rest = rest.slice(close + 2);
  }
  if (stack.length > 1) throw new Error('has {{ if }} without {{ end }}');
  return root;
}

/** The page with `message` HTML-escaped in place of {{ .Message }} (empty for answers that carry none, as kamal-proxy). */
export function renderParsedPage(page: ParsedPage, message = ''): string {
  let out = '';
  for (const part of page) {
    if ('text' in part) out += part.text;
    else if ('message' in part) out += escapeHtml(message);
    else out += renderParsedPage(message ? part.if : part.else, message);
  }
  return out;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'\0]/g, (c) => (c === '\0' ? '\uFFFD' : `&#${c.charCodeAt(0)};`));
}

/** The problem with a page's text, or undefined: not valid as UTF-8 text the router can serve, too large, or a template Berth does not render. */
export function errorPageProblem(html: string): string | undefined {
  const bytes = Buffer.byteLength(html);
  if (bytes > MAX_ERROR_PAGE_BYTES) return `is ${bytes} bytes, more than ${MAX_ERROR_PAGE_BYTES}`;
  // Lone surrogates cannot be written as UTF-8; the CLI refuses invalid bytes when it reads the file.
  if (!(html as string & { isWellFormed(): boolean }).isWellFormed()) return 'is not UTF-8 text';
  try {
    parseErrorPage(html);
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

/** The manifest's `error_pages`: status → page text, checked as the CLI checks the files. */
export const errorPagesSchema = z
  .record(z.string().regex(ERROR_PAGE_STATUS, 'must be an HTTP status 400-599'), z.string())
  .superRefine((pages, ctx) => {
    const entries = Object.entries(pages);
    if (entries.length === 0) ctx.addIssue({ code: 'custom', message: 'needs at least one page' });
    if (entries.length > MAX_ERROR_PAGES) ctx.addIssue({ code: 'custom', message: `at most ${MAX_ERROR_PAGES} pages` });
    const total = entries.reduce((n, [, html]) => n + Buffer.byteLength(html), 0);
    if (total > MAX_ERROR_PAGES_TOTAL_BYTES) ctx.addIssue({ code: 'custom', message: `pages are ${total} bytes together, more than ${MAX_ERROR_PAGES_TOTAL_BYTES}` });
    for (const [status, html] of entries) {
      const problem = errorPageProblem(html);
      if (problem) ctx.addIssue({ code: 'custom', path: [status], message: problem });
    }
  });

export type ErrorPages = z.output<typeof errorPagesSchema>;

/** A page's name between the agent and the router. */
export function errorPageHash(html: string): string {
  return createHash('sha256').update(html, 'utf8').digest('hex');
}

/** status → hash, as a route carries the release's pages. */
export function errorPageHashes(pages: ErrorPages): Record<string, string> {
  return Object.fromEntries(Object.entries(pages).map(([status, html]) => [status, errorPageHash(html)]));
}
