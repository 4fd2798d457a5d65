/** One runner for unit, integration and end-to-end specs. */
const libs = ['contracts', 'platform', 'auth', 'devices', 'people', 'alerting', 'dispatch', 'runtime', 'testing'];
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts'],
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true }, target: 'es2022' },
      module: { type: 'commonjs' },
    }],
  },
  // ESM-only dependencies are compiled to CommonJS for jest's module system.
  transformIgnorePatterns: ['/node_modules/(?!(aedes|aedes-[a-z-]+|@electric-sql)/)'],
  moduleNameMapper: Object.fromEntries(libs.map((l) => [`^@linan/${l}$`, `<rootDir>/libs/${l}/src`])),
  testTimeout: 60000,
  maxWorkers: 2,
};
