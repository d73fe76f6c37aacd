/**
 * The `counter` agent of the cluster harness (test/cluster/). Containers serve it through
 * FLOTILLA_AGENT_MODULES, so it is plain JavaScript: a container runs compiled code and imports
 * this file as it is.
 *
 * State: `count` (messages applied, so after any fault it must equal the messages accepted) and
 * `segments`, the agent's history of where its turns ran: one segment per run of consecutive turns
 * under one fence (container and epoch), with the time of its first and last turn. The harness
 * checks from it that no agent was ever active on two hosts at once: segments never overlap in
 * time and a fence, once left, never comes back.
 *
 * Messages: anything (counted); `{ forward_to: "type/name" }` also sends the target one message
 * (a message between hosts) and returns its answer; `{ subscribe: "topic" }` subscribes;
 * `{ hop: n, ring: [names], delay_ms }` records the time in `hops`, waits `delay_ms`, then posts
 * `{ hop: n - 1, … }` to topic `hop.<next name in ring>` until n is 0: traffic between agents on
 * several hosts that needs no client and no manager once started.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { defineAgent } from 'flotilla/sdk';

/** Bound on the kept history: a fault makes one segment, a run has a few dozen. */
const MAX_SEGMENTS = 1_000;
const MAX_HOPS_KEPT = 2_000;
const MAX_HOP_DELAY_MS = 1_000;

export default defineAgent({
  type: 'counter',
  description: 'Counts the messages it applies and records under which fence each turn ran (cluster harness).',
  init: () => ({ count: 0, segments: [] }),
  async onMessage(message, ctx) {
    const state = ctx.state;
    state.count += 1;
    const now = Date.now();
    const { containerId, epoch } = ctx.placement;
    const last = state.segments.at(-1);
    if (last && last.container === containerId && last.epoch === epoch) {
      last.last = state.count;
      last.to = now;
    } else {
      state.segments.push({ container: containerId, epoch, first: state.count, last: state.count, from: now, to: now });
      if (state.segments.length > MAX_SEGMENTS) state.segments.shift();
    }
    let forwarded;
    if (message && typeof message === 'object' && typeof message.forward_to === 'string') {
      forwarded = await ctx.send(message.forward_to, { from_agent: ctx.id });
    }
    if (message && typeof message === 'object' && typeof message.subscribe === 'string') await ctx.subscribe(message.subscribe);
    if (message && typeof message === 'object' && Number.isInteger(message.hop) && Array.isArray(message.ring)) {
      state.hops = [...(state.hops ?? []), now].slice(-MAX_HOPS_KEPT);
      if (message.hop > 0) {
        const delay = Math.min(Math.max(Number(message.delay_ms) || 0, 0), MAX_HOP_DELAY_MS);
        await sleep(delay);
        const next = message.ring[(message.ring.indexOf(ctx.name) + 1) % message.ring.length];
        await ctx.publish(`hop.${next}`, { hop: message.hop - 1, ring: message.ring, delay_ms: delay });
      }
    }
    return { count: state.count, container: containerId, epoch, ...(forwarded === undefined ? {} : { forwarded }) };
  },
});
