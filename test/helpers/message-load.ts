/**
 * A steady message load on agents through the manager's API, as a client would make it: one
 * sender per agent, one message in flight each, every message retried with the same id until a
 * manager gives a definite answer (its dedup makes that safe). With several manager URLs a sender
 * moves on to the next one when a manager does not answer (a client behind a load balancer).
 *
 * What it keeps is what exactly-once checks need: the ids the managers accepted (each one must be
 * applied exactly once) and every answer with its time, count and container.
 */
import { randomUUID } from 'node:crypto';
import { http } from './processes.js';

/**
 * How long one message is retried before the sender gives up on it. Its fate is then unknown (a
 * manager may have appended it and died before answering): it goes to `uncertain`.
 */
const GIVE_UP_AFTER_MS = 60_000;
/** Below the HTTP client's own 5 s timeout, so the manager answers 504 before the client gives up. */
const DEFAULT_REPLY_TIMEOUT_MS = 3_000;
/** A pause after a failed attempt, so a dead manager is not hammered in a tight loop. */
const RETRY_PAUSE_MS = 50;

export interface Answer {
  at: number;
  count: number;
  container: string;
}

export interface Sender {
  agent: string;
  /** Ids of the messages a manager accepted (200 or 504). */
  accepted: Set<string>;
  answers: Answer[];
  /** Ids given up on after GIVE_UP_AFTER_MS without a definite answer: applied at most once. */
  uncertain: Set<string>;
  /**
   * Accepted without a completed reply seen (504, 202 for a retry, or 200 `failed`): their
   * outcome is polled at the end (countExpired).
   */
  unresolved: Set<string>;
  /** Accepted requests answered `failed`/`expired` directly (200). */
  expired: Set<string>;
  /** Answers that refused a message (status and body): a correct cluster gives none. */
  refused: string[];
  /** Attempts that got no HTTP answer at all (a manager down or cut off). */
  unanswered: number;
  stopped: boolean;
  done: Promise<void>;
}

export interface LoadOptions {
  /** Manager base URLs, tried in turn. */
  urls: string[];
  replyTimeoutMs?: number;
  /** What each message carries (default `{ from: 'load' }`). */
  message?: unknown;
  /** Sent as the bearer token on every call (a manager with authentication on). */
  token?: string;
}

interface SendResponse {
  status?: string;
  error?: { code?: string };
  result?: { count?: number };
  container_id?: string;
}

/** One message, retried with the same id until a manager gives a definite answer. */
export async function sendOnce(sender: Sender, options: LoadOptions): Promise<void> {
  const messageId = randomUUID();
  let urlIndex = 0;
  const giveUpAt = Date.now() + GIVE_UP_AFTER_MS;
  // A stopped sender still makes the first attempt; it stops retrying after a failed one.
  for (let attempt = 0; attempt === 0 || (!sender.stopped && Date.now() < giveUpAt); attempt++) {
    const url = options.urls[urlIndex % options.urls.length]!;
    let res;
    try {
      res = await http<SendResponse>('POST', `${url}/api/v1/agents/${sender.agent}/messages`, {
        message: options.message ?? { from: 'load' },
        message_id: messageId,
        timeout_ms: options.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS,
      }, authHeaders(options.token));
    } catch {
      sender.unanswered++;
      urlIndex++;
      await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
      continue;
    }
    // 200: accepted and answered; 504: accepted, no reply in time; 202: a retry of an accepted
    // message (a duplicate is not waited on). Either way it is in the mailbox.
    if (res.status === 503) {
      urlIndex++; // a manager that cannot reach its store right now: another may
      await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
      continue;
    }
    if (res.status !== 200 && res.status !== 504 && res.status !== 202) {
      // Refused (4xx): never accepted. Kept for the test to assert on; the load goes on.
      sender.refused.push(`${res.status}: ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
      return;
    }
    sender.accepted.add(messageId);
    // A request answered `expired` (appended after its deadline, e.g. behind a stalled manager
    // link) had no effect by design; a poll could not tell, since the answer went to the waiter.
    if (res.status === 200 && res.body.status === 'failed' && res.body.error?.code === 'expired') sender.expired.add(messageId);
    else if (res.status !== 200 || res.body.status !== 'completed') sender.unresolved.add(messageId);
    if (res.body.status === 'completed') sender.answers.push({ at: Date.now(), count: res.body.result?.count ?? -1, container: res.body.container_id ?? '?' });
    return;
  }
  sender.uncertain.add(messageId);
}

/**
 * How many of the sender's messages ended `failed` with `expired` (answered so, or polled): a
 * request whose deadline (its `timeout_ms`) passed before its turn is answered that way and has
 * no effect, by design. Asks the first manager that answers.
 */
function authHeaders(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

export async function countExpired(sender: Sender, urls: string[], token?: string): Promise<{ expired: number; outcomes: Record<string, number> }> {
  let expired = sender.expired.size;
  /** What became of the unresolved messages, by status (and error code), for a failure message. */
  const outcomes: Record<string, number> = {};
  for (const id of sender.unresolved) {
    let seen = 'no manager answered';
    for (const url of urls) {
      try {
        const res = await http<{ status?: string; error?: { code?: string } }>('GET', `${url}/api/v1/agents/${sender.agent}/messages/${id}`, undefined, authHeaders(token));
        seen = res.status === 200 ? `${res.body.status}${res.body.error?.code ? `/${res.body.error.code}` : ''}` : `http ${res.status}`;
        if (res.status !== 200) continue;
        if (res.body.status === 'failed' && res.body.error?.code === 'expired') expired++;
        break;
      } catch {
        // the next manager
      }
    }
    outcomes[seen] = (outcomes[seen] ?? 0) + 1;
  }
  return { expired, outcomes };
}

export function startSender(agent: string, options: LoadOptions): Sender {
  const sender: Sender = { agent, accepted: new Set(), answers: [], uncertain: new Set(), unresolved: new Set(), expired: new Set(), refused: [], unanswered: 0, stopped: false, done: Promise.resolve() };
  sender.done = (async () => {
    while (!sender.stopped) {
      try {
        await sendOnce(sender, options);
      } catch (err) {
        // A bug in the load itself must show in the results, not kill the process that runs it.
        sender.refused.push(`error: ${(err as Error).message}`);
      }
    }
  })();
  return sender;
}
