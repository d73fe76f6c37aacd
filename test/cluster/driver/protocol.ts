/** The requests the client host's driver (driver/main.ts) answers; one JSON object per line. */
export type DriverRequest = { id: number } & (
  | { op: 'tcp'; host: string; port: number }
  /** `token` replaces the driver's own (FLOTILLA_TOKEN) as the bearer token, e.g. a join token. */
  | { op: 'http'; method: string; url: string; body?: unknown; token?: string }
  | { op: 'load.start'; agents: string[]; urls: string[]; message?: unknown }
  | { op: 'load.snapshot' }
  | { op: 'load.wait-answer'; agent: string; after: number; timeoutMs: number; notContainer?: string }
  | { op: 'load.stop'; urls: string[] }
  | { op: 'store.agents'; redisUrl: string; prefix?: string; agents: string[] }
);

/** Distributes over the union, so each op keeps its own fields. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
export type DriverCall = WithoutId<DriverRequest>;

export interface LoadReport {
  accepted: number;
  /** Accepted requests answered `expired` (deadline passed before their turn): no effect, by design. */
  expired: number;
  /** What the unresolved messages came to, by polled status: for failure messages. */
  outcomes: Record<string, number>;
  uncertain: number;
  unanswered: number;
  /** The first refusals (status: body); a correct cluster refuses nothing. */
  refused: string[];
  /** [at, count, container] per completed answer, in order. */
  answers: [number, number, string][];
}

export interface AgentReading {
  container: string | null;
  epoch: number | null;
  lifecycle: string | null;
  depth: number;
  state: { count: number; segments?: Segment[]; hops?: number[] } | null;
}

export interface Segment {
  container: string;
  epoch: number;
  first: number;
  last: number;
  from: number;
  to: number;
}
