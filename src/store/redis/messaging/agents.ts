/**
 * Agents in Redis: the agent hash (in its own slot `{a:<id>}`) is the truth; the set of all agents
 * and the per-container sets (in `{c}`) are indexes derived from it. A script cannot write both
 * (two slots on Redis Cluster), so each change runs its script on the agent first and then writes
 * the indexes from what the script reports, in one MULTI. If the process dies in between:
 *
 * - an index may hold an id it should not: readers check each id against the agent hash and drop
 *   it (listAgents skips missing agents, listAgentsOn skips agents owned elsewhere);
 * - an index may miss an id: every index write is idempotent and derived from the agent's current
 *   owner, so the caller's retry (createAgent, assignAgent, deleteAgent again) repairs it; a full
 *   rebuild is a SCAN of `{a:*}:agent` hashes.
 */
import type { AgentRecord, AgentState, AssignAgentOptions, NewAgent } from '../../messaging.js';
import { StoreError, type Fence } from '../../store.js';
import { assertAgentId, assertAgentState, assertAssignOptions, assertError, assertNewAgent, assertOptionalFence } from '../../validate-messaging.js';
import { assertSafeName } from '../../../protocol/names.js';
import { assertPositiveInteger } from '../../validate.js';
import { pairsToHash } from '../codec.js';
import { decodeAgent, newAgentFields } from './codec.js';
import { throwFailed, type RedisContext } from './context.js';

export class RedisAgents {
  constructor(private readonly ctx: RedisContext) {}

  async create(agent: NewAgent): Promise<boolean> {
    assertNewAgent(agent);
    const k = this.ctx.keys;
    const id = agent.id;
    const reply = await this.ctx.script('createAgent', [k.agent(id), k.agentState(id), k.mailbox(id), k.lastReply(id)], newAgentFields(agent));
    const [created, owner] = Array.isArray(reply) ? (reply as unknown[]) : [];
    if (typeof owner !== 'string') throw new StoreError('unexpected reply from Redis to createAgent');
    await this.writeIndex('createAgent', id, null, owner);
    return created === 1;
  }

  async get(id: string): Promise<AgentRecord | null> {
    assertAgentId('agent id', id);
    return decodeAgent(await this.ctx.call('getAgent', () => this.ctx.redis.hgetall(this.ctx.keys.agent(id))));
  }

  /** Two round trips whatever the count (SMEMBERS, then one pipeline of HGETALL). */
  async list(): Promise<AgentRecord[]> {
    return this.ctx.call('listAgents', async () => {
      const ids = await this.ctx.redis.smembers(this.ctx.keys.agents);
      if (ids.length === 0) return [];
      const pipeline = this.ctx.redis.pipeline();
      for (const id of ids) pipeline.hgetall(this.ctx.keys.agent(id));
      const records: AgentRecord[] = [];
      for (const hash of throwFailed(await pipeline.exec())) {
        const record = decodeAgent(hash as Record<string, string>);
        if (record) records.push(record);
      }
      return records.sort((a, b) => compareText(a.id, b.id));
    });
  }

  async page(limit: number): Promise<{ agents: AgentRecord[]; total: number }> {
    assertPositiveInteger('limit', limit);
    return this.ctx.call('listAgentsPage', async () => {
      const ids = (await this.ctx.redis.smembers(this.ctx.keys.agents)).sort(compareText);
      const agents: AgentRecord[] = [];
      // Read in slices just big enough; a stale index id (no record) costs one more slice.
      for (let at = 0; at < ids.length && agents.length < limit; ) {
        const slice = ids.slice(at, at + (limit - agents.length));
        at += slice.length;
        const pipeline = this.ctx.redis.pipeline();
        for (const id of slice) pipeline.hgetall(this.ctx.keys.agent(id));
        for (const hash of throwFailed(await pipeline.exec())) {
          const record = decodeAgent(hash as Record<string, string>);
          if (record) agents.push(record);
        }
      }
      return { agents, total: ids.length };
    });
  }

  async version(containerId: string): Promise<number> {
    assertSafeName('container id', containerId);
    const value = await this.ctx.call('agentsOnVersion', () => this.ctx.redis.get(this.ctx.keys.agentsOnVersion(containerId)));
    return value === null ? 0 : Number(value);
  }

  async listOn(containerId: string): Promise<string[]> {
    assertSafeName('container id', containerId);
    return this.ctx.call('listAgentsOn', async () => {
      const ids = await this.ctx.redis.smembers(this.ctx.keys.agentsOn(containerId));
      if (ids.length === 0) return [];
      const pipeline = this.ctx.redis.pipeline();
      for (const id of ids) pipeline.hget(this.ctx.keys.agent(id), 'owner');
      const owners = throwFailed(await pipeline.exec());
      return ids.filter((_, i) => owners[i] === containerId).sort(compareText);
    });
  }

  async assign(id: string, owner: Fence | null, state: AgentState, opts: AssignAgentOptions = {}): Promise<AgentRecord | null> {
    assertAgentId('agent id', id);
    assertOptionalFence(owner);
    assertAgentState(state);
    assertAssignOptions(opts);
    const k = this.ctx.keys;
    const reply = await this.ctx.script(
      'assignAgent',
      [k.agent(id), k.agentState(id), k.lastReply(id)],
      [owner?.owner ?? '', owner?.epoch ?? 0, state, opts.resetState === true ? '1' : '0'],
    );
    if (!Array.isArray(reply)) throw new StoreError('unexpected reply from Redis to assignAgent');
    if (reply.length === 0) return null;
    const [previous, ...fields] = reply as unknown[];
    const record = decodeAgent(pairsToHash(fields));
    if (typeof previous !== 'string' || !record) throw new StoreError('unexpected reply from Redis to assignAgent');
    await this.writeIndex('assignAgent', id, previous, record.containerId ?? '');
    return record;
  }

  async setState(id: string, state: AgentState, opts: { fence?: Fence; error?: string } = {}): Promise<boolean> {
    assertAgentId('agent id', id);
    assertAgentState(state);
    assertOptionalFence(opts.fence);
    assertError(state, opts.error);
    const { fence, error } = opts;
    const reply = await this.ctx.script(
      'setAgentState',
      [this.ctx.keys.agent(id)],
      [state, fence ? '1' : '0', fence?.owner ?? '', fence?.epoch ?? '', error === undefined ? '0' : '1', error ?? ''],
    );
    return reply === 1;
  }

  async delete(id: string): Promise<boolean> {
    assertAgentId('agent id', id);
    const k = this.ctx.keys;
    const reply = await this.ctx.script('deleteAgent', [k.agent(id), k.agentState(id), k.mailbox(id), k.lastReply(id)], []);
    const [deleted, owner] = Array.isArray(reply) ? (reply as unknown[]) : [];
    await this.ctx.call('deleteAgent', async () => {
      const multi = this.ctx.redis.multi().srem(k.agents, id);
      if (typeof owner === 'string' && owner !== '') multi.srem(k.agentsOn(owner), id).incr(k.agentsOnVersion(owner));
      throwFailed(await multi.exec());
    });
    return deleted === 1;
  }

  /**
   * The indexes for an agent that exists and is owned by `owner` ('' = unplaced), after `previous`.
   * The owner's version goes up even when it owned the agent before (a new epoch is news to it).
   */
  private async writeIndex(operation: string, id: string, previous: string | null, owner: string): Promise<void> {
    const k = this.ctx.keys;
    await this.ctx.call(operation, async () => {
      const multi = this.ctx.redis.multi().sadd(k.agents, id);
      if (previous !== null && previous !== '' && previous !== owner) multi.srem(k.agentsOn(previous), id).incr(k.agentsOnVersion(previous));
      if (owner !== '') multi.sadd(k.agentsOn(owner), id).incr(k.agentsOnVersion(owner));
      throwFailed(await multi.exec());
    });
  }
}

/** Byte order, as Redis sorts members (ids are ASCII). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
