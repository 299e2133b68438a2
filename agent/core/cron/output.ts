// PURE: what the agent keeps of a cron run's output. The role's secret values
// are replaced by `[secret NAME]` before anything is kept, streamed or sent in
// a notification (a job that prints its environment must not put secrets in
// the database), and only the last OUTPUT_TAIL_BYTES survive.

export const OUTPUT_TAIL_BYTES = 64 * 1024;
/** Shorter values would mangle ordinary output; they are too short to be real secrets anyway. */
export const MIN_REDACTED_CHARS = 4;

/**
 * Replaces secret values in text that arrives in pieces. The last (longest
 * secret − 1) characters are held back until more text or the end comes, so a
 * secret split across two chunks is still caught.
 */
export class Redactor {
  private readonly secrets: Array<{ value: string; marker: string }>;
  private readonly hold: number;
  private carry = '';

  constructor(secrets: Record<string, string>) {
    this.secrets = Object.entries(secrets)
      .filter(([, value]) => value.length >= MIN_REDACTED_CHARS)
      .map(([name, value]) => ({ value, marker: `[secret ${name}]` }))
      .sort((a, b) => b.value.length - a.value.length);
    this.hold = this.secrets.reduce((max, s) => Math.max(max, s.value.length - 1), 0);
  }

  push(text: string): string {
    const all = this.replace(this.carry + text);
    if (all.length <= this.hold) {
      this.carry = all;
      return '';
    }
    this.carry = this.hold === 0 ? '' : all.slice(all.length - this.hold);
    return all.slice(0, all.length - this.hold);
  }

  flush(): string {
    const rest = this.replace(this.carry);
    this.carry = '';
    return rest;
  }

  private replace(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s.value)) out = out.split(s.value).join(s.marker);
    return out;
  }
}

/** The last `capBytes` of UTF-8 text appended in pieces, and whether anything was dropped. */
export class OutputTail {
  private pieces: Buffer[] = [];
  private bytes = 0;
  truncated = false;

  constructor(private readonly capBytes = OUTPUT_TAIL_BYTES) {}

  append(text: string): void {
    if (text === '') return;
    const piece = Buffer.from(text, 'utf8');
    this.pieces.push(piece);
    this.bytes += piece.length;
    while (this.bytes > this.capBytes && this.pieces.length > 0) {
      const first = this.pieces[0] as Buffer;
      const over = this.bytes - this.capBytes;
      this.truncated = true;
      if (first.length <= over) {
        this.pieces.shift();
        this.bytes -= first.length;
      } else {
        this.pieces[0] = first.subarray(over);
        this.bytes -= over;
      }
    }
  }

  text(): string {
    let all = Buffer.concat(this.pieces);
    // A cut may land inside a character: drop its continuation bytes rather than keep a U+FFFD.
    let start = 0;
    while (start < all.length && start < 4 && ((all[start] as number) & 0xc0) === 0x80) start++;
    if (start > 0) all = all.subarray(start);
    return all.toString('utf8');
  }
}
