/**
 * How `flotilla manager` and `flotilla dev` turn the settings into an authenticator: open (and on
 * first start create) the key directory, warn about files others can read, and record key changes
 * as cluster events. Returns null when FLOTILLA_AUTH=off, after the loud warning.
 */
import type { Logger } from '../common/logger.js';
import type { ClusterStore } from '../store/store.js';
import { ApiAuthenticator } from './authenticator.js';
import { AUTH_OFF_WARNING, type AuthSettings } from './config.js';
import { KeyDir, keyState, type KeySet } from './key-dir.js';

export function keysChangedData(set: KeySet, previous: KeySet): Record<string, unknown> {
  const now = Date.now();
  const kids = (s: KeySet, state: string) => s.signing.filter((k) => keyState(k, now) === state).map((k) => k.kid);
  return {
    signing: kids(set, 'signing'),
    verify_only: kids(set, 'verify-only'),
    retired: kids(set, 'retired'),
    join_token_rotated: set.joinToken !== previous.joinToken,
    revoked_tokens: [...set.revoked].filter((jti) => !previous.revoked.has(jti)),
    // `ca rotate` / `--finish` / `ca init --force` show here too, so the audit trail has them.
    ca_changed: set.caCertPem !== previous.caCertPem || set.caPreviousCertPem !== previous.caPreviousCertPem,
    ca_rotation: set.caPreviousCertPem !== null,
    who: 'key-dir',
  };
}

export function startManagerAuth(settings: AuthSettings, store: ClusterStore, log: Logger): ApiAuthenticator | null {
  if (settings.mode === 'off') {
    log.warn(AUTH_OFF_WARNING);
    return null;
  }
  const keyDir = new KeyDir(settings.keyDir);
  if (keyDir.init()) {
    log.info({ keyDir: keyDir.path }, `created the cluster keys in ${keyDir.path} (keep it private; back it up). Admin token: flotilla token create --role admin; join token: flotilla join-token`);
  }
  const loose = keyDir.looseFiles();
  if (loose.length > 0) log.warn({ files: loose }, `key files readable by others: chmod 600 them (${loose.join(', ')})`);
  return new ApiAuthenticator({
    keyDir,
    log,
    containerTokenTtlMs: settings.containerTokenTtlMs,
    onKeysChanged: (set, previous) => {
      store.appendEvent('keys_changed', { data: keysChangedData(set, previous) }).catch((err: unknown) => {
        log.error({ err: (err as Error).message }, 'audit: could not record the key change');
      });
    },
  });
}
