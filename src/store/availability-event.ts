import type { Availability } from '../protocol/container.js';
import type { ClusterEventType } from '../protocol/events.js';

/** The event logged when a container's availability changes to the given value. */
export const AVAILABILITY_EVENTS: Readonly<Record<Availability, ClusterEventType>> = {
  schedulable: 'container_uncordoned',
  cordoned: 'container_cordoned',
  draining: 'container_draining',
};
