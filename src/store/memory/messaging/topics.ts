/** The memory store's topic subscriptions: one set of agent ids per topic. */
import { assertSafeName } from '../../../protocol/names.js';
import { assertAgentId } from '../../validate-messaging.js';

export class MemoryTopics {
  private readonly topics = new Map<string, Set<string>>();

  subscribe(topic: string, agentId: string): void {
    assertSafeName('topic', topic);
    assertAgentId('agent id', agentId);
    let members = this.topics.get(topic);
    if (!members) this.topics.set(topic, (members = new Set()));
    members.add(agentId);
  }

  unsubscribe(topic: string, agentId: string): void {
    assertSafeName('topic', topic);
    assertAgentId('agent id', agentId);
    const members = this.topics.get(topic);
    members?.delete(agentId);
    // Redis removes a set with its last member.
    if (members?.size === 0) this.topics.delete(topic);
  }

  subscribers(topic: string): string[] {
    assertSafeName('topic', topic);
    return [...(this.topics.get(topic) ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
