/** Topic subscriptions in Redis: one set of agent ids per topic, in the topic's own slot. */
import { assertSafeName } from '../../../protocol/names.js';
import { assertAgentId } from '../../validate-messaging.js';
import type { RedisContext } from './context.js';

export class RedisTopics {
  constructor(private readonly ctx: RedisContext) {}

  async subscribe(topic: string, agentId: string): Promise<void> {
    assertSafeName('topic', topic);
    assertAgentId('agent id', agentId);
    await this.ctx.call('subscribe', () => this.ctx.redis.sadd(this.ctx.keys.topic(topic), agentId));
  }

  async unsubscribe(topic: string, agentId: string): Promise<void> {
    assertSafeName('topic', topic);
    assertAgentId('agent id', agentId);
    await this.ctx.call('unsubscribe', () => this.ctx.redis.srem(this.ctx.keys.topic(topic), agentId));
  }

  /** Sorted, so both stores list them alike. */
  async subscribers(topic: string): Promise<string[]> {
    assertSafeName('topic', topic);
    const ids = await this.ctx.call('subscribers', () => this.ctx.redis.smembers(this.ctx.keys.topic(topic)));
    return ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
