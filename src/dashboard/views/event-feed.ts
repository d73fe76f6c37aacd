/** One line per cluster event, newest first, for the overview's feed and the events page. */
import type { EventView } from '../../protocol/api.js';
import { clock, esc } from '../format.js';

/** A sentence for an event, from its type and data. */
export function describeEvent(e: EventView): string {
  const d = e.data;
  const s = (key: string): string => (typeof d[key] === 'string' || typeof d[key] === 'number' ? String(d[key]) : '?');
  const c = e.container_id ?? s('container_id');
  switch (e.type) {
    case 'container_joined':
      return `${c} joined (epoch ${e.epoch ?? '?'}${typeof d.host_address === 'string' ? `, ${d.host_address}` : ''})`;
    case 'container_left':
      return `${c} left`;
    case 'container_down':
      return `${c} is down${typeof d.reason === 'string' ? `: ${d.reason}` : ''}`;
    case 'container_removed':
      return `${c} removed`;
    case 'container_cordoned':
      return `${c} cordoned`;
    case 'container_uncordoned':
      return `${c} uncordoned`;
    case 'container_draining':
      return `${c} draining`;
    case 'leader_elected':
      return `${e.manager_id ?? '?'} leads`;
    case 'agent_placed':
      return `${s('agent_id')} placed on ${s('to')}`;
    case 'agent_moved':
      return `${s('agent_id')} moved ${s('from')} → ${s('to')} (${s('cause')})`;
    case 'agent_failed_over':
      return `${s('agent_id')} failed over ${s('from')} → ${s('to')}`;
    case 'agent_unplaceable':
      return `${s('agent_id')} cannot be placed: ${s('error')}`;
    case 'agent_deleted':
      return `${s('agent_id')} deleted`;
    default:
      return `${e.type} ${JSON.stringify(d)}`;
  }
}

export function renderFeed(events: readonly EventView[], max: number, filter?: (e: EventView) => boolean): string {
  const out: string[] = [];
  for (let i = events.length - 1; i >= 0 && out.length < max; i--) {
    const e = events[i]!;
    if (filter !== undefined && !filter(e)) continue;
    out.push(`<li class="ev-${esc(e.type)}" data-type="${esc(e.type)}"><span class="t">${esc(clock(e.timestamp))}</span>${esc(describeEvent(e))}</li>`);
  }
  return out.length === 0 ? '<li class="muted">no events yet</li>' : out.join('');
}
