/** Architecture rules checked in CI (npm run lint:deps). */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'libs/*/src/domain holds plain TypeScript: it imports only itself and the shared contracts',
      severity: 'error',
      from: { path: '^libs/[^/]+/src/domain/' },
      to: { pathNot: ['^libs/[^/]+/src/domain/', '^libs/contracts/src/'] },
    },
    {
      name: 'contracts-stand-alone',
      comment: 'libs/contracts imports nothing of ours',
      severity: 'error',
      from: { path: '^libs/contracts/' },
      to: { path: '^(libs|apps)/', pathNot: '^libs/contracts/' },
    },
    {
      name: 'apps-do-not-import-apps',
      comment: 'each app stands alone; only the embedded composition root (and test support) assembles them',
      severity: 'error',
      from: { path: '^apps/([^/]+)/', pathNot: '^apps/embedded/' },
      to: { path: '^apps/([^/]+)/', pathNot: '^apps/$1/' },
    },
    {
      name: 'libs-do-not-import-apps',
      severity: 'error',
      from: { path: '^libs/', pathNot: '^libs/testing/' },
      to: { path: '^apps/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^dist/|\\.spec\\.ts$|-spec\\.ts$)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
