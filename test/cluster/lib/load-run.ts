/**
 * A fault run: counter agents spread over the agent hosts under a steady message load from the
 * client host, and the steps every fault scenario is made of — where each agent is, when the
 * fault was detected and when the agents answered again, and `settle`, which stops the load,
 * waits for the mailboxes to drain and asserts the checks of checks.ts. The figures of each
 * scenario are kept for the table printed at the end (figures.ts).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../../helpers/processes.js';
import type { EventView } from '../../../src/protocol/index.js';
import type { AgentReading, LoadReport } from '../driver/protocol.js';
import { compare, outOfOrderIn, overlapsIn, type Tally } from './checks.js';
import type { Cluster } from './cluster.js';
import { figuresTable, type Repetition, type ScenarioFigures } from './figures.js';

/** Generous on purpose (a loaded CI machine): it only catches "never recovered". The figures are printed. */
export const RECOVERY_CEILING_MS = 30_000;
export const LOAD_BEFORE_FAULT_MS = 1_500;
export const LOAD_AFTER_RECOVERY_MS = 1_000;
/** Longer than the default lease timeout (3 s). */
const STOP_BEYOND_LEASE_MS = 5_000;
const DRAIN_TIMEOUT_MS = 60_000;
const LOAD_STOP_TIMEOUT_MS = 120_000;

export class LoadRun {
  readonly tallies = new Map<string, Tally>();
  readonly figures: ScenarioFigures[] = [];

  private constructor(
    private readonly cluster: Cluster,
    readonly ids: string[],
  ) {
    for (const id of ids) this.tallies.set(id, { baseline: 0, accepted: 0, expired: 0, uncertain: 0, extra: 0 });
  }

  /** Deploys `replicas` counters named `name-…` round robin, each subscribed to its `hop.<name>` topic. */
  static async deploy(cluster: Cluster, name: string, replicas: number): Promise<LoadRun> {
    const m1 = cluster.managerUrls[0]!;
    const deployed = await cluster.driver.http<{ agents: { agent_id: string }[] }>('POST', `${m1}/api/v1/cluster/agents/deploy`, {
      agent_type: 'counter',
      name,
      replicas,
      deployment_strategy: 'round_robin',
    });
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    const ids = deployed.body.agents.map((a) => a.agent_id);
    for (const id of ids) {
      const sub = await cluster.driver.http('POST', `${m1}/api/v1/topics/hop.${id.split('/')[1]}/subscribers`, { agent_id: id });
      assert.ok(sub.status < 300, JSON.stringify(sub.body));
    }
    return new LoadRun(cluster, ids);
  }

  /** The table of every settled scenario, or '' when none was. */
  table(): string {
    return this.figures.length === 0 ? '' : figuresTable(this.figures);
  }

  readings(): Promise<Record<string, AgentReading>> {
    return this.cluster.driver.call<Record<string, AgentReading>>({ op: 'store.agents', redisUrl: this.cluster.redisUrl, agents: this.ids });
  }

  /** Agent id → the container (agent host) it is placed on. */
  async placement(): Promise<Map<string, string>> {
    const r = await this.readings();
    return new Map(this.ids.map((id) => [id, r[id]?.container ?? '?']));
  }

  /** The agent host holding the most agents (ties: the first in `order`). */
  busiest(where: Map<string, string>, order: string[]): string {
    const load = (h: string): number => [...where.values()].filter((c) => c === h).length;
    return [...order].sort((a, b) => load(b) - load(a))[0]!;
  }

  /** The agent hosts, starting at a different one each repetition (ties go round). */
  rotate(rep: number): string[] {
    const order = this.cluster.agents.map((a) => a.name);
    return [...order.slice(rep % order.length), ...order.slice(0, rep % order.length)];
  }

  async loadStart(): Promise<void> {
    await this.cluster.driver.call({ op: 'load.start', agents: this.ids, urls: this.cluster.managerUrls });
  }

  /** The cluster's events since `afterMs`, from the first manager that answers. */
  async events(afterMs: number): Promise<EventView[]> {
    for (const url of this.cluster.managerUrls) {
      try {
        const res = await this.cluster.driver.http<{ events: EventView[] }>('GET', `${url}/api/v1/cluster/events?after=${afterMs - 1}-0&limit=1000`);
        if (res.status === 200) return res.body.events;
      } catch {
        // next manager
      }
    }
    return [];
  }

  /** The first event matching after t0, or null if none came within the ceiling. */
  async detectionEvent(t0: number, match: (e: EventView) => boolean): Promise<EventView | null> {
    try {
      return await waitFor('detection event', async () => (await this.events(t0)).find(match), RECOVERY_CEILING_MS, 100);
    } catch {
      return null;
    }
  }

  /** Ms from t0 to the first event matching, or null if none came within the ceiling. */
  async detection(t0: number, match: (e: EventView) => boolean): Promise<number | null> {
    const event = await this.detectionEvent(t0, match);
    return event === null ? null : Date.parse(event.timestamp) - t0;
  }

  /** Ms from t0 until every one of `agents` answered again (from another container than `notContainer`). */
  async answeredAgain(agents: string[], t0: number, notContainer?: string): Promise<number | null> {
    let worst = 0;
    for (const agent of agents) {
      const at = await this.cluster.driver.call<number | null>(
        { op: 'load.wait-answer', agent, after: t0, timeoutMs: RECOVERY_CEILING_MS, ...(notContainer === undefined ? {} : { notContainer }) },
        RECOVERY_CEILING_MS + 5_000,
      );
      if (at === null) return null;
      worst = Math.max(worst, at - t0);
    }
    return worst;
  }

  async rebalance(): Promise<void> {
    const res = await this.cluster.driver.http('POST', `${this.cluster.managerUrls[0]}/api/v1/cluster/actions`, { action: 'rebalance' });
    assert.equal(res.status, 200, `rebalance: ${JSON.stringify(res.body)}`);
  }

  /**
   * Stops the load, waits for every mailbox to drain, runs the checks, records the figures, and
   * asserts the correctness ones.
   */
  async settle(scenario: string, reps: Repetition[], unwantedMoves: number | null = null): Promise<Record<string, AgentReading>> {
    const reports = await this.cluster.driver.call<Record<string, LoadReport>>({ op: 'load.stop', urls: this.cluster.managerUrls }, LOAD_STOP_TIMEOUT_MS);
    let accepted = 0;
    let expired = 0;
    const outOfOrder: string[] = [];
    const refused: string[] = [];
    for (const id of this.ids) {
      const t = this.tallies.get(id)!;
      const r = reports[id]!;
      t.accepted += r.accepted;
      t.expired += r.expired;
      t.uncertain += r.uncertain;
      accepted += r.accepted;
      expired += r.expired;
      outOfOrder.push(...outOfOrderIn(id, r));
      refused.push(...r.refused.map((x) => `${id}: ${x}`));
    }
    let last: Record<string, AgentReading> = {};
    const drained = await waitFor('every mailbox drained', async () => {
      last = await this.readings();
      return this.ids.every((id) => last[id]?.depth === 0 && last[id]?.lifecycle === 'active') ? last : undefined;
    }, DRAIN_TIMEOUT_MS, 200).catch((err: Error) => {
      const stuck = this.ids.filter((id) => last[id]?.depth !== 0 || last[id]?.lifecycle !== 'active').map((id) => `${id}: ${JSON.stringify({ ...last[id], state: undefined })}`);
      throw new Error(`${scenario}: ${err.message}; not drained: ${stuck.join('; ')}`, { cause: err });
    });
    let lost = 0;
    let doubled = 0;
    const overlaps: string[] = [];
    const details: string[] = [];
    for (const id of this.ids) {
      const state = drained[id]!.state!;
      const t = this.tallies.get(id)!;
      const c = compare(t, state.count);
      lost += c.lost;
      doubled += c.doubled;
      if (c.lost + c.doubled > 0) details.push(`${id}: count ${t.baseline} -> ${state.count}, accepted ${t.accepted} (${t.expired} expired, +${t.uncertain} uncertain, +${t.extra} ring hops; unresolved: ${JSON.stringify(reports[id]!.outcomes)})`);
      overlaps.push(...overlapsIn(id, state.segments ?? []));
      // The next scenario starts from here.
      this.tallies.set(id, { baseline: state.count, accepted: 0, expired: 0, uncertain: 0, extra: 0 });
    }
    this.figures.push({ scenario, reps, accepted, expired, lost, doubled, overlaps: overlaps.length, unwantedMoves });
    assert.equal(lost, 0, `${scenario}: ${lost} accepted messages lost: ${details.join('; ')}`);
    assert.equal(doubled, 0, `${scenario}: ${doubled} messages applied twice: ${details.join('; ')}`);
    assert.deepEqual(overlaps, [], `${scenario}: agents active on two hosts at once`);
    assert.deepEqual(outOfOrder, [], `${scenario}: answers out of order`);
    assert.deepEqual(refused, [], `${scenario}: messages refused`);
    return drained;
  }

  /** The busiest agent host of repetition `rep` (a different one first each time) and its agents. */
  private async victim(rep: number): Promise<{ victim: string; victims: string[] }> {
    const where = await this.placement();
    const victim = this.busiest(where, this.rotate(rep));
    return { victim, victims: this.ids.filter((id) => where.get(id) === victim) };
  }

  /**
   * Does `fault` to `victim`, then waits for its `container_down` event and for its agents to
   * answer from another container; records the repetition (and the event) and returns the times.
   */
  private async faultOn(victim: string, victims: string[], fault: () => void, reps: Repetition[], detected: EventView[]): Promise<{ t0: number; answerMs: number | null }> {
    const t0 = Date.now();
    fault();
    const [event, answerMs] = await Promise.all([
      this.detectionEvent(t0, (e) => e.type === 'container_down' && e.container_id === victim),
      this.answeredAgain(victims, t0, victim),
    ]);
    reps.push({ detectionMs: event === null ? null : Date.parse(event.timestamp) - t0, answerMs });
    if (event !== null) detected.push(event);
    return { t0, answerMs };
  }

  /**
   * `kill -9` of the busiest agent container, `repetitions` times under load (a different host
   * first each time); each is started again and the agents rebalanced before the next.
   */
  async killContainers(scenario: string, repetitions: number): Promise<EventView[]> {
    const { cluster } = this;
    const reps: Repetition[] = [];
    const detected: EventView[] = [];
    await this.loadStart();
    await sleep(LOAD_BEFORE_FAULT_MS);
    for (let rep = 0; rep < repetitions; rep++) {
      const { victim, victims } = await this.victim(rep);
      const { answerMs } = await this.faultOn(victim, victims, () => cluster.proc(victim).kill9(), reps, detected);
      assert.notEqual(answerMs, null, `rep ${rep}: ${victims.join(', ')} did not answer again within ${RECOVERY_CEILING_MS} ms`);
      await cluster.proc(victim).exited;
      cluster.startContainer(victim);
      await cluster.waitContainers([victim]);
      await this.rebalance();
      await sleep(LOAD_AFTER_RECOVERY_MS);
    }
    await this.settle(scenario, reps);
    return detected;
  }

  /**
   * SIGSTOP of the busiest agent container for longer than its lease, then SIGCONT, `repetitions`
   * times under load. Besides the checks of `settle`, fencing: no turn under a paused container's
   * epoch was applied after its pause began.
   */
  async pauseContainers(scenario: string, repetitions: number): Promise<EventView[]> {
    const { cluster } = this;
    const reps: Repetition[] = [];
    const detected: EventView[] = [];
    const paused: { victim: string; epoch: number; at: number; agents: string[] }[] = [];
    await this.loadStart();
    await sleep(LOAD_BEFORE_FAULT_MS);
    for (let rep = 0; rep < repetitions; rep++) {
      const { victim, victims } = await this.victim(rep);
      const oldEpoch = (await cluster.containers()).find((c) => c.container_id === victim)!.epoch;
      const { t0, answerMs } = await this.faultOn(victim, victims, () => cluster.proc(victim).signal('SIGSTOP'), reps, detected);
      paused.push({ victim, epoch: oldEpoch, at: t0, agents: victims });
      await sleep(Math.max(0, t0 + STOP_BEYOND_LEASE_MS - Date.now()));
      cluster.proc(victim).signal('SIGCONT');
      await waitFor(`${victim} back with a new epoch`, async () => (await cluster.containers()).some((c) => c.container_id === victim && c.state === 'active' && c.epoch > oldEpoch), RECOVERY_CEILING_MS, 200);
      assert.notEqual(answerMs, null, `rep ${rep}: the paused container's agents answered again elsewhere`);
      await this.rebalance();
      await sleep(LOAD_AFTER_RECOVERY_MS);
    }
    const drained = await this.settle(scenario, reps);
    for (const p of paused) {
      for (const id of p.agents) {
        const late = (drained[id]!.state!.segments ?? []).filter((s) => s.container === p.victim && s.epoch === p.epoch && s.to > p.at);
        assert.deepEqual(late, [], `${id}: turns applied by the paused process (${p.victim}#${p.epoch}) after it was stopped`);
      }
    }
    return detected;
  }
}
