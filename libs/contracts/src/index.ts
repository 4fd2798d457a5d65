export * from './device-protocol';
export * from './topics';
export * from './priority';
export * from './errors';
