/**
 * The memory store's agents: one slot per agent holding what the Redis store keeps under
 * `{a:<id>}` (record with fence and watermark, state, mailbox, last reply). There are no derived
 * indexes to keep: listAgentsOn reads the records.
 */
import { NO_ENTRY_ID, type AgentRecord, type AgentState, type AssignAgentOptions, type LastReply, type MailboxEntry, type NewAgent } from '../../messaging.js';
import type { Fence } from '../../store.js';
import { assertAgentId, assertAgentState, assertAssignOptions, assertError, assertNewAgent, assertOptionalFence } from '../../validate-messaging.js';
import { assertSafeName } from '../../../protocol/names.js';
import { MemoryStream } from '../stream.js';

export interface AgentSlot {
  record: AgentRecord;
  state: string | null;
  mailbox: MemoryStream<Omit<MailboxEntry, 'entryId'>>;
  reply: LastReply | null;
}

/** Values that Redis keeps as JSON go through JSON here too, so both stores hand back the same. */
function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export function copyRecord(record: AgentRecord): AgentRecord {
  return jsonCopy(record);
}

export class MemoryAgents {
  private readonly slots = new Map<string, AgentSlot>();
  /** agentsOnVersion per container: bumped as the Redis store bumps it. */
  private readonly versions = new Map<string, number>();

  private bump(containerId: string | null | undefined): void {
    if (containerId) this.versions.set(containerId, (this.versions.get(containerId) ?? 0) + 1);
  }

  version(containerId: string): number {
    assertSafeName('container id', containerId);
    return this.versions.get(containerId) ?? 0;
  }

  constructor(private readonly clock: () => number) {}

  /** The agent's slot, for the mailbox operations; undefined when it does not exist. */
  slot(id: string): AgentSlot | undefined {
    return this.slots.get(id);
  }

  create(agent: NewAgent): boolean {
    assertNewAgent(agent);
    if (this.slots.has(agent.id)) return false;
    const now = this.clock();
    const owner = agent.containerId ?? null;
    const record: AgentRecord = {
      id: agent.id,
      type: agent.type,
      name: agent.name,
      config: jsonCopy(agent.config),
      placement: jsonCopy(agent.placement),
      state: agent.state,
      containerId: owner,
      epoch: owner === null ? 0 : (agent.epoch ?? 0),
      lastHandled: NO_ENTRY_ID,
      turns: 0,
      createdAtMs: now,
      updatedAtMs: now,
    };
    if (agent.error !== undefined) record.error = agent.error;
    this.slots.set(agent.id, { record, state: null, mailbox: new MemoryStream(), reply: null });
    this.bump(owner);
    return true;
  }

  get(id: string): AgentRecord | null {
    assertAgentId('agent id', id);
    const slot = this.slots.get(id);
    return slot ? copyRecord(slot.record) : null;
  }

  list(): AgentRecord[] {
    return [...this.slots.values()].map((s) => copyRecord(s.record)).sort((a, b) => compareText(a.id, b.id));
  }

  listOn(containerId: string): string[] {
    assertSafeName('container id', containerId);
    return [...this.slots.values()]
      .filter((s) => s.record.containerId === containerId)
      .map((s) => s.record.id)
      .sort(compareText);
  }

  assign(id: string, owner: Fence | null, state: AgentState, opts: AssignAgentOptions = {}): AgentRecord | null {
    assertAgentId('agent id', id);
    assertOptionalFence(owner);
    assertAgentState(state);
    assertAssignOptions(opts);
    const slot = this.slots.get(id);
    if (!slot) return null;
    const record = slot.record;
    if (record.containerId !== (owner?.owner ?? null)) this.bump(record.containerId);
    this.bump(owner?.owner);
    record.containerId = owner?.owner ?? null;
    record.epoch = owner?.epoch ?? 0;
    record.state = state;
    record.updatedAtMs = this.clock();
    if (state !== 'failed') delete record.error;
    if (opts.resetState === true) {
      slot.state = null;
      slot.reply = null;
    }
    return copyRecord(record);
  }

  setState(id: string, state: AgentState, opts: { fence?: Fence; error?: string } = {}): boolean {
    assertAgentId('agent id', id);
    assertAgentState(state);
    assertOptionalFence(opts.fence);
    assertError(state, opts.error);
    const slot = this.slots.get(id);
    if (!slot) return false;
    const record = slot.record;
    const { fence, error } = opts;
    if (fence && ((record.containerId ?? '') !== fence.owner || record.epoch !== fence.epoch)) return false;
    record.state = state;
    record.updatedAtMs = this.clock();
    if (error !== undefined) record.error = error;
    else if (state !== 'failed') delete record.error;
    return true;
  }

  delete(id: string): boolean {
    assertAgentId('agent id', id);
    this.bump(this.slots.get(id)?.record.containerId);
    return this.slots.delete(id);
  }
}

/** Byte order, as Redis sorts members (ids are ASCII, so UTF-16 order is the same). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
