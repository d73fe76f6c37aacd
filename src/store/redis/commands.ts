/**
 * The store's Lua scripts, registered on a connection with `defineCommand` (ioredis then calls
 * them by EVALSHA and falls back to EVAL after a Redis restart flushed the script cache).
 */
import type { Redis } from 'ioredis';
import { StoreError } from '../store.js';
import { acquireLeadership } from './scripts/acquire-leadership.js';
import { appendEvent } from './scripts/append-event.js';
import { appendMessage } from './scripts/append-message.js';
import { assignAgent } from './scripts/assign-agent.js';
import { commitTurn } from './scripts/commit-turn.js';
import { createAgent } from './scripts/create-agent.js';
import { deleteAgent } from './scripts/delete-agent.js';
import { deregisterContainer } from './scripts/deregister-container.js';
import { expireLeases } from './scripts/expire-leases.js';
import { fencedWrite } from './scripts/fenced-write.js';
import { heartbeatManager } from './scripts/heartbeat-manager.js';
import { listManagers } from './scripts/list-managers.js';
import type { LuaScript } from './scripts/lua-script.js';
import { registerContainer } from './scripts/register-container.js';
import { releaseLeadership } from './scripts/release-leadership.js';
import { removeContainer } from './scripts/remove-container.js';
import { renewLease } from './scripts/renew-lease.js';
import { setAgentState } from './scripts/set-agent-state.js';
import { setAvailability } from './scripts/set-availability.js';
import { suspectLeases } from './scripts/suspect-leases.js';
import { markDisconnected } from './scripts/mark-disconnected.js';
import { lateLeases } from './scripts/late-leases.js';
import { endDeadLeadership } from './scripts/end-dead-leadership.js';
import { markUnreachable } from './scripts/mark-unreachable.js';

export const SCRIPTS = {
  registerContainer,
  renewLease,
  deregisterContainer,
  removeContainer,
  setAvailability,
  expireLeases,
  suspectLeases,
  markDisconnected,
  lateLeases,
  endDeadLeadership,
  markUnreachable,
  fencedWrite,
  acquireLeadership,
  releaseLeadership,
  heartbeatManager,
  listManagers,
  appendEvent,
  createAgent,
  assignAgent,
  setAgentState,
  deleteAgent,
  appendMessage,
  commitTurn,
} as const satisfies Record<string, LuaScript>;

export type ScriptName = keyof typeof SCRIPTS;

/** Calls a script: its keys first, then its arguments. The reply is decoded by the caller. */
export type ScriptRunner = (script: ScriptName, keys: string[], args: (string | number)[]) => Promise<unknown>;

type ScriptCommand = (...keysAndArgs: (string | number)[]) => Promise<unknown>;

export function defineScripts(redis: Redis): ScriptRunner {
  for (const script of Object.values(SCRIPTS)) {
    redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
  // defineCommand adds methods that ioredis's types cannot know about.
  const commands = redis as unknown as Record<string, ScriptCommand>;
  return (script, keys, args) => {
    const { name, numberOfKeys } = SCRIPTS[script];
    if (keys.length !== numberOfKeys) throw new StoreError(`script ${name} takes ${numberOfKeys} keys, got ${keys.length}`);
    const command = commands[name];
    if (!command) throw new StoreError(`script ${name} is not defined on this connection`);
    return command.call(redis, ...keys, ...args);
  };
}
