/**
 * The reconciler: on the leader only, it compares where agents are with where they should be and
 * acts (see reconcile-plan.ts): re-fences agents of restarted containers, fails over the agents
 * of dead ones, places pending agents, drains draining containers.
 *
 * Reading every container and agent is the expensive part, so a pass reads them only when there
 * may be work: the store's version (newest event id) moved, the last pass left work, or
 * FULL_SCAN_INTERVAL_MS passed (a deploy that raced a failure). The failure detector wakes it when it marks a container
 * down. It checks `stillLeader()` before each pass and before each write.
 */
import type { Logger } from '../../common/logger.js';
import { PeriodicTask } from '../../common/loop.js';
import { mapLimit } from '../../common/concurrency.js';
import type { AgentRecord } from '../../store/messaging.js';
import { applyMove, releaseFrom, type AgentStore, type Move } from '../agents/moves.js';
import { planReconcile, type ReconcileAction } from './reconcile-plan.js';

/**
 * Longest time between two reads of every agent when nothing seems to change. Reading 100,000
 * agents costs the manager about 4 CPU-seconds (bench:messaging measured 0.86 cores idle at a 5 s
 * period), and a scan is only needed for a deploy that raced a failure, so the safety net is slow.
 */
export const FULL_SCAN_INTERVAL_MS = 30_000;
/** Writes per pass; the rest wait for the next pass. */
export const MAX_ACTIONS_PER_PASS = 1_000;
/** Live migrations off draining containers per pass. */
export const MAX_DRAIN_MOVES_PER_PASS = 50;
/** Actions carried out at once. */
export const RECONCILE_CONCURRENCY = 16;
/** An agent that still fits nowhere is logged again after this long (the API reads the latest). */
export const UNPLACEABLE_RELOG_MS = 60_000;

export interface PassSummary {
  scanned: boolean;
  moved: number;
  unplaceable: number;
}

export class Reconciler {
  private cursor: string | undefined;
  private version: string | null | undefined = undefined;
  private scannedAt = Number.NEGATIVE_INFINITY;
  private workLeft = true;
  /** Agents that fit nowhere: the error last logged and when. */
  private readonly unplaceable = new Map<string, { error: string; loggedAt: number }>();
  /** Called after each move carried out (metrics count the failovers). */
  onMoved: ((move: Move) => void) | null = null;

  constructor(
    private readonly store: AgentStore,
    private readonly log: Logger,
    private readonly stillLeader: () => boolean,
    private readonly clock: () => number = Date.now,
  ) {}

  async pass(): Promise<PassSummary> {
    const idle = { scanned: false, moved: 0, unplaceable: 0 };
    if (!this.stillLeader()) return idle;
    // One cheap read decides whether anything may have changed: every container change logs an
    // event in the same atomic step, so an unchanged newest event id means unchanged containers.
    const version = await this.store.lastEventId();
    const now = this.clock();
    if (!this.workLeft && version === this.version && now - this.scannedAt < FULL_SCAN_INTERVAL_MS) return idle;
    const containers = await this.store.listContainers();
    const agents = await this.store.listAgents();
    if (!this.stillLeader()) return idle;

    const plan = planReconcile(containers, agents, { maxActions: MAX_ACTIONS_PER_PASS, maxDrainMoves: MAX_DRAIN_MOVES_PER_PASS }, this.cursor);
    this.cursor = plan.cursor;
    this.version = version;
    this.scannedAt = now;
    this.workLeft = true; // until every action below is done
    this.forgetResolved(agents, plan.actions);
    const done = await mapLimit(plan.actions, RECONCILE_CONCURRENCY, (a) => (this.stillLeader() ? this.apply(a, now) : Promise.resolve(false)));
    this.workLeft = plan.more || done.includes(false);
    const summary = {
      scanned: true,
      moved: plan.actions.filter((a, i) => a.kind === 'move' && done[i]).length,
      unplaceable: plan.actions.filter((a) => a.kind === 'unplaceable').length,
    };
    if (summary.moved > 0) this.log.info(summary, `reconciler: placed or moved ${summary.moved} agent(s)`);
    return summary;
  }

  /** Carries out one action; false when it was not (leadership lost, agent deleted meanwhile). */
  private async apply(action: ReconcileAction, now: number): Promise<boolean> {
    if (action.kind === 'move') {
      const { move } = action;
      const moved = await applyMove(this.store, move);
      if (moved !== null) {
        this.log.info({ agent: move.agentId, from: move.fromId, to: move.to.id, cause: move.cause }, `agent ${move.cause}: ${move.reason}`);
        this.onMoved?.(move);
      }
      return moved !== null;
    }
    const { agent, error } = action;
    const unplaced = action.unplace && (agent.containerId !== null || agent.state !== 'pending');
    if (unplaced) {
      if ((await this.store.assignAgent(agent.id, null, 'pending')) === null) return false;
      if (agent.containerId !== null) await releaseFrom(this.store, await this.store.getContainer(agent.containerId), agent.id);
    }
    // Logged again after a change of the record: the API shows only a reason not older than it.
    const last = this.unplaceable.get(agent.id);
    if (unplaced || last === undefined || last.error !== error || now - last.loggedAt >= UNPLACEABLE_RELOG_MS) {
      this.unplaceable.set(agent.id, { error, loggedAt: now });
      await this.store.appendEvent('agent_unplaceable', { data: { agent_id: agent.id, from: agent.containerId, error } });
      this.log.warn({ agent: agent.id, container: agent.containerId }, `agent ${agent.id} fits nowhere: ${error}`);
    }
    return true;
  }

  /**
   * Drops the notes of agents this plan places, so that failing again later is logged at once.
   * When a limit cut the plan short, agents it did not reach keep theirs.
   */
  private forgetResolved(agents: readonly AgentRecord[], actions: readonly ReconcileAction[]): void {
    for (const a of actions) if (a.kind === 'move') this.unplaceable.delete(a.agent.id);
    if (this.unplaceable.size === 0) return;
    const exists = new Set(agents.map((a) => a.id));
    for (const id of this.unplaceable.keys()) if (!exists.has(id)) this.unplaceable.delete(id);
  }
}

export function startReconciler(store: AgentStore, intervalMs: number, log: Logger, stillLeader: () => boolean, onMoved?: (move: Move) => void): PeriodicTask {
  const reconciler = new Reconciler(store, log, stillLeader);
  if (onMoved !== undefined) reconciler.onMoved = onMoved;
  return new PeriodicTask('reconciler', intervalMs, async () => void (await reconciler.pass()), log).start();
}
