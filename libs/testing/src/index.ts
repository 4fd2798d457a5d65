export * from './test-platform';
export * from './platform-harness';
