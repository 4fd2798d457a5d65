export * from './entities';
export * from './start-app';
export * from './routes';
