export * from './names.js';
export * from './container.js';
export * from './events.js';
export * from './api.js';
export * from './paths.js';
export * from './runtime.js';
