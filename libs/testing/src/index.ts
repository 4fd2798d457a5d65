export * from './test-platform';
export * from './platform-harness';
export * from './child-platform';
export * from './services/mosquitto';
export * from './app-processes';
export * from './distributed-stack';
export * from './services/tcp-proxy';
export * from './services/metrics-text';
