// A service's release history, read-only: one entry per version (for `deploy
// releases` and for picking a rollback target) and one version's stored,
// signed payload (what a rollback re-signs with a new seq). Kept apart from
// releases-repo.ts, which owns the write path (acceptRelease).
import type { ManifestPayload } from '../../shared/manifest.js';
import type { Db } from './db.js';
import type { DeployState, DeployTrigger, ReleaseSummary, StoredRelease } from '../../shared/api-types.js';

/** A ReleaseSummary as the store knows it; container presence is Docker's to tell. */
export type ReleaseHistoryEntry = Omit<ReleaseSummary, 'container'>;

export interface StoredReleasePayload extends Omit<StoredRelease, 'payload'> {
  payload: ManifestPayload;
}

const MAX_RELEASE_HISTORY = 100;

type HistoryRow = {
  version: string; image: string; seq: number; key_id: string; created_at: string;
  trigger: string; last_state: string; error: string | null; bake_failed: number;
};
type StoredRow = { version: string; seq: number; image: string; key_id: string; created_at: string; payload: string };

export function createReleaseHistoryRepo(db: Db) {
  const currentVersion = (service: string, destination: string): string | null =>
    db.get<{ version: string }>(
      `SELECT d.version FROM service_seq s JOIN deploys d ON d.id = s.current_deploy_id
       WHERE s.service = ? AND s.destination = ?`,
      service, destination,
    )?.version ?? null;

  return {
    /**
     * Newest first by each version's latest deploy (when it last went live or
     * was tried), at most `limit` versions. Not by seq: a bake-window revert
     * re-deploys the earlier release row, so after v1, v2 (bake failed, back
     * to v1), v3 the release before v3 is v1, which seq order would put last.
     */
    releaseHistory(service: string, destination: string, limit = MAX_RELEASE_HISTORY): ReleaseHistoryEntry[] {
      const current = currentVersion(service, destination);
      const rows = db.all<HistoryRow>(
        `SELECT r.version, r.image, r.seq, r.key_id, r.created_at, d.trigger, d.state AS last_state, d.error,
                d.bake_failed <> 0 AS bake_failed
         FROM releases r
         JOIN deploys d ON d.id = (
           SELECT MAX(id) FROM deploys WHERE service = r.service AND destination = r.destination AND version = r.version)
         WHERE r.service = ? AND r.destination = ?
           AND r.seq = (SELECT MAX(seq) FROM releases WHERE service = r.service AND destination = r.destination AND version = r.version)
         ORDER BY d.id DESC LIMIT ?`,
        service, destination, Math.max(1, Math.min(MAX_RELEASE_HISTORY, Math.floor(limit))),
      );
      return rows.map((r) => ({
        version: r.version,
        image: r.image,
        seq: r.seq,
        key_id: r.key_id,
        created_at: r.created_at,
        trigger: r.trigger as DeployTrigger,
        last_state: r.last_state as DeployState,
        error: r.error,
        bake_failed: r.bake_failed === 1,
        current: r.version === current,
      }));
    },

    /**
     * The stored payload of one version: the newest release of it that reached
     * DONE (its container is the one retained), else the newest at all.
     */
    storedRelease(service: string, destination: string, version: string): StoredReleasePayload | undefined {
      const r = db.get<StoredRow>(
        `SELECT r.version, r.seq, r.image, r.key_id, r.created_at, r.payload,
                EXISTS (SELECT 1 FROM deploys d WHERE d.release_id = r.id AND d.state = 'DONE') AS done
         FROM releases r WHERE r.service = ? AND r.destination = ? AND r.version = ?
         ORDER BY done DESC, r.seq DESC LIMIT 1`,
        service, destination, version,
      );
      if (!r) return undefined;
      return {
        version: r.version, seq: r.seq, image: r.image, key_id: r.key_id, created_at: r.created_at,
        payload: JSON.parse(r.payload) as ManifestPayload,
      };
    },

    /**
     * The stored payloads of a service and destination that contain `text`
     * (a sealed value: base64url and dots, so a substring match is exact).
     * Not LIKE: `_` is a LIKE wildcard and base64url is full of them.
     */
    payloadsContaining(service: string, destination: string, text: string): ManifestPayload[] {
      return db
        .all<{ payload: string }>(
          'SELECT payload FROM releases WHERE service = ? AND destination = ? AND instr(payload, ?) > 0 LIMIT 100',
          service, destination, text,
        )
        .map((r) => JSON.parse(r.payload) as ManifestPayload);
    },
  };
}
