/**
 * The package's public face for programs that talk to a Flotilla cluster: the typed API client
 * and the wire types. Agent authors import `flotilla/sdk`.
 */
export { ApiClient, ApiError, ManagerUnreachableError, type ApiClientOptions } from './client/api-client.js';
export * from './protocol/index.js';
