import type { Logger } from 'pino';

/** The process's pino logger, injectable by class (declaration merge of pino's Logger type and a token class). */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface RootLogger extends Logger {}
// eslint-disable-next-line @typescript-eslint/no-extraneous-class
export abstract class RootLogger {}
