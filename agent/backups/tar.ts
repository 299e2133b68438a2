// INTERFACE ONLY in this commit: the restore branch builds it (the one
// tar-stream importer, applying agent/core/backups/archive-policy.ts).
import type { Transform } from 'node:stream';

export interface ArchiveCheck {
  /** Entries the archive holds. */
  entries: number;
  /** Bytes of the tar stream. */
  bytes: number;
}

/**
 * A pass-through of a tar stream that parses it as it flows: the bytes come
 * out unchanged, and the stream fails on the first entry a restore would
 * refuse (naming it) or when the archive ends before its end marker. `done`
 * settles when the stream ended.
 */
export function checkedArchive(): { stream: Transform; done: Promise<ArchiveCheck> } {
  throw new Error('checkedArchive: built in the restore branch');
}
