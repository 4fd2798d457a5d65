export * from './entities';
export * from './start-app';
