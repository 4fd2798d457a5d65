// After tsc: copies the files tsc does not emit and gives each app the entry point the deployment docs name,
// dist/apps/<app>/main.js (tsc itself writes dist/apps/<app>/src/main.js).
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
fs.copyFileSync('libs/platform/src/persistence/pglite.worker.js', path.join(dist, 'libs/platform/src/persistence/pglite.worker.js'));
fs.rmSync(path.join(dist, 'apps/console/public'), { recursive: true, force: true });
fs.cpSync('apps/console/public', path.join(dist, 'apps/console/public'), { recursive: true });
for (const app of fs.readdirSync('apps')) {
  if (fs.existsSync(path.join('apps', app, 'src', 'main.ts'))) {
    fs.writeFileSync(path.join(dist, 'apps', app, 'main.js'), "'use strict';\nrequire('./src/main.js');\n");
  }
}
