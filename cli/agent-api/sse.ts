// A server-sent events parser (the WHATWG event-stream grammar), fed with
// chunks split anywhere: mid-line, mid-CRLF, mid-UTF-8 character.

import { UpstreamError } from '../../shared/errors.js';

export interface SseMessage {
  event: string;
  data: string;
  /** The last event id seen so far (what Last-Event-ID resumes from). */
  id: string | undefined;
}

const DEFAULT_MAX_EVENT_CHARS = 1024 * 1024;

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  private data: string[] = [];
  private dataChars = 0;
  private eventType = '';
  private lastId: string | undefined;
  private skipLeadingLF = false;
  private atStart = true;
  retryMs: number | undefined;

  constructor(private readonly maxEventChars = DEFAULT_MAX_EVENT_CHARS) {}

  get lastEventId(): string | undefined {
    return this.lastId;
  }

  push(chunk: Uint8Array | string): SseMessage[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    return this.consume(text);
  }

  /** End of stream: an event without its closing blank line is dropped, as the spec says. */
  end(): SseMessage[] {
    const out = this.consume(this.decoder.decode());
    this.buffer = '';
    this.data = [];
    this.dataChars = 0;
    this.eventType = '';
    return out;
  }

  private consume(text: string): SseMessage[] {
    if (text.length === 0) return [];
    if (this.skipLeadingLF) {
      this.skipLeadingLF = false;
      if (text.startsWith('\n')) text = text.slice(1);
    }
    if (this.atStart && text.length > 0) {
      this.atStart = false;
      if (text.startsWith('\uFEFF')) text = text.slice(1);
    }
    this.buffer += text;
    const out: SseMessage[] = [];
    let pos = 0;
    for (;;) {
      const cr = this.buffer.indexOf('\r', pos);
      const lf = this.buffer.indexOf('\n', pos);
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (end === -1) break;
      const line = this.buffer.slice(pos, end);
      if (this.buffer[end] === '\r') {
        if (end + 1 < this.buffer.length) pos = this.buffer[end + 1] === '\n' ? end + 2 : end + 1;
        else {
          pos = end + 1;
          this.skipLeadingLF = true;
        }
      } else {
        pos = end + 1;
      }
      const message = this.line(line);
      if (message) out.push(message);
    }
    this.buffer = this.buffer.slice(pos);
    if (this.buffer.length > this.maxEventChars) throw new UpstreamError(`event stream line longer than ${this.maxEventChars} characters`);
    return out;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.dataChars += value.length + 1;
        if (this.dataChars > this.maxEventChars) throw new UpstreamError(`event stream event larger than ${this.maxEventChars} characters`);
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const data = this.data;
    const eventType = this.eventType;
    this.data = [];
    this.dataChars = 0;
    this.eventType = '';
    if (data.length === 0) return undefined;
    return { event: eventType || 'message', data: data.join('\n'), id: this.lastId };
  }
}
