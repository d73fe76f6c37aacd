/** Messages between the messaging benchmark and its Moleculer child processes (over node IPC). */

export interface LoadRequest {
  requests: number;
  inFlight: number;
  /** Stop starting requests after this long. */
  maxMs: number;
  timeoutMs: number;
  payload: unknown;
}

/** What a load run reports: the load agent's reply and the Moleculer caller's have this shape. */
export interface LoadResult {
  /** Latency of each completed request, ms, in completion order. */
  samples: number[];
  elapsedMs: number;
  errors: number;
  firstError: string | null;
  /** True when the time bound stopped the run before `requests`. */
  truncated: boolean;
}

export type ToPeer = ({ type: 'run' } & LoadRequest) | { type: 'stop' };

export type FromPeer =
  | { type: 'ready'; version: string; nodeID: string }
  | ({ type: 'result' } & LoadResult)
  | { type: 'failed'; error: string };
