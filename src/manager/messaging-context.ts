/**
 * What the messaging routes need beyond ManagerContext: this manager's reply reader and inbox, and
 * the retention settings (named defaults; tests pass shorter ones through ManagerAppOptions).
 */
import { managerInbox } from '../protocol/runtime.js';
import type { ManagerContext } from './context.js';
import { MANAGER_INBOX_TTL_MS, REPLY_READ_BLOCK_MS, ReplyReader } from './replies.js';
import { REPLY_RETENTION_MS, forwardReply } from './reply-inbox.js';

export interface MessagingSettings {
  /** How long a reply (or `pending`) can be polled for after acceptance. */
  replyRetentionMs: number;
  /** One blocking read of the manager's inbox. */
  replyBlockMs: number;
  /** The manager's inbox outlives its last keep-alive by this much. */
  managerInboxTtlMs: number;
}

export const DEFAULT_MESSAGING_SETTINGS: MessagingSettings = {
  replyRetentionMs: REPLY_RETENTION_MS,
  replyBlockMs: REPLY_READ_BLOCK_MS,
  managerInboxTtlMs: MANAGER_INBOX_TTL_MS,
};

export interface MessagingContext extends ManagerContext {
  replies: ReplyReader;
  /** Where replies to this manager's waiting sends go. */
  inbox: string;
  messaging: MessagingSettings;
}

export function createMessagingContext(ctx: ManagerContext, overrides: Partial<MessagingSettings> = {}): MessagingContext {
  const messaging = { ...DEFAULT_MESSAGING_SETTINGS, ...overrides };
  const inbox = managerInbox(ctx.config.managerId);
  const replies = new ReplyReader({
    store: ctx.store,
    inbox,
    log: ctx.log,
    forward: (ref, body) => forwardReply(ctx.store, ref, body, messaging.replyRetentionMs),
    lateWindowMs: messaging.replyRetentionMs,
    blockMs: messaging.replyBlockMs,
    inboxTtlMs: messaging.managerInboxTtlMs,
  });
  return { ...ctx, replies, inbox, messaging };
}
